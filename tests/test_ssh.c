/*
 * test_ssh.c - the SSH client against a real OpenSSH server.
 *
 * The test makes a temporary directory with host and user keys and an
 * sshd_config, starts `/usr/sbin/sshd -D -e` on a free port of 127.0.0.1 and
 * checks: a command's stdout, stderr and exit status; host key pinning
 * (the mismatch message carries the same fingerprints ssh-keygen prints);
 * rejected user keys; the output cap; command and handshake timeouts; a
 * refused port; bad options; and sessions used from several threads.
 *
 * Cleanup is done by a supervising parent: the tests run in a forked child
 * (sshd is the child's child and dies with it through PR_SET_PDEATHSIG), and
 * the parent kills whatever is left and removes the directory however the
 * child ended, even by a crash or by the parent's own time limit.
 */
#include "error.h"
#include "ssh.h"
#include "watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST_LIMIT_S 50 /* below the ctest TIMEOUT of 60 */

static int failures;
static char dir[256];
static char user_name[64] = "root";
static int port;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			failures++;                                             \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, \
			        #cond);                                         \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void path_in_dir(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

/* Read a whole small file into a static-size buffer, trailing newline cut. */
static int read_small(char *out, size_t size, const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(out, 1, size - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return 0;
}

/* Run argv with stdout to `out_path` (or /dev/null); 0 if it exited 0. */
static int run(const char *out_path, char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(out_path ? out_path : "/dev/null",
		              O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0)
			dup2(fd, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int keygen(const char *name)
{
	char path[512];
	char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test",
		         "-f", path, NULL };

	path_in_dir(path, sizeof(path), name);
	return run(NULL, argv);
}

/* A port nobody listens on right now. */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		p = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

static int tcp_probe(int p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc;
}

static int write_config(void)
{
	char path[512];
	FILE *f;

	path_in_dir(path, sizeof(path), "sshd_config");
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "ListenAddress 127.0.0.1\nPort %d\nHostKey %s/host_key\n"
	        "PidFile %s/sshd.pid\nAuthorizedKeysFile %s/authorized_keys\n"
	        "UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n"
	        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
	        "LogLevel INFO\n", port, dir, dir, dir);
	return fclose(f);
}

/* Start sshd as our child and wait until it accepts connections. */
static pid_t start_sshd(void)
{
	char cfg[512], log[512];
	pid_t pid;

	path_in_dir(cfg, sizeof(cfg), "sshd_config");
	path_in_dir(log, sizeof(log), "sshd.log");
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", cfg, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (tcp_probe(port) == 0)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
		usleep(50000);
	}
	fprintf(stderr, "sshd did not start; see its log:\n");
	run(NULL, (char *[]){ "cat", log, NULL });
	kill(pid, SIGKILL);
	return -1;
}

static int setup(void)
{
	char src[512], dst[512];

	mkdir("/run/sshd", 0755);
	if (keygen("host_key") || keygen("other_host_key") || keygen("user_key") ||
	    keygen("other_user_key")) {
		fprintf(stderr, "ssh-keygen failed\n");
		return -1;
	}
	path_in_dir(src, sizeof(src), "user_key.pub");
	path_in_dir(dst, sizeof(dst), "authorized_keys");
	if (run(dst, (char *[]){ "cat", src, NULL }) != 0)
		return -1;
	port = free_port();
	if (port < 0 || write_config() < 0)
		return -1;
	return 0;
}

/* Options for our sshd: the right host key and user key. */
static bar_ssh_opts good_opts(char *host_key, size_t size, char *key_path, size_t ksize)
{
	bar_ssh_opts o = BAR_SSH_OPTS_INIT;
	char path[512];

	path_in_dir(path, sizeof(path), "host_key.pub");
	if (read_small(host_key, size, path) < 0)
		host_key[0] = '\0';
	path_in_dir(key_path, ksize, "user_key");
	o.host = "127.0.0.1";
	o.port = port;
	o.user = user_name;
	o.private_key_path = key_path;
	o.host_key = host_key;
	return o;
}

