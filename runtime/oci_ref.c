/*
 * oci_ref.c - image references: parsing and formatting (see oci.h).
 *
 * The grammar is distribution's reference grammar (reference/reference.go
 * of distribution/distribution): [domain '/'] path-component ('/'
 * path-component)* [':' tag] ['@' digest], where a path component is
 * lowercase alphanumerics joined by '.', '_', '__' or runs of '-', a tag is
 * [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, and the first component is a domain only
 * when it holds '.' or ':' or is "localhost" (otherwise the image is on
 * Docker Hub, where a one-component name lives under "library/").  Only
 * sha256 digests are accepted: they are what the cache is addressed by.
 */
#include "oci.h"
#include "oci_int.h"

#include "error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define TAG_MAX 128

static int is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component [s, s+n): alnum runs joined by separators. */
static int component_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum((unsigned char)s[0]) ||
	    !is_lower_alnum((unsigned char)s[n - 1]))
		return 0;
	while (i < n) {
		if (is_lower_alnum((unsigned char)s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' || s[i] == '_') {
			size_t run = 0;

			while (i < n && s[i] == '_' && run < 3) {
				run++;
				i++;
			}
			if (run == 0)
				i++; /* a single '.' */
			else if (run > 2)
				return 0;
			if (i < n && !is_lower_alnum((unsigned char)s[i]))
				return 0;
			continue;
		}
		if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
			if (i < n && !is_lower_alnum((unsigned char)s[i]))
				return 0;
			continue;
		}
		return 0;
	}
	return 1;
}

/* A domain: host components ([A-Za-z0-9-], not starting or ending with '-')
 * joined by '.', or a bracketed IPv6 address, then an optional ":port". */
static int domain_ok(const char *s, size_t n)
{
	size_t i = 0, start;

	if (n > 0 && s[0] == '[') {
		while (i < n && s[i] != ']') {
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '[' && s[i] != '.')
				return 0;
			i++;
		}
		if (i >= n || i < 3)
			return 0;
		i++;
	} else {
		for (;;) {
			start = i;
			while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-'))
				i++;
			if (i == start || s[start] == '-' || s[i - 1] == '-')
				return 0;
			if (i < n && s[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i < n && s[i] == ':') {
		size_t p = ++i;

		while (i < n && isdigit((unsigned char)s[i]))
			i++;
		if (i == p || i - p > 5)
			return 0;
	}
	return i == n;
}

int bar_oci_digest_ok(const char *d)
{
	size_t i;

	if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
		return 0;
	for (i = 7; i < 7 + 64; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return 0;
	return 1;
}

static int tag_ok(const char *t)
{
	size_t i, n = strlen(t);

	if (n == 0 || n > TAG_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)t[i];

		if (!(isalnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-'))))
			return 0;
	}
	return 1;
}

static int bad(const char *text, const char *why)
{
	const char *at = strchr(text, '@'), *slash = strchr(text, '/');

	/* "user:password@host/..." is no reference, but it must not be echoed */
	if (at && (!slash || at < slash))
		return bar_error_setc(BAR_EINVALID, "image reference (not shown: it has '@' before "
		                      "the first '/', as credentials would): %s", why);
	return bar_error_setc(BAR_EINVALID, "image reference \"%.300s\": %s", text, why);
}

static int parse_name(bar_oci_ref *r, const char *text, const char *name, size_t n)
{
	const char *slash = memchr(name, '/', n), *p;
	size_t dn = slash ? (size_t)(slash - name) : 0;
	const char *repo = name;
	size_t rn = n;

	if (slash && (memchr(name, '.', dn) || memchr(name, ':', dn) ||
	              (dn == 9 && memcmp(name, "localhost", 9) == 0) || name[0] == '[')) {
		if (!domain_ok(name, dn))
			return bad(text, "the registry is not a valid host[:port]");
		if (dn >= sizeof(r->registry))
			return bad(text, "the registry name is too long");
		memcpy(r->registry, name, dn);
		r->registry[dn] = '\0';
		repo = slash + 1;
		rn = n - dn - 1;
	} else {
		strcpy(r->registry, "docker.io");
	}
	if (rn == 0)
		return bad(text, "no repository");
	for (p = repo; p < repo + rn;) {
		const char *e = memchr(p, '/', (size_t)(repo + rn - p));
		size_t cn = e ? (size_t)(e - p) : (size_t)(repo + rn - p);
		size_t i;

		for (i = 0; i < cn; i++)
			if (isupper((unsigned char)p[i]))
				return bad(text, "the repository must be lowercase");
		if (!component_ok(p, cn))
			return bad(text, "a repository path component must be lowercase letters and "
			                 "digits, joined by '.', '_', '__' or '-'");
		p += cn + (e ? 1 : 0);
		if (e && p == repo + rn)
			return bad(text, "the repository ends with '/'");
	}
	if (strcmp(r->registry, "docker.io") == 0 && !memchr(repo, '/', rn)) {
		if (rn + 8 >= sizeof(r->repository))
			return bad(text, "the repository name is too long");
		snprintf(r->repository, sizeof(r->repository), "library/%.*s", (int)rn, repo);
	} else {
		if (rn >= sizeof(r->repository))
			return bad(text, "the repository name is too long");
		memcpy(r->repository, repo, rn);
		r->repository[rn] = '\0';
	}
	return 0;
}

int bar_oci_ref_parse(bar_oci_ref *out, const char *text)
{
	bar_oci_ref r;
	const char *at, *end, *colon, *lastslash, *s;
	size_t n;
	int rc;

	memset(&r, 0, sizeof(r));
	if (!text || !*text)
		return bar_error_setc(BAR_EINVALID, "image reference: empty");
	n = strlen(text);
	if (n >= BAR_OCI_REF_MAX)
		return bad(text, "too long");
	for (s = text; *s; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return bad(text, "contains white space or control characters");
	end = text + n;
	at = strchr(text, '@');
	if (at) {
		if (strchr(at + 1, '@'))
			return bad(text, "more than one '@'");
		if (strncmp(at + 1, "sha256:", 7) != 0)
			return bad(text, "only sha256 digests are supported (\"@sha256:<64 hex>\")");
		if (!bar_oci_digest_ok(at + 1))
			return bad(text, "the digest is not sha256: and 64 lowercase hex digits");
		strcpy(r.digest, at + 1);
		end = at;
	}
	lastslash = NULL;
	for (s = text; s < end; s++)
		if (*s == '/')
			lastslash = s;
	colon = NULL;
	for (s = lastslash ? lastslash : text; s < end; s++)
		if (*s == ':')
			colon = s;
	if (colon) {
		size_t tn = (size_t)(end - colon - 1);

		if (tn == 0 || tn >= sizeof(r.tag))
			return bad(text, tn ? "the tag is longer than 128 characters" : "empty tag");
		memcpy(r.tag, colon + 1, tn);
		r.tag[tn] = '\0';
		if (!tag_ok(r.tag))
			return bad(text, "a tag is letters, digits, '_', '.' and '-' (not first)");
		end = colon;
	}
	if (end == text)
		return bad(text, "no repository");
	rc = parse_name(&r, text, text, (size_t)(end - text));
	if (rc < 0)
		return rc;
	if (!r.tag[0] && !r.digest[0])
		strcpy(r.tag, "latest");
	*out = r;
	return 0;
}

void bar_oci_ref_format(char *buf, size_t n, const bar_oci_ref *r)
{
	if (!n)
		return;
	snprintf(buf, n, "%s/%s%s%s%s%s", r->registry, r->repository, r->tag[0] ? ":" : "",
	         r->tag, r->digest[0] ? "@" : "", r->digest);
}
