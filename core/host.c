/*
 * host.c - loading provider plugins and calling them (see host.h).
 *
 * Every call gets a bar_call on the stack whose host_data points at a
 * call_ctx: the sink that collects emitted observations and secrets, the
 * error the provider set, the connection (for credentials) and the
 * cancellation token.  Throttling (BAR_ERETRY) is retried here with
 * jittered exponential backoff, bounded by the call's deadline and cut short
 * by cancellation, so that no caller has to.  A connection's provider
 * session (open/close) is opened on the first call that needs it.
 */
#include "host.h"
#include "calllog.h"
#include "credential.h"
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
	char why[160]; /* why an emit was refused */
};

struct bar_session {
	pthread_mutex_t mu; /* guards opening */
	int state;          /* 0 not opened, 1 open, -1 open failed */
	void *handle;       /* what the provider's open() made */
	bar_error error;    /* why open failed */
};

typedef struct call_ctx {
	const bar_conn *conn;
	const bar_op_ctx *op;
	char code[128];
	char message[2048];
	char *operation;    /* set_operation's token */
	char cred_error[512]; /* a credential reference that could not be read */
	bar_cred *cred;     /* the resolved reference, held for the call */
	int cred_failed;    /* resolving it failed (cred_error says why) */
	bar_check_fn check_fn; /* check(): where report_check goes */
	void *check_ud;
} call_ctx;

/* ---- host API given to plugins ---- */

/* Refuse an emit, remembering why for the call's error. */
static int sink_refuse(bar_sink *sink, const char *why)
{
	if (!sink->failed)
		snprintf(sink->why, sizeof(sink->why), "%s", why);
	sink->failed = 1;
	return -1;
}

static int host_emit(bar_sink *sink, const bar_observed *o)
{
	const char *texts[4];
	bar_obs *dst;

	if (!sink->list)
		return sink_refuse(sink, "provider emitted a result where none was expected");
	if (!o || !o->system_id || !*o->system_id)
		return sink_refuse(sink, "provider emitted a result without a system id");
	texts[0] = o->system_id;
	texts[1] = o->name;
	texts[2] = o->attrs;
	texts[3] = o->tags;
	/* A hard limit fails loudly: never truncate into invalid JSON. */
	for (int i = 0; i < 4; i++)
		if (texts[i] && strnlen(texts[i], MAX_OBS_TEXT + 1) > MAX_OBS_TEXT)
			return sink_refuse(sink, "provider emitted a result larger than 16 MiB");
	if (sink->list->n == sink->list->cap) {
		sink->list->cap = sink->list->cap ? sink->list->cap * 2 : 16;
		sink->list->items = bar_realloc(sink->list->items,
		                                sink->list->cap * sizeof(bar_obs));
	}
	dst = &sink->list->items[sink->list->n++];
	dst->system_id = bar_strdup(o->system_id);
	dst->name = bar_strdup(o->name ? o->name : "");
	dst->status = bar_strndup(o->status ? o->status : "", 64);
	dst->attrs = bar_strdup(o->attrs ? o->attrs : "{}");
	dst->tags = bar_strdup(o->tags ? o->tags : "{}");
	return 0;
}

static int host_emit_secret(bar_sink *sink, const char *field, const char *value)
{
	bar_secrets *s = sink->secrets;

	if (!s)
		return sink_refuse(sink, "provider handed back a secret where none was expected");
	if (!field || !value)
		return sink_refuse(sink, "provider handed back an empty secret");
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

	return cx->op && bar_cancel_cancelled(cx->op->cancel);
}

static void host_set_operation(bar_call *call, const char *token)
{
	call_ctx *cx = call->host_data;

	free(cx->operation);
	cx->operation = token && *token ? bar_strndup(token, 1024) : NULL;
}

