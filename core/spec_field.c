/*
 * spec_field.c - diagnostics and typed field access for the spec checkers.
 *
 * Every checker reads its YAML through these helpers, so the wording of the
 * common problems (unknown field, wrong type, missing field, out of range)
 * is the same everywhere and always carries the node's position.  Also here:
 * the small value parsers specs need (CIDR, duration, DNS label, paths).
 */
#include "spec_internal.h"
#include "error.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DURATION_MAX_SECONDS (100LL * 365 * 24 * 3600)
#define PATH_MAX_LEN 4096

/* ---- diagnostics ------------------------------------------------------ */

void spec_vdiag_loc(spec_load *L, const char *file, int line, int col,
                    const char *fmt, va_list ap)
{
	char msg[1024];
	bar_diag *d;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (L->n_diags == L->cap_diags) {
		L->cap_diags = L->cap_diags ? L->cap_diags * 2 : 16;
		L->diags = bar_realloc(L->diags, L->cap_diags * sizeof(*L->diags));
	}
	d = &L->diags[L->n_diags++];
	d->file = bar_strdup(file ? file : "");
	d->line = line;
	d->col = col;
	if (L->obj) {
		d->message = bar_printf("%s: %s%s%s", L->obj->prefix, L->scope,
		                        L->scope[0] ? ": " : "", msg);
		if (!L->cross)
			L->obj->broken = 1;
	} else {
		d->message = bar_printf("%s%s%s", L->scope, L->scope[0] ? ": " : "", msg);
	}
}

void spec_diag_loc(spec_load *L, const char *file, int line, int col,
                   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	spec_vdiag_loc(L, file, line, col, fmt, ap);
	va_end(ap);
}

void spec_diag(spec_load *L, const bar_ynode *at, const char *fmt, ...)
{
	int line = 1, col = 1;
	va_list ap;

	if (at) {
		line = at->line;
		col = at->col;
	} else if (L->obj) {
		line = L->obj->pub.loc.line;
		col = L->obj->pub.loc.col;
	}
	va_start(ap, fmt);
	spec_vdiag_loc(L, L->file, line, col, fmt, ap);
	va_end(ap);
}

void spec_scope_set(spec_load *L, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(L->scope, sizeof(L->scope), fmt, ap);
	va_end(ap);
}

void spec_scope_clear(spec_load *L)
{
	L->scope[0] = '\0';
}

/* These run once or twice per list item of large specs: no printf. */
void spec_scope_name(spec_load *L, const char *what, const char *name)
{
	size_t w = strlen(what), n = strlen(name);

	if (w + n + 4 > sizeof(L->scope)) {
		spec_scope_set(L, "%s \"%.64s...\"", what, name);
		return;
	}
	memcpy(L->scope, what, w);
	L->scope[w] = ' ';
	L->scope[w + 1] = '"';
	memcpy(L->scope + w + 2, name, n);
	L->scope[w + 2 + n] = '"';
	L->scope[w + 3 + n] = '\0';
}

void spec_scope_item(spec_load *L, const char *what, const bar_ynode *item,
                     size_t index)
{
	const bar_ynode *name = bar_ymap_get(item, "name");

	if (name && name->type == BAR_Y_SCALAR && !bar_ynode_is_null(name))
		spec_scope_name(L, what, name->u.str);
	else
		spec_scope_index(L, what, index);
}

void spec_scope_index(spec_load *L, const char *what, size_t index)
{
	char digits[24];
	size_t w = strlen(what), k = 0;

	if (w + sizeof(digits) + 2 > sizeof(L->scope))
		w = sizeof(L->scope) - sizeof(digits) - 2;
	do
		digits[k++] = (char)('0' + index % 10);
	while ((index /= 10) != 0);
	memcpy(L->scope, what, w);
	L->scope[w++] = ' ';
	while (k)
		L->scope[w++] = digits[--k];
	L->scope[w] = '\0';
}

/* ---- small helpers ----------------------------------------------------- */

