/*
 * plan_render.c - the human rendering of a plan (Terraform-like), as
 * `barista plan` and `apply` show it: drift, one line per change with its
 * reason, and under it what changed in its attributes.  A changed object or
 * list is gone into, so the lines say what actually differs
 * (`labels.tier: "web" -> "api"`, `+ groups[g2]: {...}`) instead of two cut
 * copies of the whole value.
 */
#include "planner.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define C_RESET "\033[0m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_RED "\033[31m"
#define C_BOLD "\033[1m"

#define VALUE_MAX 120 /* longest value shown whole */
#define DIFF_DEPTH_MAX 8 /* nested objects/arrays diffed element-wise this deep */
#define MATCH_MAX 100000 /* element comparisons, beyond which arrays are shown whole */

/* `s` as is when short, else a window of it around byte `at` with "..."
 * where it was cut (never inside a UTF-8 sequence). */
static void put_cut(bar_buf *b, const char *s, size_t at)
{
	size_t n = strlen(s), from = at > 40 ? at - 20 : 0, end;

	if (n <= VALUE_MAX) {
		bar_buf_puts(b, s);
		return;
	}
	while (from > 0 && ((unsigned char)s[from] & 0xC0) == 0x80)
		from--;
	end = from + VALUE_MAX - 6 < n ? from + VALUE_MAX - 6 : n;
	while (end < n && end > from && ((unsigned char)s[end] & 0xC0) == 0x80)
		end--;
	bar_buf_printf(b, "%s%.*s%s", from ? "..." : "", (int)(end - from), s + from,
	               end < n ? "..." : "");
}

static char *dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

static void render_value(bar_buf *b, const json_t *v)
{
	char *s = v ? dump(v) : NULL;

	put_cut(b, s ? s : "(none)", 0);
	free(s);
}

/* "old -> new" (or "recorded X, live Y"): when cut, both are cut around
 * their first difference, so two different values never look the same. */
static void render_pair(bar_buf *b, const json_t *old, const json_t *new_, const char *sep)
{
	char *x = old ? dump(old) : bar_strdup("(none)"), *y = new_ ? dump(new_) : bar_strdup("(none)");
	size_t at = 0;

	while (x[at] && x[at] == y[at])
		at++;
	put_cut(b, x, at);
	bar_buf_puts(b, sep);
	put_cut(b, y, at);
	free(x);
	free(y);
}

/* Where a nested difference is and how to print its lines. */
typedef struct diff_out {
	bar_buf *b;
	int color;
	int forces; /* note "forces replacement" on the next line */
} diff_out;

static void diff_line(diff_out *o, char sym, const char *path, const json_t *old,
                      const json_t *new_)
{
	const char *col = sym == '+' ? C_GREEN : sym == '-' ? C_RED : C_YELLOW;

	bar_buf_printf(o->b, "        %s%c%s %s: ", o->color ? col : "", sym,
	               o->color ? C_RESET : "", path);
	if (sym == '~')
		render_pair(o->b, old, new_, " -> ");
	else
		render_value(o->b, old ? old : new_);
	if (o->forces)
		bar_buf_printf(o->b, "  %s# forces replacement%s", o->color ? C_RED : "",
		               o->color ? C_RESET : "");
	o->forces = 0;
	bar_buf_puts(o->b, "\n");
}

static void diff_value(diff_out *o, const char *path, const json_t *old, const json_t *new_,
                       int depth);

/* path.key, or path["key"] for a key that is not a plain word. */
static char *key_path(const char *path, const char *key)
{
	size_t plain = strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                           "0123456789_-");
	json_t *k;
	char *q, *p;

	if (*key && !key[plain])
		return bar_printf("%s.%s", path, key);
	k = json_string(key);
	q = k ? dump(k) : bar_strdup("\"?\"");
	p = bar_printf("%s[%s]", path, q);
	free(q);
	json_decref(k);
	return p;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys added, removed and changed, in key order. */
static void diff_object(diff_out *o, const char *path, const json_t *old, const json_t *new_,
                        int depth)
{
	size_t n = 0, cap = json_object_size(old) + json_object_size(new_) + 1;
	const char **keys = bar_calloc(cap, sizeof(*keys));
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)old, k, v) keys[n++] = k;
	json_object_foreach((json_t *)new_, k, v)
		if (!json_object_get(old, k))
			keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_cstr);
	for (size_t i = 0; i < n; i++) {
		char *p = key_path(path, keys[i]);

		diff_value(o, p, json_object_get(old, keys[i]), json_object_get(new_, keys[i]),
		           depth + 1);
		free(p);
	}
	free(keys);
}

/* The element of `arr` whose "name" is `name`, or NULL. */
static const json_t *find_named(const json_t *arr, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));

		if (n && !strcmp(n, name))
			return v;
	}
	return NULL;
}

/* Every element an object with a distinct string "name" (MCI groups). */
static int all_named(const json_t *arr)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));

		if (!name || find_named(arr, name) != v)
			return 0;
	}
	return 1;
}

/* Named elements: matched by name, path[name]. */
static void diff_named(diff_out *o, const char *path, const json_t *old, const json_t *new_,
                       int depth)
{
	size_t i;
	json_t *v;

	json_array_foreach(old, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		char *p = bar_printf("%s[%s]", path, name);

		diff_value(o, p, v, find_named(new_, name), depth + 1);
		free(p);
	}
	json_array_foreach(new_, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		char *p = bar_printf("%s[%s]", path, name);

		if (!find_named(old, name))
			diff_value(o, p, NULL, v, depth + 1);
		free(p);
	}
}

