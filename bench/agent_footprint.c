/*
 * agent_footprint.c - what barista-agent costs a VM, against Debian's
 * prometheus-node-exporter doing the same job: both run side by side for
 * -seconds N (default 60), both sampled every 2 s (the agent with
 * collect_interval_ms=2000 and its pull endpoint scraped by this program
 * every 2 s too; node_exporter scraped every 2 s over HTTP, which is when
 * it collects).  At the end: each one's resident set (VmRSS of
 * /proc/PID/status, the largest seen) and CPU time (utime+stime of
 * /proc/PID/stat, proc(5)) over the run.  The last line:
 *   agent_rss_kb=... node_exporter_rss_kb=... rss_ratio=... agent_cpu_s=...
 *   node_exporter_cpu_s=... cpu_ratio=...
 * Targets: both ratios <= 0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BAR_AGENT_PATH
#define BAR_AGENT_PATH "barista-agent"
#endif

static char tmp[] = "/tmp/bench-agent-XXXXXX";
static pid_t kids[2];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static void cleanup(void)
{
	for (int i = 0; i < 2; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGTERM);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_signal(int sig)
{
	(void)sig;
	cleanup();
	_exit(1);
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* GET http://127.0.0.1:port/metrics; the body's size, or -1. */
static long scrape(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 5};
	char req[128], buf[65536];
	long total = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0), n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	n = snprintf(req, sizeof(req),
	             "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", port);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		total += r;
	close(fd);
	return total;
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/* utime + stime in seconds (fields 14 and 15 of /proc/PID/stat). */
static double cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	const char *agent = getenv("BARISTA_AGENT") ? getenv("BARISTA_AGENT") : BAR_AGENT_PATH;
	const char *ne = "/usr/bin/prometheus-node-exporter";
	int seconds = 60, aport = free_port(), nport = free_port();
	char conf[700], log[700], text[900], listen[64];
	double a_cpu0, n_cpu0, a_cpu, n_cpu;
	long a_rss = 0, n_rss = 0;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-seconds") && i + 1 < argc && atoi(argv[i + 1]) > 0) {
			seconds = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: agent_footprint [-seconds N]\n");
			return 2;
		}
	}
	if (access(ne, X_OK) != 0 || access(agent, X_OK) != 0) {
		fprintf(stderr, "agent_footprint: needs %s (apt-get install prometheus-node-exporter) "
		        "and %s\n", ne, agent);
		return 1;
	}
	if (!mkdtemp(tmp))
		return perror("mkdtemp"), 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	snprintf(conf, sizeof(conf), "%s/agent.conf", tmp);
	snprintf(log, sizeof(log), "%s/out.log", tmp);
	snprintf(text, sizeof(text),
	         "version=1\nns=bench\nmci=m\nvm=v\ncollectors=\ncollect_interval_ms=2000\n"
	         "push_interval_ms=10000\nlisten=127.0.0.1:%d\nstate_dir=%s/state\n",
	         aport, tmp);
	if (!(f = fopen(conf, "w")) || fputs(text, f) < 0 || fclose(f) != 0)
		return perror(conf), 1;
	{
		char *av[] = {(char *)agent, "-config", conf, NULL};
		kids[0] = spawn(av, log);
	}
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", nport);
	{
		char *av[] = {(char *)ne, listen, NULL};
		kids[1] = spawn(av, log);
	}
	for (int i = 0; i < 100 && (scrape(aport) < 0 || scrape(nport) < 0); i++)
		sleep_ms(100);
	if (scrape(aport) <= 0 || scrape(nport) <= 0) {
		fprintf(stderr, "agent_footprint: the agent or node_exporter did not start\n");
		cleanup();
		return 1;
	}
	sleep_ms(2000); /* both warmed up: measure from here */
	a_cpu0 = cpu_s(kids[0]);
	n_cpu0 = cpu_s(kids[1]);
	for (int t = 0; t < seconds; t += 2) {
		long r;
		scrape(nport);
		scrape(aport);
		if ((r = rss_kb(kids[0])) > a_rss)
			a_rss = r;
		if ((r = rss_kb(kids[1])) > n_rss)
			n_rss = r;
		if (t % 10 == 0)
			fprintf(stderr, "%3d s: agent %ld kB, node_exporter %ld kB\n", t, a_rss, n_rss);
		sleep_ms(2000);
	}
	a_cpu = cpu_s(kids[0]) - a_cpu0;
	n_cpu = cpu_s(kids[1]) - n_cpu0;
	cleanup();
	printf("agent_rss_kb=%ld node_exporter_rss_kb=%ld rss_ratio=%.3f agent_cpu_s=%.2f "
	       "node_exporter_cpu_s=%.2f cpu_ratio=%.3f\n",
	       a_rss, n_rss, n_rss > 0 ? (double)a_rss / (double)n_rss : 0, a_cpu, n_cpu,
	       n_cpu > 0 ? a_cpu / n_cpu : 0);
	return 0;
}
