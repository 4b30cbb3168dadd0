/*
 * agent_collect.c - one collection of barista-agent (agent.h): the
 * catalogue's metrics (metrics.c) read from /proc and /sys, rates and CPU
 * shares from the counters' deltas since the probe's previous collection,
 * each value rounded to the catalogue's decimals.  Field layouts follow the
 * kernel's documentation: proc(5) for /proc/stat, /proc/meminfo,
 * /proc/loadavg, /proc/uptime, /proc/net/dev and /proc/self/mounts;
 * Documentation/admin-guide/iostats.rst for /proc/diskstats (sectors are
 * always 512 bytes there).
 */
#include "agent.h"
#include "agent_cgroup.h"
#include "metrics.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVS 64    /* block devices, interfaces, filesystems kept per collection */
#define FILE_MAX 65536 /* bytes read of one /proc file */

#ifndef BAR_VERSION
#define BAR_VERSION "0"
#endif

typedef struct dev_counters {
	char name[64];
	uint64_t c[8];
} dev_counters;

struct bar_agent_probe {
	int have;
	int64_t t_ms;
	uint64_t cpu[8]; /* user nice system idle iowait irq softirq steal */
	dev_counters disk[MAX_DEVS], net[MAX_DEVS];
	size_t ndisk, nnet;
	char *buf;       /* FILE_MAX + 1 */
	/* scope=cgroup: the group (found on first use) and its counters then */
	int cg_state;    /* 0 not looked for, 1 found, -1 none */
	bar_agent_cgroup cg;
	bar_agent_cgroup_stat cg_last;
	int64_t cg_t_ns;
};

bar_agent_probe *bar_agent_probe_new(void)
{
	bar_agent_probe *p = calloc(1, sizeof(*p));

	if (p && !(p->buf = malloc(FILE_MAX + 1))) {
		free(p);
		p = NULL;
	}
	return p;
}

void bar_agent_probe_free(bar_agent_probe *p)
{
	if (p) {
		free(p->buf);
		free(p);
	}
}

/* ---- samples ---- */

void bar_agent_sample_clear(bar_agent_sample *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->points[i].labels);
		free(s->points[i].key);
	}
	free(s->points);
	memset(s, 0, sizeof(*s));
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const bar_mlabel *)a)->name, ((const bar_mlabel *)b)->name);
}

int bar_agent_sample_add(bar_agent_sample *s, const bar_agent_config *c, const bar_metric_info *m,
                         const char *const *own, size_t nown, double v)
{
	const char *names[16], *values[16];
	char lnames[12][32];
	size_t n = 0, bytes = 0, nl = 0;
	const char *ln = m->labels;
	double scale = pow(10, m->decimals);
	bar_agent_point *pt;
	char *mem, *key, *k;

	if (!isfinite(v))
		return 0;
	names[n] = "__name__", values[n++] = m->prom;
	if (c->ns[0])
		names[n] = "ns", values[n++] = c->ns;
	if (c->mci[0])
		names[n] = "mci", values[n++] = c->mci;
	if (c->vm[0])
		names[n] = "vm", values[n++] = c->vm;
	/* the metric's own labels, as m->labels names them: "mount,device,fstype" */
	for (size_t i = 0; *ln && i < nown && nl < 12; i++) {
		size_t l = strcspn(ln, ",");
		if (own[i] && *own[i] && l < sizeof(lnames[0])) {
			memcpy(lnames[nl], ln, l);
			lnames[nl][l] = '\0';
			names[n] = lnames[nl++];
			values[n++] = own[i];
		}
		ln += l + (ln[l] == ',');
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		bar_agent_point *np = realloc(s->points, cap * sizeof(*np));
		if (!np)
			return -1;
		s->points = np, s->cap = cap;
	}
	for (size_t i = 0; i < n; i++)
		bytes += strlen(names[i]) + strlen(values[i]) + 2;
	mem = malloc(n * sizeof(bar_mlabel) + bytes);
	key = malloc(bytes + 1);
	if (!mem || !key) {
		free(mem);
		free(key);
		return -1;
	}
	pt = &s->points[s->n];
	pt->metric = m;
	pt->labels = (bar_mlabel *)(void *)mem;
	pt->nlabels = n;
	k = mem + n * sizeof(bar_mlabel);
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(names[i]) + 1, b = strlen(values[i]) + 1;
		memcpy(k, names[i], a);
		pt->labels[i].name = k;
		memcpy(k + a, values[i], b);
		pt->labels[i].value = k + a;
		k += a + b;
	}
	qsort(pt->labels, n, sizeof(bar_mlabel), label_cmp);
	k = key;
	*k = '\0';
	/* \x1f and \x1e occur neither in label names nor in the values the
	 * agent writes (config values are printable ASCII, the kernel's names
	 * are checked in clean_name) */
	for (size_t i = 0; i < n; i++)
		k += sprintf(k, "%s\x1f%s\x1e", pt->labels[i].name, pt->labels[i].value);
	pt->key = key;
	pt->v = round(v * scale) / scale;
	if (pt->v == 0)
		pt->v = 0; /* no -0 on the wire */
	s->n++;
	return 0;
}

