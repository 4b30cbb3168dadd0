/*
 * spec.c - load a configuration: find the spec files, parse them, check each
 * document's envelope (apiVersion, kind, metadata), hand `spec` to its kind's
 * checker, register the object, run the cross-object pass, and either return
 * the validated configuration or every diagnostic found (see spec.h).
 *
 * Objects are looked up through an open-addressing hash table on (kind,
 * namespace, name), so resolving the tens of thousands of references of a
 * large configuration stays linear.  The public order (bar_config_get) is a
 * sorted array built once at the end.
 */
#include "spec_internal.h"
#include "error.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LAST_ERROR_MAX 4000

typedef void (*kind_check_fn)(spec_load *L, spec_obj *o);

static const struct kind_info {
	const char *name;
	const char *type;
	kind_check_fn check;
	int spec_optional;
} kinds[BAR_KIND__COUNT] = {
	[BAR_KIND_NAMESPACE] = { "Namespace", "namespace", spec_check_namespace, 1 },
	[BAR_KIND_CONNECTION] = { "Connection", "connection", spec_check_connection, 0 },
	[BAR_KIND_VNET] = { "VNet", "vnet", spec_check_vnet, 0 },
	[BAR_KIND_SECURITYGROUP] = { "SecurityGroup", "securitygroup",
	                             spec_check_securitygroup, 0 },
	[BAR_KIND_SSHKEY] = { "SSHKey", "sshkey", spec_check_sshkey, 0 },
	[BAR_KIND_IMAGE] = { "Image", "image", spec_check_image, 0 },
	[BAR_KIND_SPEC] = { "Spec", "spec", spec_check_spec, 0 },
	[BAR_KIND_MCI] = { "MCI", "mci", spec_check_mci, 0 },
	[BAR_KIND_MCAPP] = { "MCApp", "mcapp", spec_check_mcapp, 0 },
	[BAR_KIND_MONITORINGPOLICY] = { "MonitoringPolicy", "monitoringpolicy",
	                                spec_check_monitoringpolicy, 0 },
};

static const char *const kind_names[] = {
	"Namespace", "Connection", "VNet", "SecurityGroup", "SSHKey", "Image",
	"Spec", "MCI", "MCApp", "MonitoringPolicy", NULL,
};

const char *bar_kind_name(bar_kind kind)
{
	return (unsigned)kind < BAR_KIND__COUNT ? kinds[kind].name : "?";
}

const char *bar_kind_type(bar_kind kind)
{
	return (unsigned)kind < BAR_KIND__COUNT ? kinds[kind].type : "?";
}

int bar_kind_parse(bar_kind *out, const char *s)
{
	for (int k = 0; k < BAR_KIND__COUNT; k++)
		if (strcmp(s, kinds[k].name) == 0 || strcmp(s, kinds[k].type) == 0) {
			*out = (bar_kind)k;
			return 0;
		}
	return BAR_ENOTFOUND;
}

/* ---- the object table -------------------------------------------------- */

static uint64_t obj_hash(bar_kind kind, const char *ns, const char *name)
{
	uint64_t h = BAR_HASH64_SEED ^ ((uint64_t)kind * 0x9e3779b97f4a7c15ULL);

	h = bar_hash64(ns, strlen(ns) + 1, h); /* with the NUL: a separator */
	return bar_hash64(name, strlen(name), h);
}

static int obj_is(const spec_obj *o, bar_kind kind, const char *ns, const char *name)
{
	return o->pub.kind == kind && strcmp(o->pub.name, name) == 0 &&
	       strcmp(o->pub.ns, ns) == 0;
}

spec_obj *spec_table_find(const bar_config *cfg, bar_kind kind, const char *ns,
                          const char *name)
{
	size_t mask, i;

	if (!cfg->table_cap)
		return NULL;
	mask = cfg->table_cap - 1;
	for (i = obj_hash(kind, ns, name) & mask; cfg->table[i]; i = (i + 1) & mask)
		if (obj_is(cfg->table[i], kind, ns, name))
			return cfg->table[i];
	return NULL;
}

