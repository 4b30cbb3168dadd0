/*
 * barista_provider.h - the whole plugin ABI between the Barista host and a
 * provider plugin (local, sim, and later aws, azure, gcp, alibaba, openstack).
 *
 * A plugin is a shared object named `barista-provider-<name>.so` that exports
 * exactly one symbol, `barista_provider_init`.  It sees nothing of the host but
 * this header: everything it needs from the host (emitting results, reporting
 * errors, logging, credentials, cancellation) goes through `bar_host_api`.
 *
 * Data crosses the boundary as JSON text (UTF-8, one object per value), so the
 * host and a plugin never share allocators or library types.  Strings the host
 * passes in are borrowed for the duration of the call; strings a plugin hands to
 * the host (through emit/set_error/set_operation) are copied by the host before
 * it returns.
 *
 * Compatibility rules (SQLite extensions, nginx modules): every struct starts
 * with its size; from version 2 on structs only grow at the end; a member added
 * in a newer version is read only when BAR_HAS / BAR_COVERS say the other side's
 * struct_size covers it, and a callback may be NULL.  The host refuses a plugin
 * whose abi_version it does not know, naming the file and both versions.
 *
 * Version 2 (this one) adds to version 1: idempotency keys for create,
 * partial creates, long-running operations (operation tokens and poll),
 * per-connection sessions (open/close), per-type replacement rules, one error
 * enum shared with the host library, and BAR_HAS.
 *
 * Conventions for resources:
 *  - Resource types: "vnet", "securitygroup", "sshkey", "image", "spec", "vm".
 *  - The input of create/update is a JSON object (see docs/providers.md):
 *      {"type": "vm", "name": "web-seoul-1", "namespace": "default",
 *       "attrs": {...desired attributes from the spec...},
 *       "refs":  {"vnet": {"system_id": "...", "name": "...", "attrs": {...}},
 *                 "securityGroups": [{...}, ...], ...},
 *       "tags":  {"barista:address": "default/vm/web-seoul-1",
 *                 "barista:idempotency": "<uuid>", ...}}
 *    The same object, with "system_id" added, is the input of read/delete,
 *    poll and VM actions.
 *  - Every resource carries the tags it was created with; `list` returns them,
 *    so the host can match live resources to recorded ones by tag and find
 *    leftovers.
 *  - Observed attributes are what the provider can see of the live resource.
 *    Emit them as compact JSON with keys sorted; the host compares the text
 *    with what it recorded, and only parses it when the text differs.
 */
#ifndef BARISTA_PROVIDER_H
#define BARISTA_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BAR_PROVIDER_ABI_VERSION 2

/*
 * True when the struct `t` points at (whose first member is its size) is
 * large enough to hold member `m`: the other side may be older and smaller.
 * BAR_HAS also requires the member (a callback) to be set.  SQLite gates its
 * VFS methods the same way (`iVersion >= 2 && pVfs->xCurrentTimeInt64`).
 */
#define BAR_COVERS(t, m)                                                                  \
	((t)->struct_size >= offsetof(__typeof__(*(t)), m) + sizeof((t)->m))
#define BAR_HAS(t, m) (BAR_COVERS(t, m) && (t)->m != NULL)

/*
 * Result codes, shared by every provider callback and by the host library
 * (core/error.h): 0 is success; a provider sets a message with
 * host->set_error before returning anything else.
 */
enum {
	BAR_OK = 0,
	BAR_EFAIL = -1,      /* anything else; the message says what */
	BAR_ENOTFOUND = -2,  /* the resource does not exist (any more) */
	BAR_ECONFLICT = -3,  /* already exists / in use / wrong state */
	BAR_EAUTH = -4,      /* credentials missing, rejected or lacking rights */
	BAR_ERETRY = -5,     /* throttled or transient: the host retries after
	                      * bar_call.retry_after_ms with backoff */
	BAR_EINVALID = -6,   /* the input cannot be satisfied (bad CIDR, quota) */
	BAR_ENOTSUP = -7,    /* this provider cannot do that */
	BAR_ECANCELED = -8,  /* stopped because bar_host_api.cancelled said so */
	BAR_ETIMEOUT = -9,   /* the deadline passed */
	BAR_ELOCKED = -10,   /* host only: the state is locked by another run */
	BAR_ESTALE = -11,    /* host only: a saved plan or a write is out of date */
};

