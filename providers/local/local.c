/*
 * local.c - entry point of the `local` provider plugin
 * (barista-provider-local.so): the exported barista_provider_init, the
 * provider table, and the dispatch of each callback to the per-type code in
 * local_res.c and local_vm.c.
 *
 * Every callback runs with a bar_local_ctx: it checks that we are root,
 * resolves the provider root directory (config "root", env
 * BARISTA_LOCAL_ROOT, or /run/barista/local), and at the end hands the
 * first recorded error to the host.  Callbacks may run concurrently; all the
 * shared state is on disk and guarded by flock()s, so the plugin itself keeps
 * no mutable globals.
 */
#include "local.h"
#include "kit.h"

#include <dlfcn.h>
#include <errno.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define LOCAL_VERSION "0.2.0"
#define DEFAULT_WAIT_MS 10000

typedef struct type_ops {
	const char *type;
	const char *prefix;
	int (*create)(bar_local_ctx *c, json_t *in, bar_sink *out);
	int (*update)(bar_local_ctx *c, const char *id, json_t *meta, json_t *in, bar_sink *out);
	int (*del)(bar_local_ctx *c, const char *id);
	int (*status)(bar_local_ctx *c, const char *id, json_t *meta, const char **status);
} type_ops;

static const type_ops TYPES[] = {
	{ "vnet", "bnet", bar_local_vnet_create, NULL, bar_local_vnet_delete,
	  bar_local_vnet_status },
	{ "securitygroup", "bsg", bar_local_sg_create, bar_local_sg_update, bar_local_sg_delete,
	  NULL },
	{ "sshkey", "bkey", bar_local_sshkey_create, NULL, NULL, NULL },
	{ "image", "bimg", bar_local_image_create, NULL, NULL, NULL },
	{ "spec", "bspec", bar_local_spec_create, NULL, NULL, NULL },
	{ "vm", "bvm", bar_local_vm_create, bar_local_vm_update, bar_local_vm_delete,
	  bar_local_vm_status },
};


int bar_local_fail(bar_local_ctx *c, int rc, const char *code, const char *fmt, ...)
{
	char msg[sizeof(c->err.msg)];
	va_list ap;

	if (c->err.rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bar_kit_fail(&c->err, rc, code, "%s", msg);
}

int64_t bar_local_deadline(bar_local_ctx *c, int64_t dflt_ms)
{
	if (c->call && c->call->deadline_ms > 0)
		return c->call->deadline_ms;
	return bar_local_now_ms() + dflt_ms;
}

int bar_local_emit(bar_local_ctx *c, bar_sink *out, const char *id, json_t *meta,
                   const char *status)
{
	char *attrs = bar_local_json_text(json_object_get(meta, "observed"));
	char *tags = bar_local_json_text(json_object_get(meta, "tags"));
	bar_observed obs = { sizeof(obs), id, json_string_value(json_object_get(meta, "name")),
		             status, attrs ? attrs : "{}", tags ? tags : "{}" };
	int rc = 0;

	if (!obs.name)
		obs.name = "";
	if (c->prov->host->emit(out, &obs) < 0)
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                    "the host refused the observation of %s", id);
	free(attrs);
	free(tags);
	return rc;
}

/* Find the root directory: config "root", env, or the default. */
static int ctx_root(bar_local_ctx *c)
{
	const char *root = NULL;
	json_t *cfg = NULL;
	int rc = 0;

	if (c->call->config && *c->call->config)
		cfg = json_loads(c->call->config, 0, NULL);
	root = json_string_value(json_object_get(cfg, "root"));
	if (!root || !*root)
		root = getenv("BARISTA_LOCAL_ROOT");
	if (!root || !*root)
		root = BAR_LOCAL_DEFAULT_ROOT;
	size_t rl = strlen(root);
	if (root[0] != '/' || rl > PATH_MAX - 128 || strstr(root, "/../") ||
	    (rl >= 3 && strcmp(root + rl - 3, "/..") == 0)) {
		rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                    "local provider root \"%.200s\" must be an absolute path "
		                    "without \"..\" and shorter than %d bytes",
		                    root, PATH_MAX - 128);
		goto done;
	}
	snprintf(c->root, sizeof(c->root), "%s", root);
	rc = bar_local_mkdirs(c, c->root, 0700);
