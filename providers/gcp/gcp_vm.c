/*
 * gcp_vm.c - SSH keys, images, machine types and VM instances on Compute
 * Engine.
 *
 * SSH keys: Compute Engine has no key-pair object.  A Barista sshkey is an
 * item "barista-sshkey-<id>" of the project's common metadata holding
 * {"name","publicKey","region","tags"}; it is not the "ssh-keys" item, so
 * it grants nothing by itself.  A VM made with the key puts the public key
 * into its own metadata "ssh-keys" ("<sshUser>:<key>").  With no publicKey
 * the driver generates an Ed25519 pair with libcrypto and hands the private
 * half (in OpenSSH's format) to the host's key store.
 *
 * Images and machine types are looked up (BAR_TYPE_LOOKUP): an image by
 * "projects/P/global/images/NAME", ".../family/FAMILY" (the newest image
 * of the family), or a name in the connection's project; a machine type in
 * the zone.
 *
 * VMs: instances.insert with requestId = the idempotency key and a name
 * derived from it; the exact Barista tags and name are metadata items
 * (barista-tags, barista-name), the tags also as labels in GCP's label
 * syntax (gcp_label_value) so list can filter.  Creates and deletes are
 * long-running: the zone Operation's path is the operation token
 * ("gcp1:<c|d>:zones/Z/operations/NAME"), followed by poll.
 */
#include "gcp.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_PREFIX "barista-sshkey-"

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static const char *last_seg(const char *s)
{
	const char *p = strrchr(s, '/');
	return p ? p + 1 : s;
}

static const char *key_of(gcp_ctx *x, json_t *in)
{
	const char *k = BAR_COVERS(x->call, idempotency_key) ? x->call->idempotency_key : NULL;
	if (!k || !*k)
		k = str(json_object_get(in, "tags"), "barista:idempotency");
	return k;
}

static void forgive(gcp_ctx *x)
{
	memset(x->e, 0, sizeof(*x->e));
}

/* ---- sshkey ---- */

static json_t *key_attrs(const char *pub)
{
	unsigned char d[32];
	char fp[80] = "";
	const char *b = strchr(pub, ' ');
	size_t n = 0;

	if (b) {
		char blob64[8192];
		unsigned char *blob;

		snprintf(blob64, sizeof(blob64), "%s", b + 1);
		blob64[strcspn(blob64, " ")] = 0;
		blob = bar_kit_base64_decode(blob64, &n);
		if (blob) {
			char *s;
			bar_kit_sha256(d, blob, n);
			s = bar_kit_base64(d, 32, 0);
			if (s) {
				s[strcspn(s, "=")] = 0;
				snprintf(fp, sizeof(fp), "SHA256:%s", s);
			}
			free(s);
			free(blob);
		}
	}
	return json_pack("{s:s,s:s}", "fingerprint", fp, "publicKey", pub);
}

/* Append an SSH wire-format string (RFC 4251: uint32 length, bytes). */
static void ssh_string(bar_kit_buf *b, const void *p, size_t n)
{
	unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                        (unsigned char)(n >> 8), (unsigned char)n};
	bar_kit_buf_add(b, len, 4);
	bar_kit_buf_add(b, p, n);
}

/*
 * Generate an Ed25519 pair: *pub "ssh-ed25519 AAAA... comment", *priv the
 * private key in OpenSSH's own format ("openssh-key-v1", unencrypted, as
 * ssh-keygen writes it: PROTOCOL.key), which ssh and libssh2 read.  *priv
 * is malloc'd; wipe it.
 */
