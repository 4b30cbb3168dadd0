/*
 * ali_util.c - what the handlers share (see ali.h): pagination of the
 * Describe* calls, parameter copies, client tokens.
 */
#include "ali.h"

#include <stdio.h>
#include <string.h>

void ali_params_copy(ali_params *dst, const ali_params *p)
{
	for (size_t i = 0; i < p->n; i++)
		ali_params_add(dst, p->k[i], p->v[i]);
	if (p->failed)
		dst->failed = 1;
}

int ali_pages(ali_ctx *x, int svc, const char *action, const ali_params *base,
              const char *path, int style, int size, ali_item_fn fn, void *ud)
{
	char next[1024] = "";
	long seen = 0;
	int rc = BAR_OK;

	for (int page = 1; page <= 100000; page++) {
		ali_params p = {0};
		json_t *r = NULL, *items, *it;
		json_t *total;
		json_int_t total_n;
		size_t i, n;
		int has_total;

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
		items = ali_jlist(r, path);
		json_array_foreach(items, i, it) {
			rc = fn(x, it, ud);
			if (rc)
				break;
		}
		n = json_array_size(items);
		seen += (long)n;
		total = json_object_get(r, "TotalCount");
		has_total = json_is_integer(total);
		total_n = has_total ? json_integer_value(total) : 0;
		snprintf(next, sizeof(next), "%s", ali_jstr(r, "NextToken"));
		json_decref(r); /* items and total were borrowed from it */
		if (rc)
			return rc;
		if (style == ALI_PAGE_TOKEN ? !*next
		                            : n == 0 || (has_total && seen >= total_n) ||
		                                  (!has_total && n < (size_t)size))
			return BAR_OK;
	}
	return bar_kit_fail(&x->e, BAR_EFAIL, "TooManyPages", "%s: more than 100000 pages", action);
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
                    const char *resource, json_t **out, int tries)
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
