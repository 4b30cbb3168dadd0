/*
 * ssh_sha256.h - SHA-256, used by the SSH client to print host key
 * fingerprints the way OpenSSH does ("SHA256:" + unpadded base64).  Internal
 * to bar_ssh; nothing here is security-critical beyond being a correct hash,
 * since host keys are compared byte for byte, not by fingerprint.  The
 * streaming form checks OCI layer digests in barista-agent
 * (runtime/agent/image.c), which links this file on its own (bar_sha256).
 */
#ifndef BAR_SSH_SHA256_H
#define BAR_SSH_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define BAR_SHA256_LEN 32

/* A running hash: init, update any number of times, final once. */
typedef struct bar_sha256_ctx {
	uint32_t h[8];
	uint64_t len;     /* bytes hashed so far */
	uint8_t buf[64];  /* a partial block */
	size_t fill;
} bar_sha256_ctx;

/* Start a hash in c.  Cannot fail. */
void bar_sha256_init(bar_sha256_ctx *c);
/* Add n bytes at data to the hash in c.  Cannot fail. */
void bar_sha256_update(bar_sha256_ctx *c, const void *data, size_t n);
/* Finish the hash in c into out[32]; c must be initialised again to reuse. */
void bar_sha256_final(bar_sha256_ctx *c, uint8_t out[BAR_SHA256_LEN]);

/* Hash n bytes at data into out[32].  Cannot fail. */
void bar_sha256_digest(uint8_t out[BAR_SHA256_LEN], const void *data, size_t n);

#endif
