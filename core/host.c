/*
 * host.c - loading provider plugins and calling them (see host.h).
 *
 * Every call gets a bar_call on the stack whose host_data points at a
 * call_ctx: the sink that collects emitted observations and secrets, the
 * error the provider set, the connection (for credentials) and the
 * cancellation flag.  Throttling (BAR_P_ERETRY) is retried here with
 * exponential backoff so that no caller has to.
 */
#include "host.h"
#include "error.h"
#include "util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROVIDERS 32
#define MAX_OBS_TEXT (16u << 20) /* one observation's JSON, at most */

typedef struct loaded {
	char *file;
	void *dl;
	bar_provider *prov;
} loaded;

struct bar_registry {
	char *search_path;
	loaded items[MAX_PROVIDERS];
	size_t n;
	pthread_mutex_t mu;
};

struct bar_sink {
	bar_obs_list *list;
	bar_secrets *secrets;
	int failed;
};

typedef struct call_ctx {
	const bar_conn *conn;
	const bar_op_ctx *op;
	char code[128];
	char message[2048];
	json_t *cred_file; /* parsed credential file, zeroed on free */
} call_ctx;

/* ---- host API given to plugins ---- */

static char *dup_bounded(const char *s)
{
	if (!s)
		return NULL;
	return bar_strndup(s, strnlen(s, MAX_OBS_TEXT));
}

static int host_emit(bar_sink *sink, const bar_observed *o)
{
	bar_obs *dst;

	if (!sink->list || !o || !o->system_id) {
		sink->failed = 1;
		return -1;
	}
	if (sink->list->n == sink->list->cap) {
		sink->list->cap = sink->list->cap ? sink->list->cap * 2 : 16;
		sink->list->items = bar_realloc(sink->list->items,
		                                sink->list->cap * sizeof(bar_obs));
	}
	dst = &sink->list->items[sink->list->n++];
	dst->system_id = dup_bounded(o->system_id);
	dst->name = dup_bounded(o->name ? o->name : "");
	dst->status = dup_bounded(o->status ? o->status : "");
	dst->attrs = dup_bounded(o->attrs ? o->attrs : "{}");
	dst->tags = dup_bounded(o->tags ? o->tags : "{}");
	return 0;
}

static int host_emit_secret(bar_sink *sink, const char *field, const char *value)
{
	bar_secrets *s = sink->secrets;

	if (!s || !field || !value) {
		sink->failed = 1;
		return -1;
	}
	s->items = bar_realloc(s->items, (s->n + 1) * sizeof(bar_secret));
	s->items[s->n].field = bar_strdup(field);
	s->items[s->n].value = bar_strdup(value);
	s->n++;
	return 0;
}

__attribute__((format(printf, 3, 4))) static void
host_set_error(bar_call *call, const char *code, const char *fmt, ...)
{
	call_ctx *cx = call->host_data;
	va_list ap;

	snprintf(cx->code, sizeof(cx->code), "%s", code ? code : "");
	va_start(ap, fmt);
	vsnprintf(cx->message, sizeof(cx->message), fmt, ap);
	va_end(ap);
}

static bar_log_fn log_fn;
static void *log_ud;

void bar_host_set_log(bar_log_fn fn, void *ud)
{
	log_fn = fn;
	log_ud = ud;
}

__attribute__((format(printf, 3, 4))) static void
host_log(bar_call *call, int level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(log_ud, level < BAR_LOG_DEBUG ? BAR_LOG_DEBUG : level > BAR_LOG_ERROR ? BAR_LOG_ERROR
	                                                                           : level,
	       call->connection, msg);
}

static int host_cancelled(bar_call *call)
{
	call_ctx *cx = call->host_data;

	return cx->op && cx->op->cancel && *cx->op->cancel;
}

static const char *host_credential(bar_call *call, const char *field)
{
	call_ctx *cx = call->host_data;
	const json_t *ref = cx->conn->credential;
	const char *var, *path;

	if (!ref || !field)
		return NULL;
	var = json_string_value(json_object_get(json_object_get(ref, "env"), field));
	if (var)
		return getenv(var);
	path = json_string_value(json_object_get(ref, "file"));
	if (!path)
		return NULL;
	if (!cx->cred_file)
		cx->cred_file = json_load_file(path, 0, NULL);
	return json_string_value(json_object_get(cx->cred_file, field));
}

static const bar_host_api host_api = {
	.abi_version = BAR_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(bar_host_api),
	.emit = host_emit,
	.set_error = host_set_error,
	.log = host_log,
	.cancelled = host_cancelled,
	.credential = host_credential,
	.emit_secret = host_emit_secret,
};

