/*
 * spec_internal.h - what the files of the spec loader share (not installed,
 * not for other modules; the public contract is spec.h).
 *
 * Loading runs in three passes over one `spec_load` context:
 *   1. spec.c reads each file, parses it (yaml.c) and checks each document's
 *      envelope (apiVersion, kind, metadata) into a `spec_obj`;
 *   2. the kind's checker (spec_kinds.c, spec_mci.c) validates `spec`, builds
 *      the normalised attrs JSON and records every reference;
 *   3. spec_check.c resolves references and runs the checks that need other
 *      objects (same connection, subnets, VM names, dependency cycles).
 * Every problem becomes a diagnostic; nothing stops at the first one.
 *
 * The YAML trees stay alive until loading ends, so pass 3 can point at the
 * exact node it complains about.  Everything that outlives loading (names,
 * references, file names) is copied into the configuration's arena.
 */
#ifndef BAR_SPEC_INTERNAL_H
#define BAR_SPEC_INTERNAL_H

#include "spec.h"
#include "yaml_tree.h"

#include <stdarg.h>
#include <stdint.h>

#define SPEC_API_VERSION "barista.dev/v1"
#define SPEC_NAME_MAX 63              /* DNS-1123 label */
#define SPEC_FILE_MAX (256u << 20)    /* largest spec file read */
#define SPEC_PUBKEY_FILE_MAX (16u << 10)
#define SPEC_SCOPE_MAX 160
#define SPEC_SUBNETS_MAX 1024         /* per VNet: overlaps are checked pairwise */
#define SPEC_GROUP_SGS_MAX 64         /* security groups per MCI group */
#define SPEC_POST_MAX 32              /* postCommands per MCI group */
#define SPEC_POST_LEN_MAX 4096        /* bytes of one post command */

typedef struct spec_obj spec_obj;

/* The fields of an MCI group, in the order spec_mci.c declares them. */
enum {
	SPEC_G_NAME, SPEC_G_CONNECTION, SPEC_G_SPEC, SPEC_G_IMAGE, SPEC_G_VNET,
	SPEC_G_SUBNET, SPEC_G_SGS, SPEC_G_SSHKEY, SPEC_G_COUNT, SPEC_G_LABELS,
	SPEC_G_POST, SPEC_G_BASTION, SPEC_G__N
};

/* What pass 3 needs of one MCI group: its YAML values by field (valid when
 * the MCI had no errors of its own) and its normalised JSON. */
typedef struct spec_group {
	const bar_ynode *f[SPEC_G__N];
	json_t *json;
	int64_t count;
	/* written in one line (`spec: DRIVER+REGION+TYPE`, spec_derive.c): its
	 * parts (arena), the catalogue image name, and what the derive pass
	 * needs to add the group's references; line_driver NULL otherwise */
	const char *line_driver, *line_region, *line_type, *line_image;
	const char *role, *scope;
} spec_group;

/* A reference while loading: the public part plus what checks need. */
typedef struct spec_refx {
	bar_ref ref;       /* strings in the configuration arena */
	const char *scope; /* how messages name the referrer: `group "seoul"`,
	                    * `field "vnet"`, `dependsOn` (arena) */
	size_t order;      /* insertion order, to sort stably by location */
	spec_obj *target;  /* resolved in pass 3; NULL if unknown */
} spec_refx;

struct spec_obj {
	bar_object pub;          /* first: bar_object pointers are spec_obj's */
	const char *prefix;      /* `mci "web"`: starts every message (arena) */
	const bar_ynode *spec;   /* the spec mapping, NULL if absent (load only) */
	const bar_ynode *name_node;
	const bar_ynode *ns_node; /* metadata.namespace value, NULL if absent */
	spec_refx *refx;         /* malloc'd while loading */
	size_t n_refx;
	size_t cap_refx;
	spec_group *groups;      /* MCI: its groups (scratch arena) */
	size_t n_groups;
	int broken;              /* had errors: skip checks that read its attrs */
	int registered;          /* in the lookup table */
	int mark;                /* its node number in the cycle check */
};

struct bar_config {
	char *path;
	bar_arena arena;         /* names, files, refs, objects */
	spec_obj **all;          /* every object checked, in load order */
	size_t n_all;
	size_t cap_all;
	spec_obj **sorted;       /* registered objects, bar_config_get order */
	size_t n_sorted;
	spec_obj **table;        /* open addressing on (kind, ns, name) */
	size_t table_cap;        /* power of two */
	size_t table_n;
};

