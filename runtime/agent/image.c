/*
 * image.c - unpack an OCI image's layers (tar, optionally gzip) into a
 * cached rootfs for barista-agent (ctr.h, bar_ctr_unpack).  A small tar
 * reader (ustar, GNU long names, pax path/linkpath/size/uid/gid/mtime) over
 * zlib, hashing each blob as it streams so a layer is checked without a
 * second pass.  Every path is resolved inside the rootfs (openat2 with
 * RESOLVE_IN_ROOT, so a symlink from a lower layer can never lead out), and
 * the whiteouts of the OCI image spec (image-spec layer.md, "Whiteouts") are
 * applied as each layer lands.
 */
#include "ctr.h"
#include "ctr_int.h"
#include "ssh_sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#define TAR_BLOCK 512
#define TAR_PATH_MAX 4096
#define TAR_PAX_MAX (1 << 20) /* a pax header larger than this is refused */
#define SRC_BUF 65536

/* ---- the blob: raw bytes hashed, then inflated when gzip ---- */

typedef struct src {
	int fd;
	int gzip;
	int zinit;
	int zdone;   /* the last gzip member ended and no input followed */
	int raw_eof;
	z_stream z;
	bar_sha256_ctx sha;
	const char *label;
	char *why;
	size_t wsize;
	unsigned char in[SRC_BUF];
} src;

/* Read more raw bytes into s->in (gzip) or buf (plain); returns the count,
 * 0 at end of file, -1 on a read error. */
