/*
 * oci_int.h - what the parts of the OCI client share (runtime/oci*.c) and
 * what the unit tests and fuzz target reach: the document parsers, which
 * take registry bytes and so are fuzzed, and the registry HTTP client.
 */
#ifndef BAR_OCI_INT_H
#define BAR_OCI_INT_H

#include "oci.h"

#include <stddef.h>
#include <stdint.h>

#define BAR_OCI_DOC_MAX (4u << 20) /* manifests, indexes and configs */

#define BAR_OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define BAR_OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define BAR_OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define BAR_OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

/* 1 when d is "sha256:" and 64 lowercase hex digits. */
int bar_oci_digest_ok(const char *d);

/* "sha256:<hex>" of data into out (BAR_OCI_DIGEST_MAX bytes). */
void bar_oci_sha256(char *out, const void *data, size_t n);

enum bar_oci_doc_kind { BAR_OCI_DOC_MANIFEST = 1, BAR_OCI_DOC_INDEX = 2 };

/*
 * What a manifest-endpoint document is: its media type from the document's
 * own "mediaType" or, without one, the Content-Type the registry sent
 * (content_type may be NULL), into media_type (128 bytes).  Returns
 * BAR_OCI_DOC_MANIFEST or BAR_OCI_DOC_INDEX, or BAR_EINVALID (schema 1,
 * an artifact or not JSON), error set.
 */
int bar_oci_doc_kind(char *media_type, const char *body, size_t len,
                     const char *content_type);

/*
 * From an image index or Docker manifest list, the descriptor of the
 * manifest for platform ("os/arch[/variant]"): digest, media type (128
 * bytes) and size.  A manifest without a platform is skipped; a variant is
 * compared only when the platform asks for one.  Returns 0, BAR_ENOTFOUND
 * naming the platforms there are, or BAR_EINVALID.
 */
int bar_oci_index_pick(char *digest, char *media_type, uint64_t *size, const char *body,
                       size_t len, const char *platform);

/*
 * Fill img's config_digest, config_size and layers from an image manifest
 * (OCI or Docker schema 2).  Layers must be tar, tar+gzip (either media
 * type family); zstd, foreign and other layers are refused.  Returns 0 or
 * BAR_EINVALID.
 */
int bar_oci_manifest_read(bar_oci_image *img, const char *body, size_t len);

/*
 * Fill img's entrypoint, cmd, env, workdir, user, exposed TCP ports, os and
 * architecture from an image config; when platform is non-NULL an os or
 * architecture the config states must match it.  Returns 0 or BAR_EINVALID.
 */
int bar_oci_config_read(bar_oci_image *img, const char *body, size_t len,
                        const char *platform);

/* The registry HTTP client (oci_http.c). */
typedef struct bar_oci_client bar_oci_client;

/* A client for ref's registry and repository; NULL-safe free. */
int bar_oci_client_new(bar_oci_client **out, const bar_oci_ref *ref, const char *text,
                       const bar_oci_opts *o);
void bar_oci_client_free(bar_oci_client *c);
/* Requests sent / blobs downloaded so far. */
size_t bar_oci_client_requests(const bar_oci_client *c);
size_t bar_oci_client_blobs(const bar_oci_client *c);

/*
 * The manifest or index at `reference` (a tag or digest) of the client's
 * repository.  With head, only its digest (from Docker-Content-Digest, ""
 * when absent) and media type; otherwise its body too (*body malloc'd,
 * at most BAR_OCI_DOC_MAX) and the digest is the body's sha256, which must
 * match a digest reference and the registry's Docker-Content-Digest.
 */
int bar_oci_client_manifest(bar_oci_client *c, int head, const char *reference,
                            char *digest, char *content_type, char **body, size_t *len);

/* The blob `digest` of `size` bytes into memory (*body malloc'd), verified. */
int bar_oci_client_blob_mem(bar_oci_client *c, const char *digest, uint64_t size, char **body);

/* The blob `digest` of `size` bytes into the file `path` (created),
 * verified; the caller renames it into place or removes it. */
int bar_oci_client_blob_file(bar_oci_client *c, const char *digest, uint64_t size,
                             const char *path);

#endif