typedef struct spec_load {
	bar_config *cfg;
	bar_diag *diags;
	size_t n_diags;
	size_t cap_diags;
	int io_error;            /* a file could not be read */
	int yaml_error;          /* some file is not valid YAML: skip pass 3 */
	int cross;               /* in pass 3: diagnostics do not mark broken */
	const char *file;        /* file being read (configuration arena) */
	const char *dir;         /* its absolute directory, for relative paths */
	spec_obj *obj;           /* object being checked; prefixes messages */
	char scope[SPEC_SCOPE_MAX]; /* e.g. `group "seoul"`, "" for none */
	bar_arena scratch;       /* load-time only */
	bar_yaml **yamls;        /* parsed files, freed when loading ends */
	size_t n_yamls;
	size_t cap_yamls;
	size_t n_refx;           /* references recorded so far (their order) */
} spec_load;

/* ---- MCIs in one line (spec_derive.c) ------------------------------- */

/* Between passes 2 and 3: for every group written `spec: D+R+T`, check it
 * against the driver's catalogue and add the objects it implies (its
 * connection unless one of D in region R exists, and per connection one
 * VNet, security group, SSH key, plus the image and spec) as derived
 * documents, then point the group's references at them. */
void spec_derive(spec_load *L);

/* Load documents from text as if read from a file named `name` whose
 * relative paths are relative to `dir` (spec.c). */
void spec_load_text(spec_load *L, const char *name, const char *dir, const char *text);


/* ---- diagnostics (spec_field.c) ------------------------------------- */

/* Report a problem at `at` (or at the object when NULL) in the current file,
 * prefixed with the current object and scope; marks the object broken. */
