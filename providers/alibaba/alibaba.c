/*
 * alibaba.c - the Alibaba Cloud driver (barista-provider-alibaba.so): ECS
 * 2014-05-26 and VPC 2016-04-28 through their RPC APIs.  This file is the
 * plugin's table and the dispatch of each callback to the handlers of its
 * type (ali.h); docs/driver-alibaba.md says what is made how.
 *
 * A VNet is a VPC with one vSwitch per subnet; a VM with
 * InternetMaxBandwidthOut > 0 gets a public address of its own, so no
 * gateway or route is needed to reach it.  Security groups are ECS
 * security groups in the VPC, SSH keys ECS key pairs, images and specs
 * looked up (BAR_TYPE_LOOKUP).  Every made resource carries the input's
 * tags as Alibaba tags.
 */
#include "ali.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN "alibaba"

static int ctx_open(ali_ctx *x, bar_call *call, const char *type, const char *input,
                    int need_id, bar_sink *sink, ali_session **own)
{
	char why[256];
	int rc;

	memset(x, 0, sizeof(*x));
	x->call = call;
	x->sink = sink;
	*own = NULL;
	if (input) {
		rc = bar_kit_input(&x->in, why, sizeof(why), type, input, need_id);
		if (rc)
			return bar_kit_fail(&x->e, rc, "InvalidInput", "alibaba: %s", why);
		x->name = json_string_value(json_object_get(x->in, "name"));
		x->id = json_string_value(json_object_get(x->in, "system_id"));
		x->attrs = json_object_get(x->in, "attrs");
		x->tags = json_object_get(x->in, "tags");
		x->refs = json_object_get(x->in, "refs");
		if (!json_is_object(x->attrs))
			json_object_set_new(x->in, "attrs", x->attrs = json_object());
		if (!json_is_object(x->tags))
			json_object_set_new(x->in, "tags", x->tags = json_object());
		if (!json_is_object(x->refs))
			json_object_set_new(x->in, "refs", x->refs = json_object());
	}
	if (BAR_COVERS(call, session) && call->session) {
		x->s = call->session;
	} else {
		/* no session (a host that never called open): one for this call */
		rc = ali_session_new(own, call, &x->e);
		x->s = *own;
		if (rc)
			return rc;
	}
	x->region = call->region && *call->region ? call->region : x->s->region;
	return BAR_OK;
}

static int ctx_done(ali_ctx *x, ali_session *own, int rc)
{
	rc = bar_kit_report(ali_host, x->call, &x->e, rc, PLUGIN);
	ali_session_free(own);
	json_decref(x->in);
	return rc;
}

typedef struct type_ops {
	const char *type;
	int (*create)(ali_ctx *);
	int (*read)(ali_ctx *);
	int (*update)(ali_ctx *);
	int (*del)(ali_ctx *);
	int (*list)(ali_ctx *);
} type_ops;

static const type_ops OPS[] = {
	{"vnet", ali_vnet_create, ali_vnet_read, NULL, ali_vnet_delete, ali_vnet_list},
	{"securitygroup", ali_sg_create, ali_sg_read, ali_sg_update, ali_sg_delete, ali_sg_list},
	{"sshkey", ali_key_create, ali_key_read, NULL, ali_key_delete, ali_key_list},
	{"image", ali_image_create, ali_image_read, NULL, NULL, NULL},
	{"spec", ali_spec_create, ali_spec_read, NULL, NULL, NULL},
	{"vm", ali_vm_create, ali_vm_read, ali_vm_update, ali_vm_delete, ali_vm_list},
};

static const type_ops *ops_of(const char *type)
{
	for (size_t i = 0; type && i < sizeof(OPS) / sizeof(OPS[0]); i++)
		if (strcmp(OPS[i].type, type) == 0)
			return &OPS[i];
	return NULL;
}

enum { OP_CREATE, OP_READ, OP_UPDATE, OP_DELETE, OP_LIST, OP_POLL };

static int dispatch(bar_call *call, int op, const char *type, const char *input, bar_sink *out)
{
	const type_ops *t = ops_of(type);
	ali_session *own = NULL;
	ali_ctx x;
	int rc;

	if (!t) {
		ali_host->set_error(call, "UnsupportedType", "alibaba: no resource type \"%s\"",
		                    type ? type : "(null)");
		return BAR_ENOTSUP;
	}
	rc = ctx_open(&x, call, type, op == OP_LIST ? NULL : input,
	              op != OP_CREATE && op != OP_LIST, out, &own);
	if (rc)
		return ctx_done(&x, own, rc);
	switch (op) {
	case OP_CREATE:
		rc = t->create(&x);
		break;
	case OP_READ:
		rc = t->read(&x);
		break;
	case OP_POLL:
		rc = strcmp(type, "vm") == 0 ? ali_vm_poll(&x) : t->read(&x);
		break;
	case OP_UPDATE:
		rc = t->update ? t->update(&x)
		               : bar_kit_fail(&x.e, BAR_ENOTSUP, "NotUpdatable",
		                              "alibaba: a %s changes only by replacement", type);
		break;
	case OP_DELETE:
		rc = t->del ? t->del(&x) : BAR_OK; /* a lookup forgets; nothing is deleted */
		break;
	default:
		rc = t->list ? t->list(&x) : BAR_OK; /* lookups are never listed */
		break;
	}
	return ctx_done(&x, own, rc);
}

