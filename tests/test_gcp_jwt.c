/*
 * test_gcp_jwt.c - unit tests of the kit's RS256 JWS and JWT assertion code
 * (providers/kit/kit_jwt.c) and of the gcp driver's response parsers.
 *
 * Vectors: RFC 7515 appendix A.2 ("Example JWS Using RSASSA-PKCS1-v1_5
 * SHA-256"): its RSA key (A.2.1, converted from the JWK to PEM in
 * tests/data/gcp/rfc7515-a2-key.pem), its JWS Protected Header and Payload
 * octets, and the resulting compact serialization; PKCS#1 v1.5 signatures
 * are deterministic, so ours must equal it byte for byte.  The service
 * account assertion is checked by verifying it with OpenSSL against the
 * public half of the test key and by decoding its claims.
 *
 *     test_gcp_jwt DATA_DIR      (tests/data/gcp)
 */
#include "gcp.h"
#include "kit_jwt.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
			failures++;                                                       \
		}                                                                         \
	} while (0)

static char *slurp(const char *dir, const char *name)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* RFC 7515 A.2.1: header {"alg":"RS256"}, the A.1 payload (CRLF included). */
static const char a2_header[] = "{\"alg\":\"RS256\"}";
static const char a2_payload[] = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n "
                                 "\"http://example.com/is_root\":true}";
static const char a2_jws[] =
    "eyJhbGciOiJSUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
    "p0igcN_IoypGlUPQGe77Rw";

static unsigned char *b64url_decode(const char *s, size_t n, size_t *out)
{
	char *t = malloc(n + 4);
	unsigned char *r;
	size_t i;

	for (i = 0; i < n; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (i % 4)
		t[i++] = '=';
	t[i] = 0;
	r = bar_kit_base64_decode(t, out);
	free(t);
	return r;
}

static void test_rfc7515_a2(const char *dir)
{
	char *pem = slurp(dir, "rfc7515-a2-key.pem"), *jws = NULL, why[256] = "";

	CHECK(bar_kit_jws_rs256(&jws, a2_header, strlen(a2_header), a2_payload, strlen(a2_payload),
	                        pem, why, sizeof(why)) == 0);
	CHECK(jws && strcmp(jws, a2_jws) == 0);
	free(jws);
	/* not a key: refused, saying so */
	jws = NULL;
	CHECK(bar_kit_jws_rs256(&jws, "{}", 2, "{}", 2, "-----BEGIN PRIVATE KEY-----\nxx\n", why,
	                        sizeof(why)) == -1 && jws == NULL && why[0]);
	free(pem);
}

static void test_assertion(const char *dir)
{
	char *cred = slurp(dir, "credentials.json"), *jwt = NULL, why[256] = "";
	json_t *c = json_loads(cred, 0, NULL), *claims, *hdr;
	const char *pem = json_string_value(json_object_get(c, "private_key"));
	const char *dot1, *dot2;
	unsigned char *sig, *part;
	size_t slen = 0, plen = 0;
	BIO *bio;
	EVP_PKEY *key;
	EVP_MD_CTX *md;

	CHECK(bar_kit_jwt_assertion(&jwt, "sa@example.iam.gserviceaccount.com", "kid1", GCP_SCOPE,
	                            "https://oauth2.googleapis.com/token", 1700000000, 3600, pem,
	                            why, sizeof(why)) == 0);
	dot1 = strchr(jwt, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	CHECK(dot1 && dot2 && !strchr(dot2 + 1, '.'));
	if (!dot2)
		return;
	part = b64url_decode(jwt, (size_t)(dot1 - jwt), &plen);
	hdr = json_loadb((char *)part, plen, 0, NULL);
	CHECK(!strcmp(json_string_value(json_object_get(hdr, "alg")), "RS256"));
	CHECK(!strcmp(json_string_value(json_object_get(hdr, "typ")), "JWT"));
	CHECK(!strcmp(json_string_value(json_object_get(hdr, "kid")), "kid1"));
	free(part);
	part = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &plen);
	claims = json_loadb((char *)part, plen, 0, NULL);
	CHECK(!strcmp(json_string_value(json_object_get(claims, "iss")),
	              "sa@example.iam.gserviceaccount.com"));
	CHECK(!strcmp(json_string_value(json_object_get(claims, "aud")),
	              "https://oauth2.googleapis.com/token"));
	CHECK(!strcmp(json_string_value(json_object_get(claims, "scope")), GCP_SCOPE));
	CHECK(json_integer_value(json_object_get(claims, "iat")) == 1700000000);
	CHECK(json_integer_value(json_object_get(claims, "exp")) == 1700003600);
	free(part);
	/* the signature verifies with the public half (OpenSSL, not our code) */
	sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &slen);
	bio = BIO_new_mem_buf(pem, -1);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	md = EVP_MD_CTX_new();
	CHECK(key && sig && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	      EVP_DigestVerify(md, sig, slen, (unsigned char *)jwt, (size_t)(dot2 - jwt)) == 1);
	/* and a changed claim does not */
	jwt[dot1 - jwt + 3] ^= 1;
	EVP_MD_CTX_reset(md);
	CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	      EVP_DigestVerify(md, sig, slen, (unsigned char *)jwt, (size_t)(dot2 - jwt)) != 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	BIO_free(bio);
	free(sig);
	json_decref(hdr);
	json_decref(claims);
	json_decref(c);
	free(jwt);
	free(cred);
}