static ssize_t src_raw(src *s, void *buf, size_t n)
{
	ssize_t got;

	if (s->raw_eof)
		return 0;
	do
		got = read(s->fd, buf, n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return bar_ctr_fail(s->why, s->wsize, "layer %s: read: %s", s->label, strerror(errno));
	if (got == 0)
		s->raw_eof = 1;
	bar_sha256_update(&s->sha, buf, (size_t)got);
	return got;
}

/* Up to n bytes of the layer's tar stream into buf: the count, 0 at its end,
 * -1 on an error (message set). */
static ssize_t src_read(src *s, void *buf, size_t n)
{
	if (!s->gzip)
		return src_raw(s, buf, n);
	while (!s->zdone) {
		int rc;
		size_t made;

		if (s->z.avail_in == 0) {
			ssize_t got = src_raw(s, s->in, sizeof(s->in));
			if (got < 0)
				return -1;
			s->z.next_in = s->in;
			s->z.avail_in = (uInt)got;
		}
		s->z.next_out = buf;
		s->z.avail_out = (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
		rc = inflate(&s->z, Z_NO_FLUSH);
		made = n - s->z.avail_out;
		if (rc == Z_STREAM_END) {
			/* Another gzip member may follow (RFC 1952 allows several). */
			if (s->z.avail_in == 0) {
				ssize_t got = src_raw(s, s->in, sizeof(s->in));
				if (got < 0)
					return -1;
				s->z.next_in = s->in;
				s->z.avail_in = (uInt)got;
			}
			if (s->z.avail_in == 0)
				s->zdone = 1;
			else
				inflateReset(&s->z);
		} else if (rc == Z_BUF_ERROR && s->z.avail_in == 0 && s->raw_eof) {
			return bar_ctr_fail(s->why, s->wsize, "layer %s: truncated gzip stream", s->label);
		} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			return bar_ctr_fail(s->why, s->wsize, "layer %s: not gzip data: %s", s->label,
			                    s->z.msg ? s->z.msg : "inflate failed");
		}
		if (made)
			return (ssize_t)made;
	}
	return 0;
}

/* Exactly n bytes: 0, 1 when the stream ended before the first byte, -1 on
 * an error or a stream that ended part way (message set). */
static int src_full(src *s, void *buf, size_t n)
{
	size_t have = 0;

	while (have < n) {
		ssize_t got = src_read(s, (char *)buf + have, n - have);
		if (got < 0)
			return -1;
		if (got == 0) {
			if (have == 0)
				return 1;
			return bar_ctr_fail(s->why, s->wsize, "layer %s: not a tar: truncated", s->label);
		}
		have += (size_t)got;
	}
	return 0;
}

/* Read and drop n bytes of the stream. */
static int src_skip(src *s, uint64_t n)
{
	char buf[8192];

	while (n) {
		size_t take = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		if (src_full(s, buf, take) != 0)
			return bar_ctr_fail(s->why, s->wsize, "layer %s: not a tar: truncated", s->label);
		n -= take;
	}
	return 0;
}

/* Drop up to n bytes of padding: a stream that ends in it is a tar whose
 * writer stopped after the last entry's data (umoci's layers, which Go's
 * reader and GNU tar's accept); the next header read then sees the end. */
static int src_skip_pad(src *s, uint64_t n)
{
	char buf[TAR_BLOCK];

	while (n) {
		ssize_t got = src_read(s, buf, n < sizeof(buf) ? (size_t)n : sizeof(buf));
		if (got < 0)
			return -1;
		if (got == 0)
			return 0;
		n -= (uint64_t)got;
	}
	return 0;
}

/* ---- tar headers ---- */

typedef struct entry {
	char path[TAR_PATH_MAX];
	char link[TAR_PATH_MAX];
	char type;
	unsigned mode;
	long long uid, gid;
	long long mtime;
	uint64_t size;
} entry;

#define TAR_XATTRS 16       /* extended attributes kept per entry */
#define TAR_XATTR_VAL 4096  /* ... each at most this long */

typedef struct xattr {
	char name[256];
	char value[TAR_XATTR_VAL];
	size_t len;
} xattr;

/* What pax and GNU headers say about the next entry. */
typedef struct pending {
	char path[TAR_PATH_MAX];
	char link[TAR_PATH_MAX];
	int has_size, has_uid, has_gid, has_mtime;
	uint64_t size;
	long long uid, gid, mtime;
	xattr xa[TAR_XATTRS]; /* SCHILY.xattr.* (file capabilities, ACLs) */
	size_t nxa;
} pending;

/* A numeric header field: octal (space or NUL terminated) or GNU base-256
 * (high bit of the first byte set).  -1 when it is neither. */
static int tar_num(const unsigned char *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		if (f[0] & 0x40)
			return -1; /* negative */
		v = f[0] & 0x3f;
		for (i = 1; i < n; i++) {
			if (v >> 56)
				return -1;
			v = (v << 8) | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 61)
			return -1;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	if (i < n && f[i] != ' ' && f[i] != '\0')
		return -1;
	*out = v;
	return 0;
}

static int block_is_zero(const unsigned char *b)
{
	for (int i = 0; i < TAR_BLOCK; i++)
		if (b[i])
			return 0;
	return 1;
}

/* The header's checksum (POSIX ustar: the sum of its bytes with the
 * checksum field taken as spaces) matches. */
static int tar_sum_ok(const unsigned char *b)
{
	uint64_t want;
	unsigned long sum = 0;

	if (tar_num(b + 148, 8, &want) != 0)
		return 0;
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : b[i];
	return sum == want;
}

/* Copy a header string field of at most n bytes (not always terminated). */
static void tar_str(char *out, size_t osz, const unsigned char *f, size_t n)
{
	size_t len = strnlen((const char *)f, n);
	if (len >= osz)
		len = osz - 1;
	memcpy(out, f, len);
	out[len] = '\0';
}

/* Parse the pax records "<len> <key>=<value>\n" of buf[n] into p. */
static int pax_parse(pending *p, char *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		char *rec = buf + off, *sp, *eq, *end;
		unsigned long len = strtoul(rec, &sp, 10);

		if (sp == rec || *sp != ' ' || len < 5 || len > n - off)
			return -1;
		end = rec + len - 1;
		if (*end != '\n')
			return -1;
		*end = '\0';
		eq = memchr(sp + 1, '=', (size_t)(end - sp - 1));
		if (!eq)
			return -1;
		*eq = '\0';
		{
			const char *k = sp + 1, *v = eq + 1;
			size_t vlen = (size_t)(end - v);

			if (!strcmp(k, "path") || !strcmp(k, "linkpath")) {
				if (vlen >= TAR_PATH_MAX)
					return -1;
				memcpy(!strcmp(k, "path") ? p->path : p->link, v, vlen + 1);
			} else if (!strcmp(k, "size")) {
				p->size = strtoull(v, NULL, 10), p->has_size = 1;
			} else if (!strcmp(k, "uid")) {
				p->uid = strtoll(v, NULL, 10), p->has_uid = 1;
			} else if (!strcmp(k, "gid")) {
				p->gid = strtoll(v, NULL, 10), p->has_gid = 1;
			} else if (!strcmp(k, "mtime")) {
				p->mtime = strtoll(v, NULL, 10), p->has_mtime = 1;
			} else if (!strncmp(k, "SCHILY.xattr.", 13) && p->nxa < TAR_XATTRS &&
			           strlen(k + 13) < sizeof(p->xa[0].name) && vlen <= TAR_XATTR_VAL) {
				xattr *x = &p->xa[p->nxa++];
				snprintf(x->name, sizeof(x->name), "%s", k + 13);
				memcpy(x->value, v, vlen);
				x->len = vlen;
			}
		}
		off += len;
	}
	return 0;
}