/* ---- reading /proc ---- */

/* The file at path into p->buf (NUL-terminated, at most FILE_MAX bytes);
 * its length, or -1. */
static ssize_t slurp(bar_agent_probe *p, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (len < FILE_MAX && (n = read(fd, p->buf + len, FILE_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	p->buf[len] = '\0';
	return (ssize_t)len;
}

/* The value of "Key:" in /proc/meminfo's text, in kB; -1 if absent. */
static double meminfo(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, key, kl) && l[kl] == ':')
			return strtod(l + kl + 1, NULL);
	return -1;
}

/* Names from the kernel become label values: printable ASCII, spaces
 * included (control bytes would break the series keys of
 * bar_agent_sample_add, and other bytes need not be UTF-8). */
static int clean_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* Decode /proc/self/mounts' octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static int group_on(const bar_agent_config *c, const char *group)
{
	if (!strcmp(group, "agent"))
		return 1;
	for (size_t i = 0; bar_metric_groups[i]; i++)
		if (!strcmp(bar_metric_groups[i], group))
			return (c->groups >> i) & 1;
	return 0;
}

#define ADD(name, own, nown, v)                                                             \
	do {                                                                                    \
		const bar_metric_info *m_ = bar_metric_find(name);                                  \
		if (m_ && bar_agent_sample_add(out, c, m_, own, nown, v) < 0)                       \
			return -1;                                                                      \
	} while (0)

static double rate(uint64_t now, uint64_t before, double secs)
{
	return now >= before && secs > 0 ? (double)(now - before) / secs : 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * scope=cgroup: CPU shares of the agent's cgroup over the time since the
 * last collection, as a share of the CPUs its quota allows (all online
 * CPUs without one), and its memory against its limit (MemTotal without
 * one); *handled = 1 when the group could be read, else the kernel-wide
 * figures are used.  iowait, irq and steal have no per-group counter and
 * are left out.
 */
static int collect_cgroup(bar_agent_sample *out, bar_agent_probe *p, const bar_agent_config *c,
                          int *cpu_done, int *mem_done)
{
	bar_agent_cgroup_stat st;
	int64_t t = mono_ns();
	double online = (double)sysconf(_SC_NPROCESSORS_ONLN), cpus;

	*cpu_done = *mem_done = 0;
	if (!c->scope_cgroup)
		return 0;
	if (!p->cg_state)
		p->cg_state = bar_agent_cgroup_find(&p->cg, NULL, NULL) == 0 ? 1 : -1;
	if (p->cg_state < 0 || bar_agent_cgroup_read(&p->cg, &st) < 0)
		return 0;
	cpus = st.cpus > 0 && st.cpus < online ? st.cpus : online;
	if (st.have_cpu && group_on(c, "cpu")) {
		*cpu_done = 1;
		if (p->cg_last.have_cpu && t > p->cg_t_ns && st.usage_ns >= p->cg_last.usage_ns) {
			double span = (double)(t - p->cg_t_ns) * cpus / 100;
			double used = (double)(st.usage_ns - p->cg_last.usage_ns) / span;
			double user = st.user_ns >= p->cg_last.user_ns
			                  ? (double)(st.user_ns - p->cg_last.user_ns) / span : 0;
			double sys = st.system_ns >= p->cg_last.system_ns
			                 ? (double)(st.system_ns - p->cg_last.system_ns) / span : 0;
			used = used > 100 ? 100 : used;
			ADD("cpu.usage", NULL, 0, used);
			ADD("cpu.user", NULL, 0, user > 100 ? 100 : user);
			ADD("cpu.system", NULL, 0, sys > 100 ? 100 : sys);
			ADD("cpu.idle", NULL, 0, 100 - used);
		}
		ADD("cpu.count", NULL, 0, cpus);
	}
	if (st.have_mem && group_on(c, "memory") && slurp(p, "/proc/meminfo") > 0) {
		double total = meminfo(p->buf, "MemTotal") * 1024, used = (double)st.mem_used;
		if (st.mem_limit > 0 && (double)st.mem_limit < total)
			total = (double)st.mem_limit;
		if (total > 0) {
			*mem_done = 1;
			used = used > total ? total : used;
			ADD("mem.total", NULL, 0, total);
			ADD("mem.used", NULL, 0, used);
			ADD("mem.available", NULL, 0, total - used);
			ADD("mem.usage", NULL, 0, 100 * used / total);
		}
	}
	p->cg_last = st;
	p->cg_t_ns = t;
	return 0;
}

static int collect_cpu(bar_agent_sample *out, bar_agent_probe *p, const bar_agent_config *c,
                       uint64_t *running, uint64_t *blocked, int cgroup_done)
{
	uint64_t now[8] = {0};
	char *l;

	if (slurp(p, "/proc/stat") < 0)
		return 0;
	if (sscanf(p->buf, "cpu %lu %lu %lu %lu %lu %lu %lu %lu", &now[0], &now[1], &now[2],
	           &now[3], &now[4], &now[5], &now[6], &now[7]) < 4)
		return 0;
	if ((l = strstr(p->buf, "\nprocs_running ")))
		*running = strtoull(l + 15, NULL, 10);
	if ((l = strstr(p->buf, "\nprocs_blocked ")))
		*blocked = strtoull(l + 15, NULL, 10);
	if (p->have && group_on(c, "cpu") && !cgroup_done) {
		double d[8], total = 0;
		for (int i = 0; i < 8; i++) {
			d[i] = now[i] >= p->cpu[i] ? (double)(now[i] - p->cpu[i]) : 0;
			total += d[i];
		}
		if (total > 0) {
			ADD("cpu.usage", NULL, 0, 100 * (total - d[3] - d[4]) / total);
			ADD("cpu.user", NULL, 0, 100 * (d[0] + d[1]) / total);
			ADD("cpu.system", NULL, 0, 100 * d[2] / total);
			ADD("cpu.iowait", NULL, 0, 100 * d[4] / total);
			ADD("cpu.irq", NULL, 0, 100 * (d[5] + d[6]) / total);
			ADD("cpu.steal", NULL, 0, 100 * d[7] / total);
			ADD("cpu.idle", NULL, 0, 100 * d[3] / total);
		}
	}
	memcpy(p->cpu, now, sizeof(now));
	if (group_on(c, "cpu") && !cgroup_done)
		ADD("cpu.count", NULL, 0, (double)sysconf(_SC_NPROCESSORS_ONLN));
	return 0;
}

static int collect_memory(bar_agent_sample *out, bar_agent_probe *p, const bar_agent_config *c,
                          int cgroup_done)
{
	double total, avail, st, sf, kb = 1024;

	/* a cgroup's figures replace the kernel's; the host's swap is not the
	 * VM's either */
	if (cgroup_done || !group_on(c, "memory") || slurp(p, "/proc/meminfo") < 0)
		return 0;
	total = meminfo(p->buf, "MemTotal");
	avail = meminfo(p->buf, "MemAvailable");
	if (total > 0 && avail >= 0) {
		ADD("mem.total", NULL, 0, total * kb);
		ADD("mem.used", NULL, 0, (total - avail) * kb);
		ADD("mem.available", NULL, 0, avail * kb);
		ADD("mem.cached", NULL, 0,
		    (meminfo(p->buf, "Cached") + meminfo(p->buf, "Buffers")) * kb);
		ADD("mem.usage", NULL, 0, 100 * (total - avail) / total);
	}
	st = meminfo(p->buf, "SwapTotal");
	sf = meminfo(p->buf, "SwapFree");
	if (st >= 0 && sf >= 0) {
		ADD("swap.total", NULL, 0, st * kb);
		ADD("swap.used", NULL, 0, (st - sf) * kb);
		ADD("swap.usage", NULL, 0, st > 0 ? 100 * (st - sf) / st : 0);
	}
	return 0;
}

/* Filesystem types that hold no user data (the kernel's own views, memory
 * file systems, automounter and container plumbing). */
static int pseudo_fs(const char *t)
{
	static const char *const skip[] = {
	    "proc", "sysfs", "tmpfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "mqueue",
	    "debugfs", "tracefs", "securityfs", "pstore", "bpf", "autofs", "hugetlbfs",
	    "configfs", "fusectl", "binfmt_misc", "nsfs", "rpc_pipefs", "ramfs", "efivarfs",
	    "selinuxfs", "squashfs", "iso9660", "fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal",
	    "nfsd", "rootfs", NULL};

	for (int i = 0; skip[i]; i++)
		if (!strcmp(t, skip[i]))
			return 1;
	return 0;
}

static int collect_fs(bar_agent_sample *out, bar_agent_probe *p, const bar_agent_config *c)
{
	char seen[MAX_DEVS][64];
	size_t nseen = 0;
	char *save = NULL, *line;

	if (!group_on(c, "disk") || slurp(p, "/proc/self/mounts") < 0)
		return 0;
	for (line = strtok_r(p->buf, "\n", &save); line && nseen < MAX_DEVS;
	     line = strtok_r(NULL, "\n", &save)) {
		char *dev = line, *mnt, *type, *sp;
		struct statvfs vf;
		size_t i;

		if (!(sp = strchr(dev, ' ')))
			continue;
		*sp = '\0', mnt = sp + 1;
		if (!(sp = strchr(mnt, ' ')))
			continue;
		*sp = '\0', type = sp + 1;
		if ((sp = strchr(type, ' ')))
			*sp = '\0';
		unescape(dev);
		unescape(mnt);
		if (pseudo_fs(type) || !clean_name(dev) || !clean_name(mnt) || !clean_name(type))
			continue;
		/* a device mounted twice (bind mounts) counts once, at its first mount */
		for (i = 0; i < nseen && strcmp(seen[i], dev); i++)
			;
		if (i < nseen || strlen(dev) >= sizeof(seen[0]))
			continue;
		if (statvfs(mnt, &vf) < 0 || vf.f_blocks == 0)
			continue;
		strcpy(seen[nseen++], dev);
		{
			const char *own[3] = {mnt, dev, type};
			double bs = (double)vf.f_frsize, used = (double)(vf.f_blocks - vf.f_bfree) * bs,
			       avail = (double)vf.f_bavail * bs;
			ADD("fs.size", own, 3, (double)vf.f_blocks * bs);
			ADD("fs.used", own, 3, used);
			ADD("fs.avail", own, 3, avail);
			/* as df(1): used over what users may use */
			ADD("fs.usage", own, 3, used + avail > 0 ? 100 * used / (used + avail) : 0);
		}
	}
	return 0;
}

static const dev_counters *find_dev(const dev_counters *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i].name, name))
			return &list[i];
	return NULL;
}

