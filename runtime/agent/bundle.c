/*
 * bundle.c - a container's bundle for runc (ctr.h, bar_ctr_prepare): the
 * writable layer (an overlay of the cached image rootfs, or a private copy
 * where overlayfs cannot be mounted) and config.json, written by hand here
 * since the agent links no JSON library.  The config follows the OCI runtime
 * spec 1.0 (config.md, config-linux.md); its defaults are the ones
 * `runc spec` writes (mounts, masked and read-only paths) and Docker's
 * default capability set, except that the container keeps the VM's network
 * namespace: an app's ports are the VM's ports.
 */
#include "ctr.h"
#include "ctr_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CONFIG_MAX (1u << 20) /* config.json larger than this is refused */
#define CFS_PERIOD 100000     /* microseconds, the kernel's default period */
#define NOFILE_LIMIT 1048576

/* Docker's default capabilities (moby oci/caps/defaults.go). */
static const char *const default_caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
};

/* What `runc spec` masks and makes read-only. */
static const char *const masked_paths[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
	"/proc/scsi",
};
static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* ---- a bounded JSON writer ---- */

typedef struct jbuf {
	char *p;
	size_t len, cap;
	int err;
} jbuf;

static void jb_put(jbuf *j, const char *s, size_t n)
{
	if (j->err)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t ncap = j->cap ? j->cap : 4096;
		char *np;
		while (ncap < j->len + n + 1)
			ncap *= 2;
		if (ncap > CONFIG_MAX || !(np = realloc(j->p, ncap))) {
			j->err = 1;
			return;
		}
		j->p = np, j->cap = ncap;
	}
	memcpy(j->p + j->len, s, n);
	j->len += n;
	j->p[j->len] = '\0';
}

/* A string literal, its length counted by the compiler. */
#define JB_LIT(j, lit) jb_put((j), (lit), sizeof(lit) - 1)

static void jb_fmt(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_fmt(jbuf *j, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		j->err = 1;
	else
		jb_put(j, buf, (size_t)n);
}

/* A JSON string (RFC 8259 escapes). */
static void jb_str(jbuf *j, const char *s)
{
	JB_LIT(j, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			jb_put(j, e, 2);
		} else if (c < 0x20) {
			jb_fmt(j, "\\u%04x", c);
		} else {
			jb_put(j, s, 1);
		}
	}
	JB_LIT(j, "\"");
}

static void jb_strs(jbuf *j, const char *const *v, size_t n)
{
	JB_LIT(j, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			JB_LIT(j, ",");
		jb_str(j, v[i]);
	}
	JB_LIT(j, "]");
}

/* A mount {destination, type, source, options}; options NULL-terminated. */
static void jb_mount(jbuf *j, const char *dst, const char *type, const char *src,
                     const char *const *opts)
{
	size_t n = 0;

	while (opts[n])
		n++;
	if (j->len && j->p[j->len - 1] != '[')
		JB_LIT(j, ",");
	JB_LIT(j, "{\"destination\":");
	jb_str(j, dst);
	JB_LIT(j, ",\"type\":");
	jb_str(j, type);
	JB_LIT(j, ",\"source\":");
	jb_str(j, src);
	JB_LIT(j, ",\"options\":");
	jb_strs(j, opts, n);
	JB_LIT(j, "}");
}

/* ---- the user ---- */

/* Read a file of the image (resolved inside rootfs, so an absolute symlink
 * in the image cannot point at the VM's own file) into buf; -1 if missing. */