done:
	json_decref(cfg);
	return rc;
}

static int ctx_begin(bar_local_ctx *c, bar_provider *p, bar_call *call)
{
	memset(c, 0, sizeof(*c));
	c->prov = p->priv;
	c->call = call;
	if (geteuid() != 0)
		return bar_local_fail(c, BAR_EAUTH, BAR_LOCAL_E_NOTROOT,
		                      "the local provider creates network namespaces and bridges "
		                      "and must run as root; run barista as root or with sudo");
	return ctx_root(c);
}

/* Hand the first recorded error (if the callback failed) to the host. */
static int ctx_end(bar_local_ctx *c, int rc)
{
	return bar_kit_report(c->prov->host, c->call, &c->err, rc, "local");
}

/* Before anything is made: a call already cancelled, or past its
 * deadline, makes nothing (a local VM boots faster than the first look
 * at either while it waits). */
static int ctx_still_wanted(bar_local_ctx *c)
{
	if (c->prov->host->cancelled && c->prov->host->cancelled(c->call))
		return bar_local_fail(c, BAR_ECANCELED, BAR_LOCAL_E_CANCELED,
		                      "cancelled before anything was made");
	if (c->call->deadline_ms > 0 && bar_local_now_ms() >= c->call->deadline_ms)
		return bar_local_fail(c, BAR_ETIMEOUT, BAR_LOCAL_E_TIMEOUT,
		                      "the deadline passed before anything was made");
	return 0;
}

static const type_ops *find_type(bar_local_ctx *c, const char *type)
{
	for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++)
		if (type && strcmp(TYPES[i].type, type) == 0)
			return &TYPES[i];
	bar_local_fail(c, BAR_ENOTSUP, BAR_LOCAL_E_NOTSUP,
	               "the local provider has no resource type \"%s\"", type ? type : "(null)");
	return NULL;
}

static int parse_input(bar_local_ctx *c, json_t **out, const char *type, const char *input)
{
	char why[256];

	if (bar_kit_input(out, why, sizeof(why), type, input, 0) != BAR_OK)
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID, "%s", why);
	return 0;
}

/* The input's system_id, checked against the type's prefix. */
static const char *input_id(bar_local_ctx *c, json_t *in, const type_ops *t)
{
	const char *id = json_string_value(json_object_get(in, "system_id"));

	if (!bar_local_id_valid(id, t->prefix)) {
		bar_local_fail(c, BAR_ENOTFOUND, BAR_LOCAL_E_NOTFOUND,
		               "\"%s\" is not a local %s id (%s-xxxxxxxx)", id ? id : "(none)",
		               t->type, t->prefix);
		return NULL;
	}
	return id;
}

static int status_of(bar_local_ctx *c, const type_ops *t, const char *id, json_t *meta,
                     const char **status)
{
	*status = "Available";
	return t->status ? t->status(c, id, meta, status) : 0;
}

/* The resource an idempotency key already made (its tag), emitted; 1 when
 * found, 0 when not. */
static int create_again(bar_local_ctx *c, const type_ops *t, const char *key, bar_sink *out)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int found = 0;

	if (!*key || bar_local_path(c, dir, "%s/%s", c->root, t->type) || !(d = opendir(dir))) {
		c->err.rc = 0;
		return 0;
	}
	while (!found && (e = readdir(d)) != NULL) {
		json_t *meta = NULL;
		const char *tag, *status;

		if (!bar_local_id_valid(e->d_name, t->prefix) ||
		    bar_local_meta_load(c, &meta, t->type, e->d_name)) {
			c->err.rc = 0;
			continue;
		}
		tag = json_string_value(json_object_get(json_object_get(meta, "tags"),
		                                        "barista:idempotency"));
		if (tag && strcmp(tag, key) == 0 && !status_of(c, t, e->d_name, meta, &status))
			found = bar_local_emit(c, out, e->d_name, meta, status) == 0 ? 1 : -1;
		c->err.rc = found < 0 ? c->err.rc : 0;
		json_decref(meta);
	}
	closedir(d);
	return found;
}