void spec_describe(const bar_ynode *v, char *buf, size_t size)
{
	if (!v)
		snprintf(buf, size, "nothing");
	else if (v->type == BAR_Y_MAP)
		snprintf(buf, size, "a mapping");
	else if (v->type == BAR_Y_SEQ)
		snprintf(buf, size, "a list");
	else if (bar_ynode_is_null(v))
		snprintf(buf, size, "null");
	else if (v->n > 60)
		snprintf(buf, size, "\"%.57s...\"", v->u.str);
	else
		snprintf(buf, size, "\"%s\"", v->u.str);
}

const char *spec_suggest(const char *word, const char *const *known)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (; *known; known++) {
		size_t d = bar_edit_distance(*known, word);

		if (d < best_d && d < strlen(word)) {
			best = *known;
			best_d = d;
		}
	}
	return best;
}

int spec_dns_label_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SPEC_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return 0;
	}
	return 1;
}

int spec_env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return strlen(s) <= 255;
}

json_t *spec_jstr(const char *s)
{
	json_t *j = json_string(s);

	return j ? j : json_string("\xef\xbf\xbd");
}

/* ---- name index --------------------------------------------------------- */

void spec_index_init(spec_index *ix, size_t max_keys)
{
	for (ix->cap = 8; ix->cap < max_keys * 2; ix->cap *= 2)
		;
	ix->keys = bar_calloc(ix->cap, sizeof(*ix->keys));
	ix->values = bar_malloc(ix->cap * sizeof(*ix->values));
}

static size_t index_slot(const spec_index *ix, const char *key)
{
	size_t mask = ix->cap - 1, i = bar_hash64(key, strlen(key), BAR_HASH64_SEED) & mask;

	while (ix->keys[i] && strcmp(ix->keys[i], key) != 0)
		i = (i + 1) & mask;
	return i;
}

const size_t *spec_index_put(spec_index *ix, const char *key, size_t value)
{
	size_t i = index_slot(ix, key);

	if (ix->keys[i])
		return &ix->values[i];
	ix->keys[i] = key;
	ix->values[i] = value;
	return NULL;
}

const size_t *spec_index_get(const spec_index *ix, const char *key)
{
	size_t i = index_slot(ix, key);

	return ix->keys[i] ? &ix->values[i] : NULL;
}

void spec_index_free(spec_index *ix)
{
	free(ix->keys);
	free(ix->values);
	ix->keys = NULL;
	ix->values = NULL;
	ix->cap = 0;
}

int spec_name_taken(spec_load *L, spec_index *ix, const bar_ynode *const *names,
                    const bar_ynode *v, size_t index, const char *what)
{
	const size_t *first = spec_index_put(ix, v->u.str, index);

	if (!first)
		return 0;
	spec_diag(L, v, "%s name \"%s\" used twice; the first is at line %d", what,
	          v->u.str, names[*first]->line);
	return 1;
}

/* ---- field access ------------------------------------------------------ */

int spec_absent(const bar_ynode *v)
{
	return bar_ynode_is_null(v);
}

int spec_missing(spec_load *L, const bar_ynode *map, const char *field)
{
	spec_diag(L, map, "field \"%s\" is required", field);
	return -1;
}

