/*
 * oci_doc.c - the documents a registry serves: image indexes and Docker
 * manifest lists, image manifests (OCI and Docker schema 2) and image
 * configs (image-spec manifest.md, image-index.md, config.md).  These take
 * bytes from outside, so they are bounded, check every type, and are fuzzed
 * (tests/fuzz/fuzz_oci_manifest.c).
 */
#include "oci_int.h"

#include "error.h"
#include "util.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 4096   /* layers, env entries, args, ports */
#define STRING_MAX 65536 /* one arg or env entry */

void bar_oci_sha256(char *out, const void *data, size_t n)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256(data, n, md);
	memcpy(out, "sha256:", 7);
	for (i = 0; i < sizeof(md); i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static json_t *load(const char *body, size_t len, const char *what)
{
	json_error_t je;
	json_t *j;

	if (len > BAR_OCI_DOC_MAX) {
		bar_error_setc(BAR_EINVALID, "the %s is larger than %u bytes", what, BAR_OCI_DOC_MAX);
		return NULL;
	}
	j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		bar_error_setc(BAR_EINVALID, "the %s is not JSON: %s (line %d)", what, je.text,
		               je.line);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		bar_error_setc(BAR_EINVALID, "the %s is not a JSON object", what);
		return NULL;
	}
	return j;
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int bar_oci_doc_kind(char *media_type, const char *body, size_t len, const char *content_type)
{
	json_t *j = load(body, len, "manifest");
	const char *mt;
	json_t *sv;
	int rc;

	if (!j)
		return BAR_EINVALID;
	sv = json_object_get(j, "schemaVersion");
	if (json_integer_value(sv) == 1) {
		rc = bar_error_setc(BAR_EINVALID, "a Docker schema 1 manifest: not supported "
		                                  "(push the image again with a current client)");
		goto done;
	}
	if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		rc = bar_error_setc(BAR_EINVALID, "the manifest has no schemaVersion 2");
		goto done;
	}
	mt = str(j, "mediaType");
	if (!mt || !*mt)
		mt = content_type;
	if (!mt || !*mt) /* neither says: the shape does */
		mt = json_is_array(json_object_get(j, "manifests")) ? BAR_OCI_MT_INDEX
		                                                    : BAR_OCI_MT_MANIFEST;
	snprintf(media_type, 128, "%s", mt);
	if (strcmp(mt, BAR_OCI_MT_INDEX) == 0 || strcmp(mt, BAR_OCI_MT_DOCKER_LIST) == 0)
		rc = BAR_OCI_DOC_INDEX;
	else if (strcmp(mt, BAR_OCI_MT_MANIFEST) == 0 || strcmp(mt, BAR_OCI_MT_DOCKER_MANIFEST) == 0)
		rc = BAR_OCI_DOC_MANIFEST;
	else
		rc = bar_error_setc(BAR_EINVALID, "media type \"%.100s\" is not an image manifest "
		                                  "or index", mt);
done:
	json_decref(j);
	return rc;
}

/* A descriptor's digest and size, checked. */
static int descriptor(const json_t *d, char *digest, uint64_t *size, const char *what)
{
	const char *dg = str(d, "digest");
	json_t *sz = json_object_get(d, "size");

	if (!json_is_object(d) || !dg)
		return bar_error_setc(BAR_EINVALID, "%s: no digest", what);
	if (!bar_oci_digest_ok(dg))
		return bar_error_setc(BAR_EINVALID, "%s: digest \"%.100s\" is not sha256:<64 hex>",
		                      what, dg);
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return bar_error_setc(BAR_EINVALID, "%s %s: no size", what, dg);
	snprintf(digest, BAR_OCI_DIGEST_MAX, "%s", dg);
	*size = (uint64_t)json_integer_value(sz);
	return 0;
}