static void table_put(bar_config *cfg, spec_obj *o)
{
	size_t mask, i;

	if ((cfg->table_n + 1) * 2 > cfg->table_cap) {
		spec_obj **old = cfg->table;
		size_t old_cap = cfg->table_cap;

		cfg->table_cap = old_cap ? old_cap * 2 : 64;
		cfg->table = bar_calloc(cfg->table_cap, sizeof(*cfg->table));
		cfg->table_n = 0;
		for (size_t j = 0; j < old_cap; j++)
			if (old[j])
				table_put(cfg, old[j]);
		free(old);
	}
	mask = cfg->table_cap - 1;
	for (i = obj_hash(o->pub.kind, o->pub.ns, o->pub.name) & mask; cfg->table[i];
	     i = (i + 1) & mask)
		;
	cfg->table[i] = o;
	cfg->table_n++;
}

/* Register a checked object unless one with the same identity exists. */
static void spec_register(spec_load *L, spec_obj *o)
{
	spec_obj *first = spec_table_find(L->cfg, o->pub.kind, o->pub.ns, o->pub.name);

	if (first) {
		spec_diag(L, o->name_node, "defined twice in namespace \"%s\"; the first "
		          "definition is at %s:%d", o->pub.ns, first->pub.loc.file,
		          first->pub.loc.line);
		return;
	}
	table_put(L->cfg, o);
	o->registered = 1;
}

void spec_ref_add(spec_load *L, spec_obj *o, const char *role, bar_kind kind,
                  const char *name, const bar_ynode *at, const char *scope)
{
	spec_refx *r;

	if (o->n_refx == o->cap_refx) {
		o->cap_refx = o->cap_refx ? o->cap_refx * 2 : 4;
		o->refx = bar_realloc(o->refx, o->cap_refx * sizeof(*o->refx));
	}
	r = &o->refx[o->n_refx++];
	r->ref.role = role;
	r->ref.kind = kind;
	r->ref.name = bar_arena_strdup(&L->cfg->arena, name);
	r->ref.loc.file = L->file;
	r->ref.loc.line = at ? at->line : o->pub.loc.line;
	r->ref.loc.col = at ? at->col : o->pub.loc.col;
	r->scope = scope;
	r->order = L->n_refx++;
	r->target = NULL;
}

/* ---- documents --------------------------------------------------------- */

static void check_depends_on(spec_load *L, spec_obj *o, const bar_ynode *meta,
                             const bar_ynode *v)
{
	const bar_ynode *seq;

	if (spec_seq(L, &seq, meta, v, "metadata.dependsOn", 0) < 0 || !seq)
		return;
	for (uint32_t i = 0; i < seq->n; i++) {
		const bar_ynode *item = &seq->u.items[i];
		const char *s, *slash;
		char kind_text[64];
		bar_kind k;

		if (spec_str(L, &s, seq, item, "metadata.dependsOn", NULL) < 0)
			continue;
		slash = strchr(s, '/');
		if (!slash || (size_t)(slash - s) >= sizeof(kind_text) || !slash[1]) {
			spec_diag(L, item, "dependsOn entry \"%.80s\" must be \"Kind/name\", "
			          "e.g. \"VNet/net1\"", s);
			continue;
		}
		memcpy(kind_text, s, (size_t)(slash - s));
		kind_text[slash - s] = '\0';
		if (bar_kind_parse(&k, kind_text) < 0) {
			spec_diag(L, item, "dependsOn entry \"%.80s\" names unknown kind "
			          "\"%s\"", s, kind_text);
			continue;
		}
		if (!spec_dns_label_ok(slash + 1)) {
			spec_diag(L, item, "dependsOn entry \"%.80s\" has an invalid name", s);
			continue;
		}
		spec_ref_add(L, o, "dependsOn", k, slash + 1, item, "dependsOn");
	}
}