static int key_generate(gcp_ctx *x, char **pub, char **priv, const char *comment)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	unsigned char raw[32], seed[64], blob[51], check[4];
	size_t n = sizeof(raw), sn = 32;
	bar_kit_buf inner = {0}, outer = {0}, pem = {0};
	char *b64 = NULL, *body64 = NULL;
	int rc = BAR_EFAIL;

	if (!k || EVP_PKEY_get_raw_public_key(k, raw, &n) != 1 || n != 32 ||
	    EVP_PKEY_get_raw_private_key(k, seed, &sn) != 1 || sn != 32 ||
	    RAND_bytes(check, sizeof(check)) != 1)
		goto fail;
	memcpy(seed + 32, raw, 32); /* OpenSSH keeps seed || public */
	memcpy(blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19);
	memcpy(blob + 19, raw, 32);
	/* the private section: two equal check words, the key, the comment,
	 * padding 1, 2, 3... to the cipher block size (8 for "none") */
	bar_kit_buf_add(&inner, check, 4);
	bar_kit_buf_add(&inner, check, 4);
	ssh_string(&inner, "ssh-ed25519", 11);
	ssh_string(&inner, raw, 32);
	ssh_string(&inner, seed, 64);
	ssh_string(&inner, comment, strlen(comment));
	for (unsigned char pad = 1; inner.len % 8; pad++)
		bar_kit_buf_add(&inner, &pad, 1);
	bar_kit_buf_add(&outer, "openssh-key-v1", 15); /* with its NUL */
	ssh_string(&outer, "none", 4);
	ssh_string(&outer, "none", 4);
	ssh_string(&outer, "", 0);
	bar_kit_buf_add(&outer, "\0\0\0\1", 4);
	ssh_string(&outer, blob, sizeof(blob));
	ssh_string(&outer, inner.p, inner.len);
	if (inner.failed || outer.failed)
		goto fail;
	b64 = bar_kit_base64(blob, sizeof(blob), 0);
	body64 = bar_kit_base64((unsigned char *)outer.p, outer.len, 0);
	if (!b64 || !body64)
		goto fail;
	bar_kit_buf_str(&pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	for (size_t i = 0, len = strlen(body64); i < len; i += 70) {
		bar_kit_buf_add(&pem, body64 + i, len - i < 70 ? len - i : 70);
		bar_kit_buf_str(&pem, "\n");
	}
	bar_kit_buf_str(&pem, "-----END OPENSSH PRIVATE KEY-----\n");
	if (pem.failed || asprintf(pub, "ssh-ed25519 %s %s", b64, comment) < 0)
		goto fail;
	*priv = strdup(pem.p);
	if (!*priv) {
		free(*pub);
		goto fail;
	}
	rc = BAR_OK;
	goto done;
fail:
	bar_kit_fail(x->e, BAR_EFAIL, "KeyGenFailed", "gcp: generating an Ed25519 key failed");
done:
	bar_kit_wipe(seed, sizeof(seed));
	if (body64) {
		bar_kit_wipe(body64, strlen(body64));
		free(body64);
	}
	bar_kit_buf_free(&inner);
	bar_kit_buf_free(&outer);
	bar_kit_buf_free(&pem);
	free(b64);
	EVP_PKEY_free(k);
	return rc;
}

static int project_get(gcp_ctx *x, json_t **meta)
{
	char path[192];
	json_t *p = NULL;
	int rc;

	snprintf(path, sizeof(path), "projects/%s", x->project);
	if ((rc = gcp_req(x, "GET", path, NULL, NULL, "compute.projects.get", NULL, &p)) != BAR_OK)
		return rc;
	*meta = json_incref(json_object_get(p, "commonInstanceMetadata"));
	if (!*meta)
		*meta = json_object();
	json_decref(p);
	return BAR_OK;
}

static json_t *meta_find(json_t *meta, const char *key, size_t *at)
{
	json_t *it;
	size_t i;

	json_array_foreach(json_object_get(meta, "items"), i, it)
		if (strcmp(str(it, "key"), key) == 0) {
			if (at)
				*at = i;
			return it;
		}
	return NULL;
}

/* Add (value non-NULL) or remove item `key` of the project metadata,
 * retrying when another writer changed the fingerprint meanwhile. */
static int meta_set(gcp_ctx *x, const char *key, const char *value)
{
	char path[192];
	int rc = BAR_OK;

	snprintf(path, sizeof(path), "projects/%s/setCommonInstanceMetadata", x->project);
	pthread_mutex_lock(&x->s->meta_mu);
	for (int attempt = 0; attempt < 6; attempt++) {
		json_t *meta = NULL, *items, *body, *op = NULL;
		size_t at;

		forgive(x);
		if ((rc = project_get(x, &meta)) != BAR_OK)
			break;
		items = json_object_get(meta, "items");
		if (!json_is_array(items)) {
			items = json_array();
			json_object_set_new(meta, "items", items);
		}
		if (meta_find(meta, key, &at))
			json_array_remove(items, at);
		else if (!value) {
			json_decref(meta);
			rc = bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no SSH key %s", key);
			break;
		}
		if (value)
			json_array_append_new(items, json_pack("{s:s,s:s}", "key", key, "value", value));
		body = json_pack("{s:s,s:O}", "fingerprint", str(meta, "fingerprint"), "items", items);
		json_decref(meta);
		rc = gcp_req(x, "POST", path, NULL, body, "compute.projects.setCommonInstanceMetadata",
		             key, &op);
		json_decref(body);
		if (rc == BAR_OK)
			rc = gcp_op_wait(x, op, "compute.projects.setCommonInstanceMetadata");
		json_decref(op);
		if (rc != BAR_ERETRY || strcmp(x->e->code, "conditionNotMet") != 0)
			break;
	}
	pthread_mutex_unlock(&x->s->meta_mu);
	return rc;
}

static int key_emit(gcp_ctx *x, const char *id, json_t *rec, bar_sink *out)
{
	json_t *a = key_attrs(str(rec, "publicKey"));
	int rc = gcp_emit(x, out, id, str(rec, "name"), "Available", a, json_object_get(rec, "tags"));

	json_decref(a);
	return rc;
}

