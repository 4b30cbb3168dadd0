/*
 * os_parse.c - parsers of the OpenStack services' answers (see os_parse.h).
 * Everything here reads untrusted text: every length is bounded and every
 * member's type is checked before use.
 *
 * Keystone's token and Nova's servers are read with the kit's JSON reader
 * (a token's catalogue is read again for each call of another region, a
 * list page holds a thousand servers), the small error bodies and Neutron's
 * objects with jansson.  What is read from a document reads as it did from
 * jansson's tree: an array or object of the wrong type is empty, and an
 * object's duplicate keys are seen once, with their last value (members()).
 * A server's observation is written as text here (put_attrs), the text
 * jansson printed.
 */
#include "os_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const os_service_types[OS_NSVC] = {"compute", "network", "image"};

/* s (NULL: "") into out[size], cut to fit. */
static void copy(char *out, size_t size, const char *s)
{
	size_t n = s ? strnlen(s, size ? size - 1 : 0) : 0;

	if (!size)
		return;
	memcpy(out, s ? s : "", n);
	out[n] = '\0';
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

void os_parse_error(const char *body, size_t len, long status, char *code, size_t csize,
                    char *msg, size_t msize)
{
	json_t *j = json_loadb(body, len, 0, NULL), *v;
	const char *k;

	(void)status;
	copy(code, csize, "");
	copy(msg, msize, "");
	if (json_is_object(j)) {
		if ((v = json_object_get(j, "NeutronError")) && json_is_object(v)) {
			copy(code, csize, str(v, "type"));
			copy(msg, msize, str(v, "message"));
		} else if ((v = json_object_get(j, "error")) && json_is_object(v)) {
			copy(code, csize, str(v, "title")); /* Keystone */
			copy(msg, msize, str(v, "message"));
		} else if (json_object_size(j) == 1) {
			json_object_foreach(j, k, v) { /* Nova: {"itemNotFound": {...}} */
				if (json_is_object(v) && str(v, "message")) {
					copy(code, csize, k);
					copy(msg, msize, str(v, "message"));
				}
			}
		}
	} else if (len && body && msize) {
		/* Glance and the WSGI layers answer text: "404 Not Found\n\nwhy";
		 * the body need not end in a NUL: look at a bounded copy */
		char text[1024];
		size_t tl = len < sizeof(text) - 1 ? len : sizeof(text) - 1, n;
		const char *why, *s;

		memcpy(text, body, tl);
		text[tl] = '\0';
		why = strstr(text, "\n\n");
		s = why ? why + 2 : text;
		n = strcspn(s, "\n");
		n = n < msize - 1 ? n : msize - 1;
		memcpy(msg, s, n);
		msg[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if (!isprint((unsigned char)msg[i]))
				msg[i] = ' ';
	}
	json_decref(j);
}

int64_t os_parse_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, se, n = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970 ||
	    y > 9999)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (int64_t)timegm(&tm);
}

static void trim_slash(char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '/')
		s[--n] = '\0';
}

/* ---- documents ---- */

const char *os_jstr(const bar_kit_jdoc *d, int n, const char *key)
{
	return bar_kit_jstr(d, bar_kit_jget(d, n, key));
}

int os_jelems(const bar_kit_jdoc *d, int n)
{
	return bar_kit_jtype(d, n) == BAR_KIT_JARRAY ? bar_kit_jfirst(d, n) : -1;
}

typedef struct member {
	const char *key;
	size_t at; /* the place among the object's members where the key came first */
	int val;   /* the value it came with last */
} member;

static int cmp_member(const void *a, const void *b)
{
	const member *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->at > y->at) - (x->at < y->at);
}

/*
 * The members of object o as jansson holds them once json_loadb has read
 * the text: a key that comes twice is one member, at the place it came
 * first, with the value that came last.  Sorted by key into m[cap] when
 * they fit, else into a malloc'd array; *out is the one used (free it when
 * it is not m).  Returns how many (0 when o is not an object), or -1
 * without memory.  Sorting keeps a hostile object of a million keys at
 * n log n.
 */
