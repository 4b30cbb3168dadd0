/*
 * apps.h - the unit apps barista-agent runs on its VM (docs/apps.md, "On a
 * VM"): the manifest apply writes (apps.conf, line-based so the static,
 * libc-only agent needs no JSON parser), and the supervisor that starts the
 * apps in their order, checks their health, restarts them with a growing
 * delay, keeps their output in bounded logs, reports their state in a
 * status file and their metrics in the agent's samples.
 *
 * The supervisor lives in the agent's single thread: it never blocks.  It
 * hands the loop the descriptors it waits on (log pipes, health-check
 * sockets) and the time of its next deadline; the loop calls
 * bar_apps_step when either comes, and on SIGCHLD.  Nothing here prints;
 * messages go to the log callback.
 */
#ifndef BAR_RUNTIME_AGENT_APPS_H
#define BAR_RUNTIME_AGENT_APPS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define BAR_APPS_MAX 64            /* apps in one manifest */
#define BAR_APPS_REPLICAS_MAX 64   /* replicas of one app on one VM */
#define BAR_APPS_MANIFEST_MAX (1024 * 1024)
#define BAR_APP_NAME_MAX 128 /* "<source>.<app>" */

typedef enum bar_app_kind { BAR_APP_COMMAND, BAR_APP_IMAGE } bar_app_kind;
typedef enum bar_app_health_kind {
	BAR_HEALTH_NONE, BAR_HEALTH_TCP, BAR_HEALTH_HTTP, BAR_HEALTH_EXEC
} bar_app_health_kind;
typedef enum bar_app_restart { BAR_RESTART_ALWAYS, BAR_RESTART_ON_FAILURE, BAR_RESTART_NEVER }
	bar_app_restart;

typedef struct bar_app_health {
	bar_app_health_kind kind;
	int port;
	char *path;      /* http */
	char *command;   /* exec: run with /bin/sh -c (inside the container for image apps) */
	long interval_ms, timeout_ms, delay_ms;
	int failures;    /* consecutive failures that make a healthy app unhealthy */
} bar_app_health;

typedef struct bar_app_layer {
	char digest[80]; /* sha256:<hex> */
	int gzip;
} bar_app_layer;

/* One app of the manifest ("[app NAME]" and its lines). */
typedef struct bar_app_def {
	char name[BAR_APP_NAME_MAX];
	char hash[33];      /* of the app's definition: a new hash restarts it */
	bar_app_kind kind;
	int replicas;
	long order;
	char **after; size_t nafter;
	char *command;      /* command apps */
	char **args; size_t nargs;  /* image apps: the process, entrypoint and cmd merged */
	char **env; size_t nenv;    /* KEY=VALUE */
	char *cwd, *user;
	char image[80];     /* image apps: the manifest digest */
	bar_app_layer *layers; size_t nlayers;
	int *ports; size_t nports;  /* tcp ports (for the record; the VM's own) */
	char **vol_name, **vol_path; size_t nvol;
	bar_app_health health;
	bar_app_restart restart;
	double cpus;
	uint64_t memory;
} bar_app_def;

/* A manifest: one file, or a directory of them (apps.d/<source>.conf, one
 * per MCApp), whose apps are named "<source>.<app>" and whose `after`
 * names stay within their own file. */
#define BAR_APPS_SOURCES_MAX 32
typedef struct bar_app_manifest {
	long generation;           /* of a single file; the highest of a directory */
	bar_app_def *apps;
	size_t n;
	char sources[BAR_APPS_SOURCES_MAX][BAR_APP_NAME_MAX]; /* a directory's files */
	long generations[BAR_APPS_SOURCES_MAX];
	size_t nsources;
} bar_app_manifest;

/*
 * Parse a manifest's text (len bytes, at most BAR_APPS_MANIFEST_MAX) into
 * *out (written only on success; free with bar_app_manifest_clear).  file
 * names it in messages.  0, or -1 with why = "FILE:LINE: what is wrong".
 */