static void known_list(char *buf, size_t size, const char *const *known)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; known[i] && off < size; i++) {
		int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", known[i]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

int spec_fields(spec_load *L, const bar_ynode *map, const char *what,
                const char *const *known, const bar_ynode **vals)
{
	char desc[80];
	int rc = 0;

	for (size_t i = 0; known[i]; i++)
		vals[i] = NULL;
	if (spec_absent(map))
		return 0;
	if (map->type != BAR_Y_MAP) {
		spec_describe(map, desc, sizeof(desc));
		spec_diag(L, map, "%s must be a mapping, got %s", what, desc);
		return -1;
	}
	for (uint32_t p = 0; p < map->n; p++) {
		const bar_ynode *k = &map->u.kv[2 * p];
		size_t i;

		for (i = 0; known[i]; i++)
			if (strcmp(known[i], k->u.str) == 0)
				break;
		if (known[i]) {
			vals[i] = &map->u.kv[2 * p + 1];
		} else {
			char list[512];
			const char *hint = spec_suggest(k->u.str, known);

			known_list(list, sizeof(list), known);
			if (hint) {
				spec_diag(L, k, "unknown field \"%.80s\" in %s; known fields: %s; "
				          "did you mean \"%s\"?", k->u.str, what, list, hint);
				/* let the misspelt field stand in for the one meant (unless
				 * that one is written too), so its value is still checked
				 * and "is required" does not follow */
				for (i = 0; known[i] != hint; i++)
					;
				if (!bar_ymap_get(map, hint))
					vals[i] = &map->u.kv[2 * p + 1];
			} else {
				spec_diag(L, k, "unknown field \"%.80s\" in %s; known fields: %s",
				          k->u.str, what, list);
			}
			rc = -1;
		}
	}
	return rc;
}

static int wrong_type(spec_load *L, const bar_ynode *v, const char *field,
                      const char *type)
{
	char desc[80];

	spec_describe(v, desc, sizeof(desc));
	spec_diag(L, v, "field \"%s\" must be %s, got %s", field, type, desc);
	return -1;
}

int spec_str(spec_load *L, const char **out, const bar_ynode *map,
             const bar_ynode *v, const char *field, const char *def)
{
	int b;

	if (spec_absent(v)) {
		if (!def)
			return spec_missing(L, map, field);
		*out = def;
		return 0;
	}
	if (v->type != BAR_Y_SCALAR)
		return wrong_type(L, v, field, "a string");
	if (bar_ynode_is_bool(v, &b)) {
		spec_diag(L, v, "field \"%s\" must be a string, got the boolean %s; "
		          "quote it if you mean the text", field, v->u.str);
		return -1;
	}
	if (!def && v->n == 0) {
		spec_diag(L, v, "field \"%s\" must not be empty", field);
		return -1;
	}
	*out = v->u.str;
	return 0;
}

int spec_bool(spec_load *L, int *out, const bar_ynode *v, const char *field, int def)
{
	int b;

	if (spec_absent(v)) {
		*out = def;
		return 0;
	}
	if (v->type != BAR_Y_SCALAR || !bar_ynode_is_bool(v, &b))
		return wrong_type(L, v, field, "true or false");
	*out = b;
	return 0;
}

/* A quoted "3" where a number is wanted: say so instead of "got "3"". */
static int quoted_number(const bar_ynode *v)
{
	bar_ynode plain;
	double d;

	if (v->type != BAR_Y_SCALAR || !v->quoted)
		return 0;
	plain = *v;
	plain.quoted = 0;
	return bar_ynode_number(&plain, &d) == 0;
}

int spec_int(spec_load *L, int64_t *out, const bar_ynode *map, const bar_ynode *v,
             const char *field, const int64_t *def, int64_t min, int64_t max)
{
	int64_t x = 0;
	int rc;

	if (spec_absent(v)) {
		if (!def)
			return spec_missing(L, map, field);
		*out = *def;
		return 0;
	}
	rc = bar_ynode_int(v, &x);
	if (rc == -1) {
		if (quoted_number(v)) {
			spec_diag(L, v, "field \"%s\" must be an integer, got the string "
			          "\"%s\"; remove the quotes", field, v->u.str);
			return -1;
		}
		return wrong_type(L, v, field, "an integer");
	}
	if (rc == -2 || x < min || x > max) {
		if (max == INT64_MAX)
			spec_diag(L, v, "field \"%s\" must be at least %lld, got %s", field,
			          (long long)min, v->u.str);
		else
			spec_diag(L, v, "field \"%s\" must be between %lld and %lld, got %s",
			          field, (long long)min, (long long)max, v->u.str);
		return -1;
	}
	*out = x;
	return 0;
}

int spec_number(spec_load *L, double *out, const bar_ynode *map,
                const bar_ynode *v, const char *field)
{
	if (spec_absent(v))
		return spec_missing(L, map, field);
	if (bar_ynode_number(v, out) == 0)
		return 0;
	if (quoted_number(v)) {
		spec_diag(L, v, "field \"%s\" must be a number, got the string \"%s\"; "
		          "remove the quotes", field, v->u.str);
		return -1;
	}
	return wrong_type(L, v, field, "a number");
}

int spec_name(spec_load *L, const char **out, const bar_ynode *map,
              const bar_ynode *v, const char *field)
{
	const char *s;

	if (spec_str(L, &s, map, v, field, NULL) < 0)
		return -1;
	if (!spec_dns_label_ok(s)) {
		char desc[80];

		spec_describe(v, desc, sizeof(desc));
		spec_diag(L, v, "field \"%s\" must be a DNS label (lower-case letters, "
		          "digits and '-', starting and ending with a letter or digit, "
		          "at most 63 characters), got %s", field, desc);
		return -1;
	}
	*out = s;
	return 0;
}

int spec_enum(spec_load *L, const char **out, const bar_ynode *map,
              const bar_ynode *v, const char *field, const char *const *allowed,
              const char *def, int icase)
{
	const char *s, *hint;
	char list[256], desc[80];

	if (spec_str(L, &s, map, v, field, def ? def : NULL) < 0)
		return -1;
	for (size_t i = 0; allowed[i]; i++)
		if (icase ? strcasecmp(s, allowed[i]) == 0 : strcmp(s, allowed[i]) == 0) {
			*out = allowed[i];
			return 0;
		}
	known_list(list, sizeof(list), allowed);
	spec_describe(v, desc, sizeof(desc));
	hint = spec_suggest(s, allowed);
	if (hint)
		spec_diag(L, v, "field \"%s\" must be one of %s; got %s; did you mean "
		          "\"%s\"?", field, list, desc, hint);
	else
		spec_diag(L, v, "field \"%s\" must be one of %s; got %s", field, list, desc);
	return -1;
}

int spec_duration_text(const char *s, int64_t *out)
{
	int64_t total = 0;

	if (!*s)
		return -1;
	while (*s) {
		int64_t n = 0, unit;

		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++) {
			n = n * 10 + (*s - '0');
			if (n > DURATION_MAX_SECONDS)
				return -1;
		}
		switch (*s++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -1;
		}
		total += n * unit;
		if (total > DURATION_MAX_SECONDS)
			return -1;
	}
	*out = total;
	return 0;
}

