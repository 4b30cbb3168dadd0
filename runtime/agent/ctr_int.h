/*
 * ctr_int.h - what image.c, bundle.c and ctr.c share inside
 * bar_runtime_agent (filesystem helpers, messages), and the layer reader the
 * fuzz target drives.  Not part of the agent's API (that is ctr.h).
 */
#ifndef BAR_RUNTIME_AGENT_CTR_INT_H
#define BAR_RUNTIME_AGENT_CTR_INT_H

#include <stddef.h>

/* Format a message into why[wsize] (NULL or 0 allowed); returns -1 so a
 * failure reads `return bar_ctr_fail(why, wsize, ...)`. */
int bar_ctr_fail(char *why, size_t wsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Remove name under dirfd and, when it is a dir, everything below it,
 * without following symlinks or crossing into other mounts.  A missing name
 * is fine.  Returns 0 or -1 with errno. */
int bar_ctr_rmtree_at(int dirfd, const char *name);

/* bar_ctr_rmtree_at for a whole path. */
int bar_ctr_rmtree(const char *path);

/* mkdir -p path with mode for what it creates.  Returns 0 or -1 with errno. */
int bar_ctr_mkdirs(const char *path, unsigned mode);

/* Apply one layer blob, read from fd (gzip-compressed when gzip), on the
 * tree at rootfd, checking that its sha256 is digest_hex (NULL: no check).
 * label names the layer in messages.  Returns 0 or -1 with why. */
int bar_ctr_layer_apply(int rootfd, int fd, int gzip, const char *digest_hex, const char *label,
                    char *why, size_t wsize);

/* The runc binary: "runc" found on PATH, or /usr/sbin/runc, /usr/bin/runc.
 * Returns a path (static storage) or NULL. */
const char *bar_ctr_runc_path(void);

#endif