static const char *host_credential(bar_call *call, const char *field)
{
	call_ctx *cx = call->host_data;
	const json_t *ref = cx->conn->credential;
	const char *v, *var;

	if (!ref || !field || cx->cred_failed)
		return NULL;
	if (!cx->cred && bar_cred_resolve(&cx->cred, ref) < 0) {
		snprintf(cx->cred_error, sizeof(cx->cred_error), "%s", bar_error_get()->message);
		cx->cred_failed = 1;
		return NULL;
	}
	v = bar_cred_get(cx->cred, field);
	var = v ? NULL : bar_cred_unset_var(cx->cred, field);
	if (var && !cx->cred_error[0])
		snprintf(cx->cred_error, sizeof(cx->cred_error), "credential field \"%s\" comes "
		         "from environment variable %s, which is %s", field, var,
		         getenv(var) ? "empty" : "not set");
	return v;
}

static bar_calllog *calllog;

void bar_host_set_calllog(bar_calllog *l)
{
	calllog = l;
}

static void host_record_call(bar_call *call, const bar_call_record *r)
{
	call_ctx *cx = call->host_data;
	bar_call_entry e;

	if (!calllog || !r || !BAR_COVERS(r, duration_ms))
		return;
	e = (bar_call_entry){
		.at_ms = bar_wall_ms(),
		.ns = cx->conn->ns,
		.connection = cx->conn->name,
		.driver = cx->conn->driver,
		.region = cx->conn->region,
		.address = call->address,
		.operation = r->operation,
		.resource = r->resource,
		.http_status = r->http_status,
		.error_code = r->error_code,
		.duration_ms = r->duration_ms,
	};
	bar_calllog_add(calllog, &e);
}

static void host_report_check(bar_call *call, const char *check, int ok, const char *detail)
{
	call_ctx *cx = call->host_data;

	if (cx->check_fn)
		cx->check_fn(cx->check_ud, check ? check : "", ok, detail ? detail : "");
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
	.set_operation = host_set_operation,
	.record_call = host_record_call,
	.report_check = host_report_check,
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
		return bar_error_setc(BAR_ENOTSUP, "provider plugin %s: it speaks provider ABI "
		                      "version %u, this barista speaks version %d; rebuild the "
		                      "plugin against this barista's barista_provider.h",
		                      path, p->abi_version, BAR_PROVIDER_ABI_VERSION);
	/* Every member of version 2, destroy included, must be covered. */
	if (!BAR_COVERS(p, destroy))
		return bar_error_set("provider plugin %s: provider table is %u bytes, too "
		                     "small for ABI version %d (%zu)", path, p->struct_size,
		                     BAR_PROVIDER_ABI_VERSION,
		                     offsetof(bar_provider, destroy) + sizeof(p->destroy));
	if (!p->name || !*p->name)
		return bar_error_set("provider plugin %s: provider has no name", path);
	if (!p->create || !p->read || !p->del || !p->list)
		return bar_error_set("provider plugin %s: provider \"%s\" lacks one of "
		                     "create, read, delete, list", path, p->name);
	if (!p->types || !p->types[0])
		return bar_error_set("provider plugin %s: provider \"%s\" declares no "
		                     "resource types", path, p->name);
	for (size_t i = 0; p->types[i]; i++)
		if (!BAR_COVERS(p->types[i], in_place) || !p->types[i]->type)
			return bar_error_set("provider plugin %s: type entry %zu is malformed",
			                     path, i);
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
	return bar_error_get()->code;
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

/* The drivers the search path offers, as "a, b, c" (malloc'd), and the one
 * nearest to `want` by edit distance (at most 2) in *near (malloc'd or NULL). */
static char *available_drivers(const char *search_path, const char *want, char **near)
{
	static const char pre[] = "barista-provider-", suf[] = ".so";
	char *dirs = bar_strdup(search_path), *save = NULL;
	bar_buf list = BAR_BUF_INIT(4096);
	size_t best = 3;

	*near = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		DIR *dir = opendir(d);
		struct dirent *e;

		while (dir && (e = readdir(dir))) {
			size_t n = strlen(e->d_name);
			char name[256];
			size_t dist;

			if (n <= sizeof(pre) + sizeof(suf) - 2 || strncmp(e->d_name, pre, sizeof(pre) - 1) ||
			    strcmp(e->d_name + n - 3, suf))
				continue;
			snprintf(name, sizeof(name), "%.*s", (int)(n - sizeof(pre) - 2),
			         e->d_name + sizeof(pre) - 1);
			if (list.data && strstr(list.data, name))
				continue;
			bar_buf_printf(&list, "%s%s", list.len ? ", " : "", name);
			dist = bar_edit_distance(name, want);
			if (dist < best) {
				best = dist;
				free(*near);
				*near = bar_strdup(name);
			}
		}
		if (dir)
			closedir(dir);
	}
	free(dirs);
	return list.data ? bar_buf_take(&list) : bar_strdup("none");
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
		char *near, *known = available_drivers(reg->search_path, driver, &near);

		bar_error_setc(BAR_ENOTFOUND, "unknown driver \"%s\"%s%s%s: no "
		               "barista-provider-%s.so in %s (drivers there: %s; set "
		               "BARISTA_PLUGIN_PATH or -plugin-path to add others)", driver,
		               near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "",
		               driver, reg->search_path, known);
		free(near);
		free(known);
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
	out->session = bar_calloc(1, sizeof(*out->session));
	pthread_mutex_init(&out->session->mu, NULL);
	return 0;
}