/* metadata: name (already read into o), namespace, labels, dependsOn. */
static void check_metadata(spec_load *L, spec_obj *o, const bar_ynode *root)
{
	static const char *const known[] = { "name", "namespace", "labels", "dependsOn", NULL };
	enum { M_NAME, M_NAMESPACE, M_LABELS, M_DEPENDS };
	const bar_ynode *meta, *f[4];
	const char *s;

	if (spec_map(L, &meta, root, bar_ymap_get(root, "metadata"), "metadata", 1) < 0)
		return;
	spec_fields(L, meta, "metadata", known, f);
	if (spec_name(L, &s, meta, f[M_NAME], "metadata.name") == 0)
		o->pub.name = bar_arena_strdup(&L->cfg->arena, s);
	o->name_node = f[M_NAME];
	if (o->pub.kind == BAR_KIND_NAMESPACE) {
		if (f[M_NAMESPACE])
			spec_diag(L, f[M_NAMESPACE], "a Namespace has no metadata.namespace; "
			          "remove it");
		o->pub.ns = o->pub.name ? o->pub.name : "default";
	} else if (!spec_absent(f[M_NAMESPACE])) {
		o->ns_node = f[M_NAMESPACE];
		if (spec_name(L, &s, meta, f[M_NAMESPACE], "metadata.namespace") == 0)
			o->pub.ns = bar_arena_strdup(&L->cfg->arena, s);
	}
	if (spec_strmap(L, &o->pub.labels, f[M_LABELS], "metadata.labels", 0) < 0)
		o->pub.labels = json_object();
	check_depends_on(L, o, meta, f[M_DEPENDS]);
}

/* The object's kind and name as written, before anything is checked, so
 * every message about the document can start with them. */
static spec_obj *obj_new(spec_load *L, const bar_ydoc *d)
{
	const bar_ynode *root = d->root;
	const bar_ynode *kn = bar_ymap_get(root, "kind");
	const bar_ynode *nn = bar_ymap_get(bar_ymap_get(root, "metadata"), "name");
	bar_config *cfg = L->cfg;
	spec_obj *o = bar_arena_alloc(&cfg->arena, sizeof(*o));
	const char *type = "object";
	int k;

	memset(o, 0, sizeof(*o));
	o->pub.kind = BAR_KIND__COUNT; /* unknown until checked */
	for (k = 0; kn && kn->type == BAR_Y_SCALAR && k < BAR_KIND__COUNT; k++)
		if (strcmp(kn->u.str, kinds[k].name) == 0) {
			o->pub.kind = (bar_kind)k;
			type = kinds[k].type;
			break;
		}
	if (nn && nn->type == BAR_Y_SCALAR && !bar_ynode_is_null(nn))
		o->prefix = bar_arena_printf(&cfg->arena, "%s \"%.63s%s\"", type, nn->u.str,
		                             nn->n > 63 ? "..." : "");
	else
		o->prefix = bar_arena_printf(&cfg->arena, "%s (unnamed)", type);
	o->pub.ns = "default";
	o->pub.loc.file = L->file;
	o->pub.loc.line = kn ? kn->line : d->line;
	o->pub.loc.col = kn ? kn->col : d->col;
	if (cfg->n_all == cfg->cap_all) {
		cfg->cap_all = cfg->cap_all ? cfg->cap_all * 2 : 64;
		cfg->all = bar_realloc(cfg->all, cfg->cap_all * sizeof(*cfg->all));
	}
	cfg->all[cfg->n_all++] = o;
	return o;
}

static void check_kind_field(spec_load *L, spec_obj *o, const bar_ynode *root,
                             const bar_ynode *v)
{
	const char *s, *hint;

	if (spec_str(L, &s, root, v, "kind", NULL) < 0 || o->pub.kind != BAR_KIND__COUNT)
		return;
	hint = spec_suggest(s, kind_names);
	for (int k = 0; !hint && k < BAR_KIND__COUNT; k++)
		if (strcasecmp(s, kinds[k].name) == 0)
			hint = kinds[k].name;
	spec_diag(L, v, "unknown kind \"%.80s\"; known kinds: Namespace, Connection, "
	          "VNet, SecurityGroup, SSHKey, Image, Spec, MCI, MCApp, "
	          "MonitoringPolicy%s%s%s", s, hint ? "; did you mean \"" : "",
	          hint ? hint : "", hint ? "\"?" : "");
}

