/*
 * json.c - canonical JSON serialisation and hashing (see json.h).
 *
 * The planner hashes the desired attributes of every resource on every plan,
 * so this avoids what json_dumps(JSON_SORT_KEYS) costs per call (a fresh
 * output buffer and a malloc'd key array per object).
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STACK_KEYS 64

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int bar_json_canon_string(bar_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;

	if (bar_buf_add(b, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (bar_buf_add(b, s + start, i - start) < 0)
			return -1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\t': esc[1] = 't'; break;
		case '\r': esc[1] = 'r'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		if (bar_buf_add(b, esc, elen) < 0)
			return -1;
		start = i + 1;
	}
	if (bar_buf_add(b, s + start, n - start) < 0)
		return -1;
	return bar_buf_add(b, "\"", 1);
}

static int put_object(bar_buf *b, const json_t *j)
{
	const char *stack[MAX_STACK_KEYS], **keys = stack;
	size_t n = json_object_size(j), i = 0;
	const char *k;
	json_t *v;
	int rc = 0;

	if (n > MAX_STACK_KEYS)
		keys = bar_malloc(n * sizeof(*keys));
	json_object_foreach((json_t *)j, k, v) keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_key);
	rc = bar_buf_add(b, "{", 1);
	for (i = 0; i < n && rc == 0; i++) {
		if (i)
			rc = bar_buf_add(b, ",", 1);
		if (rc == 0)
			rc = bar_json_canon_string(b, keys[i], strlen(keys[i]));
		if (rc == 0)
			rc = bar_buf_add(b, ":", 1);
		if (rc == 0)
			rc = bar_json_canon(b, json_object_get(j, keys[i]));
	}
	if (keys != stack)
		free(keys);
	return rc == 0 ? bar_buf_add(b, "}", 1) : rc;
}

int bar_json_canon(bar_buf *b, const json_t *j)
{
	char num[64];
	size_t i;
	json_t *v;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return put_object(b, j);
	case JSON_ARRAY:
		if (bar_buf_add(b, "[", 1) < 0)
			return -1;
		json_array_foreach((json_t *)j, i, v) {
			if ((i && bar_buf_add(b, ",", 1) < 0) || bar_json_canon(b, v) < 0)
				return -1;
		}
		return bar_buf_add(b, "]", 1);
	case JSON_STRING:
		return bar_json_canon_string(b, json_string_value(j), json_string_length(j));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return bar_buf_puts(b, num);
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(j));
		return bar_buf_puts(b, num);
	case JSON_TRUE:
		return bar_buf_puts(b, "true");
	case JSON_FALSE:
		return bar_buf_puts(b, "false");
	default:
		return bar_buf_puts(b, "null");
	}
}

void bar_json_hash(const json_t *j, bar_buf *scratch, char out[17])
{
	bar_buf own = BAR_BUF_INIT(0), *b = scratch ? scratch : &own;

	b->len = 0;
	bar_json_canon(b, j);
	snprintf(out, 17, "%016llx",
	         (unsigned long long)bar_hash64(b->data ? b->data : "", b->len, BAR_HASH64_SEED));
	bar_buf_free(&own);
}