int bar_spec_duration(int64_t *seconds, const char *text)
{
	return text ? spec_duration_text(text, seconds) : -1;
}

int spec_duration(spec_load *L, int64_t *out, const bar_ynode *map,
                  const bar_ynode *v, const char *field, const char *def,
                  int64_t min)
{
	const char *s;
	int64_t secs;
	char desc[80];

	if (spec_absent(v)) {
		if (!def)
			return spec_missing(L, map, field);
		return spec_duration_text(def, out);
	}
	if (v->type != BAR_Y_SCALAR || spec_duration_text(v->u.str, &secs) < 0) {
		spec_describe(v, desc, sizeof(desc));
		spec_diag(L, v, "field \"%s\" must be a duration like 30s, 5m, 2h or 7d, "
		          "got %s", field, desc);
		return -1;
	}
	s = v->u.str;
	if (secs < min) {
		spec_diag(L, v, "field \"%s\" must be at least %llds, got \"%s\"", field,
		          (long long)min, s);
		return -1;
	}
	*out = secs;
	return 0;
}

int spec_seq(spec_load *L, const bar_ynode **out, const bar_ynode *map,
             const bar_ynode *v, const char *field, int required)
{
	if (spec_absent(v)) {
		if (required)
			return spec_missing(L, map, field);
		*out = NULL;
		return 0;
	}
	if (v->type != BAR_Y_SEQ)
		return wrong_type(L, v, field, "a list");
	*out = v;
	return 0;
}

int spec_map(spec_load *L, const bar_ynode **out, const bar_ynode *map,
             const bar_ynode *v, const char *field, int required)
{
	if (spec_absent(v)) {
		if (required)
			return spec_missing(L, map, field);
		*out = NULL;
		return 0;
	}
	if (v->type != BAR_Y_MAP)
		return wrong_type(L, v, field, "a mapping");
	*out = v;
	return 0;
}