/* Arrays of different lengths: the elements only one side has (equal
 * elements are matched one to one), each at its index on that side. */
static void diff_members(diff_out *o, const char *path, const json_t *old, const json_t *new_)
{
	size_t nn = json_array_size(new_), i, j;
	char *used = bar_calloc(nn + 1, 1);
	json_t *v;

	json_array_foreach(old, i, v) {
		for (j = 0; j < nn && (used[j] || !json_equal(v, json_array_get(new_, j))); j++)
			;
		if (j < nn) {
			used[j] = 1;
		} else {
			char *p = bar_printf("%s[%zu]", path, i);

			diff_line(o, '-', p, v, NULL);
			free(p);
		}
	}
	json_array_foreach(new_, j, v) {
		char *p = bar_printf("%s[%zu]", path, j);

		if (!used[j])
			diff_line(o, '+', p, NULL, v);
		free(p);
	}
	free(used);
}

static void diff_array(diff_out *o, const char *path, const json_t *old, const json_t *new_,
                       int depth)
{
	size_t n = json_array_size(old), m = json_array_size(new_), big = n > m ? n : m;

	if (big * big > MATCH_MAX) { /* matching elements is quadratic */
		diff_line(o, '~', path, old, new_);
	} else if (all_named(old) && all_named(new_)) {
		diff_named(o, path, old, new_, depth);
	} else if (n == m) {
		for (size_t i = 0; i < n; i++) {
			char *p = bar_printf("%s[%zu]", path, i);

			diff_value(o, p, json_array_get(old, i), json_array_get(new_, i), depth + 1);
			free(p);
		}
	} else {
		diff_members(o, path, old, new_);
	}
}

/* One line per difference between old and new under `path`: "+" added,
 * "-" removed, "~" changed; objects and arrays are gone into. */
static void diff_value(diff_out *o, const char *path, const json_t *old, const json_t *new_,
                       int depth)
{
	if (old && new_ && json_equal(old, new_))
		return;
	if (!old || !new_)
		diff_line(o, old ? '-' : '+', path, old, new_);
	else if (depth < DIFF_DEPTH_MAX && json_is_object(old) && json_is_object(new_))
		diff_object(o, path, old, new_, depth);
	else if (depth < DIFF_DEPTH_MAX && json_is_array(old) && json_is_array(new_))
		diff_array(o, path, old, new_, depth);
	else
		diff_line(o, '~', path, old, new_);
}

static void render_change(const bar_change *c, int color, bar_buf *b)
{
	static const char *sym[] = {" ", "+", "~", "-/+", "-"};
	static const char *col[] = {"", C_GREEN, C_YELLOW, C_YELLOW, C_RED};
	size_t i;
	json_t *d;

	bar_buf_printf(b, "  %s%3s%s %s", color ? col[c->action] : "", sym[c->action],
	               color ? C_RESET : "", c->address);
	if (c->action == BAR_REPLACE)
		bar_buf_puts(b, " (replace)");
	if (c->vm_action)
		bar_buf_printf(b, " (%s)", c->vm_action);
	if (c->connection)
		bar_buf_printf(b, "  [%s]", c->connection);
	bar_buf_puts(b, "\n");
	if (c->reason)
		bar_buf_printf(b, "        # %s\n", c->reason);
	json_array_foreach(c->diff, i, d) {
		diff_out o = {b, color, json_is_true(json_object_get(d, "forces"))};

		diff_value(&o, json_string_value(json_object_get(d, "attr")),
		           json_object_get(d, "old"), json_object_get(d, "new"), 0);
	}
}

void bar_plan_render(const bar_plan *p, int color, bar_buf *b)
{
	size_t add, chg, del, i;
	json_t *d;

	if (json_array_size(p->drift)) {
		bar_buf_puts(b, "Drift: objects changed outside barista:\n");
		json_array_foreach(p->drift, i, d) {
			bar_buf_printf(b, "  %s: %s: recorded ",
			               json_string_value(json_object_get(d, "address")),
			               json_string_value(json_object_get(d, "attr")));
			render_pair(b, json_object_get(d, "recorded"), json_object_get(d, "live"),
			            ", live ");
			bar_buf_puts(b, "\n");
		}
		bar_buf_puts(b, "\n");
	}
	bar_plan_counts(p, &add, &chg, &del);
	if (p->n == 0 && p->destroy) {
		bar_buf_puts(b, "Nothing to destroy: the state records no resources.\n");
		return;
	}
	if (p->n == 0) {
		bar_buf_printf(b, "No changes. Infrastructure matches the configuration "
		                  "(%zu resources).\n", p->n_noop);
		return;
	}
	bar_buf_printf(b, "%sBarista will perform these actions:%s\n",
	               color ? C_BOLD : "", color ? C_RESET : "");
	for (i = 0; i < p->n; i++)
		render_change(&p->changes[i], color, b);
	bar_buf_printf(b, "\nPlan: %zu to add, %zu to change, %zu to destroy.\n", add, chg, del);
	bar_plan_cost_render(p->cost, b);
}
