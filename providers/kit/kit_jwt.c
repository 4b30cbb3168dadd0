/*
 * kit_jwt.c - RS256 JWS and JWT bearer assertions (see kit_jwt.h), on
 * OpenSSL's EVP_DigestSign.  Unit-tested against RFC 7515 appendix A.2 by
 * tests/gcp_jwt (tests/gcp.cmake).
 */
#include "kit_jwt.h"
#include "http.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_secret(char *s)
{
	if (s) {
		bar_kit_wipe(s, strlen(s));
		free(s);
	}
}

/* Sign `in` with the key; *sig (malloc'd) and *slen on success. */
static int rs256_sign(unsigned char **sig, size_t *slen, const char *in, size_t n,
                      const char *pem, char *why, size_t size)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	unsigned char *s = NULL;
	size_t len = 0;
	int rc = -1;

	if (!bio)
		goto fail_mem;
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!key) {
		snprintf(why, size, "the private key is not a PEM RSA private key");
		goto done;
	}
	if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		snprintf(why, size, "the private key is not an RSA key (RS256 needs one)");
		goto done;
	}
	md = EVP_MD_CTX_new();
	if (!md)
		goto fail_mem;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &len, (const unsigned char *)in, n) != 1)
		goto fail_sign;
	s = malloc(len);
	if (!s)
		goto fail_mem;
	if (EVP_DigestSign(md, s, &len, (const unsigned char *)in, n) != 1)
		goto fail_sign;
	*sig = s;
	*slen = len;
	s = NULL;
	rc = 0;
	goto done;
fail_sign:
	snprintf(why, size, "RS256 signing failed (libcrypto)");
	goto done;
fail_mem:
	snprintf(why, size, "out of memory");
done:
	free(s);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return rc;
}

int bar_kit_jws_rs256(char **out, const void *header, size_t hlen, const void *payload,
                      size_t plen, const char *pem, char *why, size_t size)
{
	char *h = bar_kit_base64(header, hlen, 1), *p = bar_kit_base64(payload, plen, 1);
	char *input = NULL, *sig64 = NULL, *res = NULL;
	unsigned char *sig = NULL;
	size_t slen = 0, n;
	int rc = -1;

	if (!h || !p) {
		snprintf(why, size, "out of memory");
		goto done;
	}
	n = strlen(h) + 1 + strlen(p);
	input = malloc(n + 1);
	if (!input) {
		snprintf(why, size, "out of memory");
		goto done;
	}
	snprintf(input, n + 1, "%s.%s", h, p);
	if (rs256_sign(&sig, &slen, input, n, pem, why, size) < 0)
		goto done;
	sig64 = bar_kit_base64(sig, slen, 1);
	res = sig64 ? malloc(n + 2 + strlen(sig64)) : NULL;
	if (!res) {
		snprintf(why, size, "out of memory");
		goto done;
	}
	snprintf(res, n + 2 + strlen(sig64), "%s.%s", input, sig64);
	*out = res;
	rc = 0;
done:
	free(h);
	free_secret(p);
	free_secret(input);
	free_secret(sig64);
	if (sig) {
		bar_kit_wipe(sig, slen);
		free(sig);
	}
	return rc;
}

int bar_kit_jwt_assertion(char **out, const char *iss, const char *kid, const char *scope,
                          const char *aud, int64_t iat, int lifetime_s, const char *pem,
                          char *why, size_t size)
{
	json_t *hdr = json_pack("{s:s,s:s}", "alg", "RS256", "typ", "JWT");
	json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", iss ? iss : "", "scope",
	                           scope ? scope : "", "aud", aud ? aud : "", "iat",
	                           (json_int_t)iat, "exp", (json_int_t)(iat + lifetime_s));
	char *h = NULL, *c = NULL;
	int rc = -1;

	if (!hdr || !claims) {
		snprintf(why, size, "out of memory");
		goto done;
	}
	if (kid && *kid)
		json_object_set_new(hdr, "kid", json_string(kid));
	h = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
	c = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
	if (!h || !c) {
		snprintf(why, size, "out of memory");
		goto done;
	}
	rc = bar_kit_jws_rs256(out, h, strlen(h), c, strlen(c), pem, why, size);
done:
	free(h);
	free(c);
	json_decref(hdr);
	json_decref(claims);
	return rc;
}