/* The record of key `id` in the project metadata (a new reference). */
static int key_get(gcp_ctx *x, const char *id, json_t **rec)
{
	char item[128];
	json_t *meta = NULL, *it, *r;
	int rc;

	if (!gcp_valid_name(id))
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no SSH key %s", id);
	if ((rc = project_get(x, &meta)) != BAR_OK)
		return rc;
	snprintf(item, sizeof(item), KEY_PREFIX "%s", id);
	it = meta_find(meta, item, NULL);
	r = it ? json_loads(str(it, "value"), 0, NULL) : NULL;
	json_decref(meta);
	if (!json_is_object(r)) {
		json_decref(r);
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no SSH key %s", id);
	}
	*rec = r;
	return BAR_OK;
}

int gcp_key_read(gcp_ctx *x, const char *id, bar_sink *out)
{
	json_t *rec = NULL;
	int rc = key_get(x, id, &rec);

	if (rc == BAR_OK)
		rc = key_emit(x, id, rec, out);
	json_decref(rec);
	return rc;
}

int gcp_key_create(gcp_ctx *x, json_t *in, bar_sink *out)
{
	const char *name = str(in, "name"), *key = key_of(x, in);
	json_t *pk = json_object_get(json_object_get(in, "attrs"), "publicKey"), *rec = NULL;
	char id[GCP_NAME_MAX], item[128], *pub = NULL, *priv = NULL, *val = NULL;
	int rc;

	gcp_name(id, sizeof(id), name, key, 56);
	/* made before with this key (a retried or resumed create): that one */
	if (key_get(x, id, &rec) == BAR_OK &&
	    strcmp(str(json_object_get(rec, "tags"), "barista:idempotency"), key) == 0) {
		rc = key_emit(x, id, rec, out);
		goto done;
	}
	forgive(x);
	if (json_is_string(pk) && *json_string_value(pk)) {
		pub = strdup(json_string_value(pk));
		if (!pub || strncmp(pub, "ssh-", 4) != 0 || !strchr(pub, ' ')) {
			rc = bar_kit_fail(x->e, BAR_EINVALID, "InvalidPublicKey",
			                  "gcp: publicKey must be one OpenSSH public key line");
			goto done;
		}
	} else {
		if ((rc = key_generate(x, &pub, &priv, name)) != BAR_OK)
			goto done;
		if (x->host->emit_secret(out, "privateKey", priv) != 0) {
			rc = bar_kit_fail(x->e, BAR_EFAIL, "SecretRefused",
			                  "gcp: the host could not store the generated private key; "
			                  "nothing was made");
			goto done;
		}
	}
	json_decref(rec);
	rec = json_pack("{s:s,s:s,s:s,s:O}", "name", name, "publicKey", pub, "region",
	                x->call->region, "tags", json_object_get(in, "tags"));
	val = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(item, sizeof(item), KEY_PREFIX "%s", id);
	if ((rc = meta_set(x, item, val ? val : "{}")) == BAR_OK)
		rc = key_emit(x, id, rec, out);
done:
	if (priv) {
		bar_kit_wipe(priv, strlen(priv));
		free(priv);
	}
	free(pub);
	free(val);
	json_decref(rec);
	return rc;
}

int gcp_key_delete(gcp_ctx *x, const char *id)
{
	char item[128];

	if (!gcp_valid_name(id))
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no SSH key %s", id);
	snprintf(item, sizeof(item), KEY_PREFIX "%s", id);
	return meta_set(x, item, NULL);
}

int gcp_key_list(gcp_ctx *x, bar_sink *out)
{
	json_t *meta = NULL, *it;
	size_t i;
	int rc;

	if ((rc = project_get(x, &meta)) != BAR_OK)
		return rc;
	json_array_foreach(json_object_get(meta, "items"), i, it) {
		const char *k = str(it, "key");
		json_t *rec;

		if (strncmp(k, KEY_PREFIX, strlen(KEY_PREFIX)) != 0)
			continue;
		rec = json_loads(str(it, "value"), 0, NULL);
		if (json_is_object(rec) && strcmp(str(rec, "region"), x->call->region) == 0 &&
		    json_is_string(json_object_get(json_object_get(rec, "tags"), "barista:address")))
			rc = key_emit(x, k + strlen(KEY_PREFIX), rec, out);
		json_decref(rec);
		if (rc != BAR_OK)
			break;
	}
	json_decref(meta);
	return rc;
}

/* ---- image ---- */

static const char *image_status(const char *s)
{
	if (!strcmp(s, "READY"))
		return "Available";
	if (!strcmp(s, "PENDING"))
		return "Creating";
	if (!strcmp(s, "DELETING"))
		return "Deleting";
	return "Failed";
}

