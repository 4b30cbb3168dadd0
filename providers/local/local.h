/*
 * local.h - internals shared by the files of the `local` provider plugin.
 *
 * The local provider makes real machines on this host: a VNet is a Linux
 * bridge, a VM is a set of namespaces (net, UTS, mount, PID) running a real
 * sshd, limited by cgroups and firewalled by nftables.  Everything it knows
 * lives in metadata files under a root directory (<root>/<type>/<id>/meta.json)
 * and every kernel object is named after a system id, so the state of the
 * host can always be derived from, and checked against, those files.
 *
 * The plugin sees only providers/barista_provider.h of the host; this header
 * is its private one.  Functions here are named bar_local_<noun>_<verb>; they
 * report failures through the per-call context (bar_local_ctx), which keeps
 * the FIRST error only and hands it to the host when the callback returns.
 */
#ifndef BAR_LOCAL_H
#define BAR_LOCAL_H

#include "barista_provider.h"
#include "kit.h"

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* Under /run: a local VM is processes and namespaces, which do not survive a
 * reboot, so neither should its files (and /run is tmpfs on Debian). */
#define BAR_LOCAL_DEFAULT_ROOT "/run/barista/local"
#define BAR_LOCAL_ID_MAX 16      /* "bspec-" + 8 hex + NUL fits */
#define BAR_LOCAL_META_MAX (1 << 20)
#define BAR_LOCAL_OUT_MAX (64 * 1024)

/* Error codes handed to host->set_error as the provider's own code. */
#define BAR_LOCAL_E_INVALID "InvalidParameter"
#define BAR_LOCAL_E_NOTFOUND "NotFound"
#define BAR_LOCAL_E_INUSE "DependencyViolation"
#define BAR_LOCAL_E_SYSTEM "SystemError"
#define BAR_LOCAL_E_NOTROOT "NotRoot"
#define BAR_LOCAL_E_NOTSUP "NotSupported"
#define BAR_LOCAL_E_TIMEOUT "Timeout"
#define BAR_LOCAL_E_CANCELED "Canceled"

/* The plugin's own data, bar_provider.priv. */
typedef struct bar_local_prov {
	const bar_host_api *host;
	char init_path[PATH_MAX]; /* barista-local-init next to the .so */
	int ncpu;                 /* online CPUs: the vcpu ceiling of a spec */
} bar_local_prov;

/* One callback's context: who called, where the files are, the first error. */
typedef struct bar_local_ctx {
	bar_local_prov *prov;
	bar_call *call;
	char root[PATH_MAX];
	bar_kit_err err;    /* the first failure (the kit's first-error rule) */
	int batch_fw;       /* VM firewalls are not observed one by one: a list
	                     * observes them in one batch
	                     * (bar_local_vm_observe_firewalls), a VM action,
	                     * which does not touch them, not at all */
} bar_local_ctx;

/* ---- local.c: errors and emitting ---- */

/* Record the call's error unless one is recorded already (the first failure
 * is the precise one; cleanup failures after it must not replace it).
 * Returns rc so a failure site can `rc = bar_local_fail(...)`. */
