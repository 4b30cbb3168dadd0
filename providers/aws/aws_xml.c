/*
 * aws_xml.c - EC2's XML answers to trees and JSON (see aws_xml.h).
 *
 * EC2 answers are plain: elements, text, an xmlns attribute on the root and
 * no mixed content worth keeping.  The parser is a single pass with an
 * explicit stack (no recursion on input depth), so a hostile body can cost
 * at most its own size plus the node limit.
 */
#include "aws_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct px {
	const char *s, *end;
	size_t nodes;
	char *why;
	size_t wsize;
} px;

static int fail(px *p, const char *what)
{
	snprintf(p->why, p->wsize, "malformed XML: %s", what);
	return -1;
}

static void put_utf8(char *out, size_t *o, unsigned long cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xC0 | (cp >> 6));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xE0 | (cp >> 12));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	} else {
		out[(*o)++] = (char)(0xF0 | (cp >> 18));
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	}
}

/* Append the decoded text s[0..n) to *text (malloc'd, grows). */
static int add_text(char **text, const char *s, size_t n)
{
	size_t old = *text ? strlen(*text) : 0, o = old;
	char *t = realloc(*text, old + n + 1);

	if (!t)
		return -1;
	*text = t;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '&') {
			t[o++] = s[i];
			continue;
		}
		const char *semi = memchr(s + i, ';', n - i < 12 ? n - i : 12);
		size_t len = semi ? (size_t)(semi - (s + i)) + 1 : 0;
		static const struct {
			const char *ent;
			char c;
		} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
		            {"&apos;", '\''}};
		int done = 0;

		for (size_t k = 0; semi && k < sizeof(ents) / sizeof(ents[0]); k++)
			if (len == strlen(ents[k].ent) && memcmp(s + i, ents[k].ent, len) == 0) {
				t[o++] = ents[k].c;
				i += len - 1;
				done = 1;
				break;
			}
		if (!done && semi && len > 3 && s[i + 1] == '#') {
			char num[12], *e;
			int hex = s[i + 2] == 'x' || s[i + 2] == 'X';
			size_t dl = len - 3 - (size_t)hex;
			unsigned long cp;

			if (dl > 0 && dl < sizeof(num)) {
				memcpy(num, s + i + 2 + hex, dl);
				num[dl] = '\0';
				cp = strtoul(num, &e, hex ? 16 : 10);
				/* a code point takes at most 4 bytes and the entity at least 4 */
				if (*e == '\0' && cp > 0 && cp <= 0x10FFFF) {
					put_utf8(t, &o, cp);
					i += len - 1;
					done = 1;
				}
			}
		}
		if (!done)
			t[o++] = '&';
	}
	t[o] = '\0';
	return 0;
}