static int image_emit(gcp_ctx *x, json_t *img, json_t *in, bar_sink *out)
{
	const char *self = strstr(str(img, "selfLink"), "projects/");
	json_t *a;
	int rc;

	if (!self)
		return bar_kit_fail(x->e, BAR_EFAIL, "BadAnswer", "gcp: the image has no selfLink");
	a = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "architecture", str(img, "architecture"),
	              "diskSizeGb", str(img, "diskSizeGb"), "family", str(img, "family"), "imageId",
	              self, "name", str(img, "name"), "nativeStatus", str(img, "status"));
	rc = gcp_emit(x, out, self, str(in, "name"), image_status(str(img, "status")), a,
	              json_object_get(in, "tags"));
	json_decref(a);
	return rc;
}

/* "projects/..." of an image reference, into out[size]; 0 or -1. */
static int image_path(gcp_ctx *x, const char *ref, char *out, size_t size)
{
	const char *p = strstr(ref, "projects/");

	if (p && (p == ref || strstr(ref, "/compute/v1/") != NULL))
		snprintf(out, size, "%s", p);
	else if (strncmp(ref, "global/images/", 14) == 0)
		snprintf(out, size, "projects/%s/%s", x->project, ref);
	else if (strncmp(ref, "family/", 7) == 0)
		snprintf(out, size, "projects/%s/global/images/%s", x->project, ref);
	else if (gcp_valid_name(ref))
		snprintf(out, size, "projects/%s/global/images/%s", x->project, ref);
	else
		return -1;
	/* only projects/P/global/images/N or .../family/F */
	{
		const char *g = strstr(out, "/global/images/");
		const char *rest = g ? g + 15 : NULL;
		if (!g || strchr(out + 9, '/') != g || !*rest ||
		    (strchr(rest, '/') && (strncmp(rest, "family/", 7) || strchr(rest + 7, '/'))))
			return -1;
	}
	return 0;
}

static int image_get(gcp_ctx *x, const char *ref, json_t *in, bar_sink *out)
{
	char path[512];
	json_t *img = NULL;
	int rc;

	if (image_path(x, ref, path, sizeof(path)) < 0)
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no image %s", ref);
	rc = gcp_req(x, "GET", path, NULL, NULL,
	             strstr(path, "/family/") ? "compute.images.getFromFamily" : "compute.images.get",
	             ref, &img);
	if (rc == BAR_OK)
		rc = image_emit(x, img, in, out);
	json_decref(img);
	return rc;
}

int gcp_image_create(gcp_ctx *x, json_t *in, bar_sink *out)
{
	const char *ref = str(json_object_get(in, "attrs"), "imageId");

	if (!*ref)
		return bar_kit_fail(x->e, BAR_EINVALID, "InvalidInput",
		                    "gcp: an image needs imageId (projects/P/global/images/NAME or "
		                    ".../family/FAMILY)");
	return image_get(x, ref, in, out);
}

int gcp_image_read(gcp_ctx *x, const char *id, json_t *in, bar_sink *out)
{
	if (strncmp(id, "projects/", 9) != 0 || strstr(id, "/family/"))
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no image %s", id);
	return image_get(x, id, in, out);
}

/* ---- spec ---- */

static int spec_emit(gcp_ctx *x, json_t *mt, json_t *in, bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *a;
	json_t *disk = json_object_get(attrs, "diskGiB");
	char id[256];
	int rc;

	snprintf(id, sizeof(id), "zones/%s/machineTypes/%s", last_seg(str(mt, "zone")),
	         str(mt, "name"));
	a = json_pack("{s:I,s:I,s:s,s:I,s:s}", "diskGiB",
	              (json_int_t)(json_is_integer(disk) ? json_integer_value(disk) : 10), "memoryMiB",
	              json_integer_value(json_object_get(mt, "memoryMb")), "specId", str(mt, "name"),
	              "vcpu", json_integer_value(json_object_get(mt, "guestCpus")), "zone",
	              last_seg(str(mt, "zone")));
	rc = gcp_emit(x, out, id, str(in, "name"), "Available", a, json_object_get(in, "tags"));
	json_decref(a);
	return rc;
}

static int spec_get(gcp_ctx *x, const char *zone, const char *type, json_t *in, bar_sink *out)
{
	char rel[256];
	json_t *mt = NULL;
	int rc;

	if (!gcp_valid_name(zone) || !gcp_valid_name(type))
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no machine type %s in %s",
		                    type, zone);
	snprintf(rel, sizeof(rel), "zones/%s/machineTypes/%s", zone, type);
	rc = gcp_preq(x, "GET", rel, NULL, NULL, "compute.machineTypes.get", type, &mt);
	if (rc == BAR_OK)
		rc = spec_emit(x, mt, in, out);
	json_decref(mt);
	return rc;
}