static int collect_disk(bar_agent_sample *out, bar_agent_probe *p, const bar_agent_config *c,
                        double secs)
{
	dev_counters now[MAX_DEVS];
	size_t n = 0;
	char *save = NULL, *line;

	if (!group_on(c, "disk") || slurp(p, "/proc/diskstats") < 0)
		return 0;
	for (line = strtok_r(p->buf, "\n", &save); line && n < MAX_DEVS;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long f[11];
		char name[64];
		dev_counters *d = &now[n];
		if (sscanf(line, " %*u %*u %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		           name, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9],
		           &f[10]) != 12)
			continue;
		/* loop and ram devices only once they have done IO */
		if ((!strncmp(name, "loop", 4) || !strncmp(name, "ram", 3)) && f[0] + f[4] == 0)
			continue;
		if (!clean_name(name))
			continue;
		strcpy(d->name, name);
		d->c[0] = f[0];       /* reads completed */
		d->c[1] = f[2] * 512; /* sectors read */
		d->c[2] = f[4];       /* writes completed */
		d->c[3] = f[6] * 512; /* sectors written */
		d->c[4] = f[9];       /* ms doing IO */
		n++;
	}
	for (size_t i = 0; p->have && i < n; i++) {
		const dev_counters *b = find_dev(p->disk, p->ndisk, now[i].name);
		const char *own[1] = {now[i].name};
		double busy;
		if (!b)
			continue;
		busy = rate(now[i].c[4], b->c[4], secs) / 10; /* ms per s -> percent */
		ADD("disk.read_bytes", own, 1, rate(now[i].c[1], b->c[1], secs));
		ADD("disk.write_bytes", own, 1, rate(now[i].c[3], b->c[3], secs));
		ADD("disk.reads", own, 1, rate(now[i].c[0], b->c[0], secs));
		ADD("disk.writes", own, 1, rate(now[i].c[2], b->c[2], secs));
		ADD("disk.busy", own, 1, busy > 100 ? 100 : busy);
	}
	memcpy(p->disk, now, n * sizeof(now[0]));
	p->ndisk = n;
	return 0;
}