static int cb_create(bar_provider *p, bar_call *call, const char *type, const char *input,
                     bar_sink *out)
{
	bar_local_ctx c;
	const type_ops *t = NULL;
	json_t *in = NULL;
	int rc;

	if ((rc = ctx_begin(&c, p, call)))
		goto done;
	if (!(t = find_type(&c, type)) || (rc = parse_input(&c, &in, type, input))) {
		rc = rc ? rc : c.err.rc;
		goto done;
	}
	if ((rc = ctx_still_wanted(&c)))
		goto done;
	/* Idempotent: the same key again returns what it made. */
	if ((rc = create_again(&c, t, call->idempotency_key ? call->idempotency_key : "", out)))
		rc = rc > 0 ? 0 : c.err.rc;
	else
		rc = t->create(&c, in, out);
done:
	json_decref(in);
	return ctx_end(&c, rc);
}

static int cb_read(bar_provider *p, bar_call *call, const char *type, const char *input,
                   bar_sink *out)
{
	bar_local_ctx c;
	const type_ops *t = NULL;
	const char *id, *status;
	json_t *in = NULL, *meta = NULL;
	int rc;

	if ((rc = ctx_begin(&c, p, call)))
		goto done;
	if (!(t = find_type(&c, type)) || (rc = parse_input(&c, &in, type, input)) ||
	    !(id = input_id(&c, in, t))) {
		rc = rc ? rc : c.err.rc;
		goto done;
	}
	if ((rc = bar_local_meta_load(&c, &meta, t->type, id)) ||
	    (rc = status_of(&c, t, id, meta, &status)))
		goto done;
	rc = bar_local_emit(&c, out, id, meta, status);
done:
	json_decref(meta);
	json_decref(in);
	return ctx_end(&c, rc);
}

/* Types without physical parts accept only tag changes in place. */
static int update_tags_only(bar_local_ctx *c, const type_ops *t, const char *id, json_t *meta,
                            json_t *in, bar_sink *out)
{
	json_t *tags = json_object_get(in, "tags");
	const char *status;
	int rc;

	if (!json_equal(json_object_get(meta, "attrs"), json_object_get(in, "attrs")))
		return bar_local_fail(c, BAR_ENOTSUP, BAR_LOCAL_E_NOTSUP,
		                      "a local %s cannot change in place; replace it", t->type);
	if (json_is_object(tags))
		json_object_set(meta, "tags", tags);
	if ((rc = bar_local_meta_save(c, t->type, id, meta)) ||
	    (rc = status_of(c, t, id, meta, &status)))
		return rc;
	return bar_local_emit(c, out, id, meta, status);
}

static int cb_update(bar_provider *p, bar_call *call, const char *type, const char *input,
                     bar_sink *out)
{
	bar_local_ctx c;
	const type_ops *t = NULL;
	const char *id;
	json_t *in = NULL, *meta = NULL;
	int rc;

	if ((rc = ctx_begin(&c, p, call)))
		goto done;
	if (!(t = find_type(&c, type)) || (rc = parse_input(&c, &in, type, input)) ||
	    !(id = input_id(&c, in, t))) {
		rc = rc ? rc : c.err.rc;
		goto done;
	}
	if ((rc = bar_local_meta_load(&c, &meta, t->type, id)))
		goto done;
	if (t->update)
		rc = t->update(&c, id, meta, in, out);
	else
		rc = update_tags_only(&c, t, id, meta, in, out);
done:
	json_decref(meta);
	json_decref(in);
	return ctx_end(&c, rc);
}