int gcp_spec_create(gcp_ctx *x, json_t *in, bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *all = NULL, *mt, *best = NULL;
	const char *type = str(attrs, "specId");
	json_int_t vcpu = json_integer_value(json_object_get(attrs, "vcpu"));
	json_int_t mem = json_integer_value(json_object_get(attrs, "memoryMiB"));
	char rel[128], pick[GCP_NAME_MAX] = "";
	size_t i;
	int rc;

	if ((rc = gcp_zone(x)) != BAR_OK)
		return rc;
	if (*type)
		return spec_get(x, x->zone, type, in, out);
	/* no specId: the smallest machine type of the zone that fits */
	snprintf(rel, sizeof(rel), "zones/%s/machineTypes", x->zone);
	if ((rc = gcp_list(x, rel, NULL, "compute.machineTypes.list", 0, NULL, &all)) != BAR_OK)
		return rc;
	json_array_foreach(all, i, mt) {
		json_int_t c = json_integer_value(json_object_get(mt, "guestCpus"));
		json_int_t m = json_integer_value(json_object_get(mt, "memoryMb"));
		if (c < vcpu || m < mem)
			continue;
		if (!best ||
		    m < json_integer_value(json_object_get(best, "memoryMb")) ||
		    (m == json_integer_value(json_object_get(best, "memoryMb")) &&
		     c < json_integer_value(json_object_get(best, "guestCpus"))))
			best = mt;
	}
	if (best)
		snprintf(pick, sizeof(pick), "%s", str(best, "name"));
	json_decref(all);
	if (!*pick)
		return bar_kit_fail(x->e, BAR_EINVALID, "NoMachineType",
		                    "gcp: no machine type in %s has %lld vCPUs and %lld MiB", x->zone,
		                    (long long)vcpu, (long long)mem);
	return spec_get(x, x->zone, pick, in, out);
}

int gcp_spec_read(gcp_ctx *x, const char *id, json_t *in, bar_sink *out)
{
	char zone[64], type[64];

	if (sscanf(id, "zones/%63[^/]/machineTypes/%63s", zone, type) != 2)
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no machine type %s", id);
	return spec_get(x, zone, type, in, out);
}

/* ---- vm ---- */

static const char *meta_value(json_t *inst, const char *key)
{
	json_t *it;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(inst, "metadata"), "items"), i, it)
		if (strcmp(str(it, "key"), key) == 0)
			return str(it, "value");
	return NULL;
}

/* "zone/name" into its parts; -1 when it is not a VM id. */
static int vm_id(const char *id, char *zone, char *name)
{
	const char *s = strchr(id, '/');

	if (!s || (size_t)(s - id) > 63 || strchr(s + 1, '/'))
		return -1;
	memcpy(zone, id, (size_t)(s - id));
	zone[s - id] = 0;
	snprintf(name, 64, "%s", s + 1);
	return gcp_valid_name(zone) && gcp_valid_name(name) ? 0 : -1;
}

static int vm_emit(gcp_ctx *x, json_t *inst, const char *force_status, bar_sink *out)
{
	json_t *tags = NULL, *a = gcp_parse_instance(inst, &tags);
	const char *name = meta_value(inst, "barista-name");
	char id[160];
	int rc;

	snprintf(id, sizeof(id), "%s/%s", last_seg(str(inst, "zone")), str(inst, "name"));
	rc = gcp_emit(x, out, id, name ? name : str(inst, "name"),
	              force_status ? force_status : gcp_vm_status(str(inst, "status")), a, tags);
	json_decref(a);
	json_decref(tags);
	return rc;
}

/* A VM whose insert was accepted but which the API does not show yet. */
static int vm_emit_pending(gcp_ctx *x, const char *id, const char *name, json_t *tags,
                           bar_sink *out)
{
	char zone[64], vm[64];
	json_t *a;
	int rc;

	vm_id(id, zone, vm);
	a = json_pack("{s:s,s:{},s:s,s:s,s:s,s:s,s:s,s:s}", "imageId", "", "labels", "nativeStatus",
	              "PENDING", "privateIp", "", "publicIp", "", "specId", "", "subnet", "", "zone",
	              zone);
	rc = gcp_emit(x, out, id, name, "Creating", a, tags);
	json_decref(a);
	return rc;
}

static int vm_get(gcp_ctx *x, const char *id, json_t **inst)
{
	char zone[64], name[64], rel[192];

	if (vm_id(id, zone, name) < 0)
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no instance %s", id);
	snprintf(rel, sizeof(rel), "zones/%s/instances/%s", zone, name);
	return gcp_preq(x, "GET", rel, NULL, NULL, "compute.instances.get", id, inst);
}

int gcp_vm_read(gcp_ctx *x, const char *id, bar_sink *out)
{
	json_t *inst = NULL;
	int rc = vm_get(x, id, &inst);

	if (rc == BAR_OK)
		rc = vm_emit(x, inst, NULL, out);
	json_decref(inst);
	return rc;
}

