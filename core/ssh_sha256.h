/*
 * ssh_sha256.h - SHA-256, used by the SSH client to print host key
 * fingerprints the way OpenSSH does ("SHA256:" + unpadded base64).  Internal
 * to bar_ssh; nothing here is security-critical beyond being a correct hash,
 * since host keys are compared byte for byte, not by fingerprint.
 */
#ifndef BAR_SSH_SHA256_H
#define BAR_SSH_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define BAR_SHA256_LEN 32

/* Hash n bytes at data into out[32].  Cannot fail. */
void bar_sha256_digest(uint8_t out[BAR_SHA256_LEN], const void *data, size_t n);

#endif
