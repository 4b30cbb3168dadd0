/*
 * kit_json.c - the provider kit's one-pass JSON reader (see kit_json.h).
 *
 * A document is a private copy of the text and an array of nodes in
 * document order.  A container's node is followed by its children (an
 * object's as key, value, key, value ...) and records `end`, the index just
 * past its subtree, so the next sibling of any node is nodes[n].end.
 * Strings are unescaped in place in the copy (an escape never decodes
 * longer than it is written) and NUL-terminated where their closing quote
 * was or earlier.  Numbers keep their text and are converted when read.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l: reals read the same whatever the locale */
#endif
#include "kit_json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

typedef struct node {
	uint8_t type;
	uint8_t key;  /* a string that is an object's key */
	uint32_t off; /* into text: a string's first byte, a number's text */
	uint32_t len; /* string bytes, number text bytes, container members */
	uint32_t end; /* index past this node's subtree */
} node;

struct bar_kit_jdoc {
	char *text;
	node *nodes;
	uint32_t count, cap;
};

typedef struct parser {
	bar_kit_jdoc *d;
	char *s;     /* the copy, NUL-terminated */
	size_t pos, len;
	char *why;
	size_t wsize;
	int failed;
} parser;

static int fail(parser *p, const char *what)
{
	if (!p->failed)
		snprintf(p->why, p->wsize, "byte %zu: %s", p->pos, what);
	p->failed = 1;
	return -1;
}

static long add_node(parser *p, int type, size_t off, size_t len)
{
	bar_kit_jdoc *d = p->d;
	node *n;

	if (d->count == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 64;
		node *nn = cap > d->cap ? realloc(d->nodes, (size_t)cap * sizeof(node)) : NULL;

		if (!nn)
			return fail(p, "out of memory");
		d->nodes = nn;
		d->cap = cap;
	}
	n = &d->nodes[d->count];
	n->type = (uint8_t)type;
	n->key = 0;
	n->off = (uint32_t)off;
	n->len = (uint32_t)len;
	n->end = d->count + 1;
	return d->count++;
}