int bar_oci_index_pick(char *digest, char *media_type, uint64_t *size, const char *body,
                       size_t len, const char *platform)
{
	char want_os[32] = "", want_arch[32] = "", want_var[32] = "", seen[512] = "";
	json_t *j = load(body, len, "image index"), *ms, *m;
	size_t i, used = 0;
	int rc = BAR_ENOTFOUND;

	if (!j)
		return BAR_EINVALID;
	if (sscanf(platform, "%31[^/]/%31[^/]/%31s", want_os, want_arch, want_var) < 2) {
		rc = bar_error_setc(BAR_EINVALID, "platform \"%.60s\" is not os/arch[/variant]",
		                    platform);
		goto done;
	}
	ms = json_object_get(j, "manifests");
	if (!json_is_array(ms)) {
		rc = bar_error_setc(BAR_EINVALID, "the image index has no \"manifests\" list");
		goto done;
	}
	json_array_foreach(ms, i, m) {
		json_t *p = json_object_get(m, "platform");
		const char *os = str(p, "os"), *arch = str(p, "architecture"), *var = str(p, "variant");

		if (!os || !arch)
			continue; /* attestations and the like */
		if (used < sizeof(seen) - 1)
			used += (size_t)snprintf(seen + used, sizeof(seen) - used, "%s%s/%s%s%s",
			                         used ? ", " : "", os, arch, var ? "/" : "",
			                         var ? var : "");
		if (used >= sizeof(seen))
			used = sizeof(seen) - 1;
		if (strcmp(os, want_os) != 0 || strcmp(arch, want_arch) != 0 ||
		    (want_var[0] && (!var || strcmp(var, want_var) != 0)))
			continue;
		rc = descriptor(m, digest, size, "the image index entry");
		if (rc < 0)
			goto done;
		snprintf(media_type, 128, "%s", str(m, "mediaType") ? str(m, "mediaType") : "");
		if (*size > BAR_OCI_DOC_MAX) {
			rc = bar_error_setc(BAR_EINVALID, "the manifest for %s is %llu bytes (at most %u)",
			                    platform, (unsigned long long)*size, BAR_OCI_DOC_MAX);
			goto done;
		}
		rc = 0;
		goto done;
	}
	rc = bar_error_setc(BAR_ENOTFOUND, "the image index has no manifest for %s (it has: %s)",
	                    platform, seen[0] ? seen : "none with a platform");
done:
	json_decref(j);
	return rc;
}

static int layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.diff.tar",
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(mt, ok[i]) == 0)
			return 1;
	return 0;
}

int bar_oci_manifest_read(bar_oci_image *img, const char *body, size_t len)
{
	json_t *j = load(body, len, "image manifest"), *ls, *l;
	bar_oci_layer *layers = NULL;
	char cdigest[BAR_OCI_DIGEST_MAX];
	uint64_t csize;
	size_t i, n;
	int rc;

	if (!j)
		return BAR_EINVALID;
	rc = descriptor(json_object_get(j, "config"), cdigest, &csize, "the manifest's config");
	if (rc < 0)
		goto done;
	ls = json_object_get(j, "layers");
	if (!json_is_array(ls)) {
		rc = bar_error_setc(BAR_EINVALID, "the image manifest has no \"layers\" list");
		goto done;
	}
	n = json_array_size(ls);
	if (n > LIST_MAX) {
		rc = bar_error_setc(BAR_EINVALID, "the image manifest has %zu layers (at most %d)", n,
		                    LIST_MAX);
		goto done;
	}
	layers = bar_calloc(n ? n : 1, sizeof(*layers));
	json_array_foreach(ls, i, l) {
		const char *mt = str(l, "mediaType");
		char what[64];

		snprintf(what, sizeof(what), "layer %zu", i + 1);
		rc = descriptor(l, layers[i].digest, &layers[i].size, what);
		if (rc < 0)
			goto done;
		if (!mt) {
			rc = bar_error_setc(BAR_EINVALID, "layer %zu (%s): no media type", i + 1,
			                    layers[i].digest);
			goto done;
		}
		if (strstr(mt, "zstd")) {
			rc = bar_error_setc(BAR_EINVALID, "layer %zu (%s) is zstd-compressed (%.100s): "
			                    "not supported, push it with gzip layers", i + 1,
			                    layers[i].digest, mt);
			goto done;
		}
		if (!layer_type_ok(mt)) {
			rc = bar_error_setc(BAR_EINVALID, "layer %zu (%s) has media type \"%.100s\": only "
			                    "tar and tar+gzip layers are supported", i + 1,
			                    layers[i].digest, mt);
			goto done;
		}
		snprintf(layers[i].media_type, sizeof(layers[i].media_type), "%s", mt);
	}
	free(img->layers);
	img->layers = layers;
	img->nlayers = n;
	layers = NULL;
	snprintf(img->config_digest, sizeof(img->config_digest), "%s", cdigest);
	img->config_size = csize;
	rc = 0;
done:
	free(layers);
	json_decref(j);
	return rc;
}

