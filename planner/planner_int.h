/*
 * planner_int.h - what the planner's files share and nothing else sees:
 * the snapshot's insides and the connection-attribute rules.
 */
#ifndef BAR_PLANNER_INT_H
#define BAR_PLANNER_INT_H

#include "planner.h"

/* One record's live view after refresh. */
typedef struct snap_live {
	int checked;  /* a list covered this record */
	bar_obs *obs; /* NULL when checked and not found */
	int by_tag;   /* found by its address tag, not by its recorded id */
} snap_live;

/* Provider records of one (namespace, connection, type): one list call. */
typedef struct snap_group {
	size_t *idx;       /* record indices */
	size_t n;
	bar_obs_list list; /* what the list returned */
	char *cred;        /* canonical credential reference it was listed with */
	char *error;       /* why the list failed, or NULL */
	int indexed;       /* by_addr is built (on first use) */
	bar_map by_addr;   /* address tag -> listed resource of this lineage */
	char **addr_keys;  /* the map's keys (owned) */
	size_t n_keys;
} snap_group;

struct bar_snapshot {
	bar_records rs;
	char *lineage;
	int64_t serial;
	int refreshed;
	snap_live *live; /* one per record */
	snap_group *groups;
	size_t n_groups;
	bar_registry *reg;
	const bar_cancel *cancel;
	bar_intents intents; /* creates an interrupted run sent, unrecorded */
	json_t *adopt;       /* address -> system id an open intent's key made
	                      * (bar_snapshot_settle fills it) */
	bar_obs **agent_obs; /* what the agent check saw (owned; live[] points here) */
	size_t n_agent_obs;
};

/* "<ns>/connection/<name>", malloc'd. */
char *bar_conn_address(const char *ns, const char *name);

/*
 * The attributes to reach a connection's *existing* resources with: the
 * recorded driver, region, zone and config (where they were made) with the
 * configuration's credential reference when the configuration has the
 * connection.  Falls back to the desired attrs for a connection never
 * recorded.  New reference, or NULL when neither knows the connection.
 */
json_t *bar_conn_live_attrs(const bar_desired_set *ds, const bar_records *rs,
                            const char *addr);

/* A resource the refresh listed (no extra call is made) at that
 * connection and type whose tags carry `address` and this state's
 * lineage: what a record lost from the state (a deleted -wal) tracked.
 * Borrowed from the snapshot, or NULL. */
const bar_obs *bar_snapshot_tagged(const bar_snapshot *s, const char *ns,
                                   const char *connection, const char *type,
                                   const char *address);

/* Re-list the groups whose list failed or used an outdated credential
 * reference, now that the configuration is known.  0 or -1. */
int bar_snapshot_settle(bar_snapshot *s, const bar_desired_set *ds);

/*
 * A remote target for a VM from what its record holds: the observed
 * attributes' privateIp and hostKey (JSON text), the private key of the
 * SSHKey at address ssh_key in the key store.  BAR_EINVALID naming the VM
 * and `what` ("postCommands", "the agent") when something is missing.  *t is
 * the caller's (bar_remote_target_clear).
 */
struct bar_remote_target;
int bar_vm_remote_target(struct bar_remote_target *t, const char *address, const char *name,
                         const char *status, const char *system_id, const char *observed,
                         const char *ssh_key, const char *keys_dir, const char *what);

/* ---- MonitoringPolicies (planner/agent.c) ---- */

/* Push a policy's normalised attrs to each of its collectors (remove: take
 * it off them).  0, or an error naming the collector that refused. */
int bar_policy_push(const char *ns, const char *name, const json_t *attrs, int remove);

/* Install (or re-install) the agent of change c on its VM; *out is what
 * to record (bar_obs_clear).  0 or an error naming the VM and the step. */
int bar_agent_install(bar_obs *out, const bar_change *c, bar_state *st, const char *keys_dir,
                      const bar_cancel *cancel);

/* Stop and remove the agent recorded at address (nothing to do when its VM
 * is gone).  0 or an error. */
int bar_agent_remove(const char *address, bar_state *st, const char *keys_dir,
                     const bar_cancel *cancel);

/* The agent's directory on a VM made by `driver` (/run/barista/agent on a
 * local VM, /opt/barista-agent elsewhere); static. */
const char *bar_agent_dir(const char *driver);

/* A remote target for the VM of record vm (not through bastions yet).
 * 0 or an error naming the VM; *t is the caller's. */
struct bar_remote_job;
struct bar_cancel;
int bar_agent_target(struct bar_remote_target *t, const bar_record *vm, const char *keys_dir);