static json_t *vm_labels(json_t *tags, json_t *user)
{
	static const char *const keys[][2] = {
		{"barista:address", "barista-address"},
		{"barista:namespace", "barista-namespace"},
		{"barista:lineage", "barista-lineage"},
		{"barista:idempotency", "barista-idempotency"},
	};
	json_t *l = json_object(), *v;
	const char *k;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *t = str(tags, keys[i][0]);
		char enc[64];

		if (!json_is_string(json_object_get(tags, keys[i][0])))
			continue;
		gcp_label_value(enc, sizeof(enc), t);
		json_object_set_new(l, keys[i][1], json_string(enc));
	}
	json_object_foreach(user, k, v)
		if (json_is_string(v))
			json_object_set(l, k, v);
	return l;
}

/* Start the poll of operation `op` of kind k (c, d) or settle it now. */
static void vm_operation(gcp_ctx *x, json_t *op, char kind)
{
	const char *rel = gcp_rel(str(op, "selfLink"));
	char token[512];

	if (!rel || strcmp(str(op, "status"), "DONE") == 0)
		return;
	snprintf(token, sizeof(token), "gcp1:%c:%s", kind, rel);
	x->host->set_operation(x->call, token);
	x->call->retry_after_ms = 500;
}

int gcp_vm_create(gcp_ctx *x, json_t *in, bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *refs = json_object_get(in, "refs");
	json_t *tags = json_object_get(in, "tags"), *vnet = json_object_get(refs, "vnet");
	json_t *sgs = json_object_get(refs, "securityGroups"), *sg, *sub, *body = NULL;
	json_t *items, *nettags = json_array(), *op = NULL, *inst = NULL;
	const char *key = key_of(x, in), *name = str(in, "name");
	const char *image = str(json_object_get(refs, "image"), "system_id");
	const char *spec = str(json_object_get(refs, "spec"), "system_id");
	const char *pub = str(json_object_get(json_object_get(refs, "sshKey"), "attrs"), "publicKey");
	const char *want = str(attrs, "subnet"), *subnet = NULL, *net = str(vnet, "system_id");
	json_t *disk = json_object_get(json_object_get(json_object_get(refs, "spec"), "attrs"),
	                               "diskGiB");
	char vm[GCP_NAME_MAX], zone[64], type[64], q[64], rel[256], id[160], sshv[8192];
	char disk_gb[24], netlink[384], sublink[384];
	char *tagtext = NULL;
	size_t i;
	int rc;

	if (sscanf(spec, "zones/%63[^/]/machineTypes/%63s", zone, type) != 2 || !*image ||
	    !gcp_valid_name(net))
		return bar_kit_fail(x->e, BAR_EINVALID, "InvalidInput",
		                    "gcp: a VM needs its vnet, image and spec (refs)");
	json_array_foreach(json_object_get(json_object_get(vnet, "attrs"), "subnets"), i, sub)
		if (!subnet && (!*want || strcmp(str(sub, "name"), want) == 0))
			subnet = str(sub, "subnetwork");
	if (!subnet || !*subnet) {
		json_decref(nettags);
		return bar_kit_fail(x->e, BAR_EINVALID, "InvalidInput",
		                    "gcp: the VNet %s has no subnet \"%s\"", net, want);
	}
	json_array_foreach(sgs, i, sg)
		if (gcp_valid_name(str(sg, "system_id")))
			json_array_append_new(nettags, json_string(str(sg, "system_id")));
	gcp_name(vm, sizeof(vm), name, key, 63);
	snprintf(id, sizeof(id), "%s/%s", zone, vm);
	snprintf(disk_gb, sizeof(disk_gb), "%lld",
	         (long long)(json_is_integer(disk) && json_integer_value(disk) > 0
	                         ? json_integer_value(disk) : 10));
	snprintf(netlink, sizeof(netlink), "projects/%s/global/networks/%s", x->project, net);
	snprintf(sublink, sizeof(sublink), "projects/%s/regions/%s/subnetworks/%s", x->project,
	         x->call->region, subnet);
	tagtext = tags ? json_dumps(tags, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	items = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "key", "barista-tags", "value",
	                  tagtext ? tagtext : "{}", "key", "barista-name", "value", name, "key",
	                  "barista-image", "value", image);
	if (*pub) {
		snprintf(sshv, sizeof(sshv), "%s:%s", x->s->ssh_user, pub);
		json_array_append_new(items, json_pack("{s:s,s:s}", "key", "ssh-keys", "value", sshv));
	}
	{
		char mt[160];
		snprintf(mt, sizeof(mt), "zones/%s/machineTypes/%s", zone, type);
		body = json_pack(
		    "{s:s,s:s,s:s,s:[{s:b,s:b,s:{s:s,s:s}}],s:[{s:s,s:s,s:[{s:s,s:s}]}],s:{s:o},"
		    "s:o,s:{s:o}}",
		    "name", vm, "description", "made by Barista", "machineType", mt, "disks", "boot", 1,
		    "autoDelete", 1, "initializeParams", "sourceImage", image, "diskSizeGb", disk_gb,
		    "networkInterfaces", "network", netlink, "subnetwork", sublink, "accessConfigs",
		    "name", "External NAT", "type", "ONE_TO_ONE_NAT", "tags", "items", nettags, "labels",
		    vm_labels(tags, json_object_get(attrs, "labels")), "metadata", "items", items);
		nettags = NULL;
		/* a private VNet's VMs get no external address */
		if (body && json_is_true(json_object_get(json_object_get(vnet, "attrs"), "private")))
			json_object_del(json_array_get(json_object_get(body, "networkInterfaces"), 0),
			                "accessConfigs");
	}
	free(tagtext);
	if (!body) {
		rc = bar_kit_fail(x->e, BAR_EFAIL, "NoMemory", "gcp: out of memory");
		goto done;
	}
	snprintf(q, sizeof(q), "requestId=%s", key);
	snprintf(rel, sizeof(rel), "zones/%s/instances", zone);
	rc = gcp_preq(x, "POST", rel, *key ? q : NULL, body, "compute.instances.insert", vm, &op);
	if (rc == BAR_ECONFLICT && strcmp(x->e->code, "alreadyExists") == 0) {
		/* the name comes from the key: is it the one this key made? */
		bar_kit_err keep = *x->e;
		forgive(x);
		if (vm_get(x, id, &inst) == BAR_OK) {
			json_t *t = NULL, *a = gcp_parse_instance(inst, &t);
			int same = strcmp(str(t, "barista:idempotency"), key) == 0;
			json_decref(a);
			json_decref(t);
			if (same) {
				rc = vm_emit(x, inst, NULL, out);
				goto done;
			}
		}
		*x->e = keep;
		goto done;
	}
	if (rc != BAR_OK)
		goto done;
	{
		const char *err = str(json_array_get(
		    json_object_get(json_object_get(op, "error"), "errors"), 0), "code");
		if (*err) {
			rc = gcp_op_wait(x, op, "compute.instances.insert");
			goto done;
		}
	}
	rc = vm_get(x, id, &inst);
	if (rc == BAR_ENOTFOUND && strcmp(str(op, "status"), "DONE") != 0) {
		/* accepted, not visible yet: follow the operation */
		forgive(x);
		vm_operation(x, op, 'c');
		rc = vm_emit_pending(x, id, name, tags, out);
		goto done;
	}
	if (rc != BAR_OK)
		goto done;
	if (strcmp(str(op, "status"), "DONE") != 0) {
		vm_operation(x, op, 'c');
		rc = vm_emit(x, inst, "Creating", out);
	} else {
		rc = vm_emit(x, inst, NULL, out);
	}
done:
	json_decref(nettags);
	json_decref(body);
	json_decref(op);
	json_decref(inst);
	return rc;
}

