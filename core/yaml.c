/*
 * yaml.c - build the compact node tree of yaml_tree.h from libyaml parser events.
 *
 * The builder keeps one value stack of finished nodes: a scalar is pushed as
 * it arrives; a collection pushes a header node and remembers its index, and
 * when it ends its children (everything above the header) are copied into
 * the arena as one contiguous array and popped.  Nothing recurses, so deep
 * nesting cannot overflow the C stack, and each collection costs one arena
 * allocation.
 *
 * Nesting is limited to BAR_YAML_MAX_DEPTH collections: libyaml's scanner
 * does work proportional to the nesting depth for every token (it walks its
 * stack of possible simple keys), so a file of 200k `[` would take minutes.
 * Going deeper is an error that ends the parse, like a syntax error; no spec
 * needs more than a dozen levels.
 *
 * Everything that is not plain data (anchors, aliases, tags, complex keys,
 * duplicate keys, NUL characters) is recorded as an error against the
 * document, which the spec loader then leaves uninterpreted; parsing goes on
 * so that all such problems of a file are reported together.  A syntax error
 * ends the parse.
 */
#include "yaml_tree.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h> /* libyaml */

#define YAML_STR_TAG "tag:yaml.org,2002:str"
#define DUP_LINEAR_MAX 16 /* maps up to this many pairs: pairwise check */

struct bar_yaml {
	bar_arena arena;
	bar_ydoc *docs;
	size_t n_docs;
	size_t cap_docs;
	bar_yaml_error *errors;
	size_t n_errors;
	size_t cap_errors;
};

typedef struct ybuild {
	bar_yaml *y;
	const char *data; /* input, for positions of reader errors */
	size_t len;
	bar_ynode *stack; /* finished nodes and open collection headers */
	size_t n;
	size_t cap;
	size_t *open;     /* stack index of each open collection's header */
	size_t n_open;
	size_t cap_open;
	int doc_bad;
	int doc_line;
	int doc_col;
} ybuild;

static void yerror(ybuild *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void yerror(ybuild *b, int line, int col, const char *fmt, ...)
{
	bar_yaml *y = b->y;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (y->n_errors == y->cap_errors) {
		y->cap_errors = y->cap_errors ? y->cap_errors * 2 : 8;
		y->errors = bar_realloc(y->errors, y->cap_errors * sizeof(*y->errors));
	}
	y->errors[y->n_errors].line = line > 0 ? line : 1;
	y->errors[y->n_errors].col = col > 0 ? col : 1;
	y->errors[y->n_errors].message = bar_arena_strdup(&y->arena, msg);
	y->n_errors++;
	b->doc_bad = 1;
}

static bar_ynode *push(ybuild *b, bar_ytype type, const yaml_mark_t *mark)
{
	bar_ynode *node;

	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->stack = bar_realloc(b->stack, b->cap * sizeof(*b->stack));
	}
	node = &b->stack[b->n++];
	memset(node, 0, sizeof(*node));
	node->type = (uint8_t)type;
	node->line = (int32_t)mark->line + 1;
	node->col = (int32_t)mark->column + 1;
	return node;
}

/* Anchors and tags are the same problem for every node type. */
static int node_props_ok(ybuild *b, const yaml_mark_t *mark,
                         const yaml_char_t *anchor, const yaml_char_t *tag)
{
	int line = (int)mark->line + 1, col = (int)mark->column + 1;

	if (anchor) {
		yerror(b, line, col, "anchors and aliases are not supported");
		return 0;
	}
	if (tag && strcmp((const char *)tag, YAML_STR_TAG) != 0) {
		yerror(b, line, col, "YAML tag \"%s\" is not supported (only !!str is)",
		       (const char *)tag);
		return 0;
	}
	return 1;
}

static void on_scalar(ybuild *b, const yaml_event_t *ev)
{
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	bar_ynode *node;

	node_props_ok(b, &ev->start_mark, ev->data.scalar.anchor, ev->data.scalar.tag);
	node = push(b, BAR_Y_SCALAR, &ev->start_mark);
	node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	               ev->data.scalar.tag != NULL;
	if (memchr(value, '\0', len)) {
		yerror(b, node->line, node->col, "a scalar must not contain NUL characters");
		len = strlen(value);
	}
	if (len > UINT32_MAX) {
		yerror(b, node->line, node->col, "scalar too long");
		len = 0;
	}
	node->n = (uint32_t)len;
	node->u.str = bar_arena_strndup(&b->y->arena, value, len);
}

/* Open a collection.  Returns -1 (error recorded) when that would nest
 * deeper than BAR_YAML_MAX_DEPTH: the parse must end there. */