static void skip_ws(parser *p)
{
	const char *s = p->s;
	size_t i = p->pos;

	while (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
		i++;
	p->pos = i;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *w, unsigned cp)
{
	if (cp < 0x80) {
		w[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		w[0] = (char)(0xC0 | (cp >> 6));
		w[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		w[0] = (char)(0xE0 | (cp >> 12));
		w[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		w[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	w[0] = (char)(0xF0 | (cp >> 18));
	w[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	w[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	w[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* The length of the valid UTF-8 sequence at s (its first byte >= 0x80),
 * or 0 (overlong forms, surrogates and code points past U+10FFFF are not
 * valid, RFC 3629). */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c >= 0xC2 && c <= 0xDF)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80
		           ? 4
		           : 0;
	}
	return 0;
}

/* One escape at r (just past the backslash) written at w: advances both. */
static int unescape(parser *p, size_t *r, size_t *w)
{
	char *s = p->s;
	unsigned cp, lo;
	char c = s[*r];

	switch (c) {
	case '"': case '\\': case '/':
		s[(*w)++] = c;
		(*r)++;
		return 0;
	case 'b': s[(*w)++] = '\b'; (*r)++; return 0;
	case 'f': s[(*w)++] = '\f'; (*r)++; return 0;
	case 'n': s[(*w)++] = '\n'; (*r)++; return 0;
	case 'r': s[(*w)++] = '\r'; (*r)++; return 0;
	case 't': s[(*w)++] = '\t'; (*r)++; return 0;
	case 'u':
		break;
	default:
		p->pos = *r;
		return fail(p, "invalid escape");
	}
	p->pos = *r;
	if (*r + 5 > p->len || hex4(s + *r + 1, &cp) < 0)
		return fail(p, "invalid \\u escape");
	*r += 5;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return fail(p, "invalid Unicode (a lone low surrogate)");
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (*r + 6 > p->len || s[*r] != '\\' || s[*r + 1] != 'u' ||
		    hex4(s + *r + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
			return fail(p, "invalid Unicode (a high surrogate without its low half)");
		*r += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (cp == 0)
		return fail(p, "\\u0000 is not supported");
	*w += put_utf8(s + *w, cp);
	return 0;
}

/* A string whose opening quote is at p->pos; adds its node. */
static int string(parser *p)
{
	const unsigned char *s = (const unsigned char *)p->s;
	size_t start = p->pos + 1, r = start, w;

	/* the common case: nothing to unescape, so nothing moves */
	for (;;) {
		unsigned char c = s[r];
		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
			break;
		r++;
	}
	w = r;
	for (;;) {
		unsigned char c = s[r];
		size_t n;

		if (c == '"')
			break;
		if (c == '\\') {
			r++;
			if (unescape(p, &r, &w) < 0)
				return -1;
			continue;
		}
		if (c < 0x20) {
			p->pos = r;
			return fail(p, r >= p->len ? "premature end of input in a string"
			                           : "control character in a string");
		}
		n = c < 0x80 ? 1 : utf8_seq(s + r);
		if (!n) {
			p->pos = r;
			return fail(p, "invalid UTF-8");
		}
		if (w != r)
			memmove(p->s + w, p->s + r, n);
		r += n;
		w += n;
	}
	p->s[w] = '\0';
	p->pos = r + 1;
	return add_node(p, BAR_KIT_JSTRING, start, w - start) < 0 ? -1 : 0;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* The number text at s (len bytes, already checked against the grammar)
 * into buf, NUL-terminated; 0, or -1 when it does not fit. */
static int number_text(char *buf, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

static double to_real(const char *s, size_t len, int *overflow)
{
	char buf[512], *copy = NULL;
	const char *t = buf;
	double v;

	if (number_text(buf, sizeof(buf), s, len) < 0) {
		copy = strndup(s, len);
		if (!copy) {
			*overflow = 1;
			return 0;
		}
		t = copy;
	}
	pthread_once(&c_locale_once, c_locale_init);
	errno = 0;
	v = c_locale ? strtod_l(t, NULL, c_locale) : strtod(t, NULL);
	*overflow = errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL);
	free(copy);
	return v;
}

/* A number starting at p->pos; adds its node.  Like jansson: an integer is
 * one without fraction or exponent and must fit json_int_t; a real must
 * not overflow. */
static int number(parser *p)
{
	const char *s = p->s;
	size_t i = p->pos, start = i;
	int real = 0;

	if (s[i] == '-')
		i++;
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return fail(p, "invalid number");
	}
	if (s[i] >= '0' && s[i] <= '9')
		return fail(p, "invalid number (a leading zero)");
	if (s[i] == '.') {
		real = 1;
		i++;
		if (!(s[i] >= '0' && s[i] <= '9'))
			return fail(p, "invalid number (no digit after '.')");
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (s[i] == 'e' || s[i] == 'E') {
		real = 1;
		i++;
		if (s[i] == '+' || s[i] == '-')
			i++;
		if (!(s[i] >= '0' && s[i] <= '9'))
			return fail(p, "invalid number (no digit in the exponent)");
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (real) {
		int overflow;
		to_real(s + start, i - start, &overflow);
		if (overflow)
			return fail(p, "real number overflow");
	} else {
		char buf[32];
		if (number_text(buf, sizeof(buf), s + start, i - start) < 0)
			return fail(p, "too big integer");
		errno = 0;
		(void)strtoll(buf, NULL, 10);
		if (errno == ERANGE)
			return fail(p, "too big integer");
	}
	p->pos = i;
	return add_node(p, real ? BAR_KIT_JREAL : BAR_KIT_JINT, start, i - start) < 0 ? -1 : 0;
}

static int literal(parser *p, const char *word, int type)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return fail(p, "invalid token");
	p->pos += n;
	return add_node(p, type, p->pos - n, n) < 0 ? -1 : 0;
}

/* One scalar value at p->pos, or the opening of a container (pushed). */
static int value(parser *p, uint32_t *stack, int *depth)
{
	char c = p->s[p->pos];
	long n;

	switch (c) {
	case '{':
	case '[':
		if (*depth == MAX_DEPTH)
			return fail(p, "maximum parsing depth reached");
		n = add_node(p, c == '{' ? BAR_KIT_JOBJECT : BAR_KIT_JARRAY, p->pos, 0);
		if (n < 0)
			return -1;
		stack[(*depth)++] = (uint32_t)n;
		p->pos++;
		return 0;
	case '"':
		return string(p);
	case 't':
		return literal(p, "true", BAR_KIT_JTRUE);
	case 'f':
		return literal(p, "false", BAR_KIT_JFALSE);
	case 'n':
		return literal(p, "null", BAR_KIT_JNULL);
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return number(p);
		return fail(p, p->pos >= p->len ? "premature end of input" : "invalid token");
	}
}

/* An object's key and its colon, at p->pos after whitespace. */
static int key(parser *p)
{
	if (p->s[p->pos] != '"')
		return fail(p, "string or '}' expected");
	if (string(p) < 0)
		return -1;
	p->d->nodes[p->d->count - 1].key = 1;
	skip_ws(p);
	if (p->s[p->pos] != ':')
		return fail(p, "':' expected");
	p->pos++;
	return 0;
}

static int parse(parser *p)
{
	uint32_t *stack = malloc(MAX_DEPTH * sizeof(*stack));
	int depth = 0, rc = -1;

	if (!stack)
		return fail(p, "out of memory");
	skip_ws(p);
	if (p->s[p->pos] != '{' && p->s[p->pos] != '[') {
		fail(p, "'[' or '{' expected");
		goto done;
	}
	if (value(p, stack, &depth) < 0)
		goto done;
	while (depth > 0) {
		node *top = &p->d->nodes[stack[depth - 1]];
		int obj = top->type == BAR_KIT_JOBJECT;
		char c;

		skip_ws(p);
		c = p->s[p->pos];
		if (c == (obj ? '}' : ']')) {
			p->pos++;
			top->end = p->d->count;
			depth--;
			continue;
		}
		if (top->len > 0) {
			if (c != ',') {
				fail(p, obj ? "',' or '}' expected" : "',' or ']' expected");
				goto done;
			}
			p->pos++;
			skip_ws(p);
		}
		if (top->len == UINT32_MAX) {
			fail(p, "too many members");
			goto done;
		}
		top->len++;
		if (obj && key(p) < 0)
			goto done;
		skip_ws(p);
		if (value(p, stack, &depth) < 0)
			goto done;
	}
	skip_ws(p);
	if (p->pos != p->len) {
		fail(p, "end of file expected");
		goto done;
	}
	rc = 0;
done:
	free(stack);
	return rc;
}

int bar_kit_jparse(bar_kit_jdoc **out, const char *text, size_t len, char *why, size_t size)
{
	char dummy[8];
	parser p = {.why = why && size ? why : dummy, .wsize = why && size ? size : sizeof(dummy)};
	bar_kit_jdoc *d;

	if (len >= UINT32_MAX) {
		snprintf(p.why, p.wsize, "input of %zu bytes is too big", len);
		return -1;
	}
	d = calloc(1, sizeof(*d));
	if (!d || !(d->text = malloc(len + 1))) {
		free(d);
		snprintf(p.why, p.wsize, "out of memory");
		return -1;
	}
	memcpy(d->text, text, len);
	d->text[len] = '\0';
	p.d = d;
	p.s = d->text;
	p.len = len;
	/* a NUL inside the text ends scanning early; refuse it up front */
	if (memchr(d->text, '\0', len)) {
		p.pos = (size_t)((char *)memchr(d->text, '\0', len) - d->text);
		fail(&p, "NUL byte in the input");
		bar_kit_jfree(d);
		return -1;
	}
	if (parse(&p) < 0) {
		bar_kit_jfree(d);
		return -1;
	}
	*out = d;
	return 0;
}

void bar_kit_jfree(bar_kit_jdoc *d)
{
	if (!d)
		return;
	free(d->text);
	free(d->nodes);
	free(d);
}

static const node *at(const bar_kit_jdoc *d, int n)
{
	return d && n >= 0 && (uint32_t)n < d->count ? &d->nodes[n] : NULL;
}

int bar_kit_jtype(const bar_kit_jdoc *d, int n)
{
	const node *x = at(d, n);
	return x ? x->type : BAR_KIT_JNONE;
}

int bar_kit_jobject(const bar_kit_jdoc *d, int n)
{
	return bar_kit_jtype(d, n) == BAR_KIT_JOBJECT ? n : -1;
}

int bar_kit_jarray(const bar_kit_jdoc *d, int n)
{
	return bar_kit_jtype(d, n) == BAR_KIT_JARRAY ? n : -1;
}

int bar_kit_jget(const bar_kit_jdoc *d, int n, const char *key)
{
	const node *x = at(d, n);
	size_t klen;
	int found = -1;

	if (!x || x->type != BAR_KIT_JOBJECT || !key)
		return -1;
	klen = strlen(key);
	/* every member is looked at: with duplicate keys the last one wins */
	for (uint32_t k = (uint32_t)n + 1; k < x->end; k = d->nodes[k + 1].end) {
		const node *kn = &d->nodes[k];
		if (kn->len == klen && memcmp(d->text + kn->off, key, klen) == 0)
			found = (int)k + 1;
	}
	return found;
}

int bar_kit_jat(const bar_kit_jdoc *d, int n, size_t i)
{
	const node *x = at(d, n);
	uint32_t v;

	if (!x || x->type != BAR_KIT_JARRAY || i >= x->len)
		return -1;
	for (v = (uint32_t)n + 1; i > 0; i--)
		v = d->nodes[v].end;
	return (int)v;
}

int bar_kit_jfirst(const bar_kit_jdoc *d, int n)
{
	const node *x = at(d, n);

	if (!x || (x->type != BAR_KIT_JARRAY && x->type != BAR_KIT_JOBJECT) || x->len == 0)
		return -1;
	return n + (x->type == BAR_KIT_JOBJECT ? 2 : 1);
}

int bar_kit_jnext(const bar_kit_jdoc *d, int n, int v)
{
	const node *x = at(d, n), *y = at(d, v);
	uint32_t next;

	if (!x || !y || v <= n || (uint32_t)v >= x->end)
		return -1;
	next = y->end + (x->type == BAR_KIT_JOBJECT ? 1 : 0);
	return next < x->end ? (int)next : -1;
}

const char *bar_kit_jkey(const bar_kit_jdoc *d, int v)
{
	/* a key node is always followed by its value */
	const node *k = at(d, v - 1);

	return k && k->key && at(d, v) ? d->text + k->off : NULL;
}

size_t bar_kit_jlen(const bar_kit_jdoc *d, int n)
{
	const node *x = at(d, n);

	if (!x || !(x->type == BAR_KIT_JARRAY || x->type == BAR_KIT_JOBJECT ||
	            x->type == BAR_KIT_JSTRING))
		return 0;
	return x->len;
}

const char *bar_kit_jstr(const bar_kit_jdoc *d, int n)
{
	const node *x = at(d, n);
	return x && x->type == BAR_KIT_JSTRING ? d->text + x->off : NULL;
}

const char *bar_kit_jsv(const bar_kit_jdoc *d, int n)
{
	const char *s = bar_kit_jstr(d, n);
	return s ? s : "";
}

json_int_t bar_kit_jint(const bar_kit_jdoc *d, int n)
{
	const node *x = at(d, n);
	char buf[32];

	if (!x || x->type != BAR_KIT_JINT || number_text(buf, sizeof(buf), d->text + x->off,
	                                                 x->len) < 0)
		return 0;
	return strtoll(buf, NULL, 10);
}

double bar_kit_jreal(const bar_kit_jdoc *d, int n)
{
	const node *x = at(d, n);
	int overflow;

	if (x && x->type == BAR_KIT_JINT)
		return (double)bar_kit_jint(d, n);
	if (!x || x->type != BAR_KIT_JREAL)
		return 0;
	return to_real(d->text + x->off, x->len, &overflow);
}

int bar_kit_jtrue(const bar_kit_jdoc *d, int n)
{
	return bar_kit_jtype(d, n) == BAR_KIT_JTRUE;
}

json_t *bar_kit_jjson(const bar_kit_jdoc *d, int n)
{
	const node *x = at(d, n);
	json_t *j = NULL;

	if (!x)
		return NULL;
	switch (x->type) {
	case BAR_KIT_JNULL: return json_null();
	case BAR_KIT_JFALSE: return json_false();
	case BAR_KIT_JTRUE: return json_true();
	case BAR_KIT_JINT: return json_integer(bar_kit_jint(d, n));
	case BAR_KIT_JREAL: return json_real(bar_kit_jreal(d, n));
	case BAR_KIT_JSTRING: return json_stringn_nocheck(d->text + x->off, x->len);
	case BAR_KIT_JARRAY:
		j = json_array();
		for (int v = bar_kit_jfirst(d, n); j && v >= 0; v = bar_kit_jnext(d, n, v))
			if (json_array_append_new(j, bar_kit_jjson(d, v)) < 0) {
				json_decref(j);
				j = NULL;
			}
		return j;
	case BAR_KIT_JOBJECT:
		j = json_object();
		for (int v = bar_kit_jfirst(d, n); j && v >= 0; v = bar_kit_jnext(d, n, v)) {
			const node *k = &d->nodes[v - 1];
			if (json_object_setn_new_nocheck(j, d->text + k->off, k->len,
			                                 bar_kit_jjson(d, v)) < 0) {
				json_decref(j);
				j = NULL;
			}
		}
		return j;
	}
	return NULL;
}