/* Run one job on one target (16 KiB of output kept); *out (may be NULL)
 * gets its stdout (malloc'd).  A failure is the error, naming the VM and
 * what (the step). */
int bar_agent_run_one(struct bar_remote_target *t, const struct bar_remote_job *job,
                      const struct bar_cancel *cancel, char **out, const char *what);

/* Why a checked agent must be re-installed (live: what the check saw, NULL
 * when it is not there), as a malloc'd reason; NULL when it is as apply
 * left it. */
char *bar_agent_drift(const bar_desired *d, const bar_record *r, const bar_obs *live);

/* ---- MCApps on barista-agent (planner/app.c) ---- */

/* Deploy change c's apps on its VM: pull and copy images, write the VM's
 * manifest, wait for every app to be healthy; on failure put the previous
 * manifest back and fail with the app's own message.  *out is what to
 * record (bar_obs_clear). */
int bar_app_deploy(bar_obs *out, const bar_change *c, bar_state *st, const char *keys_dir,
                   const bar_cancel *cancel);

/* Stop and remove the apps recorded at address from their VM (nothing to
 * do when the VM is gone).  0 or an error. */
int bar_app_remove(const char *address, bar_state *st, const char *keys_dir,
                   const bar_cancel *cancel);

/* ---- a cluster made with kubeadm on an MCI (planner/k8scluster.c) ---- */

/* Bootstrap change c's cluster on its MCI's VMs; the admin kubeconfig goes
 * to the key store.  *out is what to record. */
int bar_k8scluster_deploy(bar_obs *out, const bar_change *c, bar_state *st, const char *keys_dir,
                          const bar_cancel *cancel);

/* Forget the cluster recorded at address: its kubeconfig leaves the key
 * store (the VMs go with their own records). */
int bar_k8scluster_remove(const char *address, const char *keys_dir);

/* The kubeconfig of the cluster recorded at address written to a new
 * private temporary file whose path goes to path (the caller unlinks it). */
int bar_k8scluster_kubeconfig(char *path, size_t size, const char *keys_dir,
                              const char *address);

/* ---- MCApps of runtime "kubernetes" (planner/k8sapp.c) ---- */

/* Server-side apply change c's MCApp to its cluster, waiting for every
 * rollout and pruning what it no longer has.  *out is what to record. */
int bar_k8sapp_deploy(bar_obs *out, const bar_change *c, const char *keys_dir,
                      const bar_cancel *cancel);

/* Delete every object of the MCApp recorded at address from its cluster. */
int bar_k8sapp_remove(const char *address, bar_state *st, const char *keys_dir);

/* The refresh's check of every recorded k8sapp: its drift on the cluster
 * (live[] checked, obs attrs {"drift": text}); a cluster that cannot be
 * reached is left unchecked. */
void bar_k8sapps_check(bar_snapshot *s, const char *keys_dir);

/* Why a checked k8sapp must be applied again, malloc'd; NULL when not. */
char *bar_k8sapp_drift(const bar_obs *live);

/* The refresh's check of the recorded app resources (their manifests on
 * the VMs); called by bar_agents_check. */
void bar_apps_check(bar_snapshot *s, const char *keys_dir, bar_state *st);

/* Why a checked app resource must be deployed again (live NULL: its
 * manifest is not on the VM), malloc'd; NULL when as apply left it. */
char *bar_app_drift(const bar_record *r, const bar_obs *live);

/* Order the plan's app updates of each MCApp into a rollout: each waits
 * for the one rollout.maxUnavailable before it (at most all but one VM at
 * a time).  With ds (the desired set), agent re-installs on VMs running an
 * MCApp's apps (which restart them) are ordered the same way. */
void bar_plan_rollout(bar_plan *p, const bar_desired_set *ds);

/* What a VM's postCommands did (planner/postcmd.c). */
typedef struct bar_post_result {
	int ran;        /* they were run (there were some) */
	int exit_code;  /* -1 when they could not run to their exit */
	char *output;   /* the last few KiB of stdout and stderr */
} bar_post_result;

/*
 * Run the postCommands of VM change c (its attrs' "postCommands"; none: 0
 * at once) on the VM the provider reported as *o, waiting up to 3 min for
 * its sshd.  Returns 0 when they exited 0; otherwise the error names the VM
 * and says how they failed with the output's tail.  *out is filled either
 * way (bar_post_result_clear).
 */
int bar_post_run(bar_post_result *out, const bar_change *c, const bar_obs *o,
                 const char *keys_dir, const bar_cancel *cancel);