int spec_strmap(spec_load *L, json_t **out, const bar_ynode *v,
                const char *field, int env_keys)
{
	json_t *obj = json_object();
	int rc = 0;

	if (spec_absent(v))
		goto done;
	if (v->type != BAR_Y_MAP) {
		rc = wrong_type(L, v, field, "a mapping of strings");
		goto done;
	}
	for (uint32_t p = 0; p < v->n; p++) {
		const bar_ynode *k = &v->u.kv[2 * p], *val = &v->u.kv[2 * p + 1];

		if (k->n == 0 || (env_keys && !spec_env_name_ok(k->u.str))) {
			spec_diag(L, k, "%s key \"%.80s\" is not valid%s", field, k->u.str,
			          env_keys ? "; use letters, digits and '_', not starting "
			                     "with a digit" : "");
			rc = -1;
			continue;
		}
		if (val->type != BAR_Y_SCALAR) {
			char desc[80];

			spec_describe(val, desc, sizeof(desc));
			spec_diag(L, val, "field \"%s.%.80s\" must be a string, got %s",
			          field, k->u.str, desc);
			rc = -1;
			continue;
		}
		json_object_set_new(obj, k->u.str,
		                    spec_jstr(bar_ynode_is_null(val) ? "" : val->u.str));
	}
done:
	if (rc < 0) {
		json_decref(obj);
		return -1;
	}
	*out = obj;
	return 0;
}

/* ---- CIDR ------------------------------------------------------------- */

/* A decimal in [0, max] without leading zeros; advances *s. */
static int parse_dec(const char **s, unsigned max, unsigned *out)
{
	const char *p = *s;
	unsigned v = 0;
	int digits = 0;

	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return -1;
	for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
		v = v * 10 + (unsigned)(*p - '0');
	if (!digits || v > max || (*p >= '0' && *p <= '9'))
		return -1;
	*s = p;
	*out = v;
	return 0;
}

int spec_cidr_parse(const char *s, uint32_t *addr, int *prefix)
{
	uint32_t a = 0;
	unsigned v;

	for (int i = 0; i < 4; i++) {
		if (parse_dec(&s, 255, &v) < 0)
			return -1;
		a = (a << 8) | v;
		if (*s++ != (i < 3 ? '.' : '/'))
			return -1;
	}
	if (parse_dec(&s, 32, &v) < 0 || *s)
		return -1;
	*addr = a;
	*prefix = (int)v;
	return 0;
}

uint32_t spec_cidr_mask(int prefix)
{
	return prefix <= 0 ? 0 : 0xffffffffu << (32 - prefix);
}

char *spec_cidr_format(char *buf, size_t size, uint32_t addr, int prefix)
{
	snprintf(buf, size, "%u.%u.%u.%u/%d", addr >> 24, (addr >> 16) & 255,
	         (addr >> 8) & 255, addr & 255, prefix);
	return buf;
}

/* ---- paths ------------------------------------------------------------- */

/* Remove ".", "" and resolve ".." lexically in an absolute path. */
static char *path_normalise(bar_arena *a, const char *in)
{
	char *out = bar_arena_alloc(a, strlen(in) + 2);
	size_t len = 0;
	const char *p = in;

	while (*p) {
		const char *seg;
		size_t n;

		while (*p == '/')
			p++;
		seg = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - seg);
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* the slash before the dropped segment */
			continue;
		}
		out[len++] = '/';
		memcpy(out + len, seg, n);
		len += n;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return out;
}

int spec_path(spec_load *L, const char **out, const bar_ynode *at,
              const char *path, const char *field)
{
	const char *home;
	char *joined;

	if (strlen(path) > PATH_MAX_LEN) {
		spec_diag(L, at, "field \"%s\" is longer than %d characters", field,
		          PATH_MAX_LEN);
		return -1;
	}
	if (path[0] == '~') {
		if (path[1] != '\0' && path[1] != '/') {
			spec_diag(L, at, "field \"%s\": \"~user\" paths are not supported; "
			          "write \"~/...\" or an absolute path", field);
			return -1;
		}
		home = getenv("HOME");
		if (!home || home[0] != '/') {
			spec_diag(L, at, "field \"%s\" starts with \"~\" but $HOME is not "
			          "set to an absolute path", field);
			return -1;
		}
		joined = bar_printf("%s/%s", home, path + 1);
	} else if (path[0] == '/') {
		joined = bar_strdup(path);
	} else {
		joined = bar_printf("%s/%s", L->dir, path);
	}
	*out = path_normalise(&L->cfg->arena, joined);
	free(joined);
	return 0;
}
