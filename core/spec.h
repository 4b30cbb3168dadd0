/*
 * spec.h - the spec model: YAML documents describing Namespaces, Connections,
 * MCIR (VNet, SecurityGroup, SSHKey, Image, Spec), MCIs, MCApps and
 * MonitoringPolicies, loaded from a file or a directory of files into one
 * validated configuration.
 *
 * Loading parses every `*.yaml` / `*.yml` file of a directory (sorted by name,
 * not recursive) with libyaml's event API, checks every document against its
 * kind's schema, fills defaults, normalises values, resolves references within
 * a namespace and runs cross-object checks.  It never touches state or
 * providers.  Every error carries file:line:col and says what to do; loading
 * goes on after an error so that several are reported at once.
 *
 * The validated result of each object is a JSON object (`attrs`) in the
 * normalised form documented in docs/spec-reference.md; the planner derives
 * provider resources (and one VM per MCI group member) from it.
 */
#ifndef BAR_SPEC_H
#define BAR_SPEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A position in a spec file; line and col are 1-based. */
typedef struct bar_loc {
	const char *file; /* borrowed from the configuration */
	int line;
	int col;
} bar_loc;

typedef enum bar_kind {
	BAR_KIND_NAMESPACE = 0,
	BAR_KIND_CONNECTION,
	BAR_KIND_VNET,
	BAR_KIND_SECURITYGROUP,
	BAR_KIND_SSHKEY,
	BAR_KIND_IMAGE,
	BAR_KIND_SPEC,
	BAR_KIND_MCI,
	BAR_KIND_MCAPP,
	BAR_KIND_MONITORINGPOLICY,
	BAR_KIND__COUNT
} bar_kind;

/* "VNet", "SecurityGroup", ... as written in `kind:`.  Static string. */
const char *bar_kind_name(bar_kind kind);

/* Lower-case type used in addresses and by providers: "vnet",
 * "securitygroup", "sshkey", "image", "spec", "mci", "mcapp",
 * "monitoringpolicy", "namespace", "connection".  Static string. */
const char *bar_kind_type(bar_kind kind);

/* Parse a kind from its `kind:` spelling (exact) or its type (lower case).
 * Returns 0 and sets *out, or BAR_ENOTFOUND. */
int bar_kind_parse(bar_kind *out, const char *s);

/* One reference from an object to another object of the same namespace. */
typedef struct bar_ref {
	const char *role; /* attribute that holds it: "connection", "vnet",
	                   * "groups[seoul].spec", "dependsOn" ... */
	bar_kind kind;    /* kind of the referenced object */
	const char *name; /* its name */
	bar_loc loc;      /* where the reference is written */
} bar_ref;

/* One validated object.  Everything is owned by the configuration. */
typedef struct bar_object {
	bar_kind kind;
	const char *name;
	const char *ns;         /* namespace, "default" when not written */
	const char *connection; /* VNet/SecurityGroup/SSHKey/Image/Spec: the
	                         * connection name; NULL for other kinds */
	bar_loc loc;            /* position of the document's `kind:` key */
	json_t *labels;         /* JSON object of string labels (never NULL) */
	json_t *attrs;          /* normalised spec (never NULL) */
	const bar_ref *refs;    /* every reference, in source order */
	size_t n_refs;
} bar_object;

/* One diagnostic. */
typedef struct bar_diag {
	char *file;
	int line;
	int col;
	char *message; /* without the location prefix */
} bar_diag;

typedef struct bar_diags {
	bar_diag *items;
	size_t n;
} bar_diags;

typedef struct bar_config bar_config;

/*
 * Load and validate a configuration from `path` (a directory or one file).
 * On success returns 0 and sets *out (free with bar_config_free).  On failure
 * returns -1 (BAR_EINVALID for spec errors, -1 for I/O errors), leaves *out
 * untouched, fills `diags` (if not NULL) with every problem found, sorted by
 * file, line, col, and sets the last error to all of them, one per line,
 * formatted "file:line:col: message".
 */
int bar_config_load(bar_config **out, const char *path, bar_diags *diags);

/* Free a configuration; accepts NULL. */
void bar_config_free(bar_config *cfg);

/* Number of objects and the i-th object, in deterministic order: by
 * namespace, then kind (the enum order above), then name. */
size_t bar_config_count(const bar_config *cfg);
const bar_object *bar_config_get(const bar_config *cfg, size_t i);

/* Look an object up, O(1).  Returns a borrowed pointer or NULL. */
const bar_object *bar_config_find(const bar_config *cfg, bar_kind kind,
                                  const char *ns, const char *name);

/* The path the configuration was loaded from (borrowed). */
const char *bar_config_path(const bar_config *cfg);

/* Format "file:line:col: message" into a new malloc'd string. */
char *bar_diag_format(const bar_diag *d);

/* Free the items of a diagnostics list (not the list itself); accepts an
 * empty list. */
void bar_diags_clear(bar_diags *diags);

/* A duration as specs write it ("90d", "1h30m", "10s") in seconds into
 * *seconds: 0, or -1 (nothing set) for text that is not one or is over the
 * specs' maximum.  For flags that take what a spec field would. */
int bar_spec_duration(int64_t *seconds, const char *text);

#endif