int bar_local_fail(bar_local_ctx *c, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Emit one observation built from a resource's metadata: name, tags and the
 * stored observed attrs, with `status`.  Returns 0 or BAR_EFAIL. */
int bar_local_emit(bar_local_ctx *c, bar_sink *out, const char *id, json_t *meta,
                   const char *status);

/* Deadline of a long wait: call->deadline_ms or now + dflt_ms. */
int64_t bar_local_deadline(bar_local_ctx *c, int64_t dflt_ms);

/* ---- local_util.c: files, processes, ids, locks ---- */

/* CLOCK_MONOTONIC in ms; sleep that resumes after signals. */
int64_t bar_local_now_ms(void);
void bar_local_sleep_ms(int ms);

/* snprintf into a PATH_MAX buffer; -1 (error recorded) when it does not fit. */
int bar_local_path(bar_local_ctx *c, char *buf, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mkdir -p with `mode` for every created component. */
int bar_local_mkdirs(bar_local_ctx *c, const char *path, unsigned mode);
/* rm -rf that does not follow symlinks; missing path is fine. */
int bar_local_rmtree(bar_local_ctx *c, const char *path);

/* Read a whole file of at most `max` bytes into a new NUL-terminated buffer
 * (*out, caller frees).  BAR_ENOTFOUND if it does not exist (no error
 * recorded: callers decide whether absence is an error). */
int bar_local_file_read(bar_local_ctx *c, char **out, size_t *len_out, const char *path,
                        size_t max);
/* Write a file atomically (temporary + rename) with `mode`. */
int bar_local_file_write(bar_local_ctx *c, const char *path, const void *data, size_t len,
                         unsigned mode);
/* Zero memory that held a secret (not optimised away). */
void bar_local_memzero(void *p, size_t n);
/* Overwrite a file's bytes with zeros, then unlink it (for key material). */
void bar_local_file_wipe(const char *path);

/* Load / store JSON (meta.json and friends).  Load returns BAR_ENOTFOUND
 * without recording an error when the file is missing. */
int bar_local_json_load(bar_local_ctx *c, json_t **out, const char *path);
int bar_local_json_save(bar_local_ctx *c, const char *path, json_t *j);
/* Compact, key-sorted text of j (caller frees), or NULL. */
char *bar_local_json_text(json_t *j);

/* A helper program running (ip, nft, ssh-keygen). */
typedef struct bar_local_proc {
	int pid;
	int fd;         /* its stdout+stderr */
	char what[256]; /* the command line, for messages */
} bar_local_proc;

#define BAR_LOCAL_STDIN_MAX 60000 /* fits a pipe buffer */

/* Start a program (absolute path in argv[0]) with `input` (NULL: /dev/null,
 * else at most BAR_LOCAL_STDIN_MAX bytes) on stdin and its stdout+stderr
 * captured.  With `netns` set it runs inside that network namespace
 * (through barista-local-init nsexec).  Finish it with bar_local_proc_finish. */
int bar_local_proc_start(bar_local_ctx *c, bar_local_proc *out, const char *const *argv,
                         const char *input, const char *netns);
/* Wait for a started program; its output (at most BAR_LOCAL_OUT_MAX bytes)
 * goes to *out (caller frees; out may be NULL).  Returns 0 when it exited 0;
 * otherwise -1 with an error naming the command and its output, unless
 * `quiet` (then nothing is recorded). */
int bar_local_proc_finish(bar_local_ctx *c, bar_local_proc *p, char **out, int quiet);
/* Start and finish in one go. */
int bar_local_run(bar_local_ctx *c, char **out, const char *const *argv, const char *input,
                  const char *netns, int quiet);

/* New random system id "<prefix>-xxxxxxxx" into out[BAR_LOCAL_ID_MAX]. */
int bar_local_id_new(bar_local_ctx *c, char *out, const char *prefix);
/* 1 if id is exactly "<prefix>-" followed by 8 lowercase hex digits. */
int bar_local_id_valid(const char *id, const char *prefix);

/* flock() a lock file (created on demand); *out_fd is released with
 * bar_local_unlock.  how is LOCK_EX or LOCK_SH. */
int bar_local_lock(bar_local_ctx *c, int *out_fd, const char *path, int how);
void bar_local_unlock(int fd);

/* Start time (clock ticks since boot) of a live, non-zombie process; 0 when
 * the process is gone or a zombie. */
uint64_t bar_local_proc_starttime(int pid);

/* ---- local_net.c: addresses, bridges, namespaces, firewall ---- */

typedef struct bar_local_cidr {
	uint32_t net; /* host byte order */
	int prefix;
} bar_local_cidr;

/* Parse "a.b.c.d/n" (host bits must be zero). -1 with error recorded. */
int bar_local_cidr_parse(bar_local_ctx *c, bar_local_cidr *out, const char *text,
                         const char *what);
int bar_local_cidr_overlap(const bar_local_cidr *a, const bar_local_cidr *b);
void bar_local_ip_format(char *buf, size_t size, uint32_t ip);

/* Create the bridge `id` with the gateway (first address) of each subnet
 * in `subnets` (a JSON array of {"cidr"}) and bring it up. */
int bar_local_bridge_create(bar_local_ctx *c, const char *id, json_t *subnets);
/* Remove the bridge; missing is fine. */
int bar_local_bridge_delete(bar_local_ctx *c, const char *id);
/* A private VNet (attrs "private": true): a host nftables table
 * `ip barista-<id>` rejecting what the host itself sends into `cidr`
 * (admin-prohibited: connect fails at once with "No route to host"), while traffic the host forwards between VNets still
 * passes.  bar_local_private_drop removes the table; absent is fine. */
int bar_local_private_add(bar_local_ctx *c, const char *id, const char *cidr);
void bar_local_private_drop(bar_local_ctx *c, const char *id);
/* 1 if a network interface of that name exists in the host namespace. */
int bar_local_link_exists(const char *name);
/* 1 if /run/netns/<id> exists. */
int bar_local_netns_exists(const char *id);

/* Take the lowest free address (from .2) of `subnet` in VNet `vnet_id` for
 * `vm_id`, under a lock shared by threads and processes. */
int bar_local_lease_take(bar_local_ctx *c, uint32_t *out, const char *vnet_id,
                         const char *vm_id, const bar_local_cidr *subnet);
/* Give back vm_id's address; missing lease or VNet is fine. */
void bar_local_lease_drop(bar_local_ctx *c, const char *vnet_id, const char *vm_id);

/* (local_nl.c) Make netns `id` with a veth (host side `id` on `bridge`, VM
 * side eth0) holding ip/prefix, default route via gw, lo up. */
int bar_local_netns_create(bar_local_ctx *c, const char *id, const char *bridge,
                           uint32_t ip, int prefix, uint32_t gw);
/* Remove veth and netns named `id`; whatever is missing is fine. */
int bar_local_netns_delete(bar_local_ctx *c, const char *id);

/* Validate security-group rules (a JSON array) into normalised rules
 * (*out, new reference): {"cidr","fromPort","protocol","toPort"}. */
int bar_local_rules_normalise(bar_local_ctx *c, json_t **out, json_t *rules, const char *what);
/* Apply the union of the rules of security groups `sg_ids` (JSON array of
 * ids, read from their metadata) inside netns `vm_id`, atomically replacing
 * the previous rules unless `fresh` (a new netns has none).  Caller holds
 * the security-group lock (shared or exclusive). */
int bar_local_firewall_apply(bar_local_ctx *c, const char *vm_id, json_t *sg_ids, int fresh);
/* The lock serialising firewall changes against security-group updates. */
int bar_local_firewall_lock(bar_local_ctx *c, int *out_fd, int how);

/* ---- local_res.c / local_catalog.c: the other resource types ----
 *
 * create: validate `in`, make the resource, emit it (one observation);
 * delete: remove it, BAR_ENOTFOUND when nothing was there, ECONFLICT when
 * VMs still use it; status: "Available", or BAR_ENOTFOUND when its kernel
 * object is gone; update: change it in place or BAR_ENOTSUP.  All record
 * their error in the context. */

int bar_local_vnet_create(bar_local_ctx *c, json_t *in, bar_sink *out);
int bar_local_vnet_delete(bar_local_ctx *c, const char *id);
int bar_local_vnet_status(bar_local_ctx *c, const char *id, json_t *meta, const char **status);
int bar_local_sg_create(bar_local_ctx *c, json_t *in, bar_sink *out);
int bar_local_sg_update(bar_local_ctx *c, const char *id, json_t *meta, json_t *in,
                        bar_sink *out);
int bar_local_sg_delete(bar_local_ctx *c, const char *id);
int bar_local_sshkey_create(bar_local_ctx *c, json_t *in, bar_sink *out);
/* Check (and trim) one OpenSSH public key line in place. */
int bar_local_pubkey_check(bar_local_ctx *c, char *key);
int bar_local_image_create(bar_local_ctx *c, json_t *in, bar_sink *out);
int bar_local_spec_create(bar_local_ctx *c, json_t *in, bar_sink *out);

/* Shared by the types: a new resource's directory and metadata skeleton. */
int bar_local_res_begin(bar_local_ctx *c, char *out_id, json_t **out_meta, const char *type,
                        const char *prefix, json_t *in);
/* Save meta.json of resource `id` of `type`. */
int bar_local_meta_save(bar_local_ctx *c, const char *type, const char *id, json_t *meta);
/* Load meta.json of resource `id`; BAR_ENOTFOUND (recorded) if absent. */
int bar_local_meta_load(bar_local_ctx *c, json_t **out, const char *type, const char *id);
/* Directory of a resource: <root>/<type>/<id>. */
int bar_local_res_dir(bar_local_ctx *c, char *buf, const char *type, const char *id);

/* ---- local_cgroup.c: limits, freezing, killing ---- */

#define BAR_LOCAL_CG_MAX 6 /* group directories of one VM, all modes */

/* "v2", "v1" or "none": what this host lets us use. */
const char *bar_local_cgroup_mode(void);
/* The group directories of VM `id` in `mode`; returns how many. */
int bar_local_cgroup_dirs(char dirs[][PATH_MAX], const char *mode, const char *id);
/* Make the groups of VM `id` with the spec's limits; *out_mode is the mode
 * used ("none" when cgroups cannot be written: the VM runs unlimited). */
int bar_local_cgroup_create(bar_local_ctx *c, const char **out_mode, const char *id, int vcpu,
                            int64_t mem_mib);
/* 1 frozen, 2 freezing, 0 running (or no freezer). */
int bar_local_cgroup_frozen(const char *mode, const char *id);
/* Freeze (1) or thaw (0) and wait until the kernel says it is done. */
int bar_local_cgroup_freeze(bar_local_ctx *c, const char *mode, const char *id, int freeze);
/* Thaw and SIGKILL every process left in the VM's groups (any mode). */
void bar_local_cgroup_killall(const char *id);
/* Remove the VM's groups (any mode); missing ones are fine. */
int bar_local_cgroup_remove(bar_local_ctx *c, const char *id);

/* ---- local_vmproc.c: a VM's files and processes ---- */

/* Write the VM's sshd_config, authorized_keys (only `pubkey`), hostname,
 * hosts, empty home and its own minimal /etc files (etc/profile,
 * etc/bash.bashrc, etc/profile.d) under its directory `dir`. */
int bar_local_vm_files(bar_local_ctx *c, const char *dir, const char *hostname,
                       const char *pubkey, const char *ip);
/* (local_hostkey.c) Generate the VM's ed25519 host key into
 * dir/ssh_host_ed25519_key{,.pub} as ssh-keygen would; `out` gets its
 * "ssh-ed25519 base64" line. */
int bar_local_hostkey_generate(bar_local_ctx *c, char *out, size_t size, const char *dir,
                               const char *comment);
/* 1 when the PID 1 recorded in `local` (pid + starttime) still runs. */
int bar_local_vm_alive(json_t *local);
/* Start the VM (barista-local-init) and wait until sshd is ready; records
 * "pid" and "starttime" in `local` (even on failure, for cleanup). */
int bar_local_vm_boot(bar_local_ctx *c, const char *id, json_t *local);
/* Stop the VM: thaw, SIGTERM PID 1, SIGKILL after a grace period, then
 * SIGKILL whatever is left in its cgroups.  Never fails. */
void bar_local_vm_kill(bar_local_ctx *c, const char *id, json_t *local);

/* ---- local_vm.c: VMs ----
 *
 * Same contracts as above; status is Running / Suspended / Suspending, or
 * BAR_ENOTFOUND when the netns or PID 1 is gone; action is "suspend",
 * "resume" or "reboot" and emits the VM afterwards. */

int bar_local_vm_create(bar_local_ctx *c, json_t *in, bar_sink *out);
int bar_local_vm_update(bar_local_ctx *c, const char *id, json_t *meta, json_t *in,
                        bar_sink *out);
int bar_local_vm_delete(bar_local_ctx *c, const char *id);
int bar_local_vm_status(bar_local_ctx *c, const char *id, json_t *meta, const char **status);
/* Observe the firewall ("firewall": enforced/missing in the observed attrs)
 * of n VMs at once: their nft processes run side by side. */
void bar_local_vm_observe_firewalls(bar_local_ctx *c, const char *const *ids, json_t **metas,
                                    size_t n);
int bar_local_vm_action(bar_local_ctx *c, const char *id, json_t *meta, const char *action,
                        bar_sink *out);

#endif