static long members(const bar_kit_jdoc *d, int o, member *m, size_t cap, member **out)
{
	size_t n = bar_kit_jtype(d, o) == BAR_KIT_JOBJECT ? bar_kit_jlen(d, o) : 0, i = 0, u = 0;

	*out = m;
	if (n > cap && !(*out = m = malloc(n * sizeof(*m))))
		return -1;
	for (int v = bar_kit_jfirst(d, o); v >= 0 && i < n; v = bar_kit_jnext(d, o, v), i++)
		m[i] = (member){bar_kit_jkey(d, v), i, v};
	n = i;
	qsort(m, n, sizeof(*m), cmp_member);
	for (i = 0; i < n; u++) {
		size_t g = i + 1;

		while (g < n && strcmp(m[g].key, m[i].key) == 0)
			g++;
		m[u] = (member){m[i].key, m[i].at, m[g - 1].val};
		i = g;
	}
	return (long)u;
}

/* body[len] as a document, or NULL when it is not JSON (or no memory). */
static bar_kit_jdoc *doc_of(const char *body, size_t len)
{
	bar_kit_jdoc *d = NULL;

	if (!body || bar_kit_jparse(&d, body, len, NULL, 0) < 0)
		return NULL;
	return d;
}

/* The region of a catalogue endpoint: region_id, or the older region. */
static const char *ep_region(const bar_kit_jdoc *d, int ep)
{
	const char *r = os_jstr(d, ep, "region_id");

	return r ? r : os_jstr(d, ep, "region");
}

int os_parse_token(os_catalog *out, const char *body, size_t len, const char *region,
                   const char *iface, char *why, size_t size)
{
	bar_kit_jdoc *d = doc_of(body, len);
	int tok = bar_kit_jget(d, 0, "token"), cat, svc, ep;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (bar_kit_jtype(d, tok) != BAR_KIT_JOBJECT) {
		copy(why, size, "Keystone's answer has no token");
		goto done;
	}
	out->expires_unix = os_parse_time(os_jstr(d, tok, "expires_at"));
	if (out->expires_unix < 0) {
		copy(why, size, "the token has no readable expires_at");
		goto done;
	}
	copy(out->project_id, sizeof(out->project_id),
	     os_jstr(d, bar_kit_jget(d, tok, "project"), "id"));
	cat = bar_kit_jget(d, tok, "catalog");
	for (svc = os_jelems(d, cat); svc >= 0; svc = bar_kit_jnext(d, cat, svc)) {
		const char *type = os_jstr(d, svc, "type");
		int s, eps = bar_kit_jget(d, svc, "endpoints");

		for (s = 0; s < OS_NSVC; s++)
			if (type && strcmp(type, os_service_types[s]) == 0)
				break;
		if (s == OS_NSVC || out->url[s][0])
			continue;
		for (ep = os_jelems(d, eps); ep >= 0; ep = bar_kit_jnext(d, eps, ep)) {
			const char *r = ep_region(d, ep);
			const char *f = os_jstr(d, ep, "interface"), *u = os_jstr(d, ep, "url");

			if (r && f && u && strcmp(r, region) == 0 && strcmp(f, iface) == 0 &&
			    strlen(u) < OS_URL_MAX) {
				copy(out->url[s], OS_URL_MAX, u);
				trim_slash(out->url[s]);
				break;
			}
		}
	}
	rc = 0;
done:
	bar_kit_jfree(d);
	return rc;
}