/* Capability flags, bar_provider.capabilities.  (Bit 0, "update in place",
 * of version 1 is gone: bar_type_info.in_place says it per type.) */
#define BAR_CAP_VM_SUSPEND (1u << 1) /* vm_action "suspend"/"resume" */
#define BAR_CAP_VM_REBOOT (1u << 2)  /* vm_action "reboot" */
#define BAR_CAP_LIST (1u << 3)       /* list() enumerates by type */
#define BAR_CAP_ASYNC (1u << 4)      /* operations may return a transitional
                                      * status; the host polls */
#define BAR_CAP_IDEMPOTENT (1u << 5) /* create with an idempotency key seen
                                      * before returns what that key made */

/* Log levels for host->log. */
enum { BAR_LOG_DEBUG = 0, BAR_LOG_INFO = 1, BAR_LOG_WARN = 2, BAR_LOG_ERROR = 3 };

/*
 * One call's context.  The host fills it; the plugin reads it and may set
 * retry_after_ms.  Opaque host data hides behind `host_data`.
 */
typedef struct bar_call {
	uint32_t struct_size;
	const char *connection; /* connection config name, e.g. "aws-seoul" */
	const char *region;     /* region of the connection, never NULL */
	const char *zone;       /* zone, "" when the connection names none */
	const char *config;     /* JSON object: the connection's driver config */
	int64_t deadline_ms;    /* CLOCK_MONOTONIC ms after which to give up; 0 none */
	int retry_after_ms;     /* out: with BAR_ERETRY, how long to wait; with a
	                         * transitional status, when to poll next */
	void *host_data;        /* the host's; do not touch */
	/* ---- version 2 ---- */
	void *session;          /* what open() made for this connection, or NULL */
	const char *address;    /* the resource's Barista address; "" for list */
	/* create: unique per address and generation, the same across retries and
	 * across runs that resume an interrupted create.  A provider passes it to
	 * the cloud's own idempotency mechanism (EC2 ClientToken, GCP requestId,
	 * a tag) so that the same key never makes a second resource.  "" for
	 * other calls. */
	const char *idempotency_key;
	/* poll: the operation token an earlier call set with set_operation
	 * (perhaps in another process); "" otherwise. */
	const char *operation;
} bar_call;

/* What a provider reports about one live resource. */
typedef struct bar_observed {
	uint32_t struct_size;
	const char *system_id; /* provider's id, e.g. "i-0abc..." or "bvm-1a2b3c4d" */
	const char *name;      /* the name it was created with */
	const char *status;    /* VM: Creating, Running, Suspending, Suspended,
	                        * Resuming, Rebooting, Terminating, Terminated,
	                        * Failed, Undefined; other types: Creating,
	                        * Available, Deleting, Failed */
	const char *attrs;     /* JSON object text of observed attributes */
	const char *tags;      /* JSON object text, as given at create */
} bar_observed;

typedef struct bar_sink bar_sink; /* the host's collector of observations */

/*
 * One request a plugin made to its cloud, for the host's call log
 * (CB-Spider's call history).  The host adds the time, the connection, the
 * region and the call's address.  Nothing in it may be secret: no URL, no
 * header, no body.
 */
typedef struct bar_call_record {
	uint32_t struct_size;
	const char *operation;  /* the API's own operation name: "RunInstances",
	                         * "compute.instances.insert", "GET /v2.1/servers" */
	const char *resource;   /* the cloud id the request was about, or "" */
	int http_status;        /* 0: no response (connection failed, timed out) */
	const char *error_code; /* the cloud's error code, "" on success */
	int64_t duration_ms;
} bar_call_record;