static void test_exec(void)
{
	char hk[1024], key[512];
	bar_ssh_opts o = good_opts(hk, sizeof(hk), key, sizeof(key));
	bar_ssh *s = NULL;
	bar_ssh_result r = { 0 };
	int rc;

	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == 0 && s, "connect: %d %s", rc, bar_error_last());
	if (!s)
		return;
	rc = bar_ssh_exec(s, "echo hello; echo err >&2; exit 3", &r);
	CHECK(rc == 0, "exec: %s", bar_error_last());
	CHECK(r.exit_status == 3, "status %d", r.exit_status);
	CHECK(r.out && r.out_len == 6 && strcmp(r.out, "hello\n") == 0, "out '%s'", r.out);
	CHECK(r.err && r.err_len == 4 && strcmp(r.err, "err\n") == 0, "err '%s'", r.err);
	bar_ssh_result_clear(&r);
	CHECK(r.out == NULL && r.err == NULL, "clear left pointers");

	/* The same session runs more commands; empty output is "" not NULL. */
	rc = bar_ssh_exec(s, "true", &r);
	CHECK(rc == 0 && r.exit_status == 0 && r.out && r.out_len == 0 && r.err &&
	      r.err_len == 0, "second exec: %d %s", rc, bar_error_last());
	bar_ssh_result_clear(&r);
	rc = bar_ssh_exec(s, "kill -TERM $$", &r);
	CHECK(rc == 0 && r.exit_status == 128 + SIGTERM, "signal status %d (%s)",
	      r.exit_status, rc ? bar_error_last() : "");
	bar_ssh_result_clear(&r);
	/* Output larger than one read buffer and than the channel window. */
	rc = bar_ssh_exec(s, "head -c 3000000 /dev/zero | tr '\\0' x", &r);
	CHECK(rc == -1 && r.out == NULL, "default cap is 1 MiB: %d", rc);
	bar_ssh_result_clear(&r);
	rc = bar_ssh_exec(s, "head -c 1000000 /dev/zero | tr '\\0' x; "
	                     "head -c 500000 /dev/zero | tr '\\0' y >&2", &r);
	CHECK(rc == 0 && r.out_len == 1000000 && r.err_len == 500000 && r.out[999999] == 'x' &&
	      r.err[0] == 'y', "big output: %d %zu %zu %s", rc, r.out_len, r.err_len,
	      rc ? bar_error_last() : "");
	bar_ssh_result_clear(&r);
	bar_ssh_free(s);
}

/* The "SHA256:..." word of `ssh-keygen -l -f <dir>/<name>`. */
static int fingerprint_of(char *out, size_t size, const char *name)
{
	char pub[512], txt[512], line[512];
	const char *p;

	path_in_dir(pub, sizeof(pub), name);
	path_in_dir(txt, sizeof(txt), "fingerprint.txt");
	if (run(txt, (char *[]){ "ssh-keygen", "-l", "-f", pub, NULL }) != 0 ||
	    read_small(line, sizeof(line), txt) != 0)
		return -1;
	p = strchr(line, ' '); /* "<bits> SHA256:... <comment> (<type>)" */
	if (!p)
		return -1;
	p++;
	snprintf(out, size, "%.*s", (int)strcspn(p, " "), p);
	return 0;
}