int gcp_vm_delete(gcp_ctx *x, const char *id)
{
	char zone[64], name[64], rel[192];
	json_t *op = NULL;
	int rc;

	if (vm_id(id, zone, name) < 0)
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no instance %s", id);
	snprintf(rel, sizeof(rel), "zones/%s/instances/%s", zone, name);
	rc = gcp_preq(x, "DELETE", rel, NULL, NULL, "compute.instances.delete", id, &op);
	if (rc == BAR_OK)
		vm_operation(x, op, 'd');
	json_decref(op);
	return rc;
}

int gcp_vm_poll(gcp_ctx *x, const char *id, json_t *in, bar_sink *out)
{
	const char *tok = BAR_COVERS(x->call, operation) && x->call->operation
	                      ? x->call->operation : "";
	json_t *op = NULL, *inst = NULL, *errs;
	char kind;
	int rc;

	if (strncmp(tok, "gcp1:", 5) != 0 || !tok[5] || tok[6] != ':' ||
	    strncmp(tok + 7, "zones/", 6) != 0)
		return gcp_vm_read(x, id, out);
	kind = tok[5];
	if ((rc = gcp_preq(x, "GET", tok + 7, NULL, NULL, "compute.zoneOperations.get", id, &op)))
		goto done;
	errs = json_object_get(json_object_get(op, "error"), "errors");
	if (strcmp(str(op, "status"), "DONE") == 0 && json_array_size(errs)) {
		rc = gcp_op_wait(x, op, kind == 'd' ? "compute.instances.delete"
		                                    : "compute.instances.insert");
		goto done;
	}
	rc = vm_get(x, id, &inst);
	if (rc == BAR_ENOTFOUND && kind == 'c' && strcmp(str(op, "status"), "DONE") != 0) {
		forgive(x); /* the insert runs; the instance is not shown yet */
		x->call->retry_after_ms = 500;
		rc = vm_emit_pending(x, id, str(in, "name"), json_object_get(in, "tags"), out);
		goto done;
	}
	if (rc != BAR_OK)
		goto done; /* a finished delete: ENOTFOUND */
	if (strcmp(str(op, "status"), "DONE") != 0 || kind == 'd') {
		x->call->retry_after_ms = 500;
		rc = vm_emit(x, inst, kind == 'd' ? "Terminating" : "Creating", out);
	} else {
		rc = vm_emit(x, inst, NULL, out);
		if (rc == BAR_OK && strcmp(gcp_vm_status(str(inst, "status")), "Creating") == 0)
			x->call->retry_after_ms = 500;
	}
done:
	json_decref(op);
	json_decref(inst);
	return rc;
}