static void test_parsers(void)
{
	char code[64] = "", msg[256] = "", tok[64];
	const char *e = "{\"error\":{\"code\":404,\"message\":\"The resource 'x' was not found\","
	                "\"errors\":[{\"message\":\"m\",\"domain\":\"global\",\"reason\":\"notFound\"}]}}";
	int exp = 0;

	gcp_parse_error(e, strlen(e), 404, code, sizeof(code), msg, sizeof(msg));
	CHECK(!strcmp(code, "notFound") && !strcmp(msg, "The resource 'x' was not found"));
	CHECK(gcp_code_rc(code, 404) == BAR_ENOTFOUND);
	CHECK(gcp_code_rc("rateLimitExceeded", 403) == BAR_ERETRY);
	CHECK(gcp_code_rc("insufficientPermissions", 403) == BAR_EAUTH);
	CHECK(gcp_code_rc("resourceInUseByAnotherResource", 400) == BAR_ECONFLICT);
	e = "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}";
	gcp_parse_error(e, strlen(e), 400, code, sizeof(code), msg, sizeof(msg));
	CHECK(!strcmp(code, "invalid_grant") && gcp_code_rc(code, 400) == BAR_EAUTH);
	e = "{\"access_token\":\"ya29.abc\",\"expires_in\":3599,\"token_type\":\"Bearer\"}";
	CHECK(gcp_parse_token(e, strlen(e), tok, sizeof(tok), &exp) == 0 && exp == 3599 &&
	      !strcmp(tok, "ya29.abc"));
	CHECK(gcp_parse_token("{}", 2, tok, sizeof(tok), &exp) == -1);
	CHECK(!strcmp(gcp_vm_status("TERMINATED"), "Suspended"));
	CHECK(!strcmp(gcp_vm_status("STAGING"), "Creating"));
	CHECK(!strcmp(gcp_vm_status("STOPPING"), "Suspending"));
	gcp_label_value(msg, sizeof(msg), "Conformance/VM/web-1");
	CHECK(!strcmp(msg, "conformance_vm_web-1"));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_gcp_jwt DATA_DIR\n");
		return 2;
	}
	test_rfc7515_a2(argv[1]);
	test_assertion(argv[1]);
	test_parsers();
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	else
		printf("all checks passed\n");
	return failures ? 1 : 0;
}