/* Read a header payload of size bytes (pax or GNU long name) into a fresh
 * buffer, NUL-terminated; NULL on an error (message set). */
static char *read_payload(src *s, uint64_t size, uint64_t max)
{
	char *buf;
	uint64_t padded = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;

	if (size > max) {
		bar_ctr_fail(s->why, s->wsize, "layer %s: not a tar: header of %llu bytes", s->label,
		             (unsigned long long)size);
		return NULL;
	}
	buf = malloc(padded + 1);
	if (!buf) {
		bar_ctr_fail(s->why, s->wsize, "layer %s: out of memory", s->label);
		return NULL;
	}
	if (src_full(s, buf, padded) != 0) {
		bar_ctr_fail(s->why, s->wsize, "layer %s: not a tar: truncated", s->label);
		free(buf);
		return NULL;
	}
	buf[size] = '\0';
	return buf;
}

/* ---- paths inside the rootfs ---- */

/* Normalise a tar path lexically into out: leading "./" and "." dropped,
 * ".." taken back; -1 when it is absolute or climbs out of the root.  An
 * empty result is the root itself. */
static int path_clean(char *out, size_t osz, const char *in)
{
	size_t len = 0;
	const char *p = in;

	/* a leading "/" is the rootfs (as GNU tar and containerd read layers:
	 * umoci and others write the root as "/"); ".." above it is refused */
	while (*p == '/')
		p++;
	out[0] = '\0';
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (len == 0)
				return -1;
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			out[len] = '\0';
		} else {
			if (len + n + 2 > osz)
				return -1;
			if (len)
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
			out[len] = '\0';
		}
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

static int have_openat2 = 1;

/* Open the dir at path (relative, clean) inside rootfd, resolving symlinks
 * as if rootfd were "/".  Without openat2 (kernels before 5.6) a symlink on
 * the way is refused instead (ELOOP). */
static int open_dir_in(int rootfd, const char *path)
{
	char buf[TAR_PATH_MAX];
	int fd;

	if (!*path)
		return openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (have_openat2) {
		struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
		                                   RESOLVE_NO_XDEV };
		fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		have_openat2 = 0;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (char *c = buf, *next; fd >= 0 && c; c = next) {
		int sub;
		next = strchr(c, '/');
		if (next)
			*next++ = '\0';
		sub = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = sub;
	}
	return fd;
}

/* Make each missing dir of the clean path (0755) inside rootfd and open
 * the last. */
static int make_dirs_in(int rootfd, char *path)
{
	int fd = open_dir_in(rootfd, "");

	for (char *c = path; fd >= 0;) {
		char *e = strchr(c, '/');
		int sub, err;

		if (e)
			*e = '\0';
		sub = open_dir_in(rootfd, path);
		if (sub < 0 && errno == ENOENT) {
			if (mkdirat(fd, c, 0755) == 0 || errno == EEXIST)
				sub = open_dir_in(rootfd, path);
		}
		err = errno;
		close(fd);
		fd = sub;
		errno = err;
		if (!e)
			break;
		*e = '/';
		c = e + 1;
	}
	return fd;
}