void bar_post_result_clear(bar_post_result *r);

/* ==== overlay network (planner/overlay.c, docs/overlay.md) ================
 * Host side of an MCI's WireGuard overlay: addresses, keys, the agent's
 * overlay file.  The agent side is runtime/agent/overlay.h. */

/* The interface every VM's overlay uses. */
#define BAR_OVERLAY_IFNAME "bar0"

/* The overlay address of VM number `index` (0-based, in the MCI's VM order)
 * in cidr: the network's first host + index (the network and broadcast
 * addresses are skipped).  Returns 0, or -1 (last error set) when cidr is
 * not an IPv4 CIDR or the VM does not fit. */
int bar_overlay_addr(char out[16], const char *cidr, size_t index);
/* The prefix length of cidr ("10.250.0.0/16" -> 16), or -1. */
int bar_overlay_prefix(const char *cidr);
/* A fresh X25519 key pair (OpenSSL EVP_PKEY_X25519), each half base64 as
 * WireGuard writes them (44 characters + NUL); the private half is clamped
 * like `wg genkey`'s.  Returns 0 or -1; nothing written on failure. */
int bar_overlay_keypair(char priv_b64[45], char pub_b64[45]);
/* The public half of a base64 private key.  Returns 0 or -1. */
int bar_overlay_pubkey(char pub_b64[45], const char *priv_b64);

/* The key store field (core/keystore.h) of a VM's overlay private key. */
#define BAR_OVERLAY_KEY_FIELD "overlayKey"
/* The overlay key pair of the VM at `address`: its private half read from
 * the key store at `keys`, or made and stored there when there is none or
 * when `fresh` (a re-created VM gets a new key).  pub_b64 gets the public
 * half (for the VM's attrs and its peers' files); priv_b64, when not NULL,
 * the private half (wipe it after use).  Returns 0, or -1 / a BAR_E* code
 * with the last error set; nothing written then. */
int bar_overlay_key_ensure(char pub_b64[45], char *priv_b64, const char *keys,
                           const char *address, int fresh);

/* One other VM of the MCI as a VM's overlay file names it.  All strings are
 * borrowed.  A same-net peer (same connection and VNet) is reached over its
 * private address (a route, no tunnel): pubkey and endpoint may be NULL. */
typedef struct bar_overlay_peer {
	const char *name, *pubkey, *overlay_ip, *endpoint /* ip:port */, *private_ip;
	int same_net; /* same connection + VNet */
} bar_overlay_peer;

/* The text of VM vm's overlay file (format: docs/overlay.md).  It holds the
 * private key: free it with bar_overlay_config_free, which wipes it.
 * Returns NULL (last error set, naming the VM and peer) on a missing or
 * multi-line field. */
char *bar_overlay_config(const char *vm, const char *priv_b64, const char *overlay_ip,
                         int prefix, int port, const bar_overlay_peer *peers, size_t npeers);
/* Wipe and free a text of bar_overlay_config; NULL is fine. */
void bar_overlay_config_free(char *text);

/* One VM of an MCI with an overlay, as the planner knows it after apply
 * (strings borrowed).  public_ip may be NULL or "" (then peers on other
 * nets use private_ip as the endpoint: clouds routed to each other, as the
 * local provider's are). */
typedef struct bar_overlay_vm {
	const char *name, *connection, *vnet, *public_ip, *private_ip, *pubkey;
} bar_overlay_vm;

/* The overlay file of vms[self] in an MCI whose VMs (in the MCI's order,
 * which gives the overlay addresses) are vms[0..n): every other VM is a
 * peer, same-net (same connection and VNet) ones by route.  cidr and port
 * as normalised in the MCI's attrs "overlay".  Returns the text as
 * bar_overlay_config does (free with bar_overlay_config_free), or NULL with
 * the last error set. */
char *bar_overlay_config_for(const bar_overlay_vm *vms, size_t n, size_t self,
                             const char *priv_b64, const char *cidr, int port);
/* Apply an MCI's overlay (planner/overlay_node.c): keys, every VM's file,
 * the agents told.  *out is what to record. */
int bar_overlay_deploy(bar_obs *out, const bar_change *c, bar_state *st, const char *keys_dir,
                       const bar_cancel *cancel);
/* Take the overlay recorded at address off its VMs. */
int bar_overlay_remove(const char *address, bar_state *st, const char *keys_dir,
                       const bar_cancel *cancel);
/* ==== end of overlay network ============================================= */

#endif