static aws_xml *node_new(px *p, const char *name, size_t n)
{
	aws_xml *x;
	const char *colon = memchr(name, ':', n);

	if (++p->nodes > AWS_XML_MAX_NODES)
		return NULL;
	if (colon) {
		n -= (size_t)(colon + 1 - name);
		name = colon + 1;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->name = strndup(name, n);
	x->text = strdup("");
	if (!x->name || !x->text) {
		free(x->name);
		free(x->text);
		free(x);
		return NULL;
	}
	return x;
}

static const char *find(const char *s, const char *end, const char *what)
{
	size_t n = strlen(what);

	for (; s + n <= end; s++)
		if (memcmp(s, what, n) == 0)
			return s;
	return NULL;
}

static int is_name_char(char c)
{
	return c && !strchr(" \t\r\n/>=\"'<", c);
}

int aws_xml_parse(aws_xml **out, const char *s, size_t n, char *why, size_t size)
{
	px p = {s, s + n, 0, why, size};
	aws_xml *stack[AWS_XML_MAX_DEPTH], *last[AWS_XML_MAX_DEPTH], *root = NULL;
	int depth = 0, rc = -1;
	const char *c = s;

	while (c < p.end) {
		const char *lt = memchr(c, '<', (size_t)(p.end - c));

		if (!lt) {
			if (depth)
				goto truncated;
			break;
		}
		if (depth && lt > c && add_text(&stack[depth - 1]->text, c, (size_t)(lt - c)) < 0)
			goto nomem;
		c = lt;
		if (p.end - c >= 4 && memcmp(c, "<!--", 4) == 0) {
			const char *e = find(c + 4, p.end, "-->");
			if (!e)
				goto truncated;
			c = e + 3;
		} else if (p.end - c >= 9 && memcmp(c, "<![CDATA[", 9) == 0) {
			const char *e = find(c + 9, p.end, "]]>");
			if (!e)
				goto truncated;
			if (depth) {
				/* CDATA is literal: copy it without entity decoding */
				char **t = &stack[depth - 1]->text;
				size_t old = strlen(*t), len = (size_t)(e - (c + 9));
				char *nt = realloc(*t, old + len + 1);
				if (!nt)
					goto nomem;
				memcpy(nt + old, c + 9, len);
				nt[old + len] = '\0';
				*t = nt;
			}
			c = e + 3;
		} else if (p.end - c >= 2 && (c[1] == '?' || c[1] == '!')) {
			const char *e = memchr(c, '>', (size_t)(p.end - c));
			if (!e)
				goto truncated;
			c = e + 1;
		} else if (p.end - c >= 2 && c[1] == '/') {
			const char *name = c + 2, *e = name;
			while (e < p.end && is_name_char(*e))
				e++;
			const char *gt = memchr(e, '>', (size_t)(p.end - e));
			if (!gt)
				goto truncated;
			if (!depth) {
				rc = fail(&p, "a closing tag without an open element");
				goto done;
			}
			const char *colon = memchr(name, ':', (size_t)(e - name));
			if (colon)
				name = colon + 1;
			if (strlen(stack[depth - 1]->name) != (size_t)(e - name) ||
			    memcmp(stack[depth - 1]->name, name, (size_t)(e - name)) != 0) {
				rc = fail(&p, "a closing tag that does not match");
				goto done;
			}
			depth--;
			c = gt + 1;
			if (!depth)
				break;
		} else {
			const char *name = c + 1, *e = name;
			aws_xml *x;
			int empty;

			while (e < p.end && is_name_char(*e))
				e++;
			if (e == name) {
				rc = fail(&p, "an element without a name");
				goto done;
			}
			/* skip attributes, minding quotes */
			const char *q = e;
			char quote = 0;
			for (; q < p.end; q++) {
				if (quote) {
					if (*q == quote)
						quote = 0;
				} else if (*q == '"' || *q == '\'') {
					quote = *q;
				} else if (*q == '>') {
					break;
				}
			}
			if (q >= p.end)
				goto truncated;
			empty = q[-1] == '/';
			if (!depth && root) {
				rc = fail(&p, "more than one root element");
				goto done;
			}
			if (!(x = node_new(&p, name, (size_t)(e - name)))) {
				if (p.nodes > AWS_XML_MAX_NODES)
					rc = fail(&p, "too many elements");
				else
					goto nomem;
				goto done;
			}
			if (!depth) {
				root = x;
			} else {
				if (last[depth - 1])
					last[depth - 1]->next = x;
				else
					stack[depth - 1]->child = x;
				last[depth - 1] = x;
			}
			c = q + 1;
			if (empty) {
				if (!depth)
					break;
				continue;
			}
			if (depth == AWS_XML_MAX_DEPTH) {
				rc = fail(&p, "nested too deep");
				goto done;
			}
			stack[depth] = x;
			last[depth] = NULL;
			depth++;
		}
	}
	if (!root || depth)
		goto truncated;
	/* after the root: only blanks, comments and processing instructions */
	while (c < p.end) {
		const char *e = NULL;

		if (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n') {
			c++;
			continue;
		}
		if (p.end - c >= 4 && memcmp(c, "<!--", 4) == 0)
			e = find(c + 4, p.end, "-->");
		else if (p.end - c >= 2 && c[0] == '<' && c[1] == '?')
			e = find(c + 2, p.end, "?>");
		if (!e) {
			rc = fail(&p, "content after the root element");
			goto done;
		}
		c = e + 3 - (c[1] == '?');
	}
	*out = root;
	return 0;
truncated:
	rc = fail(&p, root ? "the text ends inside an element" : "no element");
	goto done;
nomem:
	snprintf(why, size, "out of memory reading XML");
	rc = -1;
done:
	aws_xml_free(root);
	return rc;
}

void aws_xml_free(aws_xml *x)
{
	/* iterative: siblings by the next chain, children by splicing them in */
	while (x) {
		aws_xml *next = x->next;

		if (x->child) {
			aws_xml *c = x->child;
			while (c->next)
				c = c->next;
			c->next = next;
			next = x->child;
		}
		free(x->name);
		free(x->text);
		free(x);
		x = next;
	}
}

const aws_xml *aws_xml_get(const aws_xml *x, const char *name)
{
	for (const aws_xml *c = x ? x->child : NULL; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

const char *aws_xml_text(const aws_xml *x, const char *name)
{
	const aws_xml *c = aws_xml_get(x, name);

	return c ? c->text : NULL;
}

const aws_xml *aws_xml_path(const aws_xml *x, const char *path)
{
	char part[64];

	while (x && *path) {
		const char *slash = strchr(path, '/');
		size_t n = slash ? (size_t)(slash - path) : strlen(path);

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		x = aws_xml_get(x, part);
		path += n + (slash ? 1 : 0);
	}
	return x;
}

void aws_xml_error(const char *body, size_t len, char *code, size_t csize, char *msg,
                   size_t msize)
{
	aws_xml *root = NULL;
	char why[64];
	const aws_xml *e;

	code[0] = msg[0] = '\0';
	if (aws_xml_parse(&root, body, len, why, sizeof(why)) < 0)
		return;
	e = aws_xml_path(root, "Errors/Error");
	if (!e)
		e = aws_xml_get(root, "Error"); /* the Query APIs' other shape */
	if (e) {
		snprintf(code, csize, "%s", aws_xml_text(e, "Code") ? aws_xml_text(e, "Code") : "");
		snprintf(msg, msize, "%s",
		         aws_xml_text(e, "Message") ? aws_xml_text(e, "Message") : "");
	}
	aws_xml_free(root);
}

/* ---- EC2 elements to JSON ---- */

const char *aws_tag(const aws_xml *tagset, const char *key)
{
	for (const aws_xml *i = tagset ? tagset->child : NULL; i; i = i->next) {
		const char *k = aws_xml_text(i, "key");
		if (k && strcmp(k, key) == 0)
			return aws_xml_text(i, "value") ? aws_xml_text(i, "value") : "";
	}
	return NULL;
}

static json_t *tags_where(const aws_xml *tagset, int barista)
{
	json_t *o = json_object();

	for (const aws_xml *i = tagset ? tagset->child : NULL; i; i = i->next) {
		const char *k = aws_xml_text(i, "key"), *v = aws_xml_text(i, "value");
		int is_b;

		if (!k || !*k)
			continue;
		is_b = strncmp(k, "barista:", 8) == 0;
		if (barista ? is_b : (!is_b && strcmp(k, "Name") != 0))
			json_object_set_new(o, k, json_string(v ? v : ""));
	}
	return o;
}

json_t *aws_tags_barista(const aws_xml *tagset)
{
	return tags_where(tagset, 1);
}

json_t *aws_tags_labels(const aws_xml *tagset)
{
	return tags_where(tagset, 0);
}

static long num(const char *s, long dflt)
{
	char *e;
	long v;

	if (!s || !*s)
		return dflt;
	v = strtol(s, &e, 10);
	return *e ? dflt : v;
}

static int rule_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(json_string_value(json_object_get(x, "protocol")),
	               json_string_value(json_object_get(y, "protocol")));

	if (c)
		return c;
	json_int_t d = json_integer_value(json_object_get(x, "fromPort")) -
	               json_integer_value(json_object_get(y, "fromPort"));
	if (d)
		return d < 0 ? -1 : 1;
	d = json_integer_value(json_object_get(x, "toPort")) -
	    json_integer_value(json_object_get(y, "toPort"));
	if (d)
		return d < 0 ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "cidr")),
	              json_string_value(json_object_get(y, "cidr")));
}