/* The parent dir of a clean path inside rootfd, made when missing;
 * *base points at the path's last component. */
static int open_parent(int rootfd, char *path, const char **base)
{
	char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		*base = path;
		return open_dir_in(rootfd, "");
	}
	*slash = '\0';
	*base = slash + 1;
	fd = open_dir_in(rootfd, path);
	if (fd < 0 && errno == ENOENT)
		fd = make_dirs_in(rootfd, path);
	*slash = '/';
	return fd;
}

/* ---- the paths one layer made (an opaque whiteout keeps those) ---- */

typedef struct pathset {
	char **slot;
	size_t cap, used;
} pathset;

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int pathset_has(const pathset *ps, const char *p)
{
	if (!ps->cap)
		return 0;
	for (size_t i = fnv1a(p) & (ps->cap - 1);; i = (i + 1) & (ps->cap - 1)) {
		if (!ps->slot[i])
			return 0;
		if (!strcmp(ps->slot[i], p))
			return 1;
	}
}

static int pathset_add(pathset *ps, const char *p)
{
	if (pathset_has(ps, p))
		return 0;
	if ((ps->used + 1) * 2 > ps->cap) {
		size_t ncap = ps->cap ? ps->cap * 2 : 256;
		char **ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return -1;
		for (size_t i = 0; i < ps->cap; i++) {
			if (!ps->slot[i])
				continue;
			size_t j = fnv1a(ps->slot[i]) & (ncap - 1);
			while (ns[j])
				j = (j + 1) & (ncap - 1);
			ns[j] = ps->slot[i];
		}
		free(ps->slot);
		ps->slot = ns, ps->cap = ncap;
	}
	size_t i = fnv1a(p) & (ps->cap - 1);
	while (ps->slot[i])
		i = (i + 1) & (ps->cap - 1);
	if (!(ps->slot[i] = strdup(p)))
		return -1;
	ps->used++;
	return 0;
}

static void pathset_free(pathset *ps)
{
	for (size_t i = 0; i < ps->cap; i++)
		free(ps->slot[i]);
	free(ps->slot);
}

/* ---- applying entries ---- */

typedef struct layer_ctx {
	int rootfd;
	src *s;
	pathset made;
	int as_root;
	entry e;   /* the entry being applied */
	pending p; /* what pax/GNU headers said about it */
} layer_ctx;

/* Remove what lower layers put in dir (path: its clean path) except what
 * this layer made: the opaque whiteout ".wh..wh..opq". */
