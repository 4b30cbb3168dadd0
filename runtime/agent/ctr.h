/*
 * ctr.h - containers on a VM for barista-agent: unpack an OCI image's layers
 * into a cached read-only rootfs (image.c), give each container a writable
 * overlay and an OCI runtime config (bundle.c), and run, stop and clean up
 * containers with Debian's runc (ctr.c).  The agent's supervisor forks and
 * execs the argv of bar_ctr_run_argv itself; everything else here is
 * synchronous and bounded in time.  libc and zlib only, so the static agent
 * links it.  Nothing here prints: failures come back in why.
 */
#ifndef BAR_RUNTIME_AGENT_CTR_H
#define BAR_RUNTIME_AGENT_CTR_H

#include <stddef.h>
#include <stdint.h>

/* One layer of an image manifest, in order (lowest first). */
typedef struct bar_ctr_layer {
	char digest[80]; /* "sha256:<64 hex>" */
	int gzip;        /* 1: application/vnd.oci.image.layer.v1.tar+gzip */
} bar_ctr_layer;

/* Unpack layers (in order, applying OCI whiteouts .wh.<name> and
 * .wh..wh..opq) from <blobs_dir>/sha256/<hex> into
 * <rootfs_cache>/<id>/rootfs, where id is manifest_digest's hex, and write
 * that path into rootfs_out[n].  Each layer's sha256 is checked while it is
 * read; the tree is built in a temporary dir beside it and renamed into place
 * only when every layer was good, so an existing rootfs dir is always
 * complete, and then this returns 0 at once.  Entries with absolute paths or
 * ".." escaping the rootfs, and hard links to outside it, are refused;
 * character and block devices are skipped (runc makes the ones a container
 * needs).  Returns 0, or -1 with why ("layer sha256:..: checksum mismatch",
 * "layer sha256:..: not a tar: ...") and no rootfs left behind. */
int bar_ctr_unpack(char *rootfs_out, size_t n, const char *blobs_dir, const char *rootfs_cache,
                   const char *manifest_digest, const bar_ctr_layer *layers, size_t nlayers,
                   char *why, size_t wsize);

/* What one container runs: the caller's strings, borrowed for the call. */
typedef struct bar_ctr_spec {
	const char *id;           /* container id, e.g. "barista-web-1" */
	const char *runc_root;    /* runc --root, e.g. <agentdir>/runc */
	const char *dir;          /* the container's own dir: upper/, work/, merged/, config.json */
	const char *image_rootfs; /* from bar_ctr_unpack (read-only lower layer) */
	const char *const *args;  /* process args (entrypoint+cmd already merged) */
	size_t nargs;
	const char *const *env;   /* KEY=VALUE, image env + app env merged */
	size_t nenv;
	const char *cwd;          /* NULL or "" = "/" */
	const char *user;         /* "uid[:gid]" or a name from the image's /etc/passwd; "" = 0:0 */
	const char *hostname;     /* NULL or "" = id */
	double cpus;              /* 0 = no limit; else CFS quota = cpus * period */
	uint64_t memory_bytes;    /* 0 = no limit */
	const char *cgroup_parent;/* cgroupsPath is <cgroup_parent>/<id>; NULL or "" = "barista" */
	const char *const *vol_src; /* volumes: host dir -> container path, rw */
	const char *const *vol_dst;
	size_t nvol;
} bar_ctr_spec;

/* bar_ctr_prepare's answer when overlayfs was not available and merged/ is
 * a private copy of the image rootfs instead (the caller logs it). */
#define BAR_CTR_COPIED 1

/* Make the writable layer (overlayfs: lower = image_rootfs, upper/ and work/
 * in dir, mounted on dir/merged; when overlay cannot be mounted, a copy of
 * the image rootfs in dir/merged) and write dir/config.json: OCI runtime spec
 * 1.0 with proc, dev, devpts, shm, mqueue, sysfs (ro), the VM's
 * /etc/resolv.conf and /etc/hosts bound read-only, and the volumes; pid, ipc,
 * uts and mount namespaces but the VM's network namespace; Docker's default
 * capabilities, noNewPrivileges, runc's default masked and read-only paths,
 * RLIMIT_NOFILE 1048576, cgroupsPath and cpu/memory limits.  Idempotent: a
 * merged/ already mounted is kept.  Returns 0 (overlay), BAR_CTR_COPIED
 * (copy), or -1 with why. */
int bar_ctr_prepare(const bar_ctr_spec *s, char *why, size_t wsize);

/* Fill argv[max] (NULL-terminated, pointing into buf[bufsz]) with the
 * command that runs the container in the foreground:
 * `runc --root R run --bundle DIR --no-new-keyring ID`.  The caller forks and
 * execs it with its stdio; runc passes the stdio to the container and
 * forwards signals (SIGTERM) to its process.  Note a process that is pid 1 of
 * its namespace ignores SIGTERM unless it handles it: the supervisor follows
 * up with bar_ctr_cleanup (SIGKILL) after its grace period.  Returns the
 * number of arguments, or -1 when argv or buf is too small or no runc is
 * installed. */
int bar_ctr_run_argv(char **argv, size_t max, char *buf, size_t bufsz, const bar_ctr_spec *s);

/* After the runc process exited, or to stop it: `runc kill ID KILL` when it
 * still runs, `runc delete -f ID`, unmount dir/merged; dir/upper stays unless
 * remove_data, which removes dir altogether.  dir may be NULL (runc state
 * only).  Idempotent: a container runc does not know is fine.  Returns 0 or
 * -1 with why (runc's own message when runc failed). */
int bar_ctr_cleanup(const char *runc_root, const char *id, const char *dir, int remove_data,
                    char *why, size_t wsize);

/* At agent start: every container under runc_root whose id starts with
 * prefix is killed and deleted (leftovers of a crashed agent), and every
 * overlay mounted under apps_dir on a "merged" dir whose parent's name starts
 * with prefix is unmounted.  Returns how many containers it deleted, or -1
 * with why. */
int bar_ctr_cleanup_all(const char *runc_root, const char *prefix, const char *apps_dir,
                        char *why, size_t wsize);

/* Remove every dir of rootfs_cache not named in keep[] (ids, "sha256:<hex>"
 * or rootfs paths from bar_ctr_unpack), and leftover temporary dirs.  Returns
 * how many it removed, or -1 when rootfs_cache cannot be read. */
int bar_ctr_gc(const char *rootfs_cache, const char *const *keep, size_t nkeep);

#endif
