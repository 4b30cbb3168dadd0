/*
 * vm_init.c - barista-local-init, the tiny program that turns a set of
 * namespaces into a "local VM" for the local provider plugin.
 *
 *   barista-local-init vm <vmdir> <etcdir> <netns-path> <hostname> <ready-fd> [cgroup-dir...]
 *     Daemonises (fork, setsid, stdio to <vmdir>/console.log), joins the VM's
 *     network namespace and cgroups, unshares UTS + mount + PID namespaces
 *     and forks the VM's PID 1.  PID 1 makes its mounts private, sets the
 *     hostname, mounts a fresh /proc, binds <vmdir>/{hostname,hosts} and the
 *     shared <etcdir>/{profile,bash.bashrc,profile.d} over the host's /etc
 *     files (so none of the host's shell start-up files run), mounts tmpfs
 *     /run and /tmp, bind-mounts <vmdir> on /run/barista (its paths inside
 *     the VM, whatever the provider root) and its home on /root, starts
 *     `sshd -D -e -f /run/barista/sshd_config`, then every executable file of
 *     /run/barista/boot.d in name order (`sh FILE`, not waited for: the local
 *     VM's stand-in for the units an image's init enables, e.g. the
 *     barista-agent, which survives a reboot there as under systemd), reaps
 *     zombies, and on SIGTERM stops sshd and exits (which ends every process
 *     of the VM).
 *     Progress goes to <ready-fd>: "pid <host pid of PID 1>", then "ok" once
 *     sshd has reported READY=1 through $NOTIFY_SOCKET (i.e. it listens), or
 *     "error <message>"; the plugin reads until EOF.
 *
 *   barista-local-init nsexec <netns-path> <program> [args...]
 *     Runs a program inside a network namespace (for `nft -f`), without the
 *     cost of `ip netns exec`; the plugin cannot setns() itself because its
 *     host is multi-threaded.
 *
 * It links nothing but libc and prints only to its log / ready pipe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SSHD_PATH "/usr/sbin/sshd"
#define VM_MNT "/run/barista" /* where the VM sees its own directory */
#define STOP_GRACE_MS 2000
#define READY_MS 10000
#define NOTIFY_PATH "/run/barista-notify" /* in the VM's private /run */

static int ready_fd = -1;

/* Report a failure on the ready pipe (and the log) and exit. */
static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ready_fd >= 0)
		dprintf(ready_fd, "error %s\n", msg);
	fprintf(stderr, "barista-local-init: %s\n", msg);
	_exit(1);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (write(fd, text, strlen(text)) < 0)
		die("write %s: %s", path, strerror(errno));
	close(fd);
}

static void join_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET) < 0)
		die("setns %s: %s", path, strerror(errno));
	close(fd);
}

static int nsexec_main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: barista-local-init nsexec <netns-path> <program> [args...]\n");
		return 2;
	}
	join_netns(argv[2]);
	execv(argv[3], argv + 3);
	fprintf(stderr, "barista-local-init: exec %s: %s\n", argv[3], strerror(errno));
	return 127;
}

/* Bind-mount vmdir/<rel> over <target> when the target exists. */
static void bind_over(const char *vmdir, const char *rel, const char *target)
{
	char src[4096];

	if (access(target, F_OK) < 0)
		return; /* nothing of the host's to hide */
	snprintf(src, sizeof(src), "%s/%s", vmdir, rel);
	if (mount(src, target, NULL, MS_BIND, NULL) < 0)
		die("bind %s on %s: %s", src, target, strerror(errno));
}

/* A boot id of this boot, as the kernel would make one: a fresh random
 * UUID in vmdir/boot_id, bound over /proc/sys/kernel/random/boot_id, so a
 * reboot of the VM is visible inside it (and to its agent) as on a real
 * machine.  Without a random source the host's own boot id stays. */
static void new_boot_id(const char *vmdir)
{
	unsigned char r[16];
	char path[4096], text[40];
	FILE *f;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return;
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	snprintf(text, sizeof(text),
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n",
	         r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
	         r[12], r[13], r[14], r[15]);
	snprintf(path, sizeof(path), "%s/boot_id", vmdir);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0)
		die("write %s: %s", path, strerror(errno));
	bind_over(vmdir, "boot_id", "/proc/sys/kernel/random/boot_id");
}