void spec_diag(spec_load *L, const bar_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same at an explicit location. */
void spec_diag_loc(spec_load *L, const char *file, int line, int col,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void spec_vdiag_loc(spec_load *L, const char *file, int line, int col,
                    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
/* qsort comparator of spec_obj pointers: namespace, kind, name (the
 * configuration's deterministic order). */
int spec_obj_order_cmp(const void *pa, const void *pb);

/* Set / clear the scope that follows the object prefix in messages. */
void spec_scope_set(spec_load *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void spec_scope_clear(spec_load *L);
/* The same, fast, for `what "name"` and `what N`. */
void spec_scope_name(spec_load *L, const char *what, const char *name);
void spec_scope_index(spec_load *L, const char *what, size_t index);
/* `what "name"` from the item's name field when it has one, else
 * `what N` (1-based). */
void spec_scope_item(spec_load *L, const char *what, const bar_ynode *item,
                     size_t index);

/* ---- field access (spec_field.c) ------------------------------------ *
 * `map` is the mapping holding the field (used to place "is required");
 * `v` the value or NULL when absent.  A YAML null counts as absent.  Each
 * returns 0 with *out set, or -1 after reporting the problem. */

/* Check `map` against `known` (NULL-terminated) and fill vals[i] with the
 * value of known[i] (NULL when absent).  `what` names the mapping in
 * messages ("VNet spec", "group").  A NULL map leaves everything absent. */
int spec_fields(spec_load *L, const bar_ynode *map, const char *what,
                const char *const *known, const bar_ynode **vals);
int spec_absent(const bar_ynode *v);
int spec_missing(spec_load *L, const bar_ynode *map, const char *field);
/* A string; `def` NULL makes the field required. */
int spec_str(spec_load *L, const char **out, const bar_ynode *map,
             const bar_ynode *v, const char *field, const char *def);
/* A YAML boolean (true/false, unquoted); `def` when absent. */
int spec_bool(spec_load *L, int *out, const bar_ynode *v, const char *field, int def);
/* An integer in [min, max]; `def` NULL makes the field required. */
int spec_int(spec_load *L, int64_t *out, const bar_ynode *map, const bar_ynode *v,
             const char *field, const int64_t *def, int64_t min, int64_t max);
/* A number (integer or decimal); required. */
int spec_number(spec_load *L, double *out, const bar_ynode *map,
                const bar_ynode *v, const char *field);
/* A required DNS-1123 label naming `what` ("group", "connection"...). */
int spec_name(spec_load *L, const char **out, const bar_ynode *map,
              const bar_ynode *v, const char *field);
/* One of `allowed` (case-insensitive when icase); *out is the spelling in
 * `allowed`.  `def` NULL makes the field required. */
int spec_enum(spec_load *L, const char **out, const bar_ynode *map,
              const bar_ynode *v, const char *field, const char *const *allowed,
              const char *def, int icase);
/* A duration ("10s", "5m", "1h30m", "7d") in seconds, at least min. */
int spec_duration(spec_load *L, int64_t *out, const bar_ynode *map,
                  const bar_ynode *v, const char *field, const char *def,
                  int64_t min);
/* "1h30m" -> 5400 into *out; -1 on bad text or overflow. */
int spec_duration_text(const char *s, int64_t *out);
/* A sequence / mapping or absent (*out NULL); `required` reports absence. */
int spec_seq(spec_load *L, const bar_ynode **out, const bar_ynode *map,
             const bar_ynode *v, const char *field, int required);
int spec_map(spec_load *L, const bar_ynode **out, const bar_ynode *map,
             const bar_ynode *v, const char *field, int required);
/* A mapping of scalars as a JSON object of strings ({} when absent).  With
 * env_keys, keys must be environment variable names. */
int spec_strmap(spec_load *L, json_t **out, const bar_ynode *v,
                const char *field, int env_keys);

/* A string -> index map of fixed capacity, for names within one list
 * (groups, apps, alarms, subnets) so uniqueness checks stay linear.  Keys
 * are borrowed. */
typedef struct spec_index {
	const char **keys;
	size_t *values;
	size_t cap; /* power of two, at least twice the keys it was sized for */
} spec_index;

void spec_index_init(spec_index *ix, size_t max_keys);
/* Add key -> value; if the key is there already, return its value's
 * address and change nothing.  At most max_keys keys may be added. */
const size_t *spec_index_put(spec_index *ix, const char *key, size_t value);
const size_t *spec_index_get(const spec_index *ix, const char *key);
void spec_index_free(spec_index *ix);
/* Record the name node v of item `index` of a list; report it (naming
 * `what`: "group", "alarm") and return 1 if an earlier item has it
 * (names[] holds the name nodes of the items recorded so far). */
int spec_name_taken(spec_load *L, spec_index *ix, const bar_ynode *const *names,
                    const bar_ynode *v, size_t index, const char *what);

/* Describe a value for "got ..." in messages. */
void spec_describe(const bar_ynode *v, char *buf, size_t size);
/* The closest of `known` within edit distance 2, or NULL. */
const char *spec_suggest(const char *word, const char *const *known);
int spec_dns_label_ok(const char *s);
int spec_env_name_ok(const char *s);
/* Parse "a.b.c.d/n" strictly.  Returns 0 or -1. */
int spec_cidr_parse(const char *s, uint32_t *addr, int *prefix);
uint32_t spec_cidr_mask(int prefix);
char *spec_cidr_format(char *buf, size_t size, uint32_t addr, int prefix);
/* A JSON string that never is NULL (libyaml hands out valid UTF-8). */
json_t *spec_jstr(const char *s);
/* Resolve a user path ("~/", relative to the spec file's directory) to an
 * absolute, lexically normalised path in the configuration arena.  Returns
 * 0, or -1 after reporting at `at`. */
int spec_path(spec_load *L, const char **out, const bar_ynode *at,
              const char *path, const char *field);

/* ---- objects (spec.c) ------------------------------------------------ */

/* Record a reference of the current object (strings are copied). */
void spec_ref_add(spec_load *L, spec_obj *o, const char *role, bar_kind kind,
                  const char *name, const bar_ynode *at, const char *scope);
/* Look a registered object up; NULL if none. */
spec_obj *spec_table_find(const bar_config *cfg, bar_kind kind, const char *ns,
                          const char *name);

/* ---- kinds (spec_kinds.c, spec_mci.c) -------------------------------- *
 * Each validates o->spec, sets o->pub.attrs (always, even after errors) and
 * records references.  Problems are reported, not returned. */
/* A credential reference ({env: {...}}, {file: PATH [, profile]} or
 * {exec: [...]}) as stored (json null when absent), or NULL after reporting
 * what is wrong (an inline secret is refused). */
json_t *spec_credential(spec_load *L, const bar_ynode *v);

void spec_check_namespace(spec_load *L, spec_obj *o);
void spec_check_connection(spec_load *L, spec_obj *o);
void spec_check_vnet(spec_load *L, spec_obj *o);
void spec_check_securitygroup(spec_load *L, spec_obj *o);
void spec_check_sshkey(spec_load *L, spec_obj *o);
void spec_check_image(spec_load *L, spec_obj *o);
void spec_check_spec(spec_load *L, spec_obj *o);
void spec_check_mci(spec_load *L, spec_obj *o);
void spec_check_mcapp(spec_load *L, spec_obj *o);
void spec_check_monitoringpolicy(spec_load *L, spec_obj *o);

/* Helper for the MCIR kinds: the required `connection` field. */
void spec_connection_field(spec_load *L, spec_obj *o, const bar_ynode *map,
                           const bar_ynode *v, json_t *attrs);

/* ---- cross-object checks (spec_check.c) ------------------------------ */

/* A directed graph in compressed form: the edges of node u are
 * edges[start[u] .. start[u+1]). */
typedef struct spec_graph {
	size_t n;
	const size_t *start; /* n + 1 entries */
	const size_t *edges;
} spec_graph;

/* Called for each edge that closes a cycle: `path` lists the cycle's nodes
 * starting with the edge's source and ending with it again (len entries);
 * `edge` is the index of the closing edge in g->edges. */
typedef void (*spec_cycle_fn)(void *ctx, const size_t *path, size_t len, size_t edge);

/* Depth-first search from every node in index order (iterative: no
 * recursion however long the chains are); reports every back edge. */
void spec_graph_cycles(const spec_graph *g, spec_cycle_fn report, void *ctx);

/* Pass 3 over every object of the configuration. */
void spec_cross_check(spec_load *L);

#endif
