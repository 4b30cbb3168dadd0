/*
 * local_util.c - the local provider's small helpers: bounded file I/O,
 * atomic metadata writes, running helper programs (ip, nft, ssh-keygen)
 * safely from a multi-threaded host, random system ids, flock()s and
 * process liveness.
 *
 * The plugin may not use the host's core/util.h (it sees only the ABI
 * header), so the few helpers it needs live here.  Every failure is recorded
 * in the call context with bar_local_fail(), which keeps the first one.
 */
#include "local.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUN_TIMEOUT_MS 30000
#define RUN_ARGV_MAX 32

int64_t bar_local_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bar_local_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int bar_local_path(bar_local_ctx *c, char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "path longer than %d bytes under %s", PATH_MAX, c->root);
	return 0;
}

int bar_local_mkdirs(bar_local_ctx *c, const char *path, unsigned mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	int rc = 0;

	if (n == 0 || n >= sizeof(tmp))
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID, "bad directory path");
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST) {
			rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "mkdir %s: %s", tmp,
			                    strerror(errno));
			goto done;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
done:
	return rc;
}

static int rmtree_one(const char *fpath, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(fpath) : unlink(fpath)) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int bar_local_rmtree(bar_local_ctx *c, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	if (nftw(path, rmtree_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "removing %s: %s", path,
		                      strerror(errno));
	return 0;
}

int bar_local_file_read(bar_local_ctx *c, char **out, size_t *len_out, const char *path,
                        size_t max)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return BAR_ENOTFOUND;
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "open %s: %s", path,
		                      strerror(errno));
	}
	for (;;) {
		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 4096;
			if (cap > max + 1)
				cap = max + 1;
			if (len + 1 >= cap) {
				rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
				                    "%s is larger than %zu bytes", path, max);
				goto done;
			}
			char *nb = realloc(buf, cap);
			if (!nb) {
				rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
				goto done;
			}
			buf = nb;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "read %s: %s", path,
			                    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf && !(buf = malloc(1))) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
		goto done;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	if (len_out)
		*len_out = len;
done:
	free(buf);
	close(fd);
	return rc;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bar_local_file_write(bar_local_ctx *c, const char *path, const void *data, size_t len,
                         unsigned mode)
{
	char tmp[PATH_MAX];
	int fd = -1, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, gettid()) >= (int)sizeof(tmp))
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID, "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 || write_all(fd, data, len) < 0) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "write %s: %s", tmp,
		                    strerror(errno));
		goto done;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		fd = -1;
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "write %s: %s", path,
		                    strerror(errno));
		goto done;
	}
	fd = -1;
done:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	return rc;
}

void bar_local_memzero(void *p, size_t n)
{
	explicit_bzero(p, n);
}

void bar_local_file_wipe(const char *path)
{
	struct stat st;
	char zero[4096] = { 0 };
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0) {
		if (fstat(fd, &st) == 0) {
			for (off_t left = st.st_size; left > 0;) {
				size_t n = left > (off_t)sizeof(zero) ? sizeof(zero) : (size_t)left;

				if (write_all(fd, zero, n) < 0)
					break;
				left -= (off_t)n;
			}
			fdatasync(fd);
		}
		close(fd);
	}
	unlink(path);
}

int bar_local_json_load(bar_local_ctx *c, json_t **out, const char *path)
{
	json_error_t jerr;
	char *text = NULL;
	size_t len = 0;
	json_t *j;
	int rc;

	rc = bar_local_file_read(c, &text, &len, path, BAR_LOCAL_META_MAX);
	if (rc)
		goto done;
	j = json_loadb(text, len, 0, &jerr);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "%s:%d:%d: %s", path,
		                    jerr.line, jerr.column, j ? "not a JSON object" : jerr.text);
		goto done;
	}
	*out = j;
done:
	free(text);
	return rc;
}

char *bar_local_json_text(json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

int bar_local_json_save(bar_local_ctx *c, const char *path, json_t *j)
{
	char *text = bar_local_json_text(j);
	int rc;

	if (!text)
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "cannot encode %s", path);
	rc = bar_local_file_write(c, path, text, strlen(text), 0600);
	free(text);
	return rc;
}

/* Read the child's output until EOF or the deadline; keep at most max bytes. */
static int run_collect(int fd, char *buf, size_t max, size_t *len, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = deadline - bar_local_now_ms();
		char sink[4096];

		if (left <= 0)
			return -1;
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		ssize_t r = *len < max ? read(fd, buf + *len, max - *len) : read(fd, sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		if (*len < max)
			*len += (size_t)r;
	}
}

static void run_describe(char *buf, size_t size, const char *const *argv, const char *netns)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; argv[i] && used + 1 < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%s", i ? " " : "", argv[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (netns && used + 1 < size)
		snprintf(buf + used, size - used, " (in netns %s)", netns);
}