static int settled(const char *native)
{
	const char *s = gcp_vm_status(native);
	return !strcmp(s, "Running") || !strcmp(s, "Suspended") || !strcmp(s, "Failed");
}

int gcp_vm_action(gcp_ctx *x, const char *action, const char *id, bar_sink *out)
{
	const char *verb = !strcmp(action, "suspend") ? "stop"
	                   : !strcmp(action, "resume") ? "start"
	                   : !strcmp(action, "reboot") ? "reset" : NULL;
	char zone[64], name[64], rel[256], opname[64];
	json_t *inst = NULL, *op = NULL;
	const char *st;
	int rc;

	if (!verb)
		return bar_kit_fail(x->e, BAR_ENOTSUP, "UnknownAction", "gcp: no VM action \"%s\"",
		                    action ? action : "");
	if ((rc = vm_get(x, id, &inst)) != BAR_OK)
		return rc;
	vm_id(id, zone, name);
	st = gcp_vm_status(str(inst, "status"));
	if (!strcmp(verb, "reset") && strcmp(st, "Running") != 0) {
		rc = bar_kit_fail(x->e, BAR_ECONFLICT, "InstanceNotRunning",
		                  "gcp: %s is %s; only a running instance can be reset", id,
		                  str(inst, "status"));
		goto done;
	}
	if ((!strcmp(verb, "stop") && !strcmp(st, "Suspended")) ||
	    (!strcmp(verb, "start") && !strcmp(st, "Running"))) {
		rc = vm_emit(x, inst, NULL, out);
		goto done;
	}
	snprintf(rel, sizeof(rel), "zones/%s/instances/%s/%s", zone, name, verb);
	snprintf(opname, sizeof(opname), "compute.instances.%s", verb);
	if ((rc = gcp_preq(x, "POST", rel, NULL, NULL, opname, id, &op)) != BAR_OK)
		goto done;
	if ((rc = gcp_op_wait(x, op, opname)) != BAR_OK)
		goto done;
	for (int i = 0;; i++) {
		json_decref(inst);
		inst = NULL;
		if ((rc = vm_get(x, id, &inst)) != BAR_OK)
			goto done;
		if (settled(str(inst, "status")) || i >= 120)
			break;
		if ((rc = bar_kit_sleep(x->host, x->call, 250, opname)) != BAR_OK)
			goto done;
	}
	rc = vm_emit(x, inst, NULL, out);
done:
	json_decref(inst);
	json_decref(op);
	return rc;
}

int gcp_vm_update(gcp_ctx *x, const char *id, json_t *in, bar_sink *out)
{
	json_t *inst = NULL, *labels, *body, *op = NULL, *v;
	json_t *user = json_object_get(json_object_get(in, "attrs"), "labels");
	char zone[64], name[64], rel[256];
	const char *k;
	int rc;

	if ((rc = vm_get(x, id, &inst)) != BAR_OK)
		return rc;
	vm_id(id, zone, name);
	labels = json_object();
	json_object_foreach(json_object_get(inst, "labels"), k, v)
		if (strncmp(k, "barista-", 8) == 0)
			json_object_set(labels, k, v);
	json_object_foreach(user, k, v)
		if (json_is_string(v))
			json_object_set(labels, k, v);
	body = json_pack("{s:o,s:s}", "labels", labels, "labelFingerprint",
	                 str(inst, "labelFingerprint"));
	snprintf(rel, sizeof(rel), "zones/%s/instances/%s/setLabels", zone, name);
	rc = gcp_preq(x, "POST", rel, NULL, body, "compute.instances.setLabels", id, &op);
	if (rc == BAR_OK)
		rc = gcp_op_wait(x, op, "compute.instances.setLabels");
	json_decref(body);
	json_decref(op);
	json_decref(inst);
	if (rc == BAR_OK)
		rc = gcp_vm_read(x, id, out);
	return rc;
}

int gcp_vm_list(gcp_ctx *x, bar_sink *out)
{
	json_t *all = NULL, *inst;
	size_t i;
	int rc;

	rc = gcp_list(x, "aggregated/instances", "labels.barista-address eq \".+\"",
	              "compute.instances.aggregatedList", 1, "instances", &all);
	if (rc != BAR_OK)
		return rc;
	json_array_foreach(all, i, inst) {
		json_t *t = NULL, *a = gcp_parse_instance(inst, &t);
		int ours = json_is_string(json_object_get(t, "barista:address"));
		json_decref(a);
		json_decref(t);
		if (ours && (rc = vm_emit(x, inst, NULL, out)) != BAR_OK)
			break;
	}
	json_decref(all);
	return rc;
}