json_t *aws_rules(const aws_xml *perms)
{
	json_t *arr = json_array(), *sorted = json_array();
	json_t **v;
	size_t n;

	for (const aws_xml *p = perms ? perms->child : NULL; p; p = p->next) {
		const char *proto = aws_xml_text(p, "ipProtocol");
		long from = num(aws_xml_text(p, "fromPort"), -1), to = num(aws_xml_text(p, "toPort"), -1);

		if (!proto)
			continue;
		if (strcmp(proto, "-1") == 0) {
			proto = "all";
			from = to = -1;
		}
		if (strcmp(proto, "6") == 0)
			proto = "tcp";
		else if (strcmp(proto, "17") == 0)
			proto = "udp";
		else if (strcmp(proto, "1") == 0)
			proto = "icmp";
		for (const aws_xml *r = aws_xml_get(p, "ipRanges") ? aws_xml_get(p, "ipRanges")->child
		                                                   : NULL;
		     r; r = r->next) {
			const char *cidr = aws_xml_text(r, "cidrIp");
			if (cidr)
				json_array_append_new(arr, json_pack("{s:s,s:I,s:s,s:I}", "cidr", cidr,
				                                     "fromPort", (json_int_t)from,
				                                     "protocol", proto, "toPort",
				                                     (json_int_t)to));
		}
	}
	n = json_array_size(arr);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return arr;
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), rule_cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_decref(arr);
	return sorted;
}