const bar_host_api *bar_host_api_get(void)
{
	return &host_api;
}

/* ---- registry ---- */

static char *default_search_path(void)
{
	const char *env = getenv("BARISTA_PLUGIN_PATH");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env)
		return bar_strdup(env);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		return bar_printf("%s/providers:%s/../lib/barista/providers:%s:%s", exe, exe,
		                  BAR_PLUGIN_BUILD_DIR, BAR_PLUGIN_INSTALL_DIR);
	}
	return bar_printf("%s:%s", BAR_PLUGIN_BUILD_DIR, BAR_PLUGIN_INSTALL_DIR);
}

int bar_registry_new(bar_registry **out, const char *search_path)
{
	bar_registry *reg = bar_calloc(1, sizeof(*reg));

	reg->search_path = search_path ? bar_strdup(search_path) : default_search_path();
	pthread_mutex_init(&reg->mu, NULL);
	*out = reg;
	return 0;
}

void bar_registry_free(bar_registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++) {
		if (reg->items[i].prov->destroy)
			reg->items[i].prov->destroy(reg->items[i].prov);
		if (reg->items[i].dl)
			dlclose(reg->items[i].dl);
		free(reg->items[i].file);
	}
	pthread_mutex_destroy(&reg->mu);
	free(reg->search_path);
	free(reg);
}

static const bar_provider *find_loaded(bar_registry *reg, const char *name)
{
	for (size_t i = 0; i < reg->n; i++)
		if (strcmp(reg->items[i].prov->name, name) == 0)
			return reg->items[i].prov;
	return NULL;
}

/* Check the table a plugin returned; the message names the file. */
static int check_provider(bar_registry *reg, const char *path, const bar_provider *p)
{
	if (p->abi_version != BAR_PROVIDER_ABI_VERSION)
		return bar_error_set("provider plugin %s: ABI version %u is not supported "
		                     "(this barista speaks version %d); rebuild the plugin "
		                     "against this barista's barista_provider.h",
		                     path, p->abi_version, BAR_PROVIDER_ABI_VERSION);
	if (p->struct_size < offsetof(bar_provider, destroy))
		return bar_error_set("provider plugin %s: provider table is %u bytes, too "
		                     "small for ABI version %d", path, p->struct_size,
		                     BAR_PROVIDER_ABI_VERSION);
	if (!p->name || !*p->name)
		return bar_error_set("provider plugin %s: provider has no name", path);
	if (!p->create || !p->read || !p->del || !p->list)
		return bar_error_set("provider plugin %s: provider \"%s\" lacks one of "
		                     "create, read, delete, list", path, p->name);
	for (size_t i = 0; i < reg->n; i++)
		if (strcmp(reg->items[i].prov->name, p->name) == 0)
			return bar_error_set("provider plugin %s: provider name \"%s\" is already "
			                     "loaded from %s; remove one of the two files",
			                     path, p->name, reg->items[i].file);
	return 0;
}

static int load_locked(bar_registry *reg, const char *path, const bar_provider **out)
{
	barista_provider_init_fn init;
	bar_provider *prov = NULL;
	char *errmsg = NULL;
	void *dl;

	if (reg->n == MAX_PROVIDERS)
		return bar_error_set("provider plugin %s: too many plugins loaded", path);
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return bar_error_set("provider plugin %s: cannot load: %s", path, dlerror());
	*(void **)&init = dlsym(dl, BAR_PROVIDER_INIT_SYMBOL);
	if (!init) {
		bar_error_set("provider plugin %s: no %s symbol; is it a Barista provider?",
		              path, BAR_PROVIDER_INIT_SYMBOL);
		goto fail_close;
	}
	if (init(&host_api, &prov, &errmsg) != 0 || !prov) {
		bar_error_set("provider plugin %s: initialisation failed: %s", path,
		              errmsg ? errmsg : "no message");
		free(errmsg);
		goto fail_close;
	}
	if (check_provider(reg, path, prov) < 0) {
		if (prov->abi_version == BAR_PROVIDER_ABI_VERSION && prov->destroy)
			prov->destroy(prov);
		goto fail_close;
	}
	reg->items[reg->n].file = bar_strdup(path);
	reg->items[reg->n].dl = dl;
	reg->items[reg->n].prov = prov;
	reg->n++;
	*out = prov;
	return 0;
fail_close:
	dlclose(dl);
	return -1;
}