static int collect_net(bar_agent_sample *out, bar_agent_probe *p, const bar_agent_config *c,
                       double secs)
{
	static const char *const names[8] = {"net.rx_bytes",  "net.rx_packets", "net.rx_errors",
	                                     "net.rx_drops",  "net.tx_bytes",   "net.tx_packets",
	                                     "net.tx_errors", "net.tx_drops"};
	dev_counters now[MAX_DEVS];
	size_t n = 0;
	char *save = NULL, *line;

	if (!group_on(c, "network") || slurp(p, "/proc/net/dev") < 0)
		return 0;
	for (line = strtok_r(p->buf, "\n", &save); line && n < MAX_DEVS;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long f[16];
		char *colon = strchr(line, ':'), *name = line;
		if (!colon)
			continue; /* the two header lines */
		*colon = '\0';
		while (*name == ' ')
			name++;
		/* Receive: bytes packets errs drop fifo frame compressed multicast,
		 * Transmit: bytes packets errs drop fifo colls carrier compressed */
		if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
		           "%llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6],
		           &f[7], &f[8], &f[9], &f[10], &f[11], &f[12], &f[13], &f[14], &f[15]) != 16 ||
		    !clean_name(name) || strlen(name) >= sizeof(now[0].name))
			continue;
		strcpy(now[n].name, name);
		for (int i = 0; i < 4; i++) {
			now[n].c[i] = f[i];
			now[n].c[4 + i] = f[8 + i];
		}
		n++;
	}
	for (size_t i = 0; p->have && i < n; i++) {
		const dev_counters *b = find_dev(p->net, p->nnet, now[i].name);
		const char *own[1] = {now[i].name};
		if (!b)
			continue;
		for (int k = 0; k < 8; k++)
			ADD(names[k], own, 1, rate(now[i].c[k], b->c[k], secs));
	}
	memcpy(p->net, now, n * sizeof(now[0]));
	p->nnet = n;
	return 0;
}

