/*
 * agent_cgroup.h - CPU time and memory of the cgroup barista-agent runs in,
 * for VMs that share their host's kernel (local VMs: network, PID and mount
 * namespaces under cgroup limits), where /proc/stat and /proc/meminfo tell
 * the host's figures, not the VM's.  The config's `scope=cgroup` selects it
 * (apply writes it for local VMs).  cgroup v2 (cpu.stat, cpu.max,
 * memory.current, memory.max) and v1 (cpuacct.usage and cpuacct.stat,
 * cpu.cfs_quota_us, memory.usage_in_bytes and memory.limit_in_bytes), as the
 * kernel's Documentation/admin-guide/cgroup-v1 and cgroup-v2.rst define
 * them.  libc only.
 */
#ifndef BAR_MONITOR_AGENT_CGROUP_H
#define BAR_MONITOR_AGENT_CGROUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct bar_agent_cgroup {
	int v2;
	char cpu[512];     /* v2: the unified group; v1: the cpuacct group */
	char quota[512];   /* v1: the cpu group (cfs quota) */
	char memory[512];
} bar_agent_cgroup;

typedef struct bar_agent_cgroup_stat {
	int have_cpu, have_mem;
	uint64_t usage_ns, user_ns, system_ns; /* CPU time used since the group began */
	double cpus;        /* CPUs the quota allows; 0: no quota */
	uint64_t mem_used;  /* bytes in use, the reclaimable file cache left out */
	uint64_t mem_limit; /* 0: no limit */
} bar_agent_cgroup_stat;

/* Find this process's groups from proc_cgroup (NULL: /proc/self/cgroup)
 * under root (NULL: /sys/fs/cgroup).  0, or -1 when none is readable. */
int bar_agent_cgroup_find(bar_agent_cgroup *out, const char *proc_cgroup, const char *root);

/* Read the groups' counters now.  0 (have_cpu/have_mem say what could be
 * read), or -1 when nothing could. */
int bar_agent_cgroup_read(const bar_agent_cgroup *g, bar_agent_cgroup_stat *out);

#endif
