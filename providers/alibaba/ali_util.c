/*
 * ali_util.c - what the handlers share (see ali.h): pagination of the
 * Describe* calls (each page read in place, or kept for what needs every
 * item at once), parameter copies, client tokens.
 */
#include "ali.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ali_params_copy(ali_params *dst, const ali_params *p)
{
	for (size_t i = 0; i < p->n; i++)
		ali_params_add(dst, p->k[i], p->v[i]);
	if (p->failed)
		dst->failed = 1;
}

/* Room for one more of `size` bytes in *v (cap elements); 0 or -1. */
static int room(void **v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return 0;
	if (!(p = realloc(*v, c * size)))
		return -1;
	*v = p;
	*cap = c;
	return 0;
}

/* ali_pages' work; with keep, every answer goes to keep->pages instead of
 * being freed (fn's items point into them). */
static int pages(ali_ctx *x, int svc, const char *action, const ali_params *base,
                 const char *path, int style, int size, ali_item_fn fn, void *ud,
                 ali_items *keep)
{
	char next[1024] = "";
	long seen = 0;
	int rc = BAR_OK;

	for (int page = 1; page <= 100000; page++) {
		ali_params p = {0};
		bar_kit_jdoc *r = NULL;
		int items, total, has_total;
		json_int_t total_n;
		size_t n;

		if (keep && room((void **)&keep->pages, &keep->pcap, keep->npages, sizeof(*keep->pages)))
			return bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "alibaba: out of memory");
		ali_params_copy(&p, base);
		if (style == ALI_PAGE_TOKEN) {
			ali_params_addf(&p, "MaxResults", "%d", size);
			if (*next)
				ali_params_add(&p, "NextToken", next);
		} else {
			ali_params_addf(&p, "PageSize", "%d", size);
			ali_params_addf(&p, "PageNumber", "%d", page);
		}
		rc = ali_rpc(x->s, x->call, svc, action, &p, NULL, &r, &x->e);
		ali_params_free(&p);
		if (rc)
			return rc;
		items = ali_jlist(r, 0, path);
		for (int it = bar_kit_jfirst(r, items); it >= 0 && !rc; it = bar_kit_jnext(r, items, it))
			rc = fn(x, r, it, ud);
		n = bar_kit_jlen(r, items);
		seen += (long)n;
		total = bar_kit_jget(r, 0, "TotalCount");
		has_total = bar_kit_jtype(r, total) == BAR_KIT_JINT;
		total_n = bar_kit_jint(r, total);
		snprintf(next, sizeof(next), "%s", ali_jstr(r, 0, "NextToken"));
		if (keep)
			keep->pages[keep->npages++] = r;
		else
			bar_kit_jfree(r);
		if (rc)
			return rc;
		if (style == ALI_PAGE_TOKEN ? !*next
		                            : n == 0 || (has_total && seen >= total_n) ||
		                                  (!has_total && n < (size_t)size))
			return BAR_OK;
	}
	return bar_kit_fail(&x->e, BAR_EFAIL, "TooManyPages", "%s: more than 100000 pages", action);
}

int ali_pages(ali_ctx *x, int svc, const char *action, const ali_params *base,
              const char *path, int style, int size, ali_item_fn fn, void *ud)
{
	return pages(x, svc, action, base, path, style, size, fn, ud, NULL);
}

static int keep_item(ali_ctx *x, const bar_kit_jdoc *page, int item, void *ud)
{
	ali_items *it = ud;

	if (room((void **)&it->v, &it->cap, it->n, sizeof(*it->v)))
		return bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "alibaba: out of memory");
	it->v[it->n].d = page;
	it->v[it->n++].n = item;
	return BAR_OK;
}

int ali_pages_keep(ali_ctx *x, int svc, const char *action, const ali_params *base,
                   const char *path, int style, int size, ali_items *out)
{
	return pages(x, svc, action, base, path, style, size, keep_item, out, out);
}

void ali_items_free(ali_items *it)
{
	for (size_t i = 0; i < it->npages; i++)
		bar_kit_jfree(it->pages[i]);
	free(it->pages);
	free(it->v);
	memset(it, 0, sizeof(*it));
}

const char *ali_in_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

void ali_client_token(ali_ctx *x, const char *suffix, char *out, size_t size)
{
	const char *k = BAR_COVERS(x->call, idempotency_key) && x->call->idempotency_key
	                    ? x->call->idempotency_key
	                    : "";
	size_t room = size < 65 ? size : 65, n;

	out[0] = '\0';
	if (!*k)
		return;
	/* ASCII only, at most 64 characters with the suffix */
	n = strlen(suffix);
	snprintf(out, room > n ? room - n : 1, "%s", k);
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			*c = '-';
	snprintf(out + strlen(out), size - strlen(out), "%s", suffix);
}

int ali_rpc_patient(ali_ctx *x, int svc, const char *action, const ali_params *base,
                    const char *resource, bar_kit_jdoc **out, int tries)
{
	int rc = BAR_OK;

	for (int t = 1;; t++) {
		bar_kit_err e = {0};
		ali_params p = {0};

		ali_params_copy(&p, base);
		rc = ali_rpc(x->s, x->call, svc, action, &p, resource, out, &e);
		ali_params_free(&p);
		if (rc != BAR_ECONFLICT || t >= tries) {
			if (rc)
				bar_kit_fail(&x->e, rc, e.code, "%s", e.msg);
			return rc;
		}
		/* a dependency still being released (an instance, a vSwitch) */
		rc = ali_wait(x->call, x->s->poll_ms, action, &x->e);
		if (rc)
			return rc;
	}
}