json_t *os_parse_regions(const char *body, size_t len, const char *type)
{
	bar_kit_jdoc *d = doc_of(body, len);
	int tok = bar_kit_jget(d, 0, "token"), cat = bar_kit_jget(d, tok, "catalog"), svc, ep;
	json_t *out;
	size_t m;

	if (bar_kit_jtype(d, tok) != BAR_KIT_JOBJECT) {
		bar_kit_jfree(d);
		return NULL;
	}
	out = json_array();
	for (svc = os_jelems(d, cat); svc >= 0; svc = bar_kit_jnext(d, cat, svc)) {
		int eps = bar_kit_jget(d, svc, "endpoints");

		if (!os_jstr(d, svc, "type") || strcmp(os_jstr(d, svc, "type"), type) != 0)
			continue;
		for (ep = os_jelems(d, eps); ep >= 0; ep = bar_kit_jnext(d, eps, ep)) {
			const char *r = ep_region(d, ep);
			json_t *have;
			int seen = 0;

			if (!r)
				continue;
			json_array_foreach(out, m, have)
				seen |= strcmp(json_string_value(have), r) == 0;
			if (!seen)
				json_array_append_new(out, json_string(r));
		}
	}
	bar_kit_jfree(d);
	return out;
}

/* ---- tags ---- */

static int put_enc(char *out, size_t size, size_t *o, const char *s, int is_key)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '%' || ch == ',' || (is_key && ch == '=') || ch < 0x20 || ch == 0x7f) {
			if (*o + 3 >= size)
				return -1;
			snprintf(out + *o, size - *o, "%%%02X", ch);
			*o += 3;
		} else {
			if (*o + 1 >= size)
				return -1;
			out[(*o)++] = (char)ch;
		}
	}
	out[*o] = '\0';
	return 0;
}

