/*
 * apps_int.h - what the supervisor's files share (apps.c: states and
 * processes; apps_health.c: health checks; apps_io.c: logs, cgroups,
 * status).  Internal to runtime/agent.
 */
#ifndef BAR_RUNTIME_AGENT_APPS_INT_H
#define BAR_RUNTIME_AGENT_APPS_INT_H

#include "apps.h"

#include <sys/types.h>

typedef enum rstate {
	R_WAITING,   /* for its turn: `after` apps healthy, lower orders started */
	R_STARTING,  /* running, not yet healthy */
	R_RUNNING,   /* healthy (or running, without a health check) */
	R_BACKOFF,   /* exited; started again at next_ms */
	R_STOPPING,  /* SIGTERM sent; SIGKILL at stop_deadline */
	R_EXITED,    /* exited and not to be started again (restart policy, or stopped) */
	R_FAILED     /* could not be started (prepare failed); tried again at next_ms */
} rstate;

typedef struct probe {
	int active;
	int fd;           /* tcp/http: the socket */
	pid_t pid;        /* exec: the child */
	int phase;        /* tcp/http: 0 connecting, 1 sending, 2 reading */
	int64_t deadline;
	size_t len;
	char buf[512];
} probe;

typedef struct app app;

typedef struct replica {
	app *app;
	int index;              /* 1-based */
	rstate st;
	pid_t pid;              /* the app's process (runc for image apps); 0 when none */
	int healthy;
	int fails;              /* consecutive failed checks */
	int crashes;            /* consecutive exits, for the delay */
	int restarts;           /* starts after the first */
	int restart_after_stop; /* a stop made by an unhealthy check: start again */
	int64_t started_ms, healthy_since, next_ms, next_probe, stop_deadline;
	int64_t since_wall;     /* wall ms of the last state change */
	int kill_sent;
	int out_fd;             /* read end of the app's stdout+stderr */
	int log_fd;
	size_t log_size;
	int exit_code, exit_signal;
	char msg[300];
	probe pr;
	char cg[3][600];        /* v2: [0]; v1: cpu, cpuacct, memory */
	uint64_t cpu_ns_last;
	int64_t cpu_at_last;
	char ctr_id[160];
} replica;

struct app {
	bar_app_def def;
	replica *r;
	int nr;
	int gone;               /* no longer in the manifest (or replaced): stop, then drop */
};

struct bar_apps {
	bar_apps_opts o;
	char *manifest, *dir, *status, *vm;
	int cg_v2;
	char cg_base[3][512];   /* the agent's groups (as in replica.cg) */
	char cg_rel[512];       /* the memory group relative to its hierarchy (runc's parent) */
	app **apps;
	size_t n;
	long generation;
	char sources[BAR_APPS_SOURCES_MAX][BAR_APP_NAME_MAX];
	long generations[BAR_APPS_SOURCES_MAX];
	size_t nsources;
	char manifest_error[400];
	int dirty;
};

int64_t apps_mono_ms(void);
int64_t apps_wall_ms(void);
void apps_log(bar_apps *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void apps_set_state(bar_apps *a, replica *r, rstate st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
const char *apps_state_name(rstate st);

/* The environment of a command app's processes (and its exec checks):
 * PATH, HOME, LANG unless the app sets them, BARISTA_APP, BARISTA_REPLICA,
 * then the app's env.  NULL-terminated, malloc'd: apps_free_strv. */
char **apps_command_env(const bar_app_def *d, int replica_index);
void apps_free_strv(char **v);

/* health (apps_health.c) */
void apps_probe_start(bar_apps *a, replica *r);
/* Advance an active probe (pf: poll's results); returns 1 when it ended
 * with *ok set and r->msg holding why it failed. */
int apps_probe_step(bar_apps *a, replica *r, const struct pollfd *pf, size_t npf, int *ok);
/* An exec probe's child exited with status st. */
void apps_probe_reaped(replica *r, int st, int *ok);
void apps_probe_cancel(replica *r);

/* logs, cgroups, status (apps_io.c) */
void apps_log_open(bar_apps *a, replica *r);
void apps_log_drain(bar_apps *a, replica *r);
void apps_log_close(replica *r);
void apps_cgroup_base(bar_apps *a);
int apps_cgroup_make(bar_apps *a, replica *r, char *why, size_t wsize);
void apps_cgroup_join(const replica *r);  /* in the child, before exec */
void apps_cgroup_remove(bar_apps *a, replica *r);
void apps_cgroup_sweep(bar_apps *a);      /* at open: what an earlier agent left */
int apps_cgroup_cpu_mem(const replica *r, uint64_t *cpu_ns, uint64_t *mem);
void apps_status_write(bar_apps *a);

/* containers (apps_image.c) */
int apps_image_spawn(bar_apps *a, replica *r, int out_w, char *why, size_t wsize);
void apps_image_exited(bar_apps *a, replica *r);
void apps_image_sweep(bar_apps *a);
/* SIGKILL for a container: `runc kill` (killing runc would leave it). */
void apps_image_kill(bar_apps *a, replica *r);
/* The argv of an exec check inside r's container (static storage). */
int apps_image_exec_argv(const bar_apps *a, const replica *r, const char *cmd, char **argv,
                         size_t max);

#endif
