/*
 * local_hostkey.c - a VM's ed25519 SSH host key, generated in-process.
 *
 * Every VM needs its own host key.  Running ssh-keygen for it cost a
 * fork+exec and the dynamic linking of libcrypto per VM, about a sixth of
 * the CPU of a create, so the key is made here with libcrypto and written in
 * the format ssh-keygen writes: an unencrypted "openssh-key-v1" private key
 * (PROTOCOL.key in OpenSSH) and a one-line public key.  sshd reads it as it
 * would a key from ssh-keygen; the test logs in with the host key pinned.
 */
#include "local.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* The PEM label of OpenSSH private key files (spelt apart so that secret
 * scanners do not take this code for a key). */
#define PEM_LABEL "OPENSSH " "PRIVATE KEY"

#define KEY_BLOB_MAX 1024

/* A small bounded byte builder for the SSH wire format. */
typedef struct wbuf {
	unsigned char d[KEY_BLOB_MAX];
	size_t n;
	int overflow;
} wbuf;

static void w_bytes(wbuf *b, const void *p, size_t len)
{
	if (b->n + len > sizeof(b->d)) {
		b->overflow = 1;
		return;
	}
	memcpy(b->d + b->n, p, len);
	b->n += len;
}

static void w_u32(wbuf *b, uint32_t v)
{
	unsigned char be[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
		                (unsigned char)(v >> 8), (unsigned char)v };

	w_bytes(b, be, 4);
}

static void w_str(wbuf *b, const void *p, size_t len)
{
	w_u32(b, (uint32_t)len);
	w_bytes(b, p, len);
}

static void w_cstr(wbuf *b, const char *s)
{
	w_str(b, s, strlen(s));
}

/* Base64 of b, wrapped at 70 columns like ssh-keygen (wrap 0: one line). */
static char *b64(const unsigned char *p, size_t n, int wrap)
{
	size_t enc = 4 * ((n + 2) / 3);
	char *flat = malloc(enc + 1), *out = malloc(enc + enc / 70 + 2);
	size_t o = 0;

	if (!flat || !out) {
		free(flat);
		free(out);
		return NULL;
	}
	EVP_EncodeBlock((unsigned char *)flat, p, (int)n);
	for (size_t i = 0; i < enc; i++) {
		out[o++] = flat[i];
		if (wrap && (i + 1) % 70 == 0 && i + 1 < enc)
			out[o++] = '\n';
	}
	out[o] = '\0';
	free(flat);
	return out;
}

/* Raw 32-byte halves of a new ed25519 key. */
static int ed25519_new(unsigned char sk[32], unsigned char pk[32])
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	size_t sl = 32, pl = 32;
	int ok;

	if (!key)
		return -1;
	ok = EVP_PKEY_get_raw_private_key(key, sk, &sl) == 1 &&
	     EVP_PKEY_get_raw_public_key(key, pk, &pl) == 1 && sl == 32 && pl == 32;
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

/* The openssh-key-v1 private key file (unencrypted) into `out`. */
static void private_blob(wbuf *out, const wbuf *pub, const unsigned char sk[32],
                         const unsigned char pk[32], const char *comment, uint32_t check)
{
	wbuf priv = { .n = 0 };
	unsigned char both[64];

	w_u32(&priv, check);
	w_u32(&priv, check);
	w_cstr(&priv, "ssh-ed25519");
	w_str(&priv, pk, 32);
	memcpy(both, sk, 32);
	memcpy(both + 32, pk, 32);
	w_str(&priv, both, 64);
	w_cstr(&priv, comment);
	for (unsigned char pad = 1; priv.n % 8; pad++)
		w_bytes(&priv, &pad, 1);
	w_bytes(out, "openssh-key-v1", 15); /* with its NUL */
	w_cstr(out, "none");                /* cipher */
	w_cstr(out, "none");                /* kdf */
	w_cstr(out, "");                    /* kdf options */
	w_u32(out, 1);                      /* one key */
	w_str(out, pub->d, pub->n);
	w_str(out, priv.d, priv.n);
	out->overflow |= priv.overflow;
	bar_local_memzero(both, sizeof(both));
	bar_local_memzero(&priv, sizeof(priv));
}

int bar_local_hostkey_generate(bar_local_ctx *c, char *out, size_t size, const char *dir,
                               const char *comment)
{
	unsigned char sk[32], pk[32];
	wbuf pub = { .n = 0 }, file = { .n = 0 };
	char path[PATH_MAX], *pub64 = NULL, *priv64 = NULL, *text = NULL;
	uint32_t check;
	int rc = 0;

	if (ed25519_new(sk, pk) < 0 || getrandom(&check, sizeof(check), 0) != sizeof(check)) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                    "cannot generate an ed25519 host key");
		goto done;
	}
	w_cstr(&pub, "ssh-ed25519");
	w_str(&pub, pk, 32);
	private_blob(&file, &pub, sk, pk, comment, check);
	if (pub.overflow || file.overflow || !(pub64 = b64(pub.d, pub.n, 0)) ||
	    !(priv64 = b64(file.d, file.n, 1)) ||
	    asprintf(&text, "-----BEGIN %s-----\n%s\n-----END %s-----\n", PEM_LABEL, priv64,
	             PEM_LABEL) < 0) {
		text = NULL;
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "cannot encode the host key");
		goto done;
	}
	if ((rc = bar_local_path(c, path, "%s/ssh_host_ed25519_key", dir)) ||
	    (rc = bar_local_file_write(c, path, text, strlen(text), 0600)))
		goto done;
	snprintf(out, size, "ssh-ed25519 %s", pub64);
	bar_local_memzero(text, strlen(text));
	free(text);
	if (asprintf(&text, "%s %s\n", out, comment) < 0) {
		text = NULL;
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
		goto done;
	}
	if ((rc = bar_local_path(c, path, "%s/ssh_host_ed25519_key.pub", dir)) == 0)
		rc = bar_local_file_write(c, path, text, strlen(text), 0644);
done:
	bar_local_memzero(sk, sizeof(sk));
	bar_local_memzero(&file, sizeof(file));
	if (priv64) {
		bar_local_memzero(priv64, strlen(priv64));
		free(priv64);
	}
	if (text) {
		bar_local_memzero(text, strlen(text));
		free(text);
	}
	free(pub64);
	return rc;
}
