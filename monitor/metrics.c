/*
 * metrics.c - the catalogue of barista-agent's metrics (see metrics.h).
 *
 * Prometheus names follow its naming rules: a `barista_` prefix, the unit
 * as a suffix in base units (bytes, seconds), `_per_second` for rates, and
 * `_ratio`-free percentages marked `_percent`.  Everything is a gauge: the
 * agent turns kernel counters into rates and shares between two
 * collections, which is what alarms and roll-ups want.
 */
#include "metrics.h"

#include <string.h>

const char *const bar_metric_groups[] = {"cpu", "memory", "disk", "network", "process",
                                         "system", NULL};

#define PCT(n, p, h) {n, "barista_" p "_percent", "cpu", "percent", "", h, 2}

static const bar_metric_info catalogue[] = {
	PCT("cpu.usage", "cpu_usage", "CPU time not idle nor waiting for IO, all CPUs, percent"),
	PCT("cpu.user", "cpu_user", "CPU time in user mode (nice included), percent"),
	PCT("cpu.system", "cpu_system", "CPU time in kernel mode, percent"),
	PCT("cpu.iowait", "cpu_iowait", "CPU time idle while IO was outstanding, percent"),
	PCT("cpu.irq", "cpu_irq", "CPU time serving hard and soft interrupts, percent"),
	PCT("cpu.steal", "cpu_steal", "CPU time taken by the hypervisor for others, percent"),
	PCT("cpu.idle", "cpu_idle", "CPU time idle, percent"),
	{"cpu.count", "barista_cpus", "cpu", "", "", "Online CPUs", 0}, /* promtool: no _count */

	{"mem.total", "barista_memory_total_bytes", "memory", "bytes", "", "Memory in total", 0},
	{"mem.used", "barista_memory_used_bytes", "memory", "bytes", "",
	 "Memory used: total less available", 0},
	{"mem.available", "barista_memory_available_bytes", "memory", "bytes", "",
	 "Memory available for new work without swapping (MemAvailable)", 0},
	{"mem.cached", "barista_memory_cached_bytes", "memory", "bytes", "",
	 "Page cache and buffers", 0},
	{"mem.usage", "barista_memory_usage_percent", "memory", "percent", "",
	 "Memory used, percent of total", 2},
	{"swap.total", "barista_swap_total_bytes", "memory", "bytes", "", "Swap in total", 0},
	{"swap.used", "barista_swap_used_bytes", "memory", "bytes", "", "Swap used", 0},
	{"swap.usage", "barista_swap_usage_percent", "memory", "percent", "",
	 "Swap used, percent of total (0 without swap)", 2},

	{"fs.size", "barista_filesystem_size_bytes", "disk", "bytes", "mount,device,fstype",
	 "Filesystem size", 0},
	{"fs.used", "barista_filesystem_used_bytes", "disk", "bytes", "mount,device,fstype",
	 "Filesystem space used", 0},
	{"fs.avail", "barista_filesystem_avail_bytes", "disk", "bytes", "mount,device,fstype",
	 "Filesystem space available to unprivileged users", 0},
	{"fs.usage", "barista_filesystem_usage_percent", "disk", "percent", "mount,device,fstype",
	 "Filesystem space used, percent of what users may use", 2},
	{"disk.read_bytes", "barista_disk_read_bytes_per_second", "disk", "bytes/s", "device",
	 "Bytes read from the block device per second", 0},
	{"disk.write_bytes", "barista_disk_written_bytes_per_second", "disk", "bytes/s", "device",
	 "Bytes written to the block device per second", 0},
	{"disk.reads", "barista_disk_reads_per_second", "disk", "1/s", "device",
	 "Reads completed per second", 2},
	{"disk.writes", "barista_disk_writes_per_second", "disk", "1/s", "device",
	 "Writes completed per second", 2},
	{"disk.busy", "barista_disk_busy_percent", "disk", "percent", "device",
	 "Time the device had IO in flight, percent", 2},

	{"net.rx_bytes", "barista_network_receive_bytes_per_second", "network", "bytes/s",
	 "interface", "Bytes received per second", 0},
	{"net.tx_bytes", "barista_network_transmit_bytes_per_second", "network", "bytes/s",
	 "interface", "Bytes sent per second", 0},
	{"net.rx_packets", "barista_network_receive_packets_per_second", "network", "1/s",
	 "interface", "Packets received per second", 2},
	{"net.tx_packets", "barista_network_transmit_packets_per_second", "network", "1/s",
	 "interface", "Packets sent per second", 2},
	{"net.rx_errors", "barista_network_receive_errors_per_second", "network", "1/s",
	 "interface", "Receive errors per second", 2},
	{"net.tx_errors", "barista_network_transmit_errors_per_second", "network", "1/s",
	 "interface", "Transmit errors per second", 2},
	{"net.rx_drops", "barista_network_receive_drops_per_second", "network", "1/s",
	 "interface", "Received packets dropped per second", 2},
	{"net.tx_drops", "barista_network_transmit_drops_per_second", "network", "1/s",
	 "interface", "Packets to send dropped per second", 2},

	{"proc.count", "barista_processes", "process", "", "", "Processes", 0},
	{"proc.running", "barista_processes_running", "process", "", "",
	 "Tasks runnable (procs_running)", 0},
	{"proc.blocked", "barista_processes_blocked", "process", "", "",
	 "Tasks blocked on IO (procs_blocked)", 0},

	{"load.1", "barista_load1", "system", "", "", "Load average over 1 minute", 2},
	{"load.5", "barista_load5", "system", "", "", "Load average over 5 minutes", 2},
	{"load.15", "barista_load15", "system", "", "", "Load average over 15 minutes", 2},
	{"sys.uptime", "barista_uptime_seconds", "system", "seconds", "",
	 "Seconds since the VM booted", 0},
	{"sys.boot", "barista_boot_info", "system", "", "boot_id",
	 "1, labelled with the kernel's boot id (a change means a reboot)", 0},

	{"agent.info", "barista_agent_info", "agent", "", "version",
	 "1, labelled with the agent's version", 0},
	{"agent.buffered", "barista_agent_buffered_samples", "agent", "", "",
	 "Samples collected and not yet acknowledged by a collector", 0},
	{"agent.dropped", "barista_agent_dropped_samples", "agent", "", "",
	 "Samples given up since the agent started (its buffer was full)", 0},

	/* the MCApp unit apps the agent runs on the VM (runtime/agent/apps.h) */
	{"app.up", "barista_app_up", "agent", "", "app,replica",
	 "1 while the app's process runs", 0},
	{"app.healthy", "barista_app_healthy", "agent", "", "app,replica",
	 "1 while the app passes its health check (or runs, without one)", 0},
	{"app.restarts", "barista_app_restarts", "agent", "", "app,replica",
	 "Times the agent started the app again since the agent started", 0},
	{"app.cpu", "barista_app_cpu_percent", "agent", "percent", "app,replica",
	 "CPU time of the app's processes, percent of one CPU", 2},
	{"app.memory", "barista_app_memory_bytes", "agent", "bytes", "app,replica",
	 "Memory charged to the app's cgroup", 0},
};

const bar_metric_info *bar_metrics(size_t *n)
{
	*n = sizeof(catalogue) / sizeof(catalogue[0]);
	return catalogue;
}

const bar_metric_info *bar_metric_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(catalogue) / sizeof(catalogue[0]); i++)
		if (strcmp(catalogue[i].name, name) == 0)
			return &catalogue[i];
	return NULL;
}

const bar_metric_info *bar_metric_find_prom(const char *prom)
{
	for (size_t i = 0; prom && i < sizeof(catalogue) / sizeof(catalogue[0]); i++)
		if (strcmp(catalogue[i].prom, prom) == 0)
			return &catalogue[i];
	return NULL;
}