/* Types with only metadata: remove the directory. */
static int delete_plain(bar_local_ctx *c, const type_ops *t, const char *id)
{
	char dir[PATH_MAX];
	int rc;

	if ((rc = bar_local_res_dir(c, dir, t->type, id)))
		return rc;
	if (access(dir, F_OK) < 0)
		return bar_local_fail(c, BAR_ENOTFOUND, BAR_LOCAL_E_NOTFOUND,
		                      "%s %s does not exist", t->type, id);
	return bar_local_rmtree(c, dir);
}

static int cb_delete(bar_provider *p, bar_call *call, const char *type, const char *input)
{
	bar_local_ctx c;
	const type_ops *t = NULL;
	const char *id;
	json_t *in = NULL;
	int rc;

	if ((rc = ctx_begin(&c, p, call)))
		goto done;
	if (!(t = find_type(&c, type)) || (rc = parse_input(&c, &in, type, input)) ||
	    !(id = input_id(&c, in, t))) {
		rc = rc ? rc : c.err.rc;
		goto done;
	}
	rc = t->del ? t->del(&c, id) : delete_plain(&c, t, id);
done:
	json_decref(in);
	return ctx_end(&c, rc);
}

/* One listed resource of this region, tagged and alive, into *meta and
 * *status; 0 when it is not one (half-made or vanished resources are
 * simply not listed). */
static int list_one(bar_local_ctx *c, const type_ops *t, const char *id, json_t **meta,
                    const char **status)
{
	const char *region;

	if (bar_local_meta_load(c, meta, t->type, id))
		goto skip;
	region = json_string_value(json_object_get(*meta, "region"));
	if (!region || strcmp(region, c->call->region ? c->call->region : "") != 0 ||
	    !json_object_get(json_object_get(*meta, "tags"), "barista:address"))
		goto skip;
	if (status_of(c, t, id, *meta, status))
		goto skip;
	return 1;
skip:
	c->err.rc = 0;
	json_decref(*meta);
	*meta = NULL;
	return 0;
}

/* The live resources of a type directory: ids, metas and statuses. */
typedef struct listing {
	char (*ids)[BAR_LOCAL_ID_MAX];
	const char **idp;
	json_t **metas;
	const char **statuses;
	size_t n, cap;
} listing;

static void listing_add(listing *l, const char *id, json_t *meta, const char *status)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->ids = realloc(l->ids, l->cap * sizeof(*l->ids));
		l->metas = realloc(l->metas, l->cap * sizeof(*l->metas));
		l->statuses = realloc(l->statuses, l->cap * sizeof(*l->statuses));
	}
	snprintf(l->ids[l->n], BAR_LOCAL_ID_MAX, "%s", id);
	l->metas[l->n] = meta;
	l->statuses[l->n++] = status;
}

static void listing_free(listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		json_decref(l->metas[i]);
	free(l->ids);
	free(l->idp);
	free(l->metas);
	free(l->statuses);
}

static int cb_list(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	listing l = {0};
	bar_local_ctx c;
	const type_ops *t = NULL;
	char dir[PATH_MAX];
	DIR *d = NULL;
	struct dirent *e;
	int rc;

	if ((rc = ctx_begin(&c, p, call)))
		goto done;
	if (!(t = find_type(&c, type))) {
		rc = c.err.rc;
		goto done;
	}
	if ((rc = bar_local_path(&c, dir, "%s/%s", c.root, t->type)))
		goto done;
	if (!(d = opendir(dir)))
		goto done; /* nothing made yet */
	c.batch_fw = 1;
	while ((e = readdir(d)) != NULL) {
		json_t *meta = NULL;
		const char *status;

		if (bar_local_id_valid(e->d_name, t->prefix) &&
		    list_one(&c, t, e->d_name, &meta, &status))
			listing_add(&l, e->d_name, meta, status);
	}
	if (!strcmp(t->type, "vm") && l.n) { /* their firewalls, side by side */
		l.idp = calloc(l.n, sizeof(*l.idp));
		for (size_t i = 0; i < l.n; i++)
			l.idp[i] = l.ids[i];
		bar_local_vm_observe_firewalls(&c, l.idp, l.metas, l.n);
	}
	for (size_t i = 0; i < l.n && rc == 0; i++)
		rc = bar_local_emit(&c, out, l.ids[i], l.metas[i], l.statuses[i]);
done:
	listing_free(&l);
	if (d)
		closedir(d);
	return ctx_end(&c, rc);
}