static void pid1_mounts(const char *vmdir, const char *etcdir, const char *hostname)
{
	char src[64];
	/* Held open: the fresh /tmp or /run may hide vmdir's own path. */
	int vfd = open(vmdir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (vfd < 0)
		die("open %s: %s", vmdir, strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make mounts private: %s", strerror(errno));
	if (sethostname(hostname, strlen(hostname)) < 0)
		die("sethostname %s: %s", hostname, strerror(errno));
	/* The copies of other VMs' /run/netns mounts are left alone: the tmpfs
	 * on /run hides them, unmounting them would cost an RCU grace period per
	 * boot, and deleting a VM detaches its copies everywhere anyway. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("mount /proc: %s", strerror(errno));
	new_boot_id(vmdir);
	/* /etc first, while vmdir and etcdir are still reachable by path. */
	bind_over(vmdir, "hostname", "/etc/hostname");
	bind_over(vmdir, "hosts", "/etc/hosts");
	bind_over(etcdir, "profile", "/etc/profile");
	bind_over(etcdir, "bash.bashrc", "/etc/bash.bashrc");
	bind_over(etcdir, "profile.d", "/etc/profile.d");
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755") < 0)
		die("mount /run: %s", strerror(errno));
	if (mkdir(VM_MNT, 0700) < 0 || mkdir("/run/sshd", 0755) < 0)
		die("mkdir in /run: %s", strerror(errno));
	snprintf(src, sizeof(src), "/proc/self/fd/%d", vfd);
	if (mount(src, VM_MNT, NULL, MS_BIND, NULL) < 0)
		die("bind %s on %s: %s", vmdir, VM_MNT, strerror(errno));
	close(vfd);
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		die("mount /tmp: %s", strerror(errno));
	bind_over(VM_MNT, "home", "/root");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The socket sshd's sd_notify("READY=1") reaches (Debian builds sshd with
 * systemd readiness support; it notifies right after it starts listening). */
static int notify_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", NOTIFY_PATH);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("notify socket %s: %s", NOTIFY_PATH, strerror(errno));
	return fd;
}

/* Fallback for an sshd without notify support: a listening socket on port
 * 22 in this netns (this walks the host-wide TCP table, hence only rarely). */
static int listening_22(void)
{
	char line[256];
	unsigned addr, port, st;
	int found = 0;
	FILE *f = fopen("/proc/self/net/tcp", "re");

	while (f && !found && fgets(line, sizeof(line), f))
		if (sscanf(line, " %*d: %8x:%4x %*8x:%*4x %2x", &addr, &port, &st) == 3)
			found = port == 22 && st == 0x0A;
	if (f)
		fclose(f);
	return found;
}

static void wait_ready(int nfd, pid_t sshd)
{
	int64_t start = now_ms(), last_probe = start;
	char buf[512];
	int st;

	for (;;) {
		struct pollfd p = { nfd, POLLIN, 0 };

		if (poll(&p, 1, 20) == 1) {
			ssize_t n = recv(nfd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			if (n > 0) {
				buf[n] = '\0';
				if (strstr(buf, "READY=1"))
					break;
			}
			continue;
		}
		if (waitpid(sshd, &st, WNOHANG) == sshd)
			die("sshd exited during start (status %d)", st);
		if (now_ms() - start > 1000 && now_ms() - last_probe >= 100) {
			last_probe = now_ms();
			if (listening_22())
				break;
		}
		if (now_ms() - start > READY_MS)
			die("sshd did not become ready within %d ms", READY_MS);
	}
	close(nfd);
	unlink(NOTIFY_PATH);
}

static pid_t start_sshd(const sigset_t *orig)
{
	const char *cfg = VM_MNT "/sshd_config";
	pid_t pid;

	pid = fork();
	if (pid < 0)
		die("fork sshd: %s", strerror(errno));
	if (pid == 0) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		for (int s = 1; s < NSIG; s++)
			sigaction(s, &dfl, NULL);
		sigprocmask(SIG_SETMASK, orig, NULL);
		setenv("NOTIFY_SOCKET", NOTIFY_PATH, 1);
		execl(SSHD_PATH, SSHD_PATH, "-D", "-e", "-f", cfg, (char *)NULL);
		fprintf(stderr, "barista-local-init: exec %s: %s\n", SSHD_PATH, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Start every executable file of VM_MNT/boot.d, in name order, with the
 * signals as a fresh process has them; PID 1 reaps them like any orphan. */
static void run_boot_d(const sigset_t *orig)
{
	struct dirent **names;
	int n = scandir(VM_MNT "/boot.d", &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char path[512];
		struct stat st;
		pid_t pid;

		snprintf(path, sizeof(path), VM_MNT "/boot.d/%s", names[i]->d_name);
		free(names[i]);
		if (path[strlen(VM_MNT "/boot.d/")] == '.' || stat(path, &st) < 0 ||
		    !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR))
			continue;
		fprintf(stderr, "barista-local-init: boot.d: starting %s\n", path);
		if ((pid = fork()) < 0) {
			fprintf(stderr, "barista-local-init: fork %s: %s\n", path, strerror(errno));
			continue;
		}
		if (pid == 0) {
			struct sigaction dfl = { .sa_handler = SIG_DFL };

			for (int s = 1; s < NSIG; s++)
				sigaction(s, &dfl, NULL);
			sigprocmask(SIG_SETMASK, orig, NULL);
			setsid();
			execl("/bin/sh", "sh", path, (char *)NULL);
			fprintf(stderr, "barista-local-init: exec /bin/sh %s: %s\n", path,
			        strerror(errno));
			_exit(127);
		}
	}
	if (n > 0)
		free(names);
}

static void on_signal(int sig)
{
	(void)sig; /* only here so PID 1 receives the signal at all */
}

/* PID 1 of the VM: mounts, sshd, then reap until told to stop. */
static void __attribute__((noreturn)) pid1_main(const char *vmdir, const char *etcdir,
                                                const char *hostname)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t set, orig;
	pid_t sshd;

	/* A PID 1 never gets signals it has no handler for, even blocked ones. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &orig);
	pid1_mounts(vmdir, etcdir, hostname);
	int nfd = notify_open();
	sshd = start_sshd(&orig);
	wait_ready(nfd, sshd);
	dprintf(ready_fd, "ok\n");
	close(ready_fd);
	ready_fd = -1;
	run_boot_d(&orig);
	for (;;) {
		siginfo_t si;
		int st;
		pid_t p;

		if (sigwaitinfo(&set, &si) < 0)
			continue;
		if (si.si_signo == SIGCHLD) {
			while ((p = waitpid(-1, &st, WNOHANG)) > 0)
				if (p == sshd) {
					fprintf(stderr, "barista-local-init: sshd exited (status %d)\n", st);
					_exit(1);
				}
			continue;
		}
		if (si.si_signo == SIGHUP) {
			kill(sshd, SIGHUP); /* sshd re-reads its config */
			continue;
		}
		/* SIGTERM / SIGINT: stop sshd, give it a moment, then end the VM. */
		kill(sshd, SIGTERM);
		struct timespec grace = { STOP_GRACE_MS / 1000, 0 };
		sigset_t chld;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		while (sigtimedwait(&chld, NULL, &grace) == SIGCHLD)
			if (waitpid(sshd, &st, WNOHANG) == sshd)
				break;
		_exit(0);
	}
}