static void test_host_key_mismatch(void)
{
	char hk[1024], key[512], other[1024], path[512], fp[256];
	bar_ssh_opts o = good_opts(hk, sizeof(hk), key, sizeof(key));
	bar_ssh *s = NULL;
	const char *msg;
	char where[64];
	int rc;

	path_in_dir(path, sizeof(path), "other_host_key.pub");
	CHECK(read_small(other, sizeof(other), path) == 0, "read %s", path);
	o.host_key = other;
	rc = bar_ssh_connect(&s, &o);
	msg = bar_error_last();
	CHECK(rc == BAR_EAUTH && s == NULL, "mismatch gave %d: %s", rc, msg);
	fprintf(stderr, "note: %s\n", msg);
	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	CHECK(strstr(msg, where) != NULL, "message lacks %s: %s", where, msg);

	/* Both fingerprints, exactly as ssh-keygen -l prints them. */
	CHECK(fingerprint_of(fp, sizeof(fp), "host_key.pub") == 0, "ssh-keygen -l failed");
	CHECK(strncmp(fp, "SHA256:", 7) == 0, "ssh-keygen printed %s", fp);
	CHECK(strstr(msg, fp) != NULL, "server fingerprint %s missing from: %s", fp, msg);
	CHECK(fingerprint_of(fp, sizeof(fp), "other_host_key.pub") == 0, "ssh-keygen -l");
	CHECK(strstr(msg, fp) != NULL, "pinned fingerprint %s missing from: %s", fp, msg);
}

static void test_bad_options(void)
{
	char hk[1024], key[512];
	bar_ssh_opts o = good_opts(hk, sizeof(hk), key, sizeof(key));
	bar_ssh *s = NULL;
	int rc;

	o.host_key = NULL;
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == BAR_EINVALID && !s, "no pinned key: %d", rc);
	CHECK(strstr(bar_error_last(), "refusing") != NULL, "%s", bar_error_last());
	o.host_key = "ssh-ed25519 not*base64";
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == BAR_EINVALID && !s, "garbage key: %d %s", rc, bar_error_last());
	/* A well-formed line whose blob names another type. */
	o.host_key = "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIEi0gwbdvDuavYBo0NpJzb13mtSM2nIcrOrqH4y8xbHo";
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == BAR_EINVALID && !s, "type mismatch: %d %s", rc, bar_error_last());
	o = good_opts(hk, sizeof(hk), key, sizeof(key));
	o.version = 99;
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == BAR_EINVALID && !s, "bad version: %d", rc);
}

static void test_wrong_user_key(void)
{
	char hk[1024], key[512];
	bar_ssh_opts o = good_opts(hk, sizeof(hk), key, sizeof(key));
	bar_ssh *s = NULL;
	int rc;

	path_in_dir(key, sizeof(key), "other_user_key");
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == BAR_EAUTH && !s, "wrong user key gave %d: %s", rc, bar_error_last());
	fprintf(stderr, "note: %s\n", bar_error_last());
	CHECK(strstr(bar_error_last(), "authentication") != NULL, "%s", bar_error_last());
	path_in_dir(key, sizeof(key), "no_such_key");
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc != 0 && !s, "missing key file connected");
}

static void test_output_cap(void)
{
	char hk[1024], key[512];
	bar_ssh_opts o = good_opts(hk, sizeof(hk), key, sizeof(key));
	bar_ssh *s = NULL;
	bar_ssh_result r = { 0 };
	int rc;

	o.max_output = 1000;
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == 0, "connect: %s", bar_error_last());
	if (rc)
		return;
	rc = bar_ssh_exec(s, "head -c 100000 /dev/zero", &r);
	CHECK(rc == -1 && r.out == NULL, "over the cap gave %d", rc);
	CHECK(strstr(bar_error_last(), "more than 1000 bytes to stdout") != NULL, "%s",
	      bar_error_last());
	rc = bar_ssh_exec(s, "head -c 5000 /dev/zero >&2", &r);
	CHECK(rc == -1 && strstr(bar_error_last(), "stderr"), "stderr cap: %d %s", rc,
	      bar_error_last());
	/* Exactly at the cap is fine, and the session survived the overflows. */
	rc = bar_ssh_exec(s, "head -c 1000 /dev/zero", &r);
	CHECK(rc == 0 && r.out_len == 1000, "at the cap: %d %s", rc, bar_error_last());
	bar_ssh_result_clear(&r);
	bar_ssh_free(s);
}

