/*
 * promql.c - a recursive-descent parser of the PromQL subset in promql.h.
 *
 * Strings (label names and values) are copied into one block owned by the
 * result, so the query text can go away.  String literals follow PromQL:
 * double or single quotes or backticks, with Go's escapes in the first two
 * (\\ \" \' \n \t \r and \xNN, \uNNNN are accepted for the common ones).
 */
#include "promql.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
	const char *s;
	size_t pos;
	char *mem;       /* strings, NUL-separated */
	size_t used, cap;
	char *why;
	size_t wsize;
	int failed;
} lexer;

__attribute__((format(printf, 2, 3))) static int fail(lexer *l, const char *fmt, ...)
{
	va_list ap;
	char msg[160];

	if (l->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(l->why, l->wsize, "at %zu: %s", l->pos + 1, msg);
	l->failed = 1;
	return -1;
}

static void ws(lexer *l)
{
	while (isspace((unsigned char)l->s[l->pos]))
		l->pos++;
}

/* Room for n more bytes of strings; offsets stay valid (strings are
 * referenced by offset until the end, then turned into pointers). */
static long save(lexer *l, const char *s, size_t n)
{
	size_t off = l->used;

	if (l->used + n + 1 > l->cap) {
		size_t cap = l->cap ? l->cap : 256;
		char *m;
		while (cap < l->used + n + 1)
			cap *= 2;
		if (!(m = realloc(l->mem, cap)))
			return fail(l, "out of memory");
		l->mem = m;
		l->cap = cap;
	}
	memcpy(l->mem + l->used, s, n);
	l->mem[l->used + n] = '\0';
	l->used += n + 1;
	return (long)off;
}

static int name_start(int c, int colon)
{
	return isalpha(c) || c == '_' || (colon && c == ':');
}

/* An identifier (metric names may hold ':'); its offset in mem. */
static long ident(lexer *l, int colon)
{
	size_t start = l->pos;

	if (!name_start((unsigned char)l->s[l->pos], colon))
		return fail(l, "expected a name");
	while (name_start((unsigned char)l->s[l->pos], colon) || isdigit((unsigned char)l->s[l->pos]))
		l->pos++;
	return save(l, l->s + start, l->pos - start);
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* A string literal; its offset in mem. */
static long string(lexer *l)
{
	char q = l->s[l->pos], buf[1024];
	size_t n = 0;

	if (q != '"' && q != '\'' && q != '`')
		return fail(l, "expected a quoted string");
	l->pos++;
	for (;;) {
		char c = l->s[l->pos];

		if (!c)
			return fail(l, "unterminated string");
		l->pos++;
		if (c == q)
			break;
		if (c == '\\' && q != '`') {
			char e = l->s[l->pos++];
			switch (e) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case '\\': case '"': case '\'': c = e; break;
			case 'x': {
				int h = hexval((unsigned char)l->s[l->pos]), lo;
				lo = h < 0 ? -1 : hexval((unsigned char)l->s[l->pos + 1]);
				if (lo < 0)
					return fail(l, "bad \\x escape");
				c = (char)(h * 16 + lo);
				l->pos += 2;
				if (!c)
					return fail(l, "a NUL in a string");
				break;
			}
			default:
				l->pos--;
				return fail(l, "unsupported escape \\%c", e ? e : '0');
			}
		} else if (c == '\n' && q != '`') {
			return fail(l, "a newline in a string");
		}
		if (n + 1 >= sizeof(buf))
			return fail(l, "string longer than %zu bytes", sizeof(buf) - 1);
		buf[n++] = c;
	}
	return save(l, buf, n);
}

typedef struct pending {
	long name, value; /* offsets */
	int op;
} pending;

/* {matcher, ...} after the opening brace. */
static int matchers(lexer *l, pending *m, size_t *nm)
{
	ws(l);
	while (l->s[l->pos] != '}') {
		long name, value;
		int op;

		if (*nm == BAR_PROMQL_MAX_MATCHERS)
			return fail(l, "more than %d matchers", BAR_PROMQL_MAX_MATCHERS);
		if ((name = ident(l, 0)) < 0)
			return -1;
		ws(l);
		if (l->s[l->pos] == '=' && l->s[l->pos + 1] == '~')
			op = BAR_TSDB_RE, l->pos += 2;
		else if (l->s[l->pos] == '!' && l->s[l->pos + 1] == '~')
			op = BAR_TSDB_NRE, l->pos += 2;
		else if (l->s[l->pos] == '!' && l->s[l->pos + 1] == '=')
			op = BAR_TSDB_NE, l->pos += 2;
		else if (l->s[l->pos] == '=')
			op = BAR_TSDB_EQ, l->pos += 1;
		else
			return fail(l, "expected =, !=, =~ or !~");
		ws(l);
		if ((value = string(l)) < 0)
			return -1;
		m[*nm].name = name;
		m[*nm].value = value;
		m[*nm].op = op;
		(*nm)++;
		ws(l);
		if (l->s[l->pos] == ',') {
			l->pos++;
			ws(l);
		} else if (l->s[l->pos] != '}') {
			return fail(l, "expected ',' or '}'");
		}
	}
	l->pos++;
	return 0;
}

static int selector(lexer *l, pending *m, size_t *nm)
{
	ws(l);
	if (name_start((unsigned char)l->s[l->pos], 1)) {
		long name = ident(l, 1), key;
		if (name < 0 || (key = save(l, "__name__", 8)) < 0)
			return -1;
		m[0].name = key;
		m[0].value = name;
		m[0].op = BAR_TSDB_EQ;
		*nm = 1;
		ws(l);
	}
	if (l->s[l->pos] == '{') {
		l->pos++;
		if (matchers(l, m, nm) < 0)
			return -1;
	}
	if (*nm == 0)
		return fail(l, "expected a metric name or {matchers}");
	ws(l);
	if (l->s[l->pos] == '[')
		return fail(l, "range vectors ([5m]) are not supported; a collector answers "
		            "selectors and sum/avg/min/max/count by (...)");
	return 0;
}

static int by_list(lexer *l, long *by, size_t *nby, int *without)
{
	ws(l);
	if (!strncmp(l->s + l->pos, "by", 2) && !isalnum((unsigned char)l->s[l->pos + 2]))
		*without = 0, l->pos += 2;
	else if (!strncmp(l->s + l->pos, "without", 7) && !isalnum((unsigned char)l->s[l->pos + 7]))
		*without = 1, l->pos += 7;
	else
		return 0;
	ws(l);
	if (l->s[l->pos++] != '(')
		return fail(l, "expected '(' after by/without");
	ws(l);
	while (l->s[l->pos] != ')') {
		if (*nby == BAR_PROMQL_MAX_BY)
			return fail(l, "more than %d labels in by()", BAR_PROMQL_MAX_BY);
		if ((by[*nby] = ident(l, 0)) < 0)
			return -1;
		(*nby)++;
		ws(l);
		if (l->s[l->pos] == ',') {
			l->pos++;
			ws(l);
		} else if (l->s[l->pos] != ')') {
			return fail(l, "expected ',' or ')'");
		}
	}
	l->pos++;
	return 1;
}

int bar_promql_parse(bar_promql *out, const char *text, char *why, size_t wsize)
{
	static const char *const aggs[] = {"sum", "avg", "min", "max", "count"};
	char dummy[8];
	lexer l = {text ? text : "", 0, NULL, 0, 0, why && wsize ? why : dummy,
	           why && wsize ? wsize : sizeof(dummy), 0};
	pending m[BAR_PROMQL_MAX_MATCHERS];
	long by[BAR_PROMQL_MAX_BY];
	size_t nm = 0, nby = 0;
	int agg = BAR_PROMQL_NONE, without = 0, had_by = 0;

	ws(&l);
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(aggs[i]);
		if (!strncmp(l.s + l.pos, aggs[i], n) &&
		    !name_start((unsigned char)l.s[l.pos + n], 1) &&
		    !isdigit((unsigned char)l.s[l.pos + n])) {
			size_t after = l.pos + n;
			while (isspace((unsigned char)l.s[after]))
				after++;
			if (l.s[after] == '(' || !strncmp(l.s + after, "by", 2) ||
			    !strncmp(l.s + after, "without", 7)) {
				agg = i;
				l.pos += n;
			}
			break;
		}
	}
	if (agg != BAR_PROMQL_NONE) {
		if ((had_by = by_list(&l, by, &nby, &without)) < 0)
			goto fail;
		ws(&l);
		if (l.s[l.pos++] != '(') {
			l.pos--;
			fail(&l, "expected '(' after %s", aggs[agg]);
			goto fail;
		}
		if (selector(&l, m, &nm) < 0)
			goto fail;
		ws(&l);
		if (l.s[l.pos++] != ')') {
			l.pos--;
			fail(&l, "expected ')'; only one selector may be aggregated");
			goto fail;
		}
		if (!had_by && by_list(&l, by, &nby, &without) < 0)
			goto fail;
	} else if (selector(&l, m, &nm) < 0) {
		goto fail;
	}
	ws(&l);
	if (l.s[l.pos]) {
		fail(&l, "unexpected \"%.20s\"; a collector answers a selector or one of "
		     "sum/avg/min/max/count [by (...)] (selector)", l.s + l.pos);
		goto fail;
	}
	memset(out, 0, sizeof(*out));
	out->agg = agg;
	out->without = without;
	out->mem_ = l.mem;
	for (size_t i = 0; i < nm; i++) {
		out->m[i].name = l.mem + m[i].name;
		out->m[i].value = l.mem + m[i].value;
		out->m[i].op = m[i].op;
	}
	out->nm = nm;
	for (size_t i = 0; i < nby; i++)
		out->by[i] = l.mem + by[i];
	out->nby = nby;
	return 0;
fail:
	free(l.mem);
	return -1;
}

void bar_promql_free(bar_promql *q)
{
	if (!q)
		return;
	free(q->mem_);
	memset(q, 0, sizeof(*q));
	q->agg = BAR_PROMQL_NONE;
}
