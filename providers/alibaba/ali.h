/*
 * ali.h - inside the alibaba driver: one callback's context and the
 * handlers of each resource type (ali_net.c: vnet, securitygroup;
 * ali_key.c: sshkey, image, spec; ali_vm.c: vm; ali_check.c: check and
 * catalog), dispatched by alibaba.c.
 */
#ifndef BAR_ALI_H
#define BAR_ALI_H

#include "ali_api.h"

typedef struct ali_ctx {
	ali_session *s;
	bar_call *call;
	bar_sink *sink;
	json_t *in;          /* the input (NULL for list) */
	const char *name;    /* input "name" */
	const char *id;      /* input "system_id" or NULL */
	json_t *attrs;       /* input "attrs" (an object, maybe empty) */
	json_t *tags;        /* input "tags" (an object, maybe empty) */
	json_t *refs;        /* input "refs" (an object, maybe empty) */
	const char *action;  /* vm_action's action */
	const char *region;  /* the call's region (list may ask another one's) */
	bar_kit_err e;
} ali_ctx;

/* Pagination styles of Describe* calls. */
enum { ALI_PAGE_NUMBER = 0, ALI_PAGE_TOKEN = 1 };

/* Called for each item of a list: node `item` of the page's answer (read
 * in place, borrowed for the call); returns BAR_OK or an error (stops). */
typedef int (*ali_item_fn)(ali_ctx *x, const bar_kit_jdoc *page, int item, void *ud);

/*
 * Every page of a Describe* call: `base` parameters plus PageSize/PageNumber
 * (or MaxResults/NextToken) of `size`, items at `path`, each handed to fn
 * as its page arrives; the page is freed once its items are done.
 */
int ali_pages(ali_ctx *x, int svc, const char *action, const ali_params *base,
              const char *path, int style, int size, ali_item_fn fn, void *ud);

/* Items kept across pages: v[0..n) point into the answers in pages, which
 * the list owns.  Zero-initialise; free with ali_items_free. */
typedef struct ali_items {
	ali_item *v;
	size_t n, cap;
	bar_kit_jdoc **pages;
	size_t npages, pcap;
} ali_items;

/* ali_pages gathering every item into *out (appended) rather than handing
 * them on, for what needs all of them at once (a VNet's vSwitches). */
int ali_pages_keep(ali_ctx *x, int svc, const char *action, const ali_params *base,
                   const char *path, int style, int size, ali_items *out);

/* Free the items and their answers; the list is empty again. */
void ali_items_free(ali_items *it);

/* The string member key of an input object (json_t), or "" (borrowed). */
const char *ali_in_str(json_t *o, const char *key);

/* Copy p's parameters into dst (appended). */
void ali_params_copy(ali_params *dst, const ali_params *p);

/* The idempotency key shortened into a ClientToken (<= 64 ASCII, with a
 * suffix), or "" when the call has none. */
void ali_client_token(ali_ctx *x, const char *suffix, char *out, size_t size);

/* ali_rpc with base copied, retried (at poll_ms) up to `tries` times while
 * the cloud answers a conflict (DependencyViolation, IncorrectStatus). */
int ali_rpc_patient(ali_ctx *x, int svc, const char *action, const ali_params *base,
                    const char *resource, bar_kit_jdoc **out, int tries);


int ali_vnet_create(ali_ctx *x);
int ali_vnet_read(ali_ctx *x);
int ali_vnet_delete(ali_ctx *x);
int ali_vnet_list(ali_ctx *x);

int ali_sg_create(ali_ctx *x);
int ali_sg_read(ali_ctx *x);
int ali_sg_update(ali_ctx *x);
int ali_sg_delete(ali_ctx *x);
int ali_sg_list(ali_ctx *x);

int ali_key_create(ali_ctx *x);
int ali_key_read(ali_ctx *x);
int ali_key_delete(ali_ctx *x);
int ali_key_list(ali_ctx *x);

int ali_image_create(ali_ctx *x);
int ali_image_read(ali_ctx *x);
int ali_spec_create(ali_ctx *x);
int ali_spec_read(ali_ctx *x);

int ali_vm_create(ali_ctx *x);
int ali_vm_read(ali_ctx *x);
int ali_vm_update(ali_ctx *x);
int ali_vm_delete(ali_ctx *x);
int ali_vm_list(ali_ctx *x);
int ali_vm_action(ali_ctx *x);
int ali_vm_poll(ali_ctx *x);

int ali_check(ali_ctx *x);
int ali_catalog(ali_ctx *x, const char *what);

#endif