static void strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* A JSON array of strings (or null: none) into a new vector. */
static int strv(char ***out, size_t *nout, const json_t *a, const char *what)
{
	char **v;
	size_t i, n;
	json_t *e;

	*out = NULL;
	*nout = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > LIST_MAX)
		return bar_error_setc(BAR_EINVALID, "the image config's %s is not a list of at most "
		                                    "%d strings", what, LIST_MAX);
	n = json_array_size(a);
	v = bar_calloc(n ? n : 1, sizeof(*v));
	json_array_foreach(a, i, e) {
		if (!json_is_string(e) || json_string_length(e) > STRING_MAX ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			strv_free(v, i);
			return bar_error_setc(BAR_EINVALID, "the image config's %s[%zu] is not a "
			                                    "string", what, i);
		}
		v[i] = bar_strdup(json_string_value(e));
	}
	*out = v;
	*nout = n;
	return 0;
}

static int ports(bar_oci_image *img, const json_t *o)
{
	const char *key;
	json_t *v;
	size_t n = 0;

	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o) || json_object_size(o) > LIST_MAX)
		return bar_error_setc(BAR_EINVALID, "the image config's ExposedPorts is not an object");
	img->exposed_tcp = bar_calloc(json_object_size(o) + 1, sizeof(uint16_t));
	json_object_foreach((json_t *)o, key, v) {
		char proto[8] = "tcp", *end;
		unsigned long p = strtoul(key, &end, 10);

		if (end == key || p == 0 || p > 65535 ||
		    (*end && (sscanf(end, "/%7s", proto) != 1)))
			return bar_error_setc(BAR_EINVALID, "the image config exposes \"%.40s\": not "
			                                    "<port>[/tcp|udp]", key);
		if (strcmp(proto, "tcp") == 0)
			img->exposed_tcp[n++] = (uint16_t)p;
	}
	img->nexposed = n;
	return 0;
}

int bar_oci_config_read(bar_oci_image *img, const char *body, size_t len, const char *platform)
{
	json_t *j = load(body, len, "image config"), *c;
	const char *os, *arch, *s;
	char want_os[32] = "", want_arch[32] = "";
	int rc;

	if (!j)
		return BAR_EINVALID;
	os = str(j, "os");
	arch = str(j, "architecture");
	snprintf(img->os, sizeof(img->os), "%s", os ? os : "");
	snprintf(img->architecture, sizeof(img->architecture), "%s", arch ? arch : "");
	if (platform && sscanf(platform, "%31[^/]/%31[^/]", want_os, want_arch) == 2 &&
	    ((os && *os && strcmp(os, want_os) != 0) ||
	     (arch && *arch && strcmp(arch, want_arch) != 0))) {
		rc = bar_error_setc(BAR_EINVALID, "the image is for %.31s/%.31s, not %s",
		                    os ? os : "?", arch ? arch : "?", platform);
		goto done;
	}
	c = json_object_get(j, "config");
	if (c && !json_is_null(c) && !json_is_object(c)) {
		rc = bar_error_setc(BAR_EINVALID, "the image config's \"config\" is not an object");
		goto done;
	}
	if ((rc = strv(&img->entrypoint, &img->nentrypoint, json_object_get(c, "Entrypoint"),
	               "Entrypoint")) < 0 ||
	    (rc = strv(&img->cmd, &img->ncmd, json_object_get(c, "Cmd"), "Cmd")) < 0 ||
	    (rc = strv(&img->env, &img->nenv, json_object_get(c, "Env"), "Env")) < 0 ||
	    (rc = ports(img, json_object_get(c, "ExposedPorts"))) < 0)
		goto done;
	s = str(c, "WorkingDir");
	if (s && strlen(s) >= sizeof(img->workdir)) {
		rc = bar_error_setc(BAR_EINVALID, "the image config's WorkingDir is too long");
		goto done;
	}
	snprintf(img->workdir, sizeof(img->workdir), "%s", s ? s : "");
	s = str(c, "User");
	if (s && strlen(s) >= sizeof(img->user)) {
		rc = bar_error_setc(BAR_EINVALID, "the image config's User is too long");
		goto done;
	}
	snprintf(img->user, sizeof(img->user), "%s", s ? s : "");
	rc = 0;
done:
	json_decref(j);
	return rc;
}

void bar_oci_image_free(bar_oci_image *img)
{
	if (!img)
		return;
	free(img->layers);
	strv_free(img->entrypoint, img->nentrypoint);
	strv_free(img->cmd, img->ncmd);
	strv_free(img->env, img->nenv);
	free(img->exposed_tcp);
	free(img);
}