int bar_registry_load_file(bar_registry *reg, const char *path, const bar_provider **out)
{
	int rc;

	pthread_mutex_lock(&reg->mu);
	rc = load_locked(reg, path, out);
	pthread_mutex_unlock(&reg->mu);
	return rc;
}

int bar_registry_add(bar_registry *reg, bar_provider *prov, const char *origin)
{
	int rc = -1;

	pthread_mutex_lock(&reg->mu);
	if (reg->n == MAX_PROVIDERS)
		bar_error_set("provider %s: too many providers", origin);
	else if (check_provider(reg, origin, prov) == 0) {
		reg->items[reg->n].file = bar_strdup(origin);
		reg->items[reg->n].dl = NULL;
		reg->items[reg->n].prov = prov;
		reg->n++;
		rc = 0;
	}
	pthread_mutex_unlock(&reg->mu);
	return rc;
}

int bar_registry_get(bar_registry *reg, const char *driver, const bar_provider **out)
{
	const bar_provider *p;
	char *path = NULL, *dirs, *save = NULL;
	int rc = BAR_ENOTFOUND;

	pthread_mutex_lock(&reg->mu);
	p = find_loaded(reg, driver);
	if (p) {
		*out = p;
		pthread_mutex_unlock(&reg->mu);
		return 0;
	}
	dirs = bar_strdup(reg->search_path);
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		path = bar_printf("%s/barista-provider-%s.so", d, driver);
		if (access(path, F_OK) == 0)
			break;
		free(path);
		path = NULL;
	}
	free(dirs);
	if (!path) {
		bar_error_set("no provider plugin for driver \"%s\": barista-provider-%s.so is "
		              "not in any of %s (set BARISTA_PLUGIN_PATH)",
		              driver, driver, reg->search_path);
		goto done;
	}
	rc = load_locked(reg, path, &p);
	if (rc == 0 && strcmp(p->name, driver) != 0)
		rc = bar_error_set("provider plugin %s declares name \"%s\", not \"%s\"", path,
		                   p->name, driver);
	if (rc == 0)
		*out = p;
done:
	free(path);
	pthread_mutex_unlock(&reg->mu);
	return rc;
}

/* ---- connections ---- */

int bar_conn_init(bar_conn *out, const char *ns, const char *name, const json_t *attrs)
{
	const char *driver = json_string_value(json_object_get(attrs, "driver"));
	const char *region = json_string_value(json_object_get(attrs, "region"));
	const char *zone = json_string_value(json_object_get(attrs, "zone"));
	json_t *cfg = json_object_get(attrs, "config");
	json_t *cred = json_object_get(attrs, "credential");

	if (!driver || !region)
		return bar_error_set("connection %s/%s: driver and region are required", ns, name);
	memset(out, 0, sizeof(*out));
	out->ns = bar_strdup(ns);
	out->name = bar_strdup(name);
	out->driver = bar_strdup(driver);
	out->region = bar_strdup(region);
	out->zone = bar_strdup(zone ? zone : "");
	out->config = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS) : bar_strdup("{}");
	out->credential = json_is_object(cred) ? json_deep_copy(cred) : NULL;
	out->max_concurrency = (int)json_integer_value(json_object_get(attrs, "maxConcurrency"));
	return 0;
}

int bar_conn_bind(bar_conn *c, bar_registry *reg)
{
	if (c->provider)
		return 0;
	if (bar_registry_get(reg, c->driver, &c->provider) < 0) {
		bar_error_prefix("connection \"%s\"", c->name);
		return -1;
	}
	return 0;
}

void bar_conn_clear(bar_conn *c)
{
	free(c->ns);
	free(c->name);
	free(c->driver);
	free(c->region);
	free(c->zone);
	free(c->config);
	json_decref(c->credential);
	memset(c, 0, sizeof(*c));
}

void bar_obs_clear(bar_obs *o)
{
	if (!o)
		return;
	free(o->system_id);
	free(o->name);
	free(o->status);
	free(o->attrs);
	free(o->tags);
	memset(o, 0, sizeof(*o));
}

