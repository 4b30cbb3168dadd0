/*
 * gcp_key.c - SSH keys for the gcp driver.  Compute Engine has no key-pair
 * object: a Barista sshkey is an item "barista-sshkey-<id>" of the
 * project's common metadata holding {"name","publicKey","region","tags"};
 * it is not the "ssh-keys" item, so it grants nothing by itself.  A VM made
 * with the key puts the public key into its own metadata "ssh-keys"
 * ("<sshUser>:<key>", gcp_vm.c).  With no publicKey the driver generates an
 * Ed25519 pair with libcrypto and hands the private half (in OpenSSH's
 * format) to the host's key store before anything is written.
 */
#include "gcp.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_PREFIX "barista-sshkey-"

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
		if (strcmp(gcp_str(it, "key"), key) == 0) {
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

		gcp_forgive(x);
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
		body = json_pack("{s:s,s:O}", "fingerprint", gcp_str(meta, "fingerprint"), "items", items);
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
	json_t *a = key_attrs(gcp_str(rec, "publicKey"));
	int rc = gcp_emit(x, out, id, gcp_str(rec, "name"), "Available", a, json_object_get(rec, "tags"));

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
	r = it ? json_loads(gcp_str(it, "value"), 0, NULL) : NULL;
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
	const char *name = gcp_str(in, "name"), *key = gcp_key(x, in);
	json_t *pk = json_object_get(json_object_get(in, "attrs"), "publicKey"), *rec = NULL;
	char id[GCP_NAME_MAX], item[128], *pub = NULL, *priv = NULL, *val = NULL;
	int rc;

	gcp_name(id, sizeof(id), name, key, 56);
	/* made before with this key (a retried or resumed create): that one */
	if (key_get(x, id, &rec) == BAR_OK &&
	    strcmp(gcp_str(json_object_get(rec, "tags"), "barista:idempotency"), key) == 0) {
		rc = key_emit(x, id, rec, out);
		goto done;
	}
	gcp_forgive(x);
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
		const char *k = gcp_str(it, "key");
		json_t *rec;

		if (strncmp(k, KEY_PREFIX, strlen(KEY_PREFIX)) != 0)
			continue;
		rec = json_loads(gcp_str(it, "value"), 0, NULL);
		if (json_is_object(rec) && strcmp(gcp_str(rec, "region"), x->call->region) == 0 &&
		    json_is_string(json_object_get(json_object_get(rec, "tags"), "barista:address")))
			rc = key_emit(x, k + strlen(KEY_PREFIX), rec, out);
		json_decref(rec);
		if (rc != BAR_OK)
			break;
	}
	json_decref(meta);
	return rc;
}