static void join_cgroups(int n, char **dirs)
{
	char path[4096], pid[32];

	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", dirs[i]);
		write_file(path, pid);
	}
}

static void log_open(const char *vmdir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/console.log", vmdir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
}

static int vm_main(int argc, char **argv)
{
	const char *vmdir, *etcdir, *netns, *hostname;
	pid_t pid;

	if (argc < 7) {
		fprintf(stderr, "usage: barista-local-init vm <vmdir> <etcdir> <netns-path> "
		                "<hostname> <ready-fd> [cgroup-dir...]\n");
		return 2;
	}
	vmdir = argv[2];
	etcdir = argv[3];
	netns = argv[4];
	hostname = argv[5];
	ready_fd = atoi(argv[6]);
	if (ready_fd < 3 || fcntl(ready_fd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "barista-local-init: bad ready fd %s\n", argv[6]);
		return 2;
	}
	/* First fork: we reap the child once it has forked PID 1, so only
	 * PID 1 is left to be adopted by init (no zombie per boot), and the
	 * plugin reaps us. */
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0) {
		int st = 0;

		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
	}
	if (setsid() < 0)
		die("setsid: %s", strerror(errno));
	log_open(vmdir);
	umask(022);
	join_netns(netns);
	join_cgroups(argc - 7, argv + 7);
	if (unshare(CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWPID) < 0)
		die("unshare: %s", strerror(errno));
	/* Second fork: the child is PID 1 of the new PID namespace. */
	pid = fork();
	if (pid < 0)
		die("fork PID 1: %s", strerror(errno));
	if (pid == 0)
		pid1_main(vmdir, etcdir, hostname);
	dprintf(ready_fd, "pid %d\n", (int)pid);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "vm") == 0)
		return vm_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "nsexec") == 0)
		return nsexec_main(argc, argv);
	fprintf(stderr, "usage: barista-local-init vm|nsexec ...\n"
	                "(started by the Barista local provider; not meant to be run by hand)\n");
	return 2;
}
