/*
 * os_parse.c - parsers of the OpenStack services' answers (see os_parse.h).
 * Everything here reads untrusted text: every length is bounded and every
 * member's type is checked before use.
 */
#include "os_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const os_service_types[OS_NSVC] = {"compute", "network", "image"};

static void copy(char *out, size_t size, const char *s)
{
	if (size)
		snprintf(out, size, "%s", s ? s : "");
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

int os_parse_token(os_catalog *out, const char *body, size_t len, const char *region,
                   const char *iface, char *why, size_t size)
{
	json_t *j = json_loadb(body, len, 0, NULL), *tok, *cat, *svc, *ep;
	size_t i, k;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	tok = json_object_get(j, "token");
	if (!json_is_object(tok)) {
		copy(why, size, "Keystone's answer has no token");
		goto done;
	}
	out->expires_unix = os_parse_time(str(tok, "expires_at"));
	if (out->expires_unix < 0) {
		copy(why, size, "the token has no readable expires_at");
		goto done;
	}
	copy(out->project_id, sizeof(out->project_id), str(json_object_get(tok, "project"), "id"));
	cat = json_object_get(tok, "catalog");
	json_array_foreach(cat, i, svc) {
		const char *type = str(svc, "type");
		int s;

		for (s = 0; s < OS_NSVC; s++)
			if (type && strcmp(type, os_service_types[s]) == 0)
				break;
		if (s == OS_NSVC || out->url[s][0])
			continue;
		json_array_foreach(json_object_get(svc, "endpoints"), k, ep) {
			const char *r = str(ep, "region_id") ? str(ep, "region_id") : str(ep, "region");
			const char *f = str(ep, "interface"), *u = str(ep, "url");

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
	json_decref(j);
	return rc;
}

json_t *os_parse_regions(const char *body, size_t len, const char *type)
{
	json_t *j = json_loadb(body, len, 0, NULL), *tok = json_object_get(j, "token"), *svc, *ep,
	       *out;
	size_t i, k, m;

	if (!json_is_object(tok)) {
		json_decref(j);
		return NULL;
	}
	out = json_array();
	json_array_foreach(json_object_get(tok, "catalog"), i, svc) {
		if (!str(svc, "type") || strcmp(str(svc, "type"), type) != 0)
			continue;
		json_array_foreach(json_object_get(svc, "endpoints"), k, ep) {
			const char *r = str(ep, "region_id") ? str(ep, "region_id") : str(ep, "region");
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
	json_decref(j);
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

/* The first address of `type` ("fixed", "floating") in a server's addresses. */
static const char *address_of(const json_t *server, const char *type)
{
	const char *net;
	json_t *list, *a;
	size_t i;

	json_object_foreach(json_object_get(server, "addresses"), net, list) {
		json_array_foreach(list, i, a) {
			const char *t = str(a, "OS-EXT-IPS:type");
			json_int_t v = json_integer_value(json_object_get(a, "version"));

			if (v == 4 && t && strcmp(t, type) == 0 && str(a, "addr"))
				return str(a, "addr");
		}
	}
	return "";
}

int os_server_observe(os_server_obs *out, const json_t *server)
{
	const json_t *s = json_object_get(server, "server") ? json_object_get(server, "server")
	                                                     : server;
	const char *status = str(s, "status"), *task = str(s, "OS-EXT-STS:task_state"), *k;
	json_t *attrs, *labels, *tags, *v, *img = json_object_get(s, "image");
	char native[128];

	memset(out, 0, sizeof(*out));
	if (!json_is_object(s) || !str(s, "id") || !status)
		return -1;
	copy(out->id, sizeof(out->id), str(s, "id"));
	copy(out->name, sizeof(out->name), str(s, "name"));
	out->status = os_server_status(status, task);
	labels = json_object();
	tags = json_object();
	json_object_foreach(json_object_get(s, "metadata"), k, v) {
		if (!json_is_string(v))
			continue;
		if (strncmp(k, "label:", 6) == 0)
			json_object_set(labels, k + 6, v);
		else
			json_object_set(tags, k, v);
	}
	snprintf(native, sizeof(native), "%s%s%s", status, task ? "/" : "", task ? task : "");
	attrs = json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:s}",
	                  "imageId", json_is_object(img) && str(img, "id") ? str(img, "id") : "",
	                  "keyName", str(s, "key_name") ? str(s, "key_name") : "",
	                  "labels", labels, "nativeStatus", native,
	                  "privateIp", address_of(s, "fixed"),
	                  "publicIp", address_of(s, "floating")[0] ? address_of(s, "floating")
	                              : str(s, "accessIPv4") ? str(s, "accessIPv4") : "",
	                  "specId", str(json_object_get(s, "flavor"), "id")
	                                ? str(json_object_get(s, "flavor"), "id") : "",
	                  "zone", str(s, "OS-EXT-AZ:availability_zone")
	                              ? str(s, "OS-EXT-AZ:availability_zone") : "");
	if (attrs) {
		out->attrs = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
		out->tags = json_dumps(tags, JSON_COMPACT | JSON_SORT_KEYS);
	}
	json_decref(attrs);
	json_decref(tags);
	if (!out->attrs || !out->tags) {
		os_server_obs_clear(out);
		return -1;
	}
	return 0;
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
