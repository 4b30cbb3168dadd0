/*
 * os_keygen.c - a new Ed25519 SSH key pair made locally with libcrypto, in
 * OpenSSH's formats: the public line "ssh-ed25519 <base64>" and the
 * unencrypted "openssh-key-v1" private key file (PROTOCOL.key of OpenSSH).
 *
 * The driver makes keys itself instead of letting Nova generate them: Nova
 * removed generation in microversion 2.92, and a key Nova generates carries
 * Nova's comment, while the driver keeps a key pair's tags in the public
 * key's comment (Nova key pairs have no tags or metadata).
 */
#include "os.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put32(bar_kit_buf *b, uint32_t v)
{
	unsigned char be[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                       (unsigned char)(v >> 8), (unsigned char)v};

	bar_kit_buf_add(b, be, 4);
}

static void putstr(bar_kit_buf *b, const void *p, size_t n)
{
	put32(b, (uint32_t)n);
	bar_kit_buf_add(b, p, n);
}

int os_keygen(char **pub, char **priv)
{
	static const char type[] = "ssh-ed25519";
	unsigned char pk[32], sk[64];
	size_t pklen = sizeof(pk), sklen = 32;
	bar_kit_buf blob = {0}, sec = {0}, file = {0}, pem = {0};
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *b64 = NULL, *line = NULL;
	uint32_t check;
	int rc = -1;

	*pub = *priv = NULL;
	if (!key || EVP_PKEY_get_raw_public_key(key, pk, &pklen) != 1 ||
	    EVP_PKEY_get_raw_private_key(key, sk, &sklen) != 1 || pklen != 32 || sklen != 32 ||
	    RAND_bytes((unsigned char *)&check, sizeof(check)) != 1)
		goto done;
	memcpy(sk + 32, pk, 32); /* OpenSSH keeps seed || public */
	putstr(&blob, type, strlen(type));
	putstr(&blob, pk, 32);
	/* the private section: check twice, the key, an empty comment, padding */
	put32(&sec, check);
	put32(&sec, check);
	putstr(&sec, type, strlen(type));
	putstr(&sec, pk, 32);
	putstr(&sec, sk, 64);
	putstr(&sec, "", 0);
	for (unsigned char pad = 1; sec.len % 8; pad++)
		bar_kit_buf_add(&sec, &pad, 1);
	bar_kit_buf_add(&file, "openssh-key-v1", 15); /* with its NUL */
	putstr(&file, "none", 4);
	putstr(&file, "none", 4);
	putstr(&file, "", 0);
	put32(&file, 1);
	putstr(&file, blob.p, blob.len);
	putstr(&file, sec.p, sec.len);
	if (blob.failed || sec.failed || file.failed)
		goto done;
	if (!(b64 = bar_kit_base64((unsigned char *)blob.p, blob.len, 0)) ||
	    !(line = bar_kit_base64((unsigned char *)file.p, file.len, 0)))
		goto done;
	bar_kit_buf_str(&pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	for (size_t i = 0, n = strlen(line); i < n; i += 70) {
		bar_kit_buf_add(&pem, line + i, n - i < 70 ? n - i : 70);
		bar_kit_buf_str(&pem, "\n");
	}
	bar_kit_buf_str(&pem, "-----END OPENSSH PRIVATE KEY-----\n");
	if (pem.failed || asprintf(pub, "%s %s", type, b64) < 0) {
		*pub = NULL;
		goto done;
	}
	*priv = pem.p;
	pem.p = NULL;
	rc = 0;
done:
	if (line) {
		bar_kit_wipe(line, strlen(line));
		free(line);
	}
	free(b64);
	bar_kit_wipe(sk, sizeof(sk));
	bar_kit_buf_free(&blob);
	bar_kit_buf_free(&sec);
	bar_kit_buf_free(&file);
	bar_kit_buf_free(&pem);
	EVP_PKEY_free(key);
	return rc;
}