/* A pipe already holding `input`, for the child's stdin: written before the
 * child exists, so a child that exits early cannot SIGPIPE the host. */
static int run_stdin(bar_local_ctx *c, int *rfd, const char *input)
{
	int p[2];
	size_t len = strlen(input);

	if (len > BAR_LOCAL_STDIN_MAX)
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "helper input larger than %d bytes", BAR_LOCAL_STDIN_MAX);
	if (pipe2(p, O_CLOEXEC) < 0)
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "pipe: %s", strerror(errno));
	if (write_all(p[1], input, len) < 0) {
		close(p[0]);
		close(p[1]);
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "pipe: %s", strerror(errno));
	}
	close(p[1]);
	*rfd = p[0];
	return 0;
}

int bar_local_proc_start(bar_local_ctx *c, bar_local_proc *out, const char *const *argv,
                         const char *input, const char *netns)
{
	static char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	const char *av[RUN_ARGV_MAX + 4];
	char nspath[PATH_MAX];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int pfd[2] = { -1, -1 }, in = -1, n = 0, rc = 0;

	memset(out, 0, sizeof(*out));
	out->pid = -1;
	out->fd = -1;
	run_describe(out->what, sizeof(out->what), argv, netns);
	if (netns) {
		snprintf(nspath, sizeof(nspath), "/run/netns/%s", netns);
		av[n++] = c->prov->init_path;
		av[n++] = "nsexec";
		av[n++] = nspath;
	}
	for (int i = 0; argv[i] && i < RUN_ARGV_MAX; i++)
		av[n++] = argv[i];
	av[n] = NULL;
	if (input && (rc = run_stdin(c, &in, input)))
		return rc;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "%s: pipe: %s", out->what,
		                    strerror(errno));
		goto done;
	}
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	if (in >= 0)
		posix_spawn_file_actions_adddup2(&fa, in, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	int err = posix_spawn(&out->pid, av[0], &fa, &at, (char *const *)av, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (err) {
		out->pid = -1;
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "%s: cannot start: %s",
		                    out->what, strerror(err));
		goto done;
	}
	out->fd = pfd[0];
	pfd[0] = -1;
done:
	if (in >= 0)
		close(in);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return rc;
}

int bar_local_proc_finish(bar_local_ctx *c, bar_local_proc *p, char **out, int quiet)
{
	char *buf = NULL;
	size_t len = 0;
	int st = 0, rc = 0;

	if (p->pid <= 0)
		return -1;
	if (!(buf = malloc(BAR_LOCAL_OUT_MAX + 1))) {
		kill(p->pid, SIGKILL);
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
	} else if (run_collect(p->fd, buf, BAR_LOCAL_OUT_MAX, &len,
	                       bar_local_now_ms() + RUN_TIMEOUT_MS)) {
		kill(p->pid, SIGKILL);
	}
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	p->pid = -1;
	close(p->fd);
	p->fd = -1;
	if (rc)
		goto done;
	buf[len] = '\0';
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
			buf[--len] = '\0';
		rc = -1;
		if (!quiet)
			bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "%s: %s %d: %.400s", p->what,
			               WIFEXITED(st) ? "exited with status" : "killed by signal",
			               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), buf);
		goto done;
	}
	if (out) {
		*out = buf;
		buf = NULL;
	}
done:
	free(buf);
	return rc;
}

int bar_local_run(bar_local_ctx *c, char **out, const char *const *argv, const char *input,
                  const char *netns, int quiet)
{
	bar_local_proc p;
	int saved = c->err.rc;
	int rc = bar_local_proc_start(c, &p, argv, input, netns);

	if (rc) {
		if (quiet)
			c->err.rc = saved;
		return rc;
	}
	return bar_local_proc_finish(c, &p, out, quiet);
}

int bar_local_id_new(bar_local_ctx *c, char *out, const char *prefix)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "getrandom: %s",
		                      strerror(errno));
	snprintf(out, BAR_LOCAL_ID_MAX, "%s-%08x", prefix, r);
	return 0;
}

int bar_local_id_valid(const char *id, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!id || strncmp(id, prefix, n) != 0 || id[n] != '-' || strlen(id + n + 1) != 8)
		return 0;
	for (const char *p = id + n + 1; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

int bar_local_lock(bar_local_ctx *c, int *out_fd, const char *path, int how)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "open lock %s: %s", path,
		                      strerror(errno));
	while (flock(fd, how) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "flock %s: %s", path,
		                      strerror(e));
	}
	*out_fd = fd;
	return 0;
}

void bar_local_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the only descriptor releases the flock */
}

uint64_t bar_local_proc_starttime(int pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": comm may hold spaces, so parse after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	p += 2;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu", &start) != 1)
		return 0;
	return start;
}