/* The host's services, valid for the plugin's whole life. */
typedef struct bar_host_api {
	uint32_t abi_version;
	uint32_t struct_size;
	/* Hand one observed resource to the host; it copies everything.
	 * Returns 0, or -1 if the host wants no more or the observation is
	 * larger than the host accepts (then return BAR_EFAIL). */
	int (*emit)(bar_sink *sink, const bar_observed *obs);
	/* Set the error of this call: code is the provider's own error code
	 * ("InvalidParameterValue", "ENOENT"), msg its message.  The host adds
	 * the operation, resource and region.  Never put secrets in either. */
	void (*set_error)(bar_call *call, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
	/* Log a line through the host; it goes to the host's log with the call's
	 * connection as context. */
	void (*log)(bar_call *call, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
	/* Nonzero once the host wants in-flight work to stop (second Ctrl-C,
	 * controller shutdown).  Long operations poll it. */
	int (*cancelled)(bar_call *call);
	/* Resolve a credential field of the call's connection ("access_key_id",
	 * "secret_access_key", ...).  The returned string is borrowed, valid until
	 * the call returns, and must never be logged or put in attrs or errors.
	 * Returns NULL when the field is not set. */
	const char *(*credential)(bar_call *call, const char *field);
	/* Hand the host a secret produced by create (e.g. the private half of
	 * an SSH key pair the provider generated).  The host stores it in its
	 * key store, never in state, plans or logs.  `field` names it
	 * ("privateKey").  Returns 0, or -1 when it could not be stored (then
	 * fail the create and delete what was made). */
	int (*emit_secret)(bar_sink *sink, const char *field, const char *value);
	/* ---- version 2 ---- */
	/* Say that this call started a long-running operation the host must
	 * poll: `token` (at most 1 KiB, no secrets) is persisted with the
	 * resource and handed back in bar_call.operation to poll(), also by a
	 * later run if this one dies.  Emit the resource with a transitional
	 * status as well.  NULL clears it. */
	void (*set_operation)(bar_call *call, const char *token);
	/* ---- version 2, added later (test with BAR_HAS) ---- */
	/* Record one request to the cloud in the host's call log. */
	void (*record_call)(bar_call *call, const bar_call_record *rec);
	/* During check(): the outcome of one check, e.g. ("reach", 1, "EC2 at
	 * https://ec2.ap-northeast-2.amazonaws.com answered in 84 ms") or
	 * ("right ec2:RunInstances", 0, "UnauthorizedOperation: ...").  `detail`
	 * says what to do when ok is 0; never a secret. */
	void (*report_check)(bar_call *call, const char *check, int ok, const char *detail);
} bar_host_api;

/*
 * What a provider says about one resource type.  `in_place` lists the
 * attributes whose change update() makes in place (NULL-terminated; NULL or
 * empty: none); a change of any other attribute makes the planner replace
 * the resource.  (AWS changes a security group's rules in place; a cloud
 * whose VNets cannot change their CIDR leaves "cidr" out.)
 */
typedef struct bar_type_info {
	uint32_t struct_size;
	const char *type;                /* "vm", "vnet", ... */
	const char *const *in_place;
	/* Observed attributes that describe enforced state (a VM's firewall):
	 * when one drifts from what was recorded, the planner plans an update,
	 * and update() must restore it.  NULL-terminated; may be NULL. */
	const char *const *restorable;
	/* ---- version 2, added later (test with BAR_COVERS) ---- */
	uint32_t flags; /* BAR_TYPE_* */
} bar_type_info;

/* bar_type_info.flags: create only looks up an object of the cloud's own
 * (an image, an instance type) and emits it with the input's tags, which
 * the cloud does not keep; delete forgets it (BAR_OK, nothing is deleted);
 * list never returns it, so the host refreshes such records with read. */
#define BAR_TYPE_LOOKUP (1u << 0)

typedef struct bar_provider bar_provider;

/*
 * The provider's table.  CRUD callbacks take the resource type and the input
 * JSON (see above) and report results through the sink:
 *   create  emits exactly one observation (with its new system_id).  If it
 *           made something and then failed, it still emits that and returns
 *           the error: the host records the resource as failed (replaced on
 *           the next apply) instead of losing track of it;
 *   read    emits one, or returns BAR_ENOTFOUND;
 *   update  emits one; BAR_ENOTSUP if the change needs a replacement;
 *   delete  emits nothing; BAR_ENOTFOUND when already gone is fine;
 *   list    emits every resource of the type in the call's region that
 *           carries a "barista:address" tag (one call per connection & type);
 *   vm_action  ("suspend", "resume", "reboot") emits the VM afterwards;
 *   poll    (optional) emits the resource as the operation in
 *           bar_call.operation left it; while the operation runs, with a
 *           transitional status (and retry_after_ms as the next interval);
 *           after a delete completes, BAR_ENOTFOUND.  Without poll the host
 *           polls with read.
 * Any of create, update, delete and vm_action may start a long-running
 * operation (see host->set_operation).
 * Callbacks may run concurrently from several threads, for the same or for
 * different connections; a plugin protects its own shared data.
 */
struct bar_provider {
	uint32_t abi_version; /* BAR_PROVIDER_ABI_VERSION */
	uint32_t struct_size; /* sizeof(bar_provider) */
	const char *name;     /* driver name, must match the file name */
	const char *version;  /* plugin's own version string */
	uint32_t capabilities;
	const bar_type_info *const *types; /* NULL-terminated */
	void *priv;                        /* the plugin's own */

	/* Per connection (optional): open is called once before the first call
	 * for a connection (same name, region, config and credential reference)
	 * and may set *session (token caches, HTTP handles, a refreshed
	 * credential); every call then sees it in bar_call.session; close
	 * releases it when the host is done with the connection.  An open that
	 * fails fails the calls that needed it, with its error. */
	int (*open)(bar_provider *p, bar_call *call, void **session);
	void (*close)(bar_provider *p, void *session);

	int (*create)(bar_provider *p, bar_call *call, const char *type,
	              const char *input, bar_sink *out);
	int (*read)(bar_provider *p, bar_call *call, const char *type,
	            const char *input, bar_sink *out);
	int (*update)(bar_provider *p, bar_call *call, const char *type,
	              const char *input, bar_sink *out);
	int (*del)(bar_provider *p, bar_call *call, const char *type,
	           const char *input);
	int (*list)(bar_provider *p, bar_call *call, const char *type,
	            bar_sink *out);
	int (*vm_action)(bar_provider *p, bar_call *call, const char *action,
	                 const char *input, bar_sink *out);
	int (*poll)(bar_provider *p, bar_call *call, const char *type,
	            const char *input, bar_sink *out);
	/* Release everything; the host dlcloses afterwards.  May be NULL. */
	void (*destroy)(bar_provider *p);
	/* ---- version 2, added later (test with BAR_HAS / BAR_COVERS) ---- */
	/* `barista connection test`: reach the API, check the credential and
	 * each right the driver needs (a dry run where the cloud has one),
	 * reporting every check with host->report_check.  Returns BAR_OK when
	 * all passed, else the code of the first failure (with set_error). */
	int (*check)(bar_provider *p, bar_call *call);
	/* The cloud's catalogue as its API tells it, for `barista catalog
	 * refresh`: `what` is "regions" (name; attrs {"zones": [...]}), "specs"
	 * (name = instance type; attrs {"vcpu", "memoryMiB", "gpu"?, "arch"?})
	 * or "images" (name = the cloud's image id; attrs {"os", "version",
	 * "arch", "description"}), one observation each (status "Available",
	 * system_id = name, tags {}) for the call's region.  BAR_ENOTSUP for
	 * what the API does not offer. */
	int (*catalog)(bar_provider *p, bar_call *call, const char *what, bar_sink *out);
	/* The most calls the host lets run at once on one connection unless the
	 * connection's maxConcurrency says otherwise, from the cloud's published
	 * API limits; 0 for no limit of the driver's own. */
	uint32_t default_concurrency;
};

/*
 * The one exported symbol.  On success set *out and return 0.  On failure
 * return nonzero and set *errmsg to a malloc'd message (the host frees it).
 * A plugin checks host->abi_version and refuses a host it does not know.
 */
typedef int (*barista_provider_init_fn)(const bar_host_api *host,
                                         bar_provider **out, char **errmsg);
#define BAR_PROVIDER_INIT_SYMBOL "barista_provider_init"

#ifdef __cplusplus
}
#endif
#endif