const char *aws_vm_status(const char *state, int resuming)
{
	static const struct {
		const char *ec2, *bar;
	} map[] = {{"pending", "Creating"},       {"running", "Running"},
	           {"stopping", "Suspending"},    {"stopped", "Suspended"},
	           {"shutting-down", "Terminating"}, {"terminated", "Terminated"}};

	if (!state)
		return "Undefined";
	if (resuming && strcmp(state, "pending") == 0)
		return "Resuming";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(state, map[i].ec2) == 0)
			return map[i].bar;
	return "Undefined";
}

static json_t *str_or_empty(const char *s)
{
	return json_string(s ? s : "");
}

json_t *aws_vm_attrs(const aws_xml *inst)
{
	json_t *a = json_object(), *groups = json_array();
	const aws_xml *gs = aws_xml_get(inst, "groupSet");

	for (const aws_xml *g = gs ? gs->child : NULL; g; g = g->next)
		if (aws_xml_text(g, "groupId"))
			json_array_append_new(groups, json_string(aws_xml_text(g, "groupId")));
	json_object_set_new(a, "imageId", str_or_empty(aws_xml_text(inst, "imageId")));
	json_object_set_new(a, "keyName", str_or_empty(aws_xml_text(inst, "keyName")));
	json_object_set_new(a, "labels", aws_tags_labels(aws_xml_get(inst, "tagSet")));
	json_object_set_new(a, "nativeStatus",
	                    str_or_empty(aws_xml_text(aws_xml_get(inst, "instanceState"), "name")));
	json_object_set_new(a, "privateIp", str_or_empty(aws_xml_text(inst, "privateIpAddress")));
	json_object_set_new(a, "publicIp", str_or_empty(aws_xml_text(inst, "ipAddress")));
	json_object_set_new(a, "securityGroupIds", groups);
	json_object_set_new(a, "specId", str_or_empty(aws_xml_text(inst, "instanceType")));
	json_object_set_new(a, "subnetId", str_or_empty(aws_xml_text(inst, "subnetId")));
	json_object_set_new(a, "vpcId", str_or_empty(aws_xml_text(inst, "vpcId")));
	json_object_set_new(a, "zone", str_or_empty(aws_xml_text(aws_xml_get(inst, "placement"),
	                                                         "availabilityZone")));
	return a;
}

json_t *aws_key_attrs(const aws_xml *key)
{
	return json_pack("{s:o,s:o,s:o,s:o}", "fingerprint",
	                 str_or_empty(aws_xml_text(key, "keyFingerprint")), "keyName",
	                 str_or_empty(aws_xml_text(key, "keyName")), "keyType",
	                 str_or_empty(aws_xml_text(key, "keyType")), "keyPairId",
	                 str_or_empty(aws_xml_text(key, "keyPairId")));
}

json_t *aws_image_attrs(const aws_xml *img)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "architecture",
	                 str_or_empty(aws_xml_text(img, "architecture")), "creationDate",
	                 str_or_empty(aws_xml_text(img, "creationDate")), "description",
	                 str_or_empty(aws_xml_text(img, "description")), "imageId",
	                 str_or_empty(aws_xml_text(img, "imageId")), "name",
	                 str_or_empty(aws_xml_text(img, "name")), "nativeStatus",
	                 str_or_empty(aws_xml_text(img, "imageState")), "ownerId",
	                 str_or_empty(aws_xml_text(img, "imageOwnerId")));
}

json_t *aws_spec_attrs(const aws_xml *it)
{
	const aws_xml *arch = aws_xml_path(it, "processorInfo/supportedArchitectures");

	return json_pack("{s:o,s:I,s:o,s:I}", "arch",
	                 str_or_empty(arch && arch->child ? arch->child->text : NULL), "memoryMiB",
	                 (json_int_t)num(aws_xml_text(aws_xml_get(it, "memoryInfo"), "sizeInMiB"), 0),
	                 "specId", str_or_empty(aws_xml_text(it, "instanceType")), "vcpu",
	                 (json_int_t)num(aws_xml_text(aws_xml_get(it, "vCpuInfo"), "defaultVCpus"),
	                                 0));
}