static int on_open(ybuild *b, bar_ytype type, const yaml_event_t *ev)
{
	if (b->n_open >= BAR_YAML_MAX_DEPTH) {
		yerror(b, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
		       "nesting deeper than %d levels is not supported", BAR_YAML_MAX_DEPTH);
		return -1;
	}
	if (type == BAR_Y_MAP)
		node_props_ok(b, &ev->start_mark, ev->data.mapping_start.anchor,
		              ev->data.mapping_start.tag);
	else
		node_props_ok(b, &ev->start_mark, ev->data.sequence_start.anchor,
		              ev->data.sequence_start.tag);
	push(b, type, &ev->start_mark);
	if (b->n_open == b->cap_open) {
		b->cap_open = b->cap_open ? b->cap_open * 2 : 32;
		b->open = bar_realloc(b->open, b->cap_open * sizeof(*b->open));
	}
	b->open[b->n_open++] = b->n - 1;
	return 0;
}

static int key_cmp(const bar_ynode *a, const bar_ynode *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return memcmp(a->u.str, b->u.str, a->n);
}

static void dup_report(ybuild *b, const bar_ynode *first, const bar_ynode *second)
{
	yerror(b, second->line, second->col,
	       "duplicate key \"%.80s\" (first at line %d)", second->u.str, first->line);
}

static int key_index_cmp(const void *pa, const void *pb, void *ctx)
{
	const bar_ynode *kv = ctx;
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	int c = key_cmp(&kv[2 * ia], &kv[2 * ib]);

	if (c)
		return c;
	return ia < ib ? -1 : ia > ib;
}

/* Keys must be scalars and distinct.  Small maps (the common case) are
 * checked pairwise; large ones (big label sets) by sorting indices. */
static void check_keys(ybuild *b, const bar_ynode *kv, size_t pairs)
{
	size_t *idx;

	for (size_t i = 0; i < pairs; i++)
		if (kv[2 * i].type != BAR_Y_SCALAR) {
			yerror(b, kv[2 * i].line, kv[2 * i].col,
			       "mapping keys must be scalars");
			return;
		}
	if (pairs <= DUP_LINEAR_MAX) {
		for (size_t i = 1; i < pairs; i++)
			for (size_t j = 0; j < i; j++)
				if (key_cmp(&kv[2 * i], &kv[2 * j]) == 0) {
					dup_report(b, &kv[2 * j], &kv[2 * i]);
					break;
				}
		return;
	}
	idx = bar_malloc(pairs * sizeof(*idx));
	for (size_t i = 0; i < pairs; i++)
		idx[i] = i;
	qsort_r(idx, pairs, sizeof(*idx), key_index_cmp, (void *)kv);
	for (size_t i = 1, first = 0; i < pairs; i++) {
		/* equal keys sort by position: `first` is the earliest */
		if (key_cmp(&kv[2 * idx[first]], &kv[2 * idx[i]]) == 0)
			dup_report(b, &kv[2 * idx[first]], &kv[2 * idx[i]]);
		else
			first = i;
	}
	free(idx);
}

static void on_close(ybuild *b)
{
	size_t at = b->open[--b->n_open];
	size_t n = b->n - at - 1;
	bar_ynode *children = NULL;

	if (n) {
		children = bar_arena_alloc(&b->y->arena, n * sizeof(*children));
		memcpy(children, &b->stack[at + 1], n * sizeof(*children));
	}
	if (b->stack[at].type == BAR_Y_MAP) {
		b->stack[at].n = (uint32_t)(n / 2);
		b->stack[at].u.kv = children;
		if (children)
			check_keys(b, children, n / 2);
	} else {
		b->stack[at].n = (uint32_t)n;
		b->stack[at].u.items = children;
	}
	b->n = at + 1;
}

static void on_doc_end(ybuild *b)
{
	bar_yaml *y = b->y;
	bar_ynode *root;

	if (b->n != 1 || bar_ynode_is_null(&b->stack[0])) {
		b->n = 0;
		return; /* empty document */
	}
	root = bar_arena_alloc(&y->arena, sizeof(*root));
	*root = b->stack[0];
	b->n = 0;
	if (y->n_docs == y->cap_docs) {
		y->cap_docs = y->cap_docs ? y->cap_docs * 2 : 8;
		y->docs = bar_realloc(y->docs, y->cap_docs * sizeof(*y->docs));
	}
	y->docs[y->n_docs].root = root;
	y->docs[y->n_docs].line = b->doc_line;
	y->docs[y->n_docs].col = b->doc_col;
	y->docs[y->n_docs].bad = b->doc_bad;
	y->n_docs++;
}