static int collect_system(bar_agent_sample *out, bar_agent_probe *p, const bar_agent_config *c,
                          uint64_t running, uint64_t blocked)
{
	if (group_on(c, "process")) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		double procs = 0;
		while (d && (e = readdir(d)))
			if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
				procs++;
		if (d) {
			closedir(d);
			ADD("proc.count", NULL, 0, procs);
		}
		ADD("proc.running", NULL, 0, (double)running);
		ADD("proc.blocked", NULL, 0, (double)blocked);
	}
	if (!group_on(c, "system"))
		return 0;
	if (slurp(p, "/proc/loadavg") > 0) {
		double l1, l5, l15;
		if (sscanf(p->buf, "%lf %lf %lf", &l1, &l5, &l15) == 3) {
			ADD("load.1", NULL, 0, l1);
			ADD("load.5", NULL, 0, l5);
			ADD("load.15", NULL, 0, l15);
		}
	}
	if (slurp(p, "/proc/uptime") > 0)
		ADD("sys.uptime", NULL, 0, strtod(p->buf, NULL));
	if (slurp(p, "/proc/sys/kernel/random/boot_id") > 0) {
		const char *own[1] = {p->buf};
		p->buf[strcspn(p->buf, "\n")] = '\0';
		if (clean_name(p->buf))
			ADD("sys.boot", own, 1, 1);
	}
	return 0;
}

