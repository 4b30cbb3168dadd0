/*
 * ali_util.c - what the handlers share (see ali.h): pagination of the
 * Describe* calls (each page read in place, or kept for what needs every
 * item at once), parameter copies, client tokens.
 */
#include "ali.h"

#include <pthread.h>
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

/* The pages of a list, fetched by a thread of their own: each request is
 * sent as soon as its predecessor's answer gives the NextToken (or count),
 * while the caller's thread hands the items of earlier pages to the host.
 * The requests stay one at a time and in order, as the API's pagination
 * has them. */
typedef struct fetcher {
	ali_ctx *x;
	int svc, style, size;
	const char *action, *path;
	const ali_params *base;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bar_kit_jdoc **q;      /* answers not yet taken, in page order */
	size_t qn, qcap, qhead;
	int done, stop, rc;
	bar_kit_err e;
} fetcher;

static void *fetch_main(void *arg)
{
	fetcher *f = arg;
	char next[1024] = "";
	long seen = 0;
	int rc = BAR_OK;

	for (int page = 1; rc == BAR_OK; page++) {
		ali_params p = {0};
		bar_kit_jdoc *r = NULL;
		int items, total, more;
		size_t n;

		pthread_mutex_lock(&f->mu);
		if (f->stop) {
			pthread_mutex_unlock(&f->mu);
			break;
		}
		pthread_mutex_unlock(&f->mu);
		if (page > 100000) {
			rc = bar_kit_fail(&f->e, BAR_EFAIL, "TooManyPages", "%s: more than 100000 pages",
			                  f->action);
			break;
		}
		ali_params_copy(&p, f->base);
		if (f->style == ALI_PAGE_TOKEN) {
			ali_params_addf(&p, "MaxResults", "%d", f->size);
			if (*next)
				ali_params_add(&p, "NextToken", next);
		} else {
			ali_params_addf(&p, "PageSize", "%d", f->size);
			ali_params_addf(&p, "PageNumber", "%d", page);
		}
		rc = ali_rpc(f->x->s, f->x->call, f->svc, f->action, &p, NULL, &r, &f->e);
		ali_params_free(&p);
		if (rc)
			break;
		items = ali_jlist(r, 0, f->path);
		n = bar_kit_jlen(r, items);
		seen += (long)n;
		total = bar_kit_jget(r, 0, "TotalCount");
		snprintf(next, sizeof(next), "%s", ali_jstr(r, 0, "NextToken"));
		more = f->style == ALI_PAGE_TOKEN
		           ? *next != '\0'
		           : !(n == 0 ||
		               (bar_kit_jtype(r, total) == BAR_KIT_JINT && seen >= bar_kit_jint(r, total)) ||
		               (bar_kit_jtype(r, total) != BAR_KIT_JINT && n < (size_t)f->size));
		pthread_mutex_lock(&f->mu);
		if (room((void **)&f->q, &f->qcap, f->qn, sizeof(*f->q))) {
			pthread_mutex_unlock(&f->mu);
			bar_kit_jfree(r);
			rc = bar_kit_fail(&f->e, BAR_EFAIL, "OutOfMemory", "alibaba: out of memory");
			break;
		}
		f->q[f->qn++] = r;
		pthread_cond_signal(&f->cv);
		pthread_mutex_unlock(&f->mu);
		if (!more)
			break;
	}
	pthread_mutex_lock(&f->mu);
	f->rc = rc;
	f->done = 1;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* The next page in order, or NULL when there is none (f->rc then says
 * whether the list ended or failed). */
static bar_kit_jdoc *fetch_next(fetcher *f)
{
	bar_kit_jdoc *r = NULL;

	pthread_mutex_lock(&f->mu);
	while (f->qhead == f->qn && !f->done)
		pthread_cond_wait(&f->cv, &f->mu);
	if (f->qhead < f->qn)
		r = f->q[f->qhead++];
	pthread_mutex_unlock(&f->mu);
	return r;
}

/* ali_pages' work; with keep, every answer goes to keep->pages instead of
 * being freed (fn's items point into them). */
static int pages(ali_ctx *x, int svc, const char *action, const ali_params *base,
                 const char *path, int style, int size, ali_item_fn fn, void *ud,
                 ali_items *keep)
{
	fetcher f = {.x = x, .svc = svc, .style = style, .size = size, .action = action,
	             .path = path, .base = base};
	pthread_t t;
	bar_kit_jdoc *r;
	int rc = BAR_OK, threaded;

	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	threaded = pthread_create(&t, NULL, fetch_main, &f) == 0;
	if (!threaded)
		fetch_main(&f); /* no thread: every page first, then the items */
	while (rc == BAR_OK && (r = fetch_next(&f))) {
		int items = ali_jlist(r, 0, path);

		if (keep && room((void **)&keep->pages, &keep->pcap, keep->npages, sizeof(*keep->pages))) {
			bar_kit_jfree(r);
			rc = bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "alibaba: out of memory");
			break;
		}
		for (int it = bar_kit_jfirst(r, items); it >= 0 && !rc; it = bar_kit_jnext(r, items, it))
			rc = fn(x, r, it, ud);
		if (keep)
			keep->pages[keep->npages++] = r;
		else
			bar_kit_jfree(r);
	}
	pthread_mutex_lock(&f.mu);
	f.stop = 1;
	pthread_mutex_unlock(&f.mu);
	if (threaded)
		pthread_join(t, NULL);
	while ((r = fetch_next(&f))) /* pages fetched after a failure */
		bar_kit_jfree(r);
	if (rc == BAR_OK && f.rc)
		rc = bar_kit_fail(&x->e, f.e.rc ? f.e.rc : f.rc, f.e.code, "%s", f.e.msg);
	free(f.q);
	pthread_mutex_destroy(&f.mu);
	pthread_cond_destroy(&f.cv);
	return rc;
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
