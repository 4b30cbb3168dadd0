/*
 * ctr_util.c - the small helpers image.c, bundle.c and ctr.c share
 * (ctr_int.h): messages into the caller's why buffer, removing and making
 * trees without following symlinks, and finding runc.
 */
#include "ctr_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bar_ctr_fail(char *why, size_t wsize, const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	if (why && wsize) {
		va_start(ap, fmt);
		vsnprintf(why, wsize, fmt, ap);
		va_end(ap);
	}
	errno = err;
	return -1;
}

/* Remove everything in the dir fd (on device dev), then nothing else. */
static int rm_children(int fd, dev_t dev)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT)
				rc = -1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (st.st_dev != dev) {
				errno = EBUSY; /* a mount point: never descend into it */
				rc = -1;
				continue;
			}
			sub = openat(dirfd(d), de->d_name,
			             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || rm_children(sub, dev) != 0 ||
			    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) != 0)
				rc = -1;
		} else if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT) {
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

int bar_ctr_rmtree_at(int dirfd, const char *name)
{
	struct stat st, pst;
	int fd;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	if (fstat(dirfd, &pst) != 0)
		return -1;
	if (pst.st_dev != st.st_dev) {
		errno = EBUSY;
		return -1;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || rm_children(fd, st.st_dev) != 0)
		return -1;
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

int bar_ctr_rmtree(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || rm_children(fd, st.st_dev) != 0)
		return -1;
	return rmdir(path);
}

int bar_ctr_mkdirs(const char *path, unsigned mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) != 0 && errno != EEXIST)
				return -1;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

const char *bar_ctr_runc_path(void)
{
	static char found[4096];
	const char *path = getenv("PATH");

	if (found[0])
		return found;
	while (path && *path) {
		const char *e = strchr(path, ':');
		size_t n = e ? (size_t)(e - path) : strlen(path);

		if (n && n + sizeof("/runc") < sizeof(found)) {
			snprintf(found, sizeof(found), "%.*s/runc", (int)n, path);
			if (access(found, X_OK) == 0)
				return found;
		}
		path += n + (e ? 1 : 0);
	}
	found[0] = '\0';
	for (int i = 0; i < 2; i++) {
		const char *c = i ? "/usr/bin/runc" : "/usr/sbin/runc";
		if (access(c, X_OK) == 0) {
			snprintf(found, sizeof(found), "%s", c);
			return found;
		}
	}
	return NULL;
}