static int cb_vm_action(bar_provider *p, bar_call *call, const char *action,
                        const char *input, bar_sink *out)
{
	bar_local_ctx c;
	const type_ops *t = &TYPES[5];
	const char *id;
	json_t *in = NULL, *meta = NULL;
	int rc;

	if ((rc = ctx_begin(&c, p, call)))
		goto done;
	if ((rc = parse_input(&c, &in, "vm", input)) || !(id = input_id(&c, in, t))) {
		rc = rc ? rc : c.err.rc;
		goto done;
	}
	if ((rc = bar_local_meta_load(&c, &meta, t->type, id)))
		goto done;
	c.batch_fw = 1;
	rc = bar_local_vm_action(&c, id, meta, action ? action : "", out);
done:
	json_decref(meta);
	json_decref(in);
	return ctx_end(&c, rc);
}

/* A session per connection: nothing to keep, but opening checks what every
 * call will need (root, a usable root directory), so a plan finds out. */
static int cb_open(bar_provider *p, bar_call *call, void **session)
{
	bar_local_ctx c;

	*session = NULL;
	return ctx_end(&c, ctx_begin(&c, p, call));
}

static void cb_destroy(bar_provider *p)
{
	if (!p)
		return;
	free(p->priv);
	free(p);
}

/* Path of barista-local-init: next to this .so. */
static int find_init(char *out, size_t size)
{
	Dl_info info;
	const char *slash;

	if (!dladdr((void *)find_init, &info) || !info.dli_fname ||
	    !(slash = strrchr(info.dli_fname, '/')))
		return -1;
	if (snprintf(out, size, "%.*s/barista-local-init", (int)(slash - info.dli_fname),
	             info.dli_fname) >= (int)size)
		return -1;
	return access(out, X_OK);
}

/*
 * The plugin's one exported symbol.  On success *out is a provider table the
 * host releases with its destroy callback; on failure *errmsg is a malloc'd
 * message.  Fails when the host speaks another ABI version or when
 * barista-local-init is missing next to the plugin.
 */
__attribute__((visibility("default"))) int
barista_provider_init(const bar_host_api *host, bar_provider **out, char **errmsg)
{
	bar_provider *p = NULL;
	bar_local_prov *lp = NULL;
	int rc = -1;

	if (bar_kit_check_host(host, "local", errmsg) < 0)
		goto done;
	p = calloc(1, sizeof(*p));
	lp = calloc(1, sizeof(*lp));
	if (!p || !lp) {
		*errmsg = strdup("local provider: out of memory");
		goto done;
	}
	lp->host = host;
	lp->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (find_init(lp->init_path, sizeof(lp->init_path)) < 0) {
		if (asprintf(errmsg, "local provider: %s is missing or not executable; it must be "
		                     "installed next to barista-provider-local.so",
		             lp->init_path[0] ? lp->init_path : "barista-local-init") < 0)
			*errmsg = NULL;
		goto done;
	}
	*p = (bar_provider){
		.abi_version = BAR_PROVIDER_ABI_VERSION,
		.struct_size = sizeof(*p),
		.name = "local",
		.version = LOCAL_VERSION,
		.capabilities = BAR_CAP_VM_SUSPEND | BAR_CAP_VM_REBOOT | BAR_CAP_LIST |
		                BAR_CAP_IDEMPOTENT,
		.types = bar_kit_standard_types,
		.priv = lp,
		.open = cb_open,
		.create = cb_create,
		.read = cb_read,
		.update = cb_update,
		.del = cb_delete,
		.list = cb_list,
		.vm_action = cb_vm_action,
		.destroy = cb_destroy,
	};
	*out = p;
	p = NULL;
	lp = NULL;
	rc = 0;
done:
	free(lp);
	free(p);
	return rc;
}
