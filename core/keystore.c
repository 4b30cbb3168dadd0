/*
 * keystore.c - the key store (see keystore.h): the location-based
 * bar_keystore_* functions, and the built-in file backend.
 *
 * The file backend keeps one file per secret, mode 0600, in a directory of
 * mode 0700: <dir>/<address with '/' as '.'>.<field>.  Addresses are
 * <namespace>/<type>/<name> whose parts never contain '.', so a file name
 * maps back to exactly one (address, field), and "<address>." as a prefix
 * matches only that address's files (k1 never removes k10's).  A secret is
 * written to <file>.tmp, synced, then renamed, so a crash leaves either the
 * old secret or the new one.
 */
#include "keystore.h"
#include "barista_provider.h" /* the BAR_E* codes */
#include "error.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct file_store {
	char *dir;
} file_store;

char *bar_keystore_path(const char *dir, const char *address, const char *field)
{
	char *p = bar_printf("%s/%s.%s", dir, address, field);

	for (char *s = p + strlen(dir) + 1; *s; s++)
		if (*s == '/')
			*s = '.';
	return p;
}

static int fs_open(void **out, const char *location)
{
	file_store *fs = bar_calloc(1, sizeof(*fs));

	fs->dir = bar_strdup(location);
	*out = fs;
	return 0;
}

static void fs_close(void *ks)
{
	file_store *fs = ks;

	if (fs)
		free(fs->dir);
	free(fs);
}