static void test_timeout(void)
{
	char hk[1024], key[512], cmd[400];
	bar_ssh_opts o = good_opts(hk, sizeof(hk), key, sizeof(key));
	bar_ssh *s = NULL;
	bar_ssh_result r = { 0 };
	double t0, dt;
	int rc;

	o.timeout_ms = 500;
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == 0, "connect: %s", bar_error_last());
	if (rc)
		return;
	/* The shell leaves its pid so cleanup() can end the orphaned sleep. */
	snprintf(cmd, sizeof(cmd), "echo $$ > %s/sleeper.pid; exec sleep 5", dir);
	t0 = now_s();
	rc = bar_ssh_exec(s, cmd, &r);
	dt = now_s() - t0;
	CHECK(rc == -1 && strstr(bar_error_last(), "timed out"), "sleep 5: %d %s", rc,
	      bar_error_last());
	CHECK(dt >= 0.45 && dt < 1.2, "timeout took %.3f s", dt);
	fprintf(stderr, "note: %s (after %.3f s)\n", bar_error_last(), dt);
	rc = bar_ssh_exec(s, "true", &r);
	CHECK(rc == -1 && strstr(bar_error_last(), "reconnect"), "after timeout: %d", rc);
	t0 = now_s();
	bar_ssh_free(s);
	CHECK(now_s() - t0 < 0.5, "free after timeout took %.3f s", now_s() - t0);
}

static void test_refused_and_silent(void)
{
	char hk[1024], key[512];
	bar_ssh_opts o = good_opts(hk, sizeof(hk), key, sizeof(key));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	bar_ssh *s = NULL;
	double t0, dt;
	int rc, lfd;

	o.port = free_port();
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == -1 && !s && strstr(bar_error_last(), "refused"), "refused: %d %s", rc,
	      bar_error_last());
	CHECK(strstr(bar_error_last(), "connect") != NULL, "%s", bar_error_last());
	fprintf(stderr, "note: %s\n", bar_error_last());

	/* A server that accepts TCP but never speaks SSH. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 4) == 0 &&
	      getsockname(lfd, (struct sockaddr *)&sa, &len) == 0, "listen: %s",
	      strerror(errno));
	o.port = ntohs(sa.sin_port);
	o.connect_timeout_ms = 500;
	t0 = now_s();
	rc = bar_ssh_connect(&s, &o);
	dt = now_s() - t0;
	CHECK(rc == -1 && !s && strstr(bar_error_last(), "handshake: timed out"),
	      "silent server: %d %s", rc, bar_error_last());
	CHECK(dt >= 0.45 && dt < 1.2, "handshake timeout took %.3f s", dt);
	fprintf(stderr, "note: %s (after %.3f s)\n", bar_error_last(), dt);
	close(lfd);
}

static void *thread_exec(void *arg)
{
	char hk[1024], key[512], cmd[64];
	bar_ssh_opts o = good_opts(hk, sizeof(hk), key, sizeof(key));
	bar_ssh *s = NULL;
	bar_ssh_result r = { 0 };
	long id = (long)arg, ok = 0;

	snprintf(cmd, sizeof(cmd), "echo thread-%ld", id);
	if (bar_ssh_connect(&s, &o) == 0 && bar_ssh_exec(s, cmd, &r) == 0 &&
	    r.exit_status == 0 && strncmp(r.out, cmd + 5, strlen(cmd + 5)) == 0)
		ok = 1;
	else
		fprintf(stderr, "thread %ld: %s\n", id, bar_error_last());
	bar_ssh_result_clear(&r);
	bar_ssh_free(s);
	return (void *)ok;
}

/* A session through a bastion: our sshd forwards to itself.  Big output
 * crosses the pump both ways; a wrong pinned key on either hop is refused;
 * a bastion that cannot be reached is named in the message. */
