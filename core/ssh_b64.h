/*
 * ssh_b64.h - base64 (RFC 4648, standard alphabet) for the SSH module: key
 * blobs and fingerprints, and the session broker's protocol, which carries
 * command output (arbitrary bytes) inside JSON lines.
 */
#ifndef BAR_SSH_B64_H
#define BAR_SSH_B64_H

#include <stddef.h>

/* Characters bar_b64_encode writes for n bytes with padding, without the
 * NUL (without padding it writes at most this many). */
#define BAR_B64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode n bytes into out, which has room for BAR_B64_LEN(n) + 1 chars;
 * pad: end with '=' padding.  out is NUL-terminated.  Returns the length. */
size_t bar_b64_encode(char *out, const void *data, size_t n, int pad);

/* Decode len chars (padding allowed at the end) into a new buffer *out of
 * *out_len bytes (caller frees; NUL-terminated for convenience).  Returns 0,
 * or -1 on a character outside the alphabet (nothing allocated). */
int bar_b64_decode(unsigned char **out, size_t *out_len, const char *s, size_t len);

#endif