/* Write `value` to a new file `tmp` (0600), synced. */
static int write_secret(const char *tmp, const char *value)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t len = strlen(value), off = 0;

	if (fd < 0 && errno == EEXIST) { /* left by a crash */
		unlink(tmp);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return bar_error_set("key store: cannot write %s: %s", tmp, strerror(errno));
	fchmod(fd, 0600); /* whatever the umask */
	while (off < len) {
		ssize_t n = write(fd, value + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < len || fsync(fd) != 0) {
		bar_error_set("key store: cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	return 0;
}

static int fs_put(void *ks, const char *address, const char *field, const char *value)
{
	file_store *fs = ks;
	char *path, *tmp;
	int rc = -1;

	if (strlen(value) > BAR_KEYSTORE_VALUE_MAX)
		return bar_error_setc(BAR_EINVALID, "key store: secret %s of %s is longer than %d "
		                      "bytes", field, address, BAR_KEYSTORE_VALUE_MAX);
	if (mkdir(fs->dir, 0700) < 0 && errno != EEXIST)
		return bar_error_set("key store %s: cannot create: %s", fs->dir, strerror(errno));
	path = bar_keystore_path(fs->dir, address, field);
	tmp = bar_printf("%s.tmp", path);
	if (write_secret(tmp, value) < 0)
		goto done;
	if (rename(tmp, path) < 0) {
		bar_error_set("key store: cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto done;
	}
	rc = 0;
done:
	free(tmp);
	free(path);
	return rc;
}

static int fs_get(void *ks, const char *address, const char *field, char **out)
{
	file_store *fs = ks;
	char *path = bar_keystore_path(fs->dir, address, field), *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
	size_t len = 0;
	ssize_t n;

	if (fd < 0) {
		rc = bar_error_setc(errno == ENOENT ? BAR_ENOTFOUND : -1, "key store: %s of %s: "
		                    "cannot read %s: %s", field, address, path, strerror(errno));
		goto done;
	}
	buf = bar_malloc(BAR_KEYSTORE_VALUE_MAX + 2);
	while (len <= BAR_KEYSTORE_VALUE_MAX) {
		n = read(fd, buf + len, BAR_KEYSTORE_VALUE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bar_error_set("key store: cannot read %s: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > BAR_KEYSTORE_VALUE_MAX) {
		bar_error_setc(BAR_EINVALID, "key store: %s is longer than %d bytes", path,
		               BAR_KEYSTORE_VALUE_MAX);
		goto done;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	rc = 0;
done:
	if (buf)
		bar_memzero(buf, BAR_KEYSTORE_VALUE_MAX + 2);
	free(buf);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int fs_remove(void *ks, const char *address)
{
	file_store *fs = ks;
	char *prefix = bar_keystore_path(fs->dir, address, "");
	const char *base = strrchr(prefix, '/') + 1;
	DIR *d = opendir(fs->dir);
	struct dirent *e;

	if (!d) {
		free(prefix);
		return 0;
	}
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, base, strlen(base)) == 0) {
			char *p = bar_printf("%s/%s", fs->dir, e->d_name);

			unlink(p);
			free(p);
		}
	}
	closedir(d);
	rmdir(fs->dir); /* only succeeds once empty */
	free(prefix);
	return 0;
}

/* "ns.type.name.field" back to its address and field; 0 for other names
 * (temporary files, anything not ours). */
static int decode_name(const char *name, bar_keystore_entry *out)
{
	const char *dot = strrchr(name, '.');
	int dots = 0;

	for (const char *s = name; *s; s++)
		dots += *s == '.';
	if (name[0] == '.' || dots != 3 || !dot[1] || strstr(name, ".."))
		return 0;
	out->address = bar_strndup(name, (size_t)(dot - name));
	for (char *s = out->address; *s; s++)
		if (*s == '.')
			*s = '/';
	out->field = bar_strdup(dot + 1);
	return 1;
}

static int entry_cmp(const void *a, const void *b)
{
	const bar_keystore_entry *x = a, *y = b;
	int c = strcmp(x->address, y->address);

	return c ? c : strcmp(x->field, y->field);
}

static int fs_list(void *ks, bar_keystore_entries *out)
{
	file_store *fs = ks;
	bar_keystore_entries l = {NULL, 0};
	DIR *d = opendir(fs->dir);
	struct dirent *e;

	if (!d && errno != ENOENT)
		return bar_error_set("key store %s: cannot list: %s", fs->dir, strerror(errno));
	while (d && (e = readdir(d))) {
		bar_keystore_entry ent;

		if (!decode_name(e->d_name, &ent))
			continue;
		l.items = bar_realloc(l.items, (l.n + 1) * sizeof(*l.items));
		l.items[l.n++] = ent;
	}
	if (d)
		closedir(d);
	if (l.n)
		qsort(l.items, l.n, sizeof(*l.items), entry_cmp);
	*out = l;
	return 0;
}

const bar_keystore_backend bar_keystore_file_backend = {
    .struct_size = sizeof(bar_keystore_backend),
    .version = BAR_KEYSTORE_BACKEND_VERSION,
    .name = "file",
    .open = fs_open,
    .close = fs_close,
    .put = fs_put,
    .get = fs_get,
    .remove = fs_remove,
    .list = fs_list,
};

/* ---- the location-based API ---- */

/* The backend for a location, opened: a directory is the file backend. */
static int store_open(const char *location, const bar_keystore_backend **be, void **ks)
{
	if (strstr(location, "://"))
		return bar_error_setc(BAR_ENOTSUP, "key store %s: only a directory is supported in "
		                      "this build (an encrypted etcd store comes with the etcd "
		                      "state backend)", location);
	*be = &bar_keystore_file_backend;
	return (*be)->open(ks, location);
}

/* One call on the store at a location: exactly one of the ops below. */
typedef struct ks_call {
	enum { KS_PUT, KS_GET, KS_REMOVE, KS_LIST } op;
	const char *address, *field, *value;
	char **out;
	bar_keystore_entries *list;
} ks_call;

static int ks_run(const char *location, const ks_call *c)
{
	const bar_keystore_backend *be;
	void *ks = NULL;
	int rc = store_open(location, &be, &ks);

	if (rc < 0)
		return rc;
	switch (c->op) {
	case KS_PUT: rc = be->put(ks, c->address, c->field, c->value); break;
	case KS_GET: rc = be->get(ks, c->address, c->field, c->out); break;
	case KS_REMOVE: rc = be->remove(ks, c->address); break;
	case KS_LIST: rc = be->list(ks, c->list); break;
	}
	be->close(ks);
	return rc;
}

int bar_keystore_put(const char *location, const char *address, const char *field,
                     const char *value)
{
	return ks_run(location, &(ks_call){.op = KS_PUT, .address = address, .field = field,
	                                   .value = value});
}

int bar_keystore_get(const char *location, const char *address, const char *field,
                     char **out)
{
	return ks_run(location,
	              &(ks_call){.op = KS_GET, .address = address, .field = field, .out = out});
}

int bar_keystore_remove(const char *location, const char *address)
{
	return ks_run(location, &(ks_call){.op = KS_REMOVE, .address = address});
}

int bar_keystore_list(const char *location, bar_keystore_entries *out)
{
	return ks_run(location, &(ks_call){.op = KS_LIST, .list = out});
}

void bar_keystore_value_free(char *value)
{
	if (!value)
		return;
	bar_memzero(value, strlen(value));
	free(value);
}

void bar_keystore_entries_clear(bar_keystore_entries *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].address);
		free(l->items[i].field);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}