int os_tag_encode(char *out, size_t size, const char *key, const char *value)
{
	size_t o = 0;

	if (!size)
		return -1;
	out[0] = '\0';
	if (put_enc(out, size, &o, key, 1) < 0 || o + 1 >= size)
		return -1;
	out[o++] = '=';
	out[o] = '\0';
	if (put_enc(out, size, &o, value, 0) < 0)
		return -1;
	return o > 255 ? -1 : 0;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode s[0..n) into out[size]. */
static void pct_decode(char *out, size_t size, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < size; i++) {
		if (s[i] == '%' && i + 2 < n + 0 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			int c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);

			out[o++] = c ? (char)c : '?';
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
}

static void tag_into(json_t *obj, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	char key[256], val[1024];

	if (!eq || eq == s)
		return;
	pct_decode(key, sizeof(key), s, (size_t)(eq - s));
	pct_decode(val, sizeof(val), eq + 1, n - (size_t)(eq - s) - 1);
	json_object_set_new(obj, key, json_string(val));
}

json_t *os_tags_decode(const json_t *tags)
{
	json_t *out = json_object(), *t;
	size_t i;

	json_array_foreach(tags, i, t) {
		const char *s = json_string_value(t);

		if (s)
			tag_into(out, s, strlen(s));
	}
	return out;
}

json_t *os_pubkey_tags(const char *pk)
{
	json_t *out = json_object();
	const char *c = pk;

	/* skip the key type and the base64 blob: the rest is the comment */
	for (int field = 0; c && field < 2; field++) {
		c += strspn(c, " \t");
		c += strcspn(c, " \t");
	}
	if (!c)
		return out;
	c += strspn(c, " \t");
	while (*c && *c != '\n' && *c != '\r') {
		size_t n = strcspn(c, ",\r\n");

		tag_into(out, c, n);
		c += n;
		if (*c == ',')
			c++;
	}
	return out;
}

/* ---- servers ---- */

const char *os_server_status(const char *status, const char *task)
{
	static const struct {
		const char *native, *ours;
	} tasks[] = {
		{"powering-off", "Suspending"}, {"powering-on", "Resuming"},
		{"rebooting", "Rebooting"},     {"reboot_pending", "Rebooting"},
		{"reboot_started", "Rebooting"}, {"rebooting_hard", "Rebooting"},
		{"reboot_pending_hard", "Rebooting"}, {"reboot_started_hard", "Rebooting"},
		{"deleting", "Terminating"},    {"soft-deleting", "Terminating"},
		{"scheduling", "Creating"},     {"networking", "Creating"},
		{"block_device_mapping", "Creating"}, {"spawning", "Creating"},
		{"suspending", "Suspending"},   {"resuming", "Resuming"},
		{"shelving", "Suspending"},     {"unshelving", "Resuming"},
	}, states[] = {
		{"BUILD", "Creating"},     {"ACTIVE", "Running"},       {"SHUTOFF", "Suspended"},
		{"STOPPED", "Suspended"},  {"SUSPENDED", "Suspended"},  {"PAUSED", "Suspended"},
		{"SHELVED", "Suspended"},  {"SHELVED_OFFLOADED", "Suspended"},
		{"REBOOT", "Rebooting"},   {"HARD_REBOOT", "Rebooting"}, {"ERROR", "Failed"},
		{"DELETED", "Terminated"}, {"SOFT_DELETED", "Terminated"},
	};

	for (size_t i = 0; task && i < sizeof(tasks) / sizeof(tasks[0]); i++)
		if (strcmp(task, tasks[i].native) == 0)
			return tasks[i].ours;
	for (size_t i = 0; status && i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(status, states[i].native) == 0)
			return states[i].ours;
	return "Undefined";
}

/* The first IPv4 address of `type` ("fixed", "floating") in a server's
 * addresses (the n networks of members()), or "".  jansson went through
 * the networks by `at`: the match in the network of the lowest one wins. */
static const char *address_of(const bar_kit_jdoc *d, const member *net, long n,
                              const char *type)
{
	const char *found = "";
	size_t first = (size_t)-1;

	for (long i = 0; i < n; i++) {
		for (int a = os_jelems(d, net[i].val); a >= 0 && net[i].at < first;
		     a = bar_kit_jnext(d, net[i].val, a)) {
			const char *t = os_jstr(d, a, "OS-EXT-IPS:type");
			json_int_t v = bar_kit_jint(d, bar_kit_jget(d, a, "version"));

			if (v == 4 && t && strcmp(t, type) == 0 && os_jstr(d, a, "addr")) {
				found = os_jstr(d, a, "addr");
				first = net[i].at;
			}
		}
	}
	return found;
}

int os_server_node(const bar_kit_jdoc *d, int n)
{
	int s = bar_kit_jget(d, n, "server");

	return s >= 0 ? s : n;
}

/*
 * The observation's text is written here rather than built with jansson
 * and printed: that was two thirds of an observation's cost (a refresh
 * observes a thousand servers).  It is exactly what json_dumps(...,
 * JSON_COMPACT | JSON_SORT_KEYS) prints of the same object, which
 * tests/fuzz/fuzz_openstack.c holds: keys in byte order (the members are
 * sorted, the attrs' names are written in order), '"', '\\' and control
 * characters escaped as jansson escapes them (\b \f \n \r \t, else \u00XX),
 * everything else as it is (the document's strings are valid UTF-8 without
 * NUL).  Each put_* writes at o when o is not NULL and returns the length,
 * so that a first pass sizes the text.
 */
#define PUT(c) ((void)(o ? o[n] = (char)(c) : 0), n++)

static size_t put_raw(char *o, const char *s)
{
	size_t n = strlen(s);

	if (o)
		memcpy(o, s, n);
	return n;
}

static size_t put_str(char *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	PUT('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		const char *e = *p == '"' ? "\\\"" : *p == '\\' ? "\\\\" : *p == '\b' ? "\\b"
		              : *p == '\f' ? "\\f" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r"
		              : *p == '\t' ? "\\t" : NULL;

		if (e) {
			PUT(e[0]);
			PUT(e[1]);
		} else if (*p < 0x20) {
			n += put_raw(o ? o + n : NULL, "\\u00");
			PUT(hex[*p >> 4]);
			PUT(hex[*p & 15]);
		} else {
			PUT(*p);
		}
	}
	PUT('"');
	return n;
}

/* The metadata's labels ("label:<k>", as k) or, without `labels`, its other
 * keys, string values only, as an object. */
static size_t put_meta(char *o, const bar_kit_jdoc *d, const member *m, long nm, int labels)
{
	size_t n = 0;
	int first = 1;

	PUT('{');
	for (long i = 0; i < nm; i++) {
		const char *v = bar_kit_jstr(d, m[i].val);
		int label = strncmp(m[i].key, "label:", 6) == 0;

		if (!v || label != labels)
			continue;
		if (!first)
			PUT(',');
		first = 0;
		n += put_str(o ? o + n : NULL, m[i].key + (label ? 6 : 0));
		PUT(':');
		n += put_str(o ? o + n : NULL, v);
	}
	PUT('}');
	return n;
}

/* {"imageId":…,"keyName":…,"labels":{…},"nativeStatus":…,"privateIp":…,
 * "publicIp":…,"specId":…,"zone":…}: v[] the seven strings in that order
 * but labels. */
static size_t put_attrs(char *o, const char *const v[7], const bar_kit_jdoc *d,
                        const member *md, long nmd)
{
	static const char *const names[] = {"imageId", "keyName", "nativeStatus", "privateIp",
	                                    "publicIp", "specId", "zone"};
	size_t n = 0;

	for (int i = 0; i < 7; i++) {
		PUT(i ? ',' : '{');
		n += put_str(o ? o + n : NULL, names[i]);
		PUT(':');
		n += put_str(o ? o + n : NULL, v[i]);
		if (i == 1) { /* labels come after keyName */
			n += put_raw(o ? o + n : NULL, ",\"labels\":");
			n += put_meta(o ? o + n : NULL, d, md, nmd, 1);
		}
	}
	PUT('}');
	return n;
}

#undef PUT

/* 1 when the last character of UTF-8 text s lacks bytes (s was cut). */
static int cut_char(const char *s)
{
	size_t n = strlen(s), i = n, need;
	unsigned char lead;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0) /* no lead byte at all */
		return n > 0;
	lead = (unsigned char)s[i - 1];
	need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return n - (i - 1) < need;
}