int bar_app_manifest_parse(bar_app_manifest *out, const char *text, size_t len,
                           const char *file, char *why, size_t wsize);

/* Read and parse the file at path, or every *.conf file of the directory
 * at path (in name order; each its own generation); a missing file or
 * directory is an empty manifest (generation 0).  As
 * bar_app_manifest_parse. */
int bar_app_manifest_load(bar_app_manifest *out, const char *path, char *why, size_t wsize);

void bar_app_manifest_clear(bar_app_manifest *m);

/* Free one definition's members (the struct itself is the caller's). */
void bar_app_def_clear(bar_app_def *d);

/* ---- the supervisor ---- */

typedef struct bar_apps bar_apps;
typedef void (*bar_apps_log_fn)(void *ctx, const char *msg);

typedef struct bar_apps_opts {
	int version;              /* 1 */
	const char *manifest;     /* apps.conf */
	const char *dir;          /* the agent's directory: apps/, images/, runc/ below it */
	const char *status;       /* where the status JSON is written (atomically) */
	const char *cgroup_parent;/* the agent's cgroup (NULL: found from /proc/self/cgroup) */
	const char *vm;           /* the container's hostname */
	long grace_ms;            /* SIGTERM to SIGKILL when stopping an app: 10000 */
	size_t log_max;           /* bytes per log file before it is rotated: 1 MiB */
	bar_apps_log_fn log;
	void *log_ctx;
} bar_apps_opts;
#define BAR_APPS_OPTS_INIT {.version = 1, .grace_ms = 10000, .log_max = 1u << 20}

/*
 * A supervisor for the apps of o->manifest (loaded here: a manifest that
 * does not parse is logged and kept out, as if empty).  Whatever an earlier
 * agent left behind (processes in the apps' cgroups, containers) is stopped
 * first, so a crashed agent orphans nothing.  0 with *out, or -1 with why.
 */
int bar_apps_open(bar_apps **out, const bar_apps_opts *o, char *why, size_t wsize);

/* Read the manifest again (SIGHUP): apps that are new start, apps that are
 * gone stop, apps whose definition changed are stopped and started again;
 * the others are left running.  A manifest that does not parse changes
 * nothing (logged, and shown in the status). */
void bar_apps_reload(bar_apps *a);

/* The descriptors to wait on into pf[0..max): how many were written. */
size_t bar_apps_fds(bar_apps *a, struct pollfd *pf, size_t max);

/* Do what is due: read output, reap exited children, advance health
 * checks, starts, restarts and stops, and write the status when it
 * changed.  pf/npf: what poll() returned (may hold other descriptors). */
void bar_apps_step(bar_apps *a, const struct pollfd *pf, size_t npf);

/* Monotonic ms of the next deadline; INT64_MAX when nothing is due. */
int64_t bar_apps_next_ms(const bar_apps *a);

/* Per app replica: running, healthy, restarts, CPU share and memory, as
 * values for the agent's samples.  Called once per collection. */
typedef void (*bar_apps_metric_fn)(void *ctx, const char *metric, const char *app,
                                   const char *replica, double v);
void bar_apps_metrics(bar_apps *a, bar_apps_metric_fn fn, void *ctx);

/* Stop every app (SIGTERM, then SIGKILL after the grace time), waiting for
 * them; for the agent's own stop.  Then free. */
void bar_apps_close(bar_apps *a);

/*
 * Wait, reading the status file a running agent writes at status_path,
 * until the apps of source (an apps.d file's name) at `generation` are all
 * healthy and none of an earlier generation of it runs (generation 0: the
 * source is gone and none of its apps runs).  0 when so; -1 with why when
 * one cannot start or exited for good, or the agent refused the manifest;
 * -2 with why (what was still awaited) after timeout_ms.
 */
int bar_apps_wait(const char *status_path, const char *source, long generation,
                  long timeout_ms, char *why, size_t wsize);

#endif