void bar_obs_list_clear(bar_obs_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		bar_obs_clear(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void bar_secrets_clear(bar_secrets *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->items[i].field);
		if (s->items[i].value) {
			bar_memzero(s->items[i].value, strlen(s->items[i].value));
			free(s->items[i].value);
		}
	}
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

/* ---- calls ---- */

enum op { OP_CREATE, OP_READ, OP_UPDATE, OP_DELETE, OP_LIST, OP_ACTION };
static const char *op_names[] = {"create", "read", "update", "delete", "list", "action"};

static int map_code(int prc)
{
	switch (prc) {
	case BAR_P_ENOTFOUND: return BAR_ENOTFOUND;
	case BAR_P_ECONFLICT: return BAR_ECONFLICT;
	case BAR_P_EAUTH: return BAR_EAUTH;
	case BAR_P_ERETRY: return BAR_ERETRY;
	case BAR_P_EINVALID: return BAR_EINVALID;
	case BAR_P_ECANCELED: return BAR_ECANCELED;
	default: return BAR_EFAIL;
	}
}

static void free_cred(call_ctx *cx)
{
	if (!cx->cred_file)
		return;
	/* Wipe secret strings before jansson frees them. */
	const char *k;
	json_t *v;

	json_object_foreach(cx->cred_file, k, v) {
		if (json_is_string(v)) {
			char *s = (char *)json_string_value(v);

			bar_memzero(s, strlen(s));
		}
	}
	json_decref(cx->cred_file);
	cx->cred_file = NULL;
}

static int invoke_once(const bar_conn *c, enum op op, const char *type, const char *input,
                       bar_call *call, bar_sink *sink)
{
	bar_provider *p = (bar_provider *)c->provider;

	switch (op) {
	case OP_CREATE: return p->create(p, call, type, input, sink);
	case OP_READ: return p->read(p, call, type, input, sink);
	case OP_UPDATE:
		if (!p->update)
			return BAR_P_ENOTSUP;
		return p->update(p, call, type, input, sink);
	case OP_DELETE: return p->del(p, call, type, input);
	case OP_LIST: return p->list(p, call, type, sink);
	case OP_ACTION:
		if (!p->vm_action)
			return BAR_P_ENOTSUP;
		return p->vm_action(p, call, type, input, sink);
	}
	return BAR_P_EFAIL;
}

static int cancelled_or_late(const bar_op_ctx *ctx)
{
	if (ctx && ctx->cancel && *ctx->cancel)
		return 1;
	return ctx && ctx->deadline_ms && bar_now_ms() >= ctx->deadline_ms;
}

/* Run one operation with retries; fills list/secrets through the sink. */
static int invoke(const bar_conn *c, enum op op, const char *type, const char *name,
                  const char *input, const bar_op_ctx *ctx, bar_obs_list *list,
                  bar_secrets *secrets)
{
	int max_attempts = ctx && ctx->max_attempts ? ctx->max_attempts : 10;
	int backoff = 200, prc = BAR_P_EFAIL;
	call_ctx cx = {0};

	if (!c->provider)
		return bar_error_set("connection \"%s\" has no provider bound", c->name);
	for (int attempt = 1; attempt <= max_attempts; attempt++) {
		bar_call call = {sizeof(bar_call), c->name, c->region, c->zone, c->config,
		                 ctx ? ctx->deadline_ms : 0, 0, &cx};
		bar_sink sink = {list, secrets, 0};
		size_t before = list ? list->n : 0;

		memset(&cx, 0, sizeof(cx));
		cx.conn = c;
		cx.op = ctx;
		prc = invoke_once(c, op, type, input, &call, &sink);
		free_cred(&cx);
		if (prc == BAR_P_OK && sink.failed) {
			prc = BAR_P_EFAIL;
			snprintf(cx.message, sizeof(cx.message), "provider emitted an invalid result");
		}
		if (prc == BAR_P_OK)
			return 0;
		if (list) { /* drop partial output of a failed attempt */
			while (list->n > before)
				bar_obs_clear(&list->items[--list->n]);
		}
		if (prc == BAR_P_ERETRY && ctx && ctx->throttled)
			(*ctx->throttled)++;
		if (prc != BAR_P_ERETRY || attempt == max_attempts || cancelled_or_late(ctx))
			break;
		{
			/* Exponential backoff with jitter, never sooner than the provider
			 * asked: many workers throttled at once must not retry in step. */
			static _Thread_local unsigned seed;
			int wait;
			struct timespec ts;

			if (!seed)
				seed = (unsigned)bar_now_ms() ^ (unsigned)(uintptr_t)&seed;
			wait = backoff / 2 + (int)(rand_r(&seed) % (unsigned)(backoff / 2 + 1));
			if (wait < call.retry_after_ms)
				wait = call.retry_after_ms;
			ts.tv_sec = wait / 1000;
			ts.tv_nsec = (long)(wait % 1000) * 1000000L;
			nanosleep(&ts, NULL);
			backoff = backoff * 2 > 8000 ? 8000 : backoff * 2;
		}
	}
	if (prc == BAR_P_ENOTSUP && !cx.message[0])
		snprintf(cx.message, sizeof(cx.message), "not supported by provider \"%s\"",
		         c->driver);
	bar_error_set("%s %s \"%s\" on %s (%s, region %s): %s%s%s", op_names[op],
	              op == OP_ACTION ? "vm" : type, name ? name : "", c->name, c->driver,
	              c->region, cx.code, cx.code[0] ? ": " : "",
	              cx.message[0] ? cx.message : "failed without a message");
	return map_code(prc);
}

static int invoke_one(const bar_conn *c, enum op op, const char *type, const char *name,
                      const char *input, const bar_op_ctx *ctx, bar_obs *out,
                      bar_secrets *secrets)
{
	bar_obs_list list = {0};
	int rc = invoke(c, op, type, name, input, ctx, &list, secrets);

	if (rc == 0 && list.n != 1) {
		rc = bar_error_set("%s %s \"%s\" on %s: provider \"%s\" returned %zu results, "
		                   "expected 1", op_names[op], type, name, c->name, c->driver,
		                   list.n);
	}
	if (rc == 0) {
		*out = list.items[0];
		list.n = 0;
	}
	bar_obs_list_clear(&list);
	return rc;
}

int bar_host_create(const bar_conn *c, const char *type, const char *name,
                    const char *input, const bar_op_ctx *ctx, bar_obs *out,
                    bar_secrets *secrets)
{
	return invoke_one(c, OP_CREATE, type, name, input, ctx, out, secrets);
}

int bar_host_read(const bar_conn *c, const char *type, const char *name,
                  const char *input, const bar_op_ctx *ctx, bar_obs *out)
{
	return invoke_one(c, OP_READ, type, name, input, ctx, out, NULL);
}

int bar_host_update(const bar_conn *c, const char *type, const char *name,
                    const char *input, const bar_op_ctx *ctx, bar_obs *out)
{
	return invoke_one(c, OP_UPDATE, type, name, input, ctx, out, NULL);
}

int bar_host_delete(const bar_conn *c, const char *type, const char *name,
                    const char *input, const bar_op_ctx *ctx)
{
	return invoke(c, OP_DELETE, type, name, input, ctx, NULL, NULL);
}

int bar_host_vm_action(const bar_conn *c, const char *action, const char *name,
                       const char *input, const bar_op_ctx *ctx, bar_obs *out)
{
	return invoke_one(c, OP_ACTION, action, name, input, ctx, out, NULL);
}

int bar_host_list(const bar_conn *c, const char *type, const bar_op_ctx *ctx,
                  bar_obs_list *out)
{
	return invoke(c, OP_LIST, type, NULL, NULL, ctx, out, NULL);
}

/* ---- key store ---- */

char *bar_keystore_path(const char *dir, const char *address, const char *field)
{
	char *p = bar_printf("%s/%s.%s", dir, address, field);

	for (char *s = p + strlen(dir) + 1; *s; s++)
		if (*s == '/')
			*s = '.';
	return p;
}

int bar_keystore_put(const char *dir, const char *address, const char *field,
                     const char *value)
{
	char *path, *tmp;
	FILE *f;
	int rc = -1;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return bar_error_set("key store %s: cannot create: %s", dir, strerror(errno));
	path = bar_keystore_path(dir, address, field);
	tmp = bar_printf("%s.tmp", path);
	f = fopen(tmp, "wx");
	if (!f && errno == EEXIST) {
		unlink(tmp);
		f = fopen(tmp, "wx");
	}
	if (!f) {
		bar_error_set("key store: cannot write %s: %s", tmp, strerror(errno));
		goto done;
	}
	fchmod(fileno(f), 0600);
	if (fputs(value, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		bar_error_set("key store: cannot write %s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		goto done;
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		bar_error_set("key store: cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto done;
	}
	rc = 0;
done:
	free(tmp);
	free(path);
	return rc;
}

int bar_keystore_remove(const char *dir, const char *address)
{
	char *prefix = bar_keystore_path(dir, address, "");
	const char *base = strrchr(prefix, '/') + 1;
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d) {
		free(prefix);
		return 0;
	}
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, base, strlen(base)) == 0) {
			char *p = bar_printf("%s/%s", dir, e->d_name);

			unlink(p);
			free(p);
		}
	}
	closedir(d);
	rmdir(dir); /* only succeeds once empty */
	free(prefix);
	return 0;
}
