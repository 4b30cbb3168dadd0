/*
 * metrics.h - the catalogue of what barista-agent measures: Barista's dotted
 * name (what policies, alarms and `barista metrics query` use), the
 * Prometheus name on the wire, the unit, the group a MonitoringPolicy
 * enables it by, the labels it carries besides ns/mci/vm, and how many
 * decimals the agent keeps.
 *
 * libc only (the agent links it).  The table is the single source: the
 * spec checker validates alarm metrics against it, the agent collects from
 * it, docs/monitoring.md's metric list is generated from it
 * (`barista metrics list`).
 */
#ifndef BAR_MONITOR_METRICS_H
#define BAR_MONITOR_METRICS_H

#include <stddef.h>

typedef struct bar_metric_info {
	const char *name;     /* "cpu.usage" */
	const char *prom;     /* "barista_cpu_usage_percent" */
	const char *group;    /* cpu, memory, disk, network, process, system, agent */
	const char *unit;     /* "percent", "bytes", "bytes/s", "1/s", "seconds", "" */
	const char *labels;   /* its own labels, comma-separated ("mount,device"), or "" */
	const char *help;
	int decimals;         /* the agent rounds values to this many decimals */
} bar_metric_info;

/* The catalogue, in a stable order; n entries. */
const bar_metric_info *bar_metrics(size_t *n);

/* By Barista name or by Prometheus name; NULL when unknown. */
const bar_metric_info *bar_metric_find(const char *name);
const bar_metric_info *bar_metric_find_prom(const char *prom);

/* The groups a policy may enable, NULL-terminated:
 * cpu, memory, disk, network, process, system. */
extern const char *const bar_metric_groups[];

#endif