int os_server_observe_doc(os_server_obs *out, const bar_kit_jdoc *d, int s)
{
	const char *status = os_jstr(d, s, "status");
	const char *task = os_jstr(d, s, "OS-EXT-STS:task_state");
	const char *img = os_jstr(d, bar_kit_jget(d, s, "image"), "id"), *floating;
	const char *key = os_jstr(d, s, "key_name"), *ip4 = os_jstr(d, s, "accessIPv4");
	const char *flavor = os_jstr(d, bar_kit_jget(d, s, "flavor"), "id");
	const char *zone = os_jstr(d, s, "OS-EXT-AZ:availability_zone");
	member nbuf[8], mbuf[32], *nets = nbuf, *md = mbuf;
	long nn, nm;
	size_t an, tn;
	char native[128];

	memset(out, 0, sizeof(*out));
	if (bar_kit_jtype(d, s) != BAR_KIT_JOBJECT || !os_jstr(d, s, "id") || !status)
		return -1;
	copy(out->id, sizeof(out->id), os_jstr(d, s, "id"));
	copy(out->name, sizeof(out->name), os_jstr(d, s, "name"));
	out->status = os_server_status(status, task);
	nn = members(d, bar_kit_jget(d, s, "addresses"), nbuf, 8, &nets);
	nm = members(d, bar_kit_jget(d, s, "metadata"), mbuf, 32, &md);
	snprintf(native, sizeof(native), "%s%s%s", status, task ? "/" : "", task ? task : "");
	/* a cut through a character is not UTF-8, which jansson refused */
	if (nn >= 0 && nm >= 0 && !cut_char(native)) {
		const char *v[7];

		floating = address_of(d, nets, nn, "floating");
		v[0] = img ? img : "";
		v[1] = key ? key : "";
		v[2] = native;
		v[3] = address_of(d, nets, nn, "fixed");
		v[4] = *floating ? floating : ip4 ? ip4 : "";
		v[5] = flavor ? flavor : "";
		v[6] = zone ? zone : "";
		an = put_attrs(NULL, v, d, md, nm);
		tn = put_meta(NULL, d, md, nm, 0);
		out->attrs = malloc(an + 1);
		out->tags = malloc(tn + 1);
		if (out->attrs && out->tags) {
			put_attrs(out->attrs, v, d, md, nm);
			out->attrs[an] = '\0';
			put_meta(out->tags, d, md, nm, 0);
			out->tags[tn] = '\0';
		}
	}
	if (nets != nbuf)
		free(nets);
	if (md != mbuf)
		free(md);
	if (!out->attrs || !out->tags) {
		os_server_obs_clear(out);
		return -1;
	}
	return 0;
}