static void load_doc(spec_load *L, const bar_ydoc *d)
{
	static const char *const known[] = { "apiVersion", "kind", "metadata", "spec", NULL };
	enum { D_API, D_KIND, D_META, D_SPEC };
	const bar_ynode *root = d->root, *f[4];
	spec_obj *o;
	const char *s;
	char desc[80];

	L->obj = NULL;
	spec_scope_clear(L);
	if (root->type != BAR_Y_MAP) {
		spec_describe(root, desc, sizeof(desc));
		spec_diag(L, root, "a document must be a mapping with apiVersion, kind, "
		          "metadata and spec, got %s", desc);
		return;
	}
	o = obj_new(L, d);
	L->obj = o;
	spec_fields(L, root, "document", known, f);
	if (spec_str(L, &s, root, f[D_API], "apiVersion", NULL) == 0 &&
	    strcmp(s, SPEC_API_VERSION) != 0)
		spec_diag(L, f[D_API], "apiVersion \"%.80s\" is not supported; use \"%s\"",
		          s, SPEC_API_VERSION);
	check_kind_field(L, o, root, f[D_KIND]);
	check_metadata(L, o, root);
	if (!o->pub.labels)
		o->pub.labels = json_object();
	if (o->pub.kind == BAR_KIND__COUNT) {
		o->pub.attrs = json_object();
		goto done;
	}
	if (spec_absent(f[D_SPEC]) && !kinds[o->pub.kind].spec_optional) {
		spec_missing(L, root, "spec");
		o->pub.attrs = json_object();
	} else if (!spec_absent(f[D_SPEC]) && f[D_SPEC]->type != BAR_Y_MAP) {
		spec_describe(f[D_SPEC], desc, sizeof(desc));
		spec_diag(L, f[D_SPEC], "field \"spec\" must be a mapping, got %s", desc);
		o->pub.attrs = json_object();
	} else {
		o->spec = spec_absent(f[D_SPEC]) ? NULL : f[D_SPEC];
		kinds[o->pub.kind].check(L, o);
		spec_scope_clear(L);
		if (!o->pub.attrs)
			o->pub.attrs = json_object();
	}
	if (o->pub.name)
		spec_register(L, o);
done:
	L->obj = NULL;
}

/* ---- files ------------------------------------------------------------- */

static int read_file(spec_load *L, const char *path, char **out, size_t *out_len)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		spec_diag_loc(L, path, 0, 0, "cannot read: %s", strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > SPEC_FILE_MAX) {
		spec_diag_loc(L, path, 0, 0, "cannot read: %s", S_ISREG(st.st_mode) ?
		              "larger than the 256 MiB limit" : "not a regular file");
		goto done;
	}
	buf = bar_malloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			spec_diag_loc(L, path, 0, 0, "cannot read: %s",
			              n < 0 ? strerror(errno) : "file shrank while reading");
			goto done;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
done:
	free(buf);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		L->io_error = 1;
	return rc;
}

/* The absolute directory of a spec file: base of its relative paths. */
static const char *file_dir(spec_load *L, const char *path)
{
	char *real = realpath(path, NULL);
	const char *dir;
	char *slash;

	if (!real) {
		char cwd[4096];

		real = bar_printf("%s/%s", getcwd(cwd, sizeof(cwd)) ? cwd : "", path);
	}
	slash = strrchr(real, '/');
	if (slash == real)
		dir = "/";
	else
		dir = bar_arena_strndup(&L->cfg->arena, real, (size_t)(slash - real));
	free(real);
	return dir;
}

/* Parse data (owned by the caller) as the file L->file and load its
 * documents; the YAML tree is kept until loading ends. */
static void load_data(spec_load *L, const char *data, size_t len)
{
	bar_yaml *y = NULL;

	if (bar_yaml_parse(&y, data, len) < 0) {
		spec_diag_loc(L, L->file, 0, 0, "%s", bar_error_last());
		return;
	}
	for (size_t i = 0; i < bar_yaml_error_count(y); i++) {
		const bar_yaml_error *e = bar_yaml_error_get(y, i);

		spec_diag_loc(L, L->file, e->line, e->col, "%s", e->message);
		L->yaml_error = 1;
	}
	for (size_t i = 0; i < bar_yaml_doc_count(y); i++)
		if (!bar_yaml_doc(y, i)->bad)
			load_doc(L, bar_yaml_doc(y, i));
	if (L->n_yamls == L->cap_yamls) {
		L->cap_yamls = L->cap_yamls ? L->cap_yamls * 2 : 8;
		L->yamls = bar_realloc(L->yamls, L->cap_yamls * sizeof(*L->yamls));
	}
	L->yamls[L->n_yamls++] = y;
}

static void load_file(spec_load *L, const char *path)
{
	char *data = NULL;
	size_t len = 0;

	L->file = bar_arena_strdup(&L->cfg->arena, path);
	L->obj = NULL;
	if (read_file(L, L->file, &data, &len) < 0)
		return;
	L->dir = file_dir(L, L->file);
	load_data(L, data, len);
	bar_memzero(data, len);
	free(data);
}

