/*
 * oci.h - the host's OCI distribution client: pulls container images of an
 * MCApp from a registry into a local content-addressed cache.
 *
 * `barista apply` resolves an app's image reference to the digest of its
 * platform manifest (what is pinned in state), pulls the manifest, config
 * and layers into the cache with bar_oci_pull, and copies the blobs to each
 * VM, where barista-agent unpacks them.  The cache is an OCI image layout
 * (image-spec image-layout.md): `oci-layout`, `blobs/sha256/<hex>` and an
 * `index.json` whose entries name the references pulled
 * (org.opencontainers.image.ref.name).  The wire protocol is the OCI
 * distribution spec (pulling manifests and blobs, the token auth flow of
 * distribution's docs/spec/auth/token.md); design notes in docs/oci.md.
 */
#ifndef BAR_OCI_H
#define BAR_OCI_H

#include <stddef.h>
#include <stdint.h>

#define BAR_OCI_DIGEST_MAX 80 /* "sha256:" + 64 hex + NUL, with room */
#define BAR_OCI_REF_MAX 600

/* A parsed image reference.  `tag` is "latest" when neither tag nor digest
 * is given, "" when only a digest is. */
typedef struct bar_oci_ref {
	char registry[256];   /* "localhost:5000", "docker.io" */
	char repository[256]; /* "web/nginx", "library/nginx" */
	char tag[128];
	char digest[BAR_OCI_DIGEST_MAX]; /* "sha256:<64 hex>" or "" */
} bar_oci_ref;

/*
 * Parse an image reference (the docker/distribution reference grammar):
 * "localhost:5000/web/nginx:1.22", "nginx" (docker.io/library/nginx:latest),
 * "reg/x@sha256:<hex>", "reg/x:tag@sha256:<hex>".  The first component is a
 * registry when it holds a '.' or ':' or is "localhost".  Writes *out only on
 * success; returns 0, or BAR_EINVALID with an error saying what is wrong.
 */
int bar_oci_ref_parse(bar_oci_ref *out, const char *text);

/* "registry/repository[:tag][@digest]" into buf (truncated to n). */
void bar_oci_ref_format(char *buf, size_t n, const bar_oci_ref *r);

typedef struct bar_oci_opts {
	int version;
	const char *cache_dir;         /* the OCI image layout directory (pull) */
	const char *const *insecure;   /* NULL-terminated registries reached over
	                                * plain http (localhost, 127.*, [::1] always) */
	const char *username, *password; /* optional basic credentials */
	const char *platform;          /* "os/arch[/variant]", "linux/amd64" default */
	long timeout_ms;               /* per request; 30 s default; for blobs the
	                                * longest stall */
} bar_oci_opts;
#define BAR_OCI_OPTS_INIT { .version = 1 }

typedef struct bar_oci_layer {
	char digest[BAR_OCI_DIGEST_MAX];
	char media_type[128];
	uint64_t size;
} bar_oci_layer;

typedef struct bar_oci_image {
	char ref[BAR_OCI_REF_MAX];                  /* as given */
	char manifest_digest[BAR_OCI_DIGEST_MAX];   /* of the platform manifest (pinned) */
	char manifest_media_type[128];
	uint64_t manifest_size;
	char config_digest[BAR_OCI_DIGEST_MAX];
	uint64_t config_size;
	bar_oci_layer *layers;
	size_t nlayers;
	/* from the image config: */
	char **entrypoint, **cmd, **env;
	size_t nentrypoint, ncmd, nenv;
	char workdir[512], user[128];
	uint16_t *exposed_tcp;
	size_t nexposed;
	char os[32], architecture[32];
	/* what this pull did: requests sent and blobs (config, layers) downloaded */
	size_t requests, blobs_fetched;
} bar_oci_image;

/* Free an image and everything it holds; NULL is fine. */
void bar_oci_image_free(bar_oci_image *img);

/*
 * The digest `ref` points at now: a HEAD of the manifest (falling back to a
 * GET when the registry gives no Docker-Content-Digest or the reference names
 * an index, which resolves to the digest of the platform's manifest).
 * digest_out has BAR_OCI_DIGEST_MAX bytes, written only on success.  Returns
 * 0, BAR_ENOTFOUND (unknown repository or tag), BAR_EAUTH (401/403),
 * BAR_ERETRY (unreachable, timeout, 429, 5xx), BAR_EINVALID (a bad reference
 * or document) or -1; the error carries the registry's own code and message.
 */
int bar_oci_resolve(char *digest_out, const char *ref, const bar_oci_opts *o);

/*
 * Pull the manifest (an index resolves to the platform's manifest), config
 * and layers of `ref` into o->cache_dir, verifying each blob's sha256 and
 * size; blobs already in the cache are not fetched again.  Every write is a
 * temporary file renamed into place, so a killed pull leaves no bad blob;
 * index.json gets (or has replaced) an entry for the platform manifest
 * annotated org.opencontainers.image.ref.name = ref.  *out is the caller's
 * (bar_oci_image_free), written only on success.  Returns as
 * bar_oci_resolve; zstd and foreign layers are refused with BAR_EINVALID.
 */
int bar_oci_pull(bar_oci_image **out, const char *ref, const bar_oci_opts *o);

#endif