int os_server_observe(os_server_obs *out, const json_t *server)
{
	char *text = server ? json_dumps(server, JSON_COMPACT) : NULL;
	bar_kit_jdoc *d = text ? doc_of(text, strlen(text)) : NULL;
	int rc;

	rc = d ? os_server_observe_doc(out, d, os_server_node(d, 0)) : -1;
	if (!d)
		memset(out, 0, sizeof(*out));
	bar_kit_jfree(d);
	free(text);
	return rc;
}

void os_server_obs_clear(os_server_obs *o)
{
	free(o->attrs);
	free(o->tags);
	o->attrs = o->tags = NULL;
}

/* ---- security group rules ---- */

static int cmp_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort an array of rule objects by their text, for stable attrs. */
static json_t *sorted(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	char **t = calloc(n ? n : 1, sizeof(*t));
	json_t *out = json_array();

	for (i = 0; t && i < n; i++)
		t[i] = json_dumps(json_array_get(arr, i), JSON_COMPACT | JSON_SORT_KEYS);
	if (t)
		qsort(t, n, sizeof(*t), cmp_text);
	for (i = 0; t && i < n; i++) {
		json_t *prev = i ? json_array_get(out, json_array_size(out) - 1) : NULL;
		json_t *r = t[i] ? json_loads(t[i], 0, NULL) : NULL;

		if (r && !(prev && json_equal(prev, r)))
			json_array_append_new(out, r);
		else
			json_decref(r);
		free(t[i]);
	}
	free(t);
	json_decref(arr);
	return out;
}

json_t *os_rules_observe(const json_t *rules)
{
	json_t *in = json_array(), *eg = json_array(), *r;
	size_t i;

	json_array_foreach(rules, i, r) {
		const char *dir = str(r, "direction"), *proto = str(r, "protocol");
		const char *eth = str(r, "ethertype"), *cidr = str(r, "remote_ip_prefix");
		json_t *pmin = json_object_get(r, "port_range_min");
		json_t *pmax = json_object_get(r, "port_range_max");
		int all = !proto || strcmp(proto, "any") == 0;
		int icmp = proto && (strcmp(proto, "icmp") == 0 || strcmp(proto, "1") == 0);
		json_int_t from = json_is_integer(pmin) ? json_integer_value(pmin) : -1;
		json_int_t to = json_is_integer(pmax) ? json_integer_value(pmax) : -1;

		if (!dir || json_is_string(json_object_get(r, "remote_group_id")))
			continue;
		if (!cidr)
			cidr = eth && strcmp(eth, "IPv6") == 0 ? "::/0" : "0.0.0.0/0";
		if (all || icmp)
			from = to = -1;
		else if (from < 0)
			from = 1, to = 65535; /* tcp/udp without ports: every port */
		json_array_append_new(strcmp(dir, "ingress") == 0 ? in : eg,
		                      json_pack("{s:s,s:I,s:s,s:I}", "cidr", cidr, "fromPort", from,
		                                "protocol", all ? "all" : icmp ? "icmp" : proto,
		                                "toPort", to));
	}
	return json_pack("{s:o,s:o}", "egress", sorted(eg), "ingress", sorted(in));
}
