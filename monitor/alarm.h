/*
 * alarm.h - the pieces of a collector's alarm engine that can be tested on
 * their own: the rule states (Prometheus' inactive -> pending -> firing ->
 * resolved) and the notification grouping of Alertmanager (group wait,
 * group interval, repeat interval, de-duplication).  The engine
 * (monitor/alarm.c) feeds them with query results and a clock;
 * monitor/alarm_notify.c turns a group's notification into each receiver's
 * format.
 */
#ifndef BAR_MONITOR_ALARM_H
#define BAR_MONITOR_ALARM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum { BAR_ALERT_INACTIVE, BAR_ALERT_PENDING, BAR_ALERT_FIRING, BAR_ALERT_RESOLVED };

/* "inactive", "pending", "firing", "resolved". */
const char *bar_alert_state_name(int state);

/* One alert: a rule on one label set. */
typedef struct bar_alert {
	char *key;          /* "<ns>/<policy>/<alarm>|<labels as k=v,...>": identity */
	json_t *labels;     /* alarm, severity, ns, mci, policy and the series' labels */
	json_t *annotations;
	int state;
	int64_t active_ms;  /* when the condition became true (pending) */
	int64_t fired_ms;   /* when it started firing */
	int64_t resolved_ms;
	double value;       /* the last value seen */
	int dirty;          /* changed since the group was last notified */
} bar_alert;

/* Step a rule's alert to `now`: cond is whether the condition holds (0 too
 * when the series is gone), for_ms the rule's `for`.  Returns 1 when the
 * state changed into firing or resolved (what notifications are about). */
int bar_alert_step(bar_alert *a, int cond, double value, int64_t for_ms, int64_t now);

/* A notification group (route.groupBy values within one policy). */
typedef struct bar_alert_group {
	char *key;          /* "<ns>/<policy>|<groupBy labels>" */
	json_t *group_labels;
	bar_alert **alerts; /* borrowed from the engine */
	size_t nalerts;
	int64_t created_ms, last_sent_ms;
	char last_digest[65]; /* what was sent last: fingerprint of states */
} bar_alert_group;

/* Timing of a route (seconds in the spec; ms here). */
typedef struct bar_alert_route {
	int64_t wait_ms, interval_ms, repeat_ms;
} bar_alert_route;

/*
 * Whether group g must be notified at now: the first notification after
 * group wait; later ones when something changed and group interval passed
 * since the last; an unchanged group with firing alerts again after repeat
 * interval; never the same digest twice within repeat interval.  digest
 * gets the current digest (65 bytes).
 */
int bar_alert_group_due(const bar_alert_group *g, const bar_alert_route *r, int64_t now,
                        char *digest);

#endif