static int read_image_file(const char *rootfs, const char *rel, char *buf, size_t n)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
	                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;
	size_t have = 0;

	if (root < 0)
		return -1;
	fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(root, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(root);
	if (fd < 0)
		return -1;
	while (have + 1 < n) {
		ssize_t got = read(fd, buf + have, n - 1 - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	buf[have] = '\0';
	close(fd);
	return 0;
}

/* In a passwd/group style file, the line whose first field is name (or,
 * by_id, whose third field is the number name): its third and fourth fields. */
static int colon_lookup(const char *text, const char *name, int by_id, long *f3, long *f4)
{
	size_t nl = strlen(name);

	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		const char *c1 = memchr(line, ':', end ? (size_t)(end - line) : strlen(line));
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char *after;

		if (c2 && (!end || c2 < end)) {
			long v3 = strtol(c2 + 1, &after, 10);
			int hit = by_id ? (after > c2 + 1 && v3 == atol(name))
			                : ((size_t)(c1 - line) == nl && !strncmp(line, name, nl));
			if (hit && *after == ':') {
				*f3 = v3;
				*f4 = strtol(after + 1, NULL, 10);
				return 0;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return -1;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* "uid[:gid]" or "name[:group]" -> numbers, names looked up in the image's
 * /etc/passwd and /etc/group (as Docker does). */
static int user_resolve(const bar_ctr_spec *s, long *uid, long *gid, char *why, size_t wsize)
{
	char u[256], *g, *text = NULL;
	long f3, f4;
	int rc = -1;

	*uid = 0, *gid = 0;
	if (!s->user || !*s->user)
		return 0;
	if (strlen(s->user) >= sizeof(u))
		return bar_ctr_fail(why, wsize, "user \"%s\" is too long", s->user);
	strcpy(u, s->user);
	g = strchr(u, ':');
	if (g)
		*g++ = '\0';
	if (!(text = malloc(CONFIG_MAX)))
		return bar_ctr_fail(why, wsize, "out of memory");
	if (read_image_file(s->image_rootfs, "etc/passwd", text, CONFIG_MAX) != 0)
		text[0] = '\0';
	if (all_digits(u)) {
		*uid = atol(u);
		if (colon_lookup(text, u, 1, &f3, &f4) == 0)
			*gid = f4;
	} else if (colon_lookup(text, u, 0, &f3, &f4) == 0) {
		*uid = f3, *gid = f4;
	} else {
		bar_ctr_fail(why, wsize, "user \"%s\" is not in the image's /etc/passwd", u);
		goto done;
	}
	if (g && all_digits(g)) {
		*gid = atol(g);
	} else if (g) {
		if (read_image_file(s->image_rootfs, "etc/group", text, CONFIG_MAX) != 0)
			text[0] = '\0';
		if (colon_lookup(text, g, 0, &f3, &f4) != 0) {
			bar_ctr_fail(why, wsize, "group \"%s\" is not in the image's /etc/group", g);
			goto done;
		}
		*gid = f3;
	}
	rc = 0;
done:
	free(text);
	return rc;
}

/* ---- config.json ---- */

/* RLIMIT_NOFILE for the container: NOFILE_LIMIT, or the agent's own hard
 * limit when that is lower and the agent may not raise it (no
 * CAP_SYS_RESOURCE, as in some sandboxes): runc would fail to set it. */
static unsigned long long nofile_limit(void)
{
	struct rlimit rl;
	char line[256];
	unsigned long long eff = ~0ULL;
	FILE *f;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max >= NOFILE_LIMIT)
		return NOFILE_LIMIT;
	if ((f = fopen("/proc/self/status", "re"))) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "CapEff:", 7))
				eff = strtoull(line + 7, NULL, 16);
		fclose(f);
	}
	return (eff >> 24) & 1 ? NOFILE_LIMIT : (unsigned long long)rl.rlim_max; /* CAP_SYS_RESOURCE */
}

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int has_path(const bar_ctr_spec *s)
{
	for (size_t i = 0; i < s->nenv; i++)
		if (!strncmp(s->env[i], "PATH=", 5))
			return 1;
	return 0;
}

static void jb_config(jbuf *j, const bar_ctr_spec *s, const char *root, long uid, long gid)
{
	const size_t ncaps = sizeof(default_caps) / sizeof(default_caps[0]);
	static const char *const o_dev[] = { "nosuid", "strictatime", "mode=755", "size=65536k",
	                                     NULL };
	static const char *const o_pts[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666",
	                                     "mode=0620", "gid=5", NULL };
	static const char *const o_shm[] = { "nosuid", "noexec", "nodev", "mode=1777",
	                                     "size=65536k", NULL };
	static const char *const o_mq[] = { "nosuid", "noexec", "nodev", NULL };
	static const char *const o_sys[] = { "nosuid", "noexec", "nodev", "ro", NULL };
	static const char *const o_proc[] = { "nosuid", "noexec", "nodev", NULL };
	static const char *const o_etc[] = { "rbind", "ro", "nosuid", "nodev", NULL };
	static const char *const o_vol[] = { "rbind", "rw", NULL };
	static const char *const etc[] = { "/etc/resolv.conf", "/etc/hosts" };

	jb_fmt(j, "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,"
	          "\"user\":{\"uid\":%ld,\"gid\":%ld},\"args\":", uid, gid);
	jb_strs(j, s->args, s->nargs);
	JB_LIT(j, ",\"env\":");
	jb_strs(j, s->env, s->nenv);
	if (!has_path(s)) { /* as Docker does when neither image nor app sets it */
		if (!j->err)
			j->len--; /* reopen the array */
		if (s->nenv)
			JB_LIT(j, ",");
		jb_str(j, DEFAULT_PATH);
		JB_LIT(j, "]");
	}
	JB_LIT(j, ",\"cwd\":");
	jb_str(j, s->cwd && *s->cwd ? s->cwd : "/");
	JB_LIT(j, ",\"capabilities\":{\"bounding\":");
	jb_strs(j, default_caps, ncaps);
	JB_LIT(j, ",\"effective\":");
	jb_strs(j, default_caps, ncaps);
	JB_LIT(j, ",\"permitted\":");
	jb_strs(j, default_caps, ncaps);
	jb_fmt(j, "},\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":%llu,\"soft\":%llu}],"
	          "\"noNewPrivileges\":true},", nofile_limit(), nofile_limit());
	JB_LIT(j, "\"root\":{\"path\":");
	jb_str(j, root);
	JB_LIT(j, ",\"readonly\":false},\"hostname\":");
	jb_str(j, s->hostname && *s->hostname ? s->hostname : s->id);
	JB_LIT(j, ",\"mounts\":[");
	jb_mount(j, "/proc", "proc", "proc", o_proc);
	jb_mount(j, "/dev", "tmpfs", "tmpfs", o_dev);
	jb_mount(j, "/dev/pts", "devpts", "devpts", o_pts);
	jb_mount(j, "/dev/shm", "tmpfs", "shm", o_shm);
	jb_mount(j, "/dev/mqueue", "mqueue", "mqueue", o_mq);
	jb_mount(j, "/sys", "sysfs", "sysfs", o_sys);
	for (size_t i = 0; i < 2; i++)
		if (access(etc[i], R_OK) == 0)
			jb_mount(j, etc[i], "bind", etc[i], o_etc);
	for (size_t i = 0; i < s->nvol; i++)
		jb_mount(j, s->vol_dst[i], "bind", s->vol_src[i], o_vol);
	JB_LIT(j, "],\"linux\":{\"cgroupsPath\":");
	{
		char cg[4096];
		const char *parent = s->cgroup_parent && *s->cgroup_parent ? s->cgroup_parent
		                                                           : "barista";
		size_t pl = strlen(parent);
		while (pl > 1 && parent[pl - 1] == '/')
			pl--;
		snprintf(cg, sizeof(cg), "%.*s/%s", (int)pl, parent, s->id);
		jb_str(j, cg);
	}
	JB_LIT(j, ",\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]");
	if (s->memory_bytes)
		jb_fmt(j, ",\"memory\":{\"limit\":%llu}", (unsigned long long)s->memory_bytes);
	if (s->cpus > 0) {
		long long quota = (long long)(s->cpus * CFS_PERIOD + 0.5);
		if (quota < 1000)
			quota = 1000; /* the kernel's minimum quota, 1 ms */
		jb_fmt(j, ",\"cpu\":{\"quota\":%lld,\"period\":%d}", quota, CFS_PERIOD);
	}
	JB_LIT(j, "},\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
	          "{\"type\":\"mount\"}],\"maskedPaths\":");
	jb_strs(j, masked_paths, sizeof(masked_paths) / sizeof(masked_paths[0]));
	JB_LIT(j, ",\"readonlyPaths\":");
	jb_strs(j, readonly_paths, sizeof(readonly_paths) / sizeof(readonly_paths[0]));
	JB_LIT(j, "}}\n");
}

/* Write data[n] to path through a temporary file and rename. */
static int write_atomic(const char *path, const char *data, size_t n)
{
	char tmp[4200];
	int fd, rc = -1;
	size_t off = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto done;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto done;
	rc = 0;
done:
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* ---- the writable layer ---- */

/* Copy the tree under the dir sfd into the dir dfd (owners, modes,
 * symlinks; hard links become copies). */
static int copy_tree(int sfd, int dfd)
{
	DIR *d;
	struct dirent *de;
	int rc = 0, fd = dup(sfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		const char *n = de->d_name;

		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (fstatat(sfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = -1;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int s2, d2;
			if (mkdirat(dfd, n, 0700) != 0 && errno != EEXIST)
				rc = -1;
			s2 = openat(sfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			d2 = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (rc || s2 < 0 || d2 < 0 || copy_tree(s2, d2) != 0)
				rc = -1;
			if (s2 >= 0)
				close(s2);
			if (d2 >= 0)
				close(d2);
		} else if (S_ISLNK(st.st_mode)) {
			char t[4096];
			ssize_t len = readlinkat(sfd, n, t, sizeof(t) - 1);
			if (len < 0)
				rc = -1;
			else
				t[len] = '\0', rc = symlinkat(t, dfd, n);
		} else if (S_ISREG(st.st_mode)) {
			char buf[16384];
			ssize_t got;
			int in = openat(sfd, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			int out = openat(dfd, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			                 0600);
			if (in < 0 || out < 0)
				rc = -1;
			while (rc == 0 && (got = read(in, buf, sizeof(buf))) > 0)
				if (write(out, buf, (size_t)got) != got)
					rc = -1;
			if (in >= 0)
				close(in);
			if (out >= 0)
				close(out);
		} else if (S_ISFIFO(st.st_mode)) {
			rc = mknodat(dfd, n, S_IFIFO | 0600, 0);
		} else {
			continue; /* sockets, devices: not in an unpacked image */
		}
		if (rc == 0) {
			(void)fchownat(dfd, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
			if (!S_ISLNK(st.st_mode))
				(void)fchmodat(dfd, n, st.st_mode & 07777, 0);
		}
	}
	closedir(d);
	return rc;
}

/* merged/ is a mount point already (a second prepare). */
static int is_mounted(const char *dir, const char *merged)
{
	struct stat a, b;
	return stat(dir, &a) == 0 && stat(merged, &b) == 0 && a.st_dev != b.st_dev;
}

/* 0: overlay mounted, BAR_CTR_COPIED: copied, -1: failed. */
static int make_rootfs(const bar_ctr_spec *s, const char *merged, char *why, size_t wsize)
{
	char upper[4200], work[4200], opts[4096], mark[4200];
	struct stat st;
	int sfd, dfd, rc;

	snprintf(upper, sizeof(upper), "%s/upper", s->dir);
	snprintf(work, sizeof(work), "%s/work", s->dir);
	snprintf(mark, sizeof(mark), "%s/.copied", s->dir);
	if (is_mounted(s->dir, merged))
		return 0;
	if (stat(mark, &st) == 0)
		return BAR_CTR_COPIED;
	if (strpbrk(s->image_rootfs, ",:") || strpbrk(s->dir, ",:"))
		return bar_ctr_fail(why, wsize, "overlay paths may not hold ',' or ':' (%s, %s)",
		                    s->image_rootfs, s->dir);
	if ((mkdir(upper, 0755) != 0 && errno != EEXIST) ||
	    (mkdir(work, 0700) != 0 && errno != EEXIST))
		return bar_ctr_fail(why, wsize, "%s: %s", s->dir, strerror(errno));
	/* the container's / is upper's inode: the image's mode, whatever the
	 * agent's umask (077) made of it, or unprivileged users cannot pass */
	if (stat(s->image_rootfs, &st) != 0 || chmod(upper, st.st_mode & 07777) != 0)
		return bar_ctr_fail(why, wsize, "%s: %s", upper, strerror(errno));
	if ((size_t)snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s",
	                     s->image_rootfs, upper, work) >= sizeof(opts))
		return bar_ctr_fail(why, wsize, "overlay options too long");
	/* BARISTA_CTR_NO_OVERLAY: the tests' way to take the copy path */
	if (!getenv("BARISTA_CTR_NO_OVERLAY") &&
	    mount("overlay", merged, "overlay", MS_NODEV, opts) == 0)
		return 0;
	sfd = open(s->image_rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dfd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = sfd >= 0 && dfd >= 0 ? copy_tree(sfd, dfd) : -1;
	if (rc == 0)
		(void)fchmod(dfd, 0755);
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	if (rc != 0)
		return bar_ctr_fail(why, wsize, "copying %s to %s: %s", s->image_rootfs, merged,
		                    strerror(errno));
	if (write_atomic(mark, "", 0) != 0)
		return bar_ctr_fail(why, wsize, "%s: %s", mark, strerror(errno));
	return BAR_CTR_COPIED;
}

int bar_ctr_prepare(const bar_ctr_spec *s, char *why, size_t wsize)
{
	char merged[4200], cfg[4200];
	jbuf j = { 0 };
	long uid, gid;
	int how, rc = -1;

	if (!s || !s->id || !*s->id || !s->dir || !s->image_rootfs || !s->nargs)
		return bar_ctr_fail(why, wsize, "container spec needs id, dir, image rootfs and args");
	for (const char *c = s->id; *c; c++)
		if (!(*c == '-' || *c == '_' || *c == '.' || (*c >= '0' && *c <= '9') ||
		      (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
			return bar_ctr_fail(why, wsize, "container id \"%s\": only [A-Za-z0-9_.-]", s->id);
	for (size_t i = 0; i < s->nvol; i++) {
		struct stat st;
		if (!s->vol_dst[i] || s->vol_dst[i][0] != '/' || strstr(s->vol_dst[i], ".."))
			return bar_ctr_fail(why, wsize, "volume target \"%s\": not an absolute path",
			                    s->vol_dst[i] ? s->vol_dst[i] : "");
		if (!s->vol_src[i] || stat(s->vol_src[i], &st) != 0 || !S_ISDIR(st.st_mode))
			return bar_ctr_fail(why, wsize, "volume source \"%s\": not a dir",
			                    s->vol_src[i] ? s->vol_src[i] : "");
	}
	if (user_resolve(s, &uid, &gid, why, wsize) != 0)
		return -1;
	snprintf(merged, sizeof(merged), "%s/merged", s->dir);
	snprintf(cfg, sizeof(cfg), "%s/config.json", s->dir);
	if (bar_ctr_mkdirs(s->dir, 0700) != 0 || (mkdir(merged, 0755) != 0 && errno != EEXIST))
		return bar_ctr_fail(why, wsize, "%s: %s", s->dir, strerror(errno));
	how = make_rootfs(s, merged, why, wsize);
	if (how < 0)
		return -1;
	jb_config(&j, s, merged, uid, gid);
	if (j.err) {
		bar_ctr_fail(why, wsize, "config.json would be larger than %u bytes", CONFIG_MAX);
		goto done;
	}
	if (write_atomic(cfg, j.p, j.len) != 0) {
		bar_ctr_fail(why, wsize, "%s: %s", cfg, strerror(errno));
		goto done;
	}
	rc = how;
done:
	free(j.p);
	return rc;
}