static int p_create(bar_provider *p, bar_call *call, const char *type, const char *input,
                    bar_sink *out)
{
	(void)p;
	return dispatch(call, OP_CREATE, type, input, out);
}

static int p_read(bar_provider *p, bar_call *call, const char *type, const char *input,
                  bar_sink *out)
{
	(void)p;
	return dispatch(call, OP_READ, type, input, out);
}

static int p_update(bar_provider *p, bar_call *call, const char *type, const char *input,
                    bar_sink *out)
{
	(void)p;
	return dispatch(call, OP_UPDATE, type, input, out);
}

static int p_del(bar_provider *p, bar_call *call, const char *type, const char *input)
{
	(void)p;
	return dispatch(call, OP_DELETE, type, input, NULL);
}

static int p_list(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	(void)p;
	return dispatch(call, OP_LIST, type, NULL, out);
}

static int p_poll(bar_provider *p, bar_call *call, const char *type, const char *input,
                  bar_sink *out)
{
	(void)p;
	return dispatch(call, OP_POLL, type, input, out);
}

static int p_vm_action(bar_provider *p, bar_call *call, const char *action, const char *input,
                       bar_sink *out)
{
	ali_session *own = NULL;
	ali_ctx x;
	int rc;

	(void)p;
	rc = ctx_open(&x, call, "vm", input, 1, out, &own);
	if (!rc) {
		x.action = action ? action : "";
		rc = ali_vm_action(&x);
	}
	return ctx_done(&x, own, rc);
}

static int p_open(bar_provider *p, bar_call *call, void **session)
{
	bar_kit_err e = {0};
	ali_session *s = NULL;
	int rc;

	(void)p;
	rc = ali_session_new(&s, call, &e);
	if (rc)
		return bar_kit_report(ali_host, call, &e, rc, PLUGIN);
	*session = s;
	return BAR_OK;
}

static void p_close(bar_provider *p, void *session)
{
	(void)p;
	ali_session_free(session);
}

static int p_check(bar_provider *p, bar_call *call)
{
	ali_session *own = NULL;
	ali_ctx x;
	int rc;

	(void)p;
	rc = ctx_open(&x, call, NULL, NULL, 0, NULL, &own);
	if (!rc)
		rc = ali_check(&x);
	return ctx_done(&x, own, rc);
}

static int p_catalog(bar_provider *p, bar_call *call, const char *what, bar_sink *out)
{
	ali_session *own = NULL;
	ali_ctx x;
	int rc;

	(void)p;
	rc = ctx_open(&x, call, NULL, NULL, 0, out, &own);
	if (!rc)
		rc = ali_catalog(&x, what ? what : "");
	return ctx_done(&x, own, rc);
}

static void p_destroy(bar_provider *p)
{
	free(p);
}

/*
 * The plugin's one symbol: checks the host's ABI and hands out the table.
 * ECS throttles each API per account and region with thresholds shown only
 * in the Quota Center (docs/driver-alibaba.md); 10 calls at once stays well
 * below the published orders of magnitude and the advice to poll a status
 * every 1-2 s.
 */
__attribute__((visibility("default"))) int barista_provider_init(const bar_host_api *host,
                                                                  bar_provider **out,
                                                                  char **errmsg)
{
	bar_provider *p;

	if (bar_kit_check_host(host, PLUGIN, errmsg) < 0)
		return -1;
	p = calloc(1, sizeof(*p));
	if (!p) {
		if (errmsg)
			*errmsg = strdup("alibaba: out of memory");
		return -1;
	}
	ali_host = host;
	p->abi_version = BAR_PROVIDER_ABI_VERSION;
	p->struct_size = sizeof(*p);
	p->name = PLUGIN;
	p->version = "0.1.0";
	p->capabilities = BAR_CAP_VM_SUSPEND | BAR_CAP_VM_REBOOT | BAR_CAP_LIST | BAR_CAP_ASYNC |
	                  BAR_CAP_IDEMPOTENT;
	p->types = bar_kit_cloud_types;
	p->open = p_open;
	p->close = p_close;
	p->create = p_create;
	p->read = p_read;
	p->update = p_update;
	p->del = p_del;
	p->list = p_list;
	p->vm_action = p_vm_action;
	p->poll = p_poll;
	p->destroy = p_destroy;
	p->check = p_check;
	p->catalog = p_catalog;
	p->default_concurrency = 10;
	*out = p;
	return 0;
}