int bar_agent_collect(bar_agent_sample *out, bar_agent_probe *p, const bar_agent_config *c,
                      const bar_agent_self *self, int64_t t_ms)
{
	double secs = p->have ? (double)(t_ms - p->t_ms) / 1000 : 0;
	uint64_t running = 0, blocked = 0;
	const char *ver[1] = {BAR_VERSION};
	int cg_cpu = 0, cg_mem = 0;

	bar_agent_sample_clear(out);
	out->t_ms = t_ms;
	if (p->have && secs <= 0)
		p->have = 0; /* the clock went back: start the rates again */
	if (collect_cgroup(out, p, c, &cg_cpu, &cg_mem) < 0 ||
	    collect_cpu(out, p, c, &running, &blocked, cg_cpu) < 0 ||
	    collect_memory(out, p, c, cg_mem) < 0 ||
	    collect_fs(out, p, c) < 0 || collect_disk(out, p, c, secs) < 0 ||
	    collect_net(out, p, c, secs) < 0 || collect_system(out, p, c, running, blocked) < 0)
		return -1;
	ADD("agent.info", ver, 1, 1);
	ADD("agent.buffered", NULL, 0, self ? (double)self->buffered : 0);
	ADD("agent.dropped", NULL, 0, self ? (double)self->dropped : 0);
	p->have = 1;
	p->t_ms = t_ms;
	return 0;
}

/* ---- output ---- */

int bar_agent_sample_prom(bar_mbuf *out, const bar_agent_sample *s, int with_ts)
{
	size_t nm;
	const bar_metric_info *cat = bar_metrics(&nm);

	/* the format wants a family's lines together: metric by metric, in the
	 * catalogue's order (points of one metric may be apart in s) */
	for (size_t k = 0; k < nm; k++) {
		int head = 0;
		for (size_t i = 0; i < s->n; i++) {
			const bar_agent_point *pt = &s->points[i];
			if (pt->metric != &cat[k])
				continue;
			if (!head++)
				bar_promtext_family(out, pt->metric->prom, pt->metric->help, "gauge");
			/* the name is the sample line's own, not a label */
			bar_promtext_sample(out, pt->metric->prom, pt->labels + 1, pt->nlabels - 1, pt->v,
			                    with_ts ? s->t_ms : 0);
		}
	}
	return out->failed ? -1 : 0;
}

static void json_str(bar_mbuf *out, const char *s)
{
	bar_mbuf_add(out, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			bar_mbuf_printf(out, "\\%c", ch);
		else if (ch < 0x20)
			bar_mbuf_printf(out, "\\u%04x", ch);
		else
			bar_mbuf_add(out, s, 1);
	}
	bar_mbuf_add(out, "\"", 1);
}

/* v in JSON: the shortest digits that read back as v (promtext's), null
 * for what JSON has no number for. */
static const char *json_number(char *buf, double v)
{
	if (!isfinite(v))
		return "null";
	bar_promtext_value(buf, v);
	return buf;
}

int bar_agent_sample_json(bar_mbuf *out, const bar_agent_sample *s)
{
	char num[40];

	bar_mbuf_printf(out, "{\"t_ms\":%lld,\"samples\":[", (long long)s->t_ms);
	for (size_t i = 0; i < s->n; i++) {
		const bar_agent_point *pt = &s->points[i];
		bar_mbuf_str(out, i ? ",\n{\"name\":" : "\n{\"name\":");
		json_str(out, pt->metric->name);
		bar_mbuf_str(out, ",\"prom\":");
		json_str(out, pt->metric->prom);
		bar_mbuf_str(out, ",\"labels\":{");
		for (size_t j = 1; j < pt->nlabels; j++) {
			if (j > 1)
				bar_mbuf_str(out, ",");
			json_str(out, pt->labels[j].name);
			bar_mbuf_str(out, ":");
			json_str(out, pt->labels[j].value);
		}
		bar_mbuf_printf(out, "},\"value\":%s}", json_number(num, pt->v));
	}
	bar_mbuf_str(out, "]}\n");
	return out->failed ? -1 : 0;
}