int bar_conn_bind(bar_conn *c, bar_registry *reg)
{
	if (c->provider)
		return 0;
	if (bar_registry_get(reg, c->driver, &c->provider) < 0) {
		bar_error_prefix("connection \"%s\"", c->name);
		return bar_error_get()->code;
	}
	/* no maxConcurrency of its own: the driver's, from its cloud's
	 * published API limits */
	if (c->max_concurrency == 0 && BAR_COVERS(c->provider, default_concurrency))
		c->max_concurrency = (int)c->provider->default_concurrency;
	return 0;
}

void bar_conn_clear(bar_conn *c)
{
	if (c->session) {
		bar_provider *p = (bar_provider *)c->provider;

		if (c->session->state == 1 && p && BAR_HAS(p, close))
			p->close(p, c->session->handle);
		pthread_mutex_destroy(&c->session->mu);
		free(c->session);
	}
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


/* Is s in the NULL-terminated list? */
static int listed(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

static const bar_type_info *type_info(const bar_provider *p, const char *type)
{
	for (size_t i = 0; p && p->types && p->types[i]; i++)
		if (strcmp(p->types[i]->type, type) == 0)
			return p->types[i];
	return NULL;
}

int bar_provider_restorable(const bar_provider *p, const char *type, const char *attr)
{
	const bar_type_info *t = type_info(p, type);

	return t && BAR_COVERS(t, restorable) && listed(t->restorable, attr);
}

int bar_provider_in_place(const bar_provider *p, const char *type, const char *attr)
{
	const bar_type_info *t = type_info(p, type);

	return strcmp(attr, "connection") != 0 && t && listed(t->in_place, attr);
}

int bar_provider_type_lookup(const bar_provider *p, const char *type)
{
	const bar_type_info *t = type_info(p, type);

	return t && BAR_COVERS(t, flags) && (t->flags & BAR_TYPE_LOOKUP);
}

int bar_provider_has_type(const bar_provider *p, const char *type)
{
	return type_info(p, type) != NULL;
}

/* ---- calls ---- */

enum op { OP_CREATE, OP_READ, OP_UPDATE, OP_DELETE, OP_LIST, OP_ACTION, OP_POLL, OP_OPEN,
          OP_CHECK, OP_CATALOG };
static const char *op_names[] = {"create", "read", "update", "delete", "list", "action",
                                 "poll", "open", "check", "catalog"};

static void free_cred(call_ctx *cx)
{
	bar_cred_release(cx->cred);
	cx->cred = NULL;
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
			return BAR_ENOTSUP;
		return p->update(p, call, type, input, sink);
	case OP_DELETE: return p->del(p, call, type, input);
	case OP_LIST: return p->list(p, call, type, sink);
	case OP_ACTION:
		if (!p->vm_action)
			return BAR_ENOTSUP;
		return p->vm_action(p, call, type, input, sink);
	case OP_POLL:
		if (BAR_HAS(p, poll))
			return p->poll(p, call, type, input, sink);
		return p->read(p, call, type, input, sink);
	case OP_OPEN:
		return BAR_HAS(p, open) ? p->open(p, call, &c->session->handle) : BAR_OK;
	case OP_CHECK:
		return BAR_HAS(p, check) ? p->check(p, call) : BAR_ENOTSUP;
	case OP_CATALOG:
		return BAR_HAS(p, catalog) ? p->catalog(p, call, type, sink) : BAR_ENOTSUP;
	}
	return BAR_EFAIL;
}

static int late(const bar_op_ctx *ctx)
{
	return ctx && ctx->deadline_ms && bar_now_ms() >= ctx->deadline_ms;
}

/* Set the last error of a failed provider call, with its fields. */
static int call_error(const bar_conn *c, enum op op, const char *type, const char *name,
                      const bar_op_ctx *ctx, const call_ctx *cx, int prc)
{
	const char *what = op == OP_ACTION ? type : op_names[op];
	const char *msg = cx->cred_error[0] ? cx->cred_error
	                  : cx->message[0]  ? cx->message
	                                    : "failed without a message";
	bar_error *e;

	if (prc == BAR_ENOTSUP && !cx->message[0] && !cx->cred_error[0])
		msg = "not supported by this provider";
	if (prc > 0 || prc < BAR_ESTALE)
		prc = BAR_EFAIL;
	bar_error_setc(prc, "%s %s \"%s\" on %s (%s, region %s): %s%s%s", what,
	               op == OP_ACTION ? "vm" : type, name ? name : "", c->name, c->driver,
	               c->region, cx->cred_error[0] ? "" : cx->code,
	               cx->code[0] && !cx->cred_error[0] ? ": " : "", msg);
	e = bar_error_get();
	snprintf(e->provider_code, sizeof(e->provider_code), "%s",
	         cx->cred_error[0] ? "" : cx->code);
	snprintf(e->provider_message, sizeof(e->provider_message), "%s", msg);
	snprintf(e->operation, sizeof(e->operation), "%s", what);
	snprintf(e->address, sizeof(e->address), "%s", ctx && ctx->address ? ctx->address : "");
	snprintf(e->connection, sizeof(e->connection), "%s", c->name);
	snprintf(e->driver, sizeof(e->driver), "%s", c->driver);
	snprintf(e->region, sizeof(e->region), "%s", c->region);
	return prc;
}

/* One attempt: a bar_call on the stack, the provider called, its
 * credential copies wiped.  Fills *cx. */
static int attempt(const bar_conn *c, enum op op, const char *type, const char *input,
                   const bar_op_ctx *ctx, call_ctx *cx, bar_sink *sink, int *retry_after)
{
	bar_call call = {
		.struct_size = sizeof(bar_call),
		.connection = c->name,
		.region = c->region,
		.zone = c->zone,
		.config = c->config,
		.deadline_ms = ctx ? ctx->deadline_ms : 0,
		.host_data = cx,
		.session = c->session ? c->session->handle : NULL,
		.address = ctx && ctx->address ? ctx->address : "",
		.idempotency_key = op == OP_CREATE && ctx && ctx->idempotency_key
		                       ? ctx->idempotency_key : "",
		.operation = op == OP_POLL && ctx && ctx->operation ? ctx->operation : "",
	};
	int prc;

	cx->conn = c;
	cx->op = ctx;
	cx->check_fn = ctx ? ctx->check_fn : NULL;
	cx->check_ud = ctx ? ctx->check_ud : NULL;
	prc = invoke_once(c, op, type, input, &call, sink);
	free_cred(cx);
	if (prc == BAR_OK && sink->failed) {
		prc = BAR_EFAIL;
		snprintf(cx->message, sizeof(cx->message), "%s", sink->why);
	}
	*retry_after = call.retry_after_ms;
	return prc;
}

/* Open the connection's provider session once; later calls reuse it and a
 * failed open fails every call with the same error. */
static int ensure_open(const bar_conn *c, const bar_op_ctx *ctx)
{
	bar_session *s = c->session;
	int rc = 0;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->mu);
	if (s->state == 0) {
		call_ctx cx = {0};
		bar_sink sink = {0};
		int ra, prc = attempt(c, OP_OPEN, "", NULL, ctx, &cx, &sink, &ra);

		free(cx.operation);
		if (prc == BAR_OK) {
			s->state = 1;
		} else {
			call_error(c, OP_OPEN, "connection", c->name, ctx, &cx, prc);
			bar_error_save(&s->error);
			s->state = -1;
		}
	}
	if (s->state < 0) {
		bar_error_restore(&s->error);
		rc = s->error.code;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Jittered exponential backoff: many workers throttled at once must not
 * retry in step; never sooner than the provider asked. */
static int backoff_wait(int *backoff, int retry_after, const bar_op_ctx *ctx)
{
	static _Thread_local unsigned seed;
	int wait;

	if (!seed)
		seed = (unsigned)bar_now_ms() ^ (unsigned)(uintptr_t)&seed;
	wait = *backoff / 2 + (int)(rand_r(&seed) % (unsigned)(*backoff / 2 + 1));
	if (wait < retry_after)
		wait = retry_after;
	*backoff = *backoff * 2 > 8000 ? 8000 : *backoff * 2;
	return bar_sleep_ms(wait, ctx ? ctx->deadline_ms : 0, ctx ? ctx->cancel : NULL);
}

/* Run one operation with retries; fills list/secrets through the sink.  A
 * create that emitted before failing keeps its observation in the list. */
static int invoke(const bar_conn *c, enum op op, const char *type, const char *name,
                  const char *input, const bar_op_ctx *ctx, bar_obs_list *list,
                  bar_secrets *secrets)
{
	int max_attempts = ctx && ctx->max_attempts ? ctx->max_attempts : 10;
	int backoff = 200, prc = BAR_EFAIL, retry_after = 0, rc;
	call_ctx cx;

	if (!c->provider)
		return bar_error_set("connection \"%s\" has no provider bound", c->name);
	if ((rc = ensure_open(c, ctx)) < 0)
		return rc;
	for (int n = 1; n <= max_attempts; n++) {
		bar_sink sink = {list, secrets, 0, ""};
		size_t before = list ? list->n : 0;

		memset(&cx, 0, sizeof(cx));
		prc = attempt(c, op, type, input, ctx, &cx, &sink, &retry_after);
		if (ctx && ctx->retry_after_out)
			*ctx->retry_after_out = retry_after;
		if (prc == BAR_OK) {
			if (ctx && ctx->operation_out)
				*ctx->operation_out = cx.operation;
			else
				free(cx.operation);
			return 0;
		}
		free(cx.operation);
		cx.operation = NULL;
		if (op == OP_CREATE && list && list->n > before)
			break; /* it made something: never make it twice */
		if (list) { /* drop partial output of a failed attempt */
			while (list->n > before)
				bar_obs_clear(&list->items[--list->n]);
		}
		if (prc == BAR_ERETRY && ctx && ctx->throttled)
			(*ctx->throttled)++;
		/* A provider's own timeout (its cloud did not answer in time) is
		 * transient too: every call is safe to repeat (a create carries its
		 * idempotency key), as long as the call's deadline allows. */
		if ((prc != BAR_ERETRY && prc != BAR_ETIMEOUT) || n == max_attempts || late(ctx) ||
		    bar_cancel_cancelled(ctx ? ctx->cancel : NULL))
			break;
		if (ctx && ctx->retries)
			(*ctx->retries)++;
		if ((rc = backoff_wait(&backoff, retry_after, ctx)) < 0) {
			snprintf(cx.message + strlen(cx.message),
			         sizeof(cx.message) - strlen(cx.message), " (%s while waiting to retry)",
			         rc == BAR_ECANCELED ? "cancelled" : "deadline passed");
			prc = rc;
			break;
		}
	}
	return call_error(c, op, type, name, ctx, &cx, prc);
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
		if (ctx && ctx->operation_out) {
			free(*ctx->operation_out);
			*ctx->operation_out = NULL;
		}
	}
	if (list.n == 1 && (rc == 0 || op == OP_CREATE)) {
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

int bar_host_poll(const bar_conn *c, const char *type, const char *name,
                  const char *input, const bar_op_ctx *ctx, bar_obs *out)
{
	return invoke_one(c, OP_POLL, type, name, input, ctx, out, NULL);
}

int bar_host_list(const bar_conn *c, const char *type, const bar_op_ctx *ctx,
                  bar_obs_list *out)
{
	return invoke(c, OP_LIST, type, NULL, NULL, ctx, out, NULL);
}

/* The connection's credential reference resolves (a file readable, a
 * program that runs and prints an object) and every variable an env
 * reference maps is set and not empty; no value is kept. */
static int check_credential(const bar_conn *c)
{
	const json_t *env = json_object_get(c->credential, "env");
	bar_cred *cred = NULL;
	const char *field;
	json_t *var;

	if (!c->credential)
		return 0;
	json_object_foreach((json_t *)env, field, var) {
		const char *v = getenv(json_string_value(var));

		if (!v || !*v)
			return bar_error_setc(BAR_EAUTH, "connection \"%s\": credential field \"%s\" "
			                      "comes from environment variable %s, which is %s; "
			                      "export it before running barista", c->name, field,
			                      json_string_value(var), v ? "empty" : "not set");
	}
	if (bar_cred_resolve(&cred, c->credential) < 0) {
		bar_error_prefix("connection \"%s\"", c->name);
		return BAR_EAUTH;
	}
	bar_cred_release(cred);
	return 0;
}

int bar_host_catalog(const bar_conn *c, const char *what, const bar_op_ctx *ctx,
                     bar_obs_list *out)
{
	return invoke(c, OP_CATALOG, what, c->name, NULL, ctx, out, NULL);
}

int bar_conn_test(const bar_conn *c, const bar_op_ctx *ctx, bar_check_fn fn, void *ud)
{
	bar_op_ctx one = ctx ? *ctx : (bar_op_ctx){0};
	int rc;

	if (!one.deadline_ms)
		one.deadline_ms = bar_now_ms() + 120000;
	if ((rc = bar_conn_check(c)) < 0) {
		fn(ud, "credential and session", 0, bar_error_get()->message);
		return rc;
	}
	fn(ud, "credential and session", 1, c->credential ? "the credential reference "
	   "resolves and the driver opened its session" : "the driver opened its session "
	   "(it needs no credential)");
	if (!BAR_HAS(c->provider, check))
		return bar_error_setc(BAR_ENOTSUP, "connection \"%s\": the %s driver has no "
		                      "checks of its own beyond opening a session", c->name,
		                      c->driver);
	one.check_fn = fn;
	one.check_ud = ud;
	one.max_attempts = 1; /* a check reports what it saw, once */
	return invoke(c, OP_CHECK, "connection", c->name, NULL, &one, NULL, NULL);
}

int bar_conn_check(const bar_conn *c)
{
	bar_op_ctx ctx = {.deadline_ms = bar_now_ms() + 60000};
	int rc;

	if (!c->region || !*c->region || strspn(c->region, " \t") == strlen(c->region))
		return bar_error_setc(BAR_EINVALID, "connection \"%s\": region is blank; set the "
		                      "region the %s driver should use", c->name, c->driver);
	if ((rc = check_credential(c)) < 0)
		return rc;
	return ensure_open(c, &ctx);
}