/* libyaml's reader errors carry a byte offset rather than a mark. */
static void offset_to_pos(const ybuild *b, size_t offset, int *line, int *col)
{
	size_t l = 1, c = 1;

	for (size_t i = 0; i < offset && i < b->len; i++) {
		if (b->data[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = (int)l;
	*col = (int)c;
}

static void on_parse_error(ybuild *b, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown problem";
	int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;

	if (p->error == YAML_READER_ERROR) {
		offset_to_pos(b, p->problem_offset, &line, &col);
		yerror(b, line, col, "invalid input: %s", problem);
	} else if (p->context) {
		yerror(b, line, col, "syntax error: %s (%s that started at line %d)",
		       problem, p->context, (int)p->context_mark.line + 1);
	} else {
		yerror(b, line, col, "syntax error: %s", problem);
	}
}

/* Feed one event to the builder.  Returns 1 at the end of the stream or
 * when the parse cannot go on (nesting too deep). */
static int on_event(ybuild *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		b->doc_bad = 0;
		b->n = 0;
		b->doc_line = (int)ev->start_mark.line + 1;
		b->doc_col = (int)ev->start_mark.column + 1;
		break;
	case YAML_DOCUMENT_END_EVENT:
		on_doc_end(b);
		break;
	case YAML_ALIAS_EVENT:
		yerror(b, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
		       "anchors and aliases are not supported");
		push(b, BAR_Y_SCALAR, &ev->start_mark)->u.str = "";
		break;
	case YAML_SCALAR_EVENT:
		on_scalar(b, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		return on_open(b, BAR_Y_SEQ, ev) < 0;
	case YAML_MAPPING_START_EVENT:
		return on_open(b, BAR_Y_MAP, ev) < 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		on_close(b);
		break;
	default:
		break;
	}
	return 0;
}

int bar_yaml_parse(bar_yaml **out, const char *data, size_t len)
{
	yaml_parser_t parser;
	ybuild b;

	memset(&b, 0, sizeof(b));
	if (!yaml_parser_initialize(&parser))
		return bar_error_set("cannot initialise the YAML parser");
	b.y = bar_calloc(1, sizeof(*b.y));
	b.data = data;
	b.len = len;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	for (;;) {
		yaml_event_t ev;
		int end;

		if (!yaml_parser_parse(&parser, &ev)) {
			on_parse_error(&b, &parser);
			break;
		}
		end = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (end)
			break;
	}
	*out = b.y;
	free(b.stack);
	free(b.open);
	yaml_parser_delete(&parser);
	return 0;
}

void bar_yaml_free(bar_yaml *y)
{
	if (!y)
		return;
	bar_arena_free(&y->arena);
	free(y->docs);
	free(y->errors);
	free(y);
}

size_t bar_yaml_doc_count(const bar_yaml *y)
{
	return y->n_docs;
}

const bar_ydoc *bar_yaml_doc(const bar_yaml *y, size_t i)
{
	return i < y->n_docs ? &y->docs[i] : NULL;
}

size_t bar_yaml_error_count(const bar_yaml *y)
{
	return y->n_errors;
}

const bar_yaml_error *bar_yaml_error_get(const bar_yaml *y, size_t i)
{
	return i < y->n_errors ? &y->errors[i] : NULL;
}

const bar_ynode *bar_ymap_get(const bar_ynode *map, const char *key)
{
	size_t len;

	if (!map || map->type != BAR_Y_MAP)
		return NULL;
	len = strlen(key);
	for (uint32_t i = 0; i < map->n; i++) {
		const bar_ynode *k = &map->u.kv[2 * i];

		if (k->type == BAR_Y_SCALAR && k->n == len && memcmp(k->u.str, key, len) == 0)
			return &map->u.kv[2 * i + 1];
	}
	return NULL;
}

static int plain_is(const bar_ynode *n, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(n->u.str, *words) == 0)
			return 1;
	return 0;
}

int bar_ynode_is_null(const bar_ynode *n)
{
	static const char *const nulls[] = { "~", "null", "Null", "NULL", NULL };

	if (!n)
		return 1;
	if (n->type != BAR_Y_SCALAR || n->quoted)
		return 0;
	return n->n == 0 || plain_is(n, nulls);
}

int bar_ynode_is_bool(const bar_ynode *n, int *value)
{
	static const char *const yes[] = { "true", "True", "TRUE", NULL };
	static const char *const no[] = { "false", "False", "FALSE", NULL };

	if (!n || n->type != BAR_Y_SCALAR || n->quoted)
		return 0;
	if (plain_is(n, yes)) {
		*value = 1;
		return 1;
	}
	if (plain_is(n, no)) {
		*value = 0;
		return 1;
	}
	return 0;
}

int bar_ynode_int(const bar_ynode *n, int64_t *value)
{
	const char *s;
	char *end;
	long long v;

	if (!n || n->type != BAR_Y_SCALAR || n->quoted || n->n == 0)
		return -1;
	s = n->u.str;
	if (*s == '+' || *s == '-')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	v = strtoll(n->u.str, &end, 10);
	if (errno == ERANGE)
		return -2;
	*value = v;
	return 0;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_decimal(const char *s)
{
	int digits = 0;

	if (*s == '+' || *s == '-')
		s++;
	for (; *s >= '0' && *s <= '9'; s++)
		digits++;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			digits++;
	if (!digits)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

int bar_ynode_number(const bar_ynode *n, double *value)
{
	double v;

	if (!n || n->type != BAR_Y_SCALAR || n->quoted || !is_decimal(n->u.str))
		return -1;
	v = strtod(n->u.str, NULL);
	if (!isfinite(v))
		return -1;
	*value = v;
	return 0;
}