static void test_via(void)
{
	char hk[1024], key[512], hk2[1024], key2[512], *wrong;
	bar_ssh_opts o = good_opts(hk, sizeof(hk), key, sizeof(key));
	bar_ssh_opts via = good_opts(hk2, sizeof(hk2), key2, sizeof(key2));
	bar_ssh *s = NULL;
	bar_ssh_result r = { 0 };
	int rc;

	via.name = "jump-1";
	o.via = &via;
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == 0 && s, "connect via: %d %s", rc, bar_error_last());
	if (s) {
		CHECK(strstr(bar_ssh_where(s), " via 127.0.0.1:"), "where %s", bar_ssh_where(s));
		rc = bar_ssh_exec(s, "head -c 900000 /dev/zero | tr '\\0' x; echo e >&2", &r);
		CHECK(rc == 0 && r.out_len == 900000 && r.err_len == 2, "exec via: %d %zu %s", rc,
		      r.out_len, rc ? bar_error_last() : "");
		bar_ssh_result_clear(&r);
		bar_ssh_free(s);
		s = NULL;
	}
	wrong = bar_printf("%s", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEi0gwbdvDuavYBo0NpJzb13mtSM2nIcrOrqH4y8xbHo");
	o.host_key = wrong;
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == BAR_EAUTH && !s && !strstr(bar_error_last(), "bastion"),
	      "target key pinned through the tunnel: %d %s", rc, bar_error_last());
	o.host_key = hk;
	via.host_key = wrong;
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == BAR_EAUTH && !s && strstr(bar_error_last(), "bastion jump-1: "),
	      "bastion key pinned: %d %s", rc, bar_error_last());
	via.host_key = hk2;
	via.port = 1; /* nothing listens */
	rc = bar_ssh_connect(&s, &o);
	CHECK(rc == -1 && !s && strstr(bar_error_last(), "bastion jump-1: ssh 127.0.0.1:1: connect"),
	      "bastion down: %d %s", rc, bar_error_last());
	free(wrong);
}

static void test_threads(void)
{
	pthread_t t[6];
	long ok = 0;

	for (long i = 0; i < 6; i++)
		pthread_create(&t[i], NULL, thread_exec, (void *)i);
	for (int i = 0; i < 6; i++) {
		void *r;

		pthread_join(t[i], &r);
		ok += (long)r;
	}
	CHECK(ok == 6, "%ld of 6 threads succeeded", ok);
}

static int run_tests(void)
{
	struct passwd *pw = getpwuid(getuid());
	pid_t sshd;

	if (pw)
		snprintf(user_name, sizeof(user_name), "%s", pw->pw_name);
	if (setup() < 0)
		return 1;
	sshd = start_sshd();
	if (sshd < 0)
		return 1;
	test_exec();
	test_host_key_mismatch();
	test_bad_options();
	test_wrong_user_key();
	test_output_cap();
	test_timeout();
	test_refused_and_silent();
	test_threads();
	test_via();
	kill(sshd, SIGTERM);
	waitpid(sshd, NULL, 0);
	if (failures) {
		char log[512];

		path_in_dir(log, sizeof(log), "sshd.log");
		fprintf(stderr, "--- sshd log ---\n");
		run(NULL, (char *[]){ "cat", log, NULL });
	}
	fprintf(stderr, "%s: %d failure(s)\n", failures ? "FAILED" : "ok", failures);
	return failures ? 1 : 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

/* Kill what the pid files name (a leftover sshd, the timed-out remote
 * sleep), then remove the directory. */
static void cleanup(void)
{
	static const char *const pid_files[] = { "sshd.pid", "sleeper.pid" };
	char path[512], pidtext[32];

	for (size_t i = 0; i < sizeof(pid_files) / sizeof(pid_files[0]); i++) {
		path_in_dir(path, sizeof(path), pid_files[i]);
		if (read_small(pidtext, sizeof(pidtext), path) == 0 && atoi(pidtext) > 1)
			kill(atoi(pidtext), SIGKILL);
	}
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/bar-test-ssh-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	rc = test_run_watched(run_tests, TEST_LIMIT_S);
	cleanup();
	return rc;
}