static int opaque_clear(layer_ctx *L, int dfd, const char *path)
{
	int fd = dup(dfd), rc = 0;
	DIR *d;
	struct dirent *de;
	char full[TAR_PATH_MAX];

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(full, sizeof(full), "%s%s%s", path, *path ? "/" : "", de->d_name);
		if (pathset_has(&L->made, full))
			continue;
		if (bar_ctr_rmtree_at(dfd, de->d_name) != 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

/* Owner, mode and mtime of what was just made at dfd/name. */
static void set_meta(layer_ctx *L, int dfd, const char *name, const entry *e)
{
	struct timespec ts[2] = { { .tv_sec = e->mtime }, { .tv_sec = e->mtime } };

	/* chown before chmod: chown clears set-id bits.  Not being root (tests,
	 * fuzzing), the files stay ours. */
	if (L->as_root)
		(void)fchownat(dfd, name, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW);
	if (e->type != '2')
		(void)fchmodat(dfd, name, e->mode & 07777, 0);
	(void)utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* Write the entry's data into the new regular file dfd/name. */
static int write_file(layer_ctx *L, int dfd, const char *name, const entry *e)
{
	char buf[SRC_BUF];
	uint64_t left = e->size;
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	src *s = L->s;

	if (fd < 0)
		return bar_ctr_fail(s->why, s->wsize, "layer %s: %s: %s", s->label, e->path,
		                    strerror(errno));
	while (left) {
		size_t take = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		if (src_full(s, buf, take) != 0) {
			close(fd);
			return bar_ctr_fail(s->why, s->wsize, "layer %s: not a tar: truncated in %s",
			                    s->label, e->path);
		}
		for (size_t off = 0; off < take;) {
			ssize_t w = write(fd, buf + off, take - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				int err = errno;
				close(fd);
				return bar_ctr_fail(s->why, s->wsize, "layer %s: writing %s: %s", s->label,
				                    e->path, strerror(err));
			}
			off += (size_t)w;
		}
		left -= take;
	}
	close(fd);
	return 0;
}

/* Apply one entry whose data (e->size bytes) is next in the stream; the
 * caller skips what this leaves unread, and the padding. */
static int apply_entry(layer_ctx *L, entry *e, const pending *px, uint64_t *consumed)
{
	src *s = L->s;
	char path[TAR_PATH_MAX], target[TAR_PATH_MAX];
	const char *base;
	struct stat st;
	int dfd = -1, rc = -1, exists;

	*consumed = 0;
	if (path_clean(path, sizeof(path), e->path) != 0)
		return bar_ctr_fail(s->why, s->wsize, "layer %s: entry \"%s\" is outside the rootfs",
		                    s->label, e->path);
	if (!*path) /* the root itself: its mode, as the layer says */
		return e->type == '5' && fchmod(L->rootfd, (mode_t)(e->mode & 07777) | 0700) != 0
		           ? bar_ctr_fail(s->why, s->wsize, "layer %s: /: %s", s->label,
		                          strerror(errno))
		           : 0;
	if (e->type == '3' || e->type == '4')
		return 0; /* devices: runc makes what a container needs */
	dfd = open_parent(L->rootfd, path, &base);
	if (dfd < 0) {
		bar_ctr_fail(s->why, s->wsize, "layer %s: %s: parent: %s", s->label, e->path,
		             strerror(errno));
		goto done;
	}
	/* whiteouts: .wh.<name> removes name, .wh..wh..opq the lower contents */
	if (!strncmp(base, ".wh.", 4)) {
		if (!strcmp(base, ".wh..wh..opq")) {
			char dir[TAR_PATH_MAX];
			snprintf(dir, sizeof(dir), "%.*s", (int)(base - path > 0 ? base - path - 1 : 0),
			         path);
			if (opaque_clear(L, dfd, dir) != 0) {
				bar_ctr_fail(s->why, s->wsize, "layer %s: %s: %s", s->label, e->path,
				             strerror(errno));
				goto done;
			}
		} else if (!strcmp(base + 4, ".") || !strcmp(base + 4, "..") || !base[4]) {
			/* ".wh.." would remove the dir itself, ".wh..." its parent
			 * (outside the rootfs at the top) */
			bar_ctr_fail(s->why, s->wsize, "layer %s: whiteout \"%s\" names no entry",
			             s->label, e->path);
			goto done;
		} else if (bar_ctr_rmtree_at(dfd, base + 4) != 0) {
			bar_ctr_fail(s->why, s->wsize, "layer %s: %s: %s", s->label, e->path,
			             strerror(errno));
			goto done;
		}
		rc = 0;
		goto done;
	}
	exists = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && !(e->type == '5' && S_ISDIR(st.st_mode)) &&
	    bar_ctr_rmtree_at(dfd, base) != 0) {
		bar_ctr_fail(s->why, s->wsize, "layer %s: replacing %s: %s", s->label, e->path,
		             strerror(errno));
		goto done;
	}
	switch (e->type) {
	case '0': case '\0': case '7':
		if (write_file(L, dfd, base, e) != 0)
			goto done;
		*consumed = e->size;
		break;
	case '5':
		if (!(exists && S_ISDIR(st.st_mode)) && mkdirat(dfd, base, 0700) != 0)
			goto fail_errno;
		break;
	case '2':
		if (symlinkat(e->link, dfd, base) != 0)
			goto fail_errno;
		break;
	case '1': {
		const char *tbase;
		int tfd;

		if (path_clean(target, sizeof(target), e->link) != 0 || !*target) {
			bar_ctr_fail(s->why, s->wsize,
			             "layer %s: hard link %s -> \"%s\" is outside the rootfs", s->label,
			             e->path, e->link);
			goto done;
		}
		tfd = open_parent(L->rootfd, target, &tbase);
		if (tfd < 0 || linkat(tfd, tbase, dfd, base, 0) != 0) {
			int err = errno;
			if (tfd >= 0)
				close(tfd);
			bar_ctr_fail(s->why, s->wsize, "layer %s: hard link %s -> %s: %s", s->label,
			             e->path, e->link, strerror(err));
			goto done;
		}
		close(tfd);
		rc = pathset_add(&L->made, path);
		goto done; /* a hard link shares its target's owner and mode */
	}
	case '6':
		if (mknodat(dfd, base, S_IFIFO | 0600, 0) != 0)
			goto fail_errno;
		break;
	default:
		rc = 0; /* unknown types (sparse, volume labels): skipped, as tar does */
		goto done;
	}
	set_meta(L, dfd, base, e);
	/* after chown, which drops file capabilities; an attribute the VM's
	 * filesystem does not take is left out, as tar does */
	for (size_t i = 0; i < px->nxa; i++) {
		char proc[64];
		int fd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			break;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (e->type != '2')
			(void)setxattr(proc, px->xa[i].name, px->xa[i].value, px->xa[i].len, 0);
		close(fd);
	}
	rc = pathset_add(&L->made, path);
	goto done;
fail_errno:
	bar_ctr_fail(s->why, s->wsize, "layer %s: %s: %s", s->label, e->path, strerror(errno));
done:
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/* Read the tar stream to its end, applying every entry. */
static int tar_apply(layer_ctx *L)
{
	src *s = L->s;
	unsigned char b[TAR_BLOCK];
	entry *e = &L->e;
	pending *p = &L->p;
	int zeros = 0, first = 1;

	memset(p, 0, sizeof(*p));
	for (;;) {
		int got = src_full(s, b, TAR_BLOCK);
		uint64_t size, v, used;

		if (got < 0)
			return -1;
		if (got == 1) {
			if (first)
				return bar_ctr_fail(s->why, s->wsize, "layer %s: not a tar: empty", s->label);
			return 0; /* ended without the two zero blocks: accepted, as GNU tar does */
		}
		if (block_is_zero(b)) {
			if (++zeros == 2)
				return 0;
			continue;
		}
		zeros = 0;
		if (!tar_sum_ok(b))
			return bar_ctr_fail(s->why, s->wsize, "layer %s: not a tar: bad header checksum%s",
			                    s->label, first ? "" : " (corrupt archive)");
		first = 0;
		if (tar_num(b + 124, 12, &size) != 0)
			return bar_ctr_fail(s->why, s->wsize, "layer %s: not a tar: bad size field", s->label);
		if (b[156] == 'x' || b[156] == 'L' || b[156] == 'K') {
			char *pl = read_payload(s, size, b[156] == 'x' ? TAR_PAX_MAX : TAR_PATH_MAX - 1);
			int bad = 0;
			if (!pl)
				return -1;
			if (b[156] == 'x')
				bad = pax_parse(p, pl, (size_t)size);
			else
				snprintf(b[156] == 'L' ? p->path : p->link, TAR_PATH_MAX, "%s", pl);
			free(pl);
			if (bad)
				return bar_ctr_fail(s->why, s->wsize, "layer %s: not a tar: bad pax header",
				                    s->label);
			continue;
		}
		if (b[156] == 'g') {
			if (src_skip(s, (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK) != 0)
				return -1;
			continue;
		}
		if (p->has_size)
			size = p->size;
		memset(e, 0, sizeof(*e));
		e->type = (char)b[156];
		if (p->path[0]) {
			snprintf(e->path, sizeof(e->path), "%s", p->path);
		} else if (!memcmp(b + 257, "ustar", 5) && b[345]) {
			char pre[156], nm[101];
			tar_str(pre, sizeof(pre), b + 345, 155);
			tar_str(nm, sizeof(nm), b, 100);
			snprintf(e->path, sizeof(e->path), "%s/%s", pre, nm);
		} else {
			tar_str(e->path, sizeof(e->path), b, 100);
		}
		if (p->link[0])
			snprintf(e->link, sizeof(e->link), "%s", p->link);
		else
			tar_str(e->link, sizeof(e->link), b + 157, 100);
		e->mode = tar_num(b + 100, 8, &v) == 0 ? (unsigned)v : 0644;
		e->uid = p->has_uid ? p->uid : (tar_num(b + 108, 8, &v) == 0 ? (long long)v : 0);
		e->gid = p->has_gid ? p->gid : (tar_num(b + 116, 8, &v) == 0 ? (long long)v : 0);
		e->mtime = p->has_mtime ? p->mtime : (tar_num(b + 136, 12, &v) == 0 ? (long long)v : 0);
		/* old tars mark dirs by a trailing slash on a regular entry */
		if ((e->type == '0' || e->type == '\0') && e->path[0] &&
		    e->path[strlen(e->path) - 1] == '/')
			e->type = '5';
		e->size = (e->type == '0' || e->type == '\0' || e->type == '7') ? size : 0;
		if (apply_entry(L, e, p, &used) != 0)
			return -1;
		memset(p, 0, sizeof(*p));
		/* data not written (of other types) is skipped, then the padding */
		if (src_skip(s, size - used) != 0 ||
		    src_skip_pad(s, (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK - size) != 0)
			return -1;
	}
}

static const char hexd[] = "0123456789abcdef";

int bar_ctr_layer_apply(int rootfd, int fd, int gzip, const char *digest_hex, const char *label,
                        char *why, size_t wsize)
{
	/* ~150 KiB of buffers and headers: not on the agent's stack */
	src *s = calloc(1, sizeof(*s));
	layer_ctx *L = calloc(1, sizeof(*L));
	uint8_t sum[BAR_SHA256_LEN];
	char hex[2 * BAR_SHA256_LEN + 1], rest[4096];
	int rc = -1;

	if (!s || !L) {
		free(s), free(L);
		return bar_ctr_fail(why, wsize, "layer %s: out of memory", label);
	}
	L->rootfd = rootfd, L->s = s, L->as_root = geteuid() == 0;
	s->fd = fd, s->gzip = gzip, s->label = label, s->why = why, s->wsize = wsize;
	bar_sha256_init(&s->sha);
	if (gzip) {
		if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
			bar_ctr_fail(why, wsize, "layer %s: zlib: out of memory", label);
			goto done;
		}
		s->zinit = 1;
	}
	if (tar_apply(L) != 0)
		goto done;
	/* the rest of the blob (zero blocks, gzip trailer) still counts */
	for (;;) {
		ssize_t got = src_read(s, rest, sizeof(rest));
		if (got < 0)
			goto done;
		if (got == 0)
			break;
	}
	while (!s->raw_eof)
		if (src_raw(s, rest, sizeof(rest)) < 0)
			goto done;
	bar_sha256_final(&s->sha, sum);
	for (int i = 0; i < BAR_SHA256_LEN; i++)
		hex[2 * i] = hexd[sum[i] >> 4], hex[2 * i + 1] = hexd[sum[i] & 15];
	hex[2 * BAR_SHA256_LEN] = '\0';
	if (digest_hex && strcmp(hex, digest_hex) != 0) {
		bar_ctr_fail(why, wsize, "layer %s: checksum mismatch (the blob is sha256:%s)", label, hex);
		goto done;
	}
	rc = 0;
done:
	if (s->zinit)
		inflateEnd(&s->z);
	pathset_free(&L->made);
	free(L);
	free(s);
	return rc;
}

/* "sha256:<64 lower-case hex>" -> the hex part, or NULL. */
static const char *digest_hex(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
		return NULL;
	for (const char *p = d + 7; *p; p++)
		if (!strchr(hexd, *p))
			return NULL;
	return d + 7;
}

int bar_ctr_unpack(char *rootfs_out, size_t n, const char *blobs_dir, const char *rootfs_cache,
                   const char *manifest_digest, const bar_ctr_layer *layers, size_t nlayers,
                   char *why, size_t wsize)
{
	const char *id = digest_hex(manifest_digest);
	char final[4096], out[4200], tmp[4096], troot[4200], blob[4200];
	struct stat st;
	int rootfd = -1, rc = -1, made_tmp = 0;

	if (!id)
		return bar_ctr_fail(why, wsize, "manifest digest \"%s\" is not sha256:<hex>",
		                    manifest_digest ? manifest_digest : "");
	if ((size_t)snprintf(final, sizeof(final), "%s/%s", rootfs_cache, id) >= sizeof(final) ||
	    (size_t)snprintf(out, sizeof(out), "%s/rootfs", final) >= n)
		return bar_ctr_fail(why, wsize, "rootfs path too long");
	if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
		memcpy(rootfs_out, out, strlen(out) + 1);
		return 0;
	}
	if (bar_ctr_mkdirs(rootfs_cache, 0700) != 0)
		return bar_ctr_fail(why, wsize, "%s: %s", rootfs_cache, strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-%ld", rootfs_cache, id, (long)getpid());
	if (bar_ctr_rmtree(tmp) != 0 || mkdir(tmp, 0700) != 0) {
		bar_ctr_fail(why, wsize, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	made_tmp = 1;
	snprintf(troot, sizeof(troot), "%s/rootfs", tmp);
	/* 0755 whatever the umask (the agent's is 077): a container's
	 * unprivileged users must get past its / */
	if (mkdir(troot, 0755) != 0 ||
	    (rootfd = open(troot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fchmod(rootfd, 0755) != 0) {
		bar_ctr_fail(why, wsize, "%s: %s", troot, strerror(errno));
		goto done;
	}
	for (size_t i = 0; i < nlayers; i++) {
		const char *hex = digest_hex(layers[i].digest);
		int fd;

		if (!hex) {
			bar_ctr_fail(why, wsize, "layer %zu: digest \"%s\" is not sha256:<hex>", i,
			             layers[i].digest);
			goto done;
		}
		snprintf(blob, sizeof(blob), "%s/sha256/%s", blobs_dir, hex);
		fd = open(blob, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			bar_ctr_fail(why, wsize, "layer %s: %s: %s", layers[i].digest, blob, strerror(errno));
			goto done;
		}
		rc = bar_ctr_layer_apply(rootfd, fd, layers[i].gzip, hex, layers[i].digest, why, wsize);
		close(fd);
		if (rc != 0)
			goto done;
		rc = -1;
	}
	/* complete on disk before it becomes visible under its name */
	if (syncfs(rootfd) != 0 || rename(tmp, final) != 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			rc = 0; /* another unpack of the same image won */
			goto done;
		}
		bar_ctr_fail(why, wsize, "%s: %s", final, strerror(errno));
		goto done;
	}
	made_tmp = 0;
	rc = 0;
done:
	if (rc == 0)
		memcpy(rootfs_out, out, strlen(out) + 1);
	if (rootfd >= 0)
		close(rootfd);
	if (made_tmp)
		bar_ctr_rmtree(tmp);
	return rc;
}

int bar_ctr_gc(const char *rootfs_cache, const char *const *keep, size_t nkeep)
{
	DIR *d = opendir(rootfs_cache);
	struct dirent *de;
	int removed = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		int kept = 0;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		for (size_t i = 0; i < nkeep && !kept; i++) {
			const char *k = keep[i], *hit;
			size_t nl = strlen(de->d_name);
			if (!k)
				continue;
			if (!strncmp(k, "sha256:", 7))
				k += 7;
			/* an id, or a path .../<id>/rootfs */
			hit = strstr(k, de->d_name);
			kept = hit && (hit == k || hit[-1] == '/') &&
			       (hit[nl] == '\0' || !strcmp(hit + nl, "/rootfs"));
		}
		if (kept)
			continue;
		if (bar_ctr_rmtree_at(dirfd(d), de->d_name) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