void spec_load_text(spec_load *L, const char *name, const char *dir, const char *text)
{
	L->file = bar_arena_strdup(&L->cfg->arena, name);
	L->dir = bar_arena_strdup(&L->cfg->arena, dir);
	L->obj = NULL;
	load_data(L, text, strlen(text));
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_spec_name(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return 0;
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

/* The spec files of `path`: the file itself, or a directory's *.yaml and
 * *.yml files sorted by name (hidden files skipped, not recursive). */
static int list_files(spec_load *L, const char *path, char ***out, size_t *n_out)
{
	struct stat st;
	struct dirent *de;
	char **files = NULL;
	size_t n = 0, cap = 0;
	size_t plen = strlen(path);
	DIR *dir;

	if (stat(path, &st) < 0) {
		spec_diag_loc(L, path, 0, 0, "cannot read: %s", strerror(errno));
		L->io_error = 1;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		files = bar_malloc(sizeof(*files));
		files[n++] = bar_strdup(path);
		goto done;
	}
	dir = opendir(path);
	if (!dir) {
		spec_diag_loc(L, path, 0, 0, "cannot read: %s", strerror(errno));
		L->io_error = 1;
		return -1;
	}
	while ((de = readdir(dir))) {
		char *file;

		if (!is_spec_name(de->d_name))
			continue;
		file = bar_printf("%s%s%s", path, plen && path[plen - 1] == '/' ? "" : "/",
		                  de->d_name);
		if (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
			free(file); /* not recursive */
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			files = bar_realloc(files, cap * sizeof(*files));
		}
		files[n++] = file;
	}
	closedir(dir);
	if (!n) {
		spec_diag_loc(L, path, 0, 0, "no *.yaml or *.yml files in this directory");
		return -1;
	}
	qsort(files, n, sizeof(*files), str_ptr_cmp);
done:
	*out = files;
	*n_out = n;
	return 0;
}

/* ---- results ----------------------------------------------------------- */

static int diag_cmp(const void *pa, const void *pb)
{
	const bar_diag *a = pa, *b = pb;
	int c = strcmp(a->file, b->file);

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return strcmp(a->message, b->message);
}

/* Sort, drop exact repeats, set the last error, hand them to the caller. */
static void diags_finish(spec_load *L, bar_diags *diags)
{
	bar_buf all = BAR_BUF_INIT(LAST_ERROR_MAX);
	size_t n = 0;

	qsort(L->diags, L->n_diags, sizeof(*L->diags), diag_cmp);
	for (size_t i = 0; i < L->n_diags; i++) {
		if (n && diag_cmp(&L->diags[n - 1], &L->diags[i]) == 0) {
			free(L->diags[i].file);
			free(L->diags[i].message);
			continue;
		}
		L->diags[n++] = L->diags[i];
	}
	L->n_diags = n;
	for (size_t i = 0; i < n; i++) {
		char *line = bar_diag_format(&L->diags[i]);
		int rc = bar_buf_printf(&all, "%s%s", i ? "\n" : "", line);

		free(line);
		if (rc < 0)
			break; /* the message is long enough */
	}
	bar_error_set("%s", all.data ? all.data : "invalid configuration");
	bar_buf_free(&all);
	if (diags) {
		diags->items = bar_realloc(diags->items, (diags->n + n) * sizeof(bar_diag));
		memcpy(diags->items + diags->n, L->diags, n * sizeof(bar_diag));
		diags->n += n;
		free(L->diags); /* the items now belong to the caller */
	} else {
		bar_diags tmp = { L->diags, n };

		bar_diags_clear(&tmp);
	}
	L->diags = NULL;
	L->n_diags = L->cap_diags = 0;
}

int spec_obj_order_cmp(const void *pa, const void *pb)
{
	const spec_obj *a = *(spec_obj *const *)pa, *b = *(spec_obj *const *)pb;
	int c = strcmp(a->pub.ns, b->pub.ns);

	if (c)
		return c;
	if (a->pub.kind != b->pub.kind)
		return a->pub.kind < b->pub.kind ? -1 : 1;
	return strcmp(a->pub.name, b->pub.name);
}

static int refx_cmp(const void *pa, const void *pb)
{
	const spec_refx *a = pa, *b = pb;

	if (a->ref.loc.line != b->ref.loc.line)
		return a->ref.loc.line < b->ref.loc.line ? -1 : 1;
	if (a->ref.loc.col != b->ref.loc.col)
		return a->ref.loc.col < b->ref.loc.col ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* Build the public order and the public reference arrays. */
static void config_finish(bar_config *cfg)
{
	cfg->sorted = bar_malloc((cfg->table_n ? cfg->table_n : 1) * sizeof(*cfg->sorted));
	for (size_t i = 0; i < cfg->n_all; i++) {
		spec_obj *o = cfg->all[i];
		bar_ref *refs;

		if (!o->registered)
			continue;
		cfg->sorted[cfg->n_sorted++] = o;
		if (o->n_refx)
			qsort(o->refx, o->n_refx, sizeof(*o->refx), refx_cmp);
		refs = bar_arena_alloc(&cfg->arena, (o->n_refx ? o->n_refx : 1) * sizeof(*refs));
		for (size_t r = 0; r < o->n_refx; r++)
			refs[r] = o->refx[r].ref;
		o->pub.refs = refs;
		o->pub.n_refs = o->n_refx;
		free(o->refx);
		o->refx = NULL;
		o->n_refx = o->cap_refx = 0;
	}
	qsort(cfg->sorted, cfg->n_sorted, sizeof(*cfg->sorted), spec_obj_order_cmp);
}

int bar_config_load(bar_config **out, const char *path, bar_diags *diags)
{
	spec_load L;
	char **files = NULL;
	size_t n_files = 0;
	int rc = -1;

	if (!out || !path)
		return bar_error_set("bar_config_load: no output or path given");
	memset(&L, 0, sizeof(L));
	L.cfg = bar_calloc(1, sizeof(*L.cfg));
	L.cfg->path = bar_strdup(path);
	if (list_files(&L, path, &files, &n_files) == 0) {
		for (size_t i = 0; i < n_files; i++)
			load_file(&L, files[i]);
		if (!L.yaml_error && !L.io_error)
			spec_derive(&L);
		if (!L.yaml_error && !L.io_error)
			spec_cross_check(&L);
	}
	if (L.n_diags) {
		rc = L.io_error ? -1 : BAR_EINVALID;
		diags_finish(&L, diags);
		goto done;
	}
	config_finish(L.cfg);
	*out = L.cfg;
	L.cfg = NULL;
	rc = 0;
done:
	for (size_t i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
	for (size_t i = 0; i < L.n_yamls; i++)
		bar_yaml_free(L.yamls[i]);
	free(L.yamls);
	bar_arena_free(&L.scratch);
	bar_config_free(L.cfg);
	return rc;
}

void bar_config_free(bar_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_all; i++) {
		json_decref(cfg->all[i]->pub.labels);
		json_decref(cfg->all[i]->pub.attrs);
		free(cfg->all[i]->refx);
	}
	free(cfg->all);
	free(cfg->sorted);
	free(cfg->table);
	free(cfg->path);
	bar_arena_free(&cfg->arena);
	free(cfg);
}

size_t bar_config_count(const bar_config *cfg)
{
	return cfg ? cfg->n_sorted : 0;
}

const bar_object *bar_config_get(const bar_config *cfg, size_t i)
{
	return cfg && i < cfg->n_sorted ? &cfg->sorted[i]->pub : NULL;
}

const bar_object *bar_config_find(const bar_config *cfg, bar_kind kind,
                                  const char *ns, const char *name)
{
	spec_obj *o;

	if (!cfg || !name || (unsigned)kind >= BAR_KIND__COUNT)
		return NULL;
	o = spec_table_find(cfg, kind, ns ? ns : "default", name);
	return o ? &o->pub : NULL;
}

const char *bar_config_path(const bar_config *cfg)
{
	return cfg->path;
}

char *bar_diag_format(const bar_diag *d)
{
	if (d->line > 0)
		return bar_printf("%s:%d:%d: %s", d->file, d->line, d->col, d->message);
	return bar_printf("%s: %s", d->file, d->message);
}

void bar_diags_clear(bar_diags *diags)
{
	if (!diags)
		return;
	for (size_t i = 0; i < diags->n; i++) {
		free(diags->items[i].file);
		free(diags->items[i].message);
	}
	free(diags->items);
	diags->items = NULL;
	diags->n = 0;
}
