/*
 * oci.c - resolving image references and pulling images into the cache
 * (see oci.h).
 *
 * A pull GETs the manifest by tag or digest (an index resolves to the
 * platform's manifest, fetched by digest), then the config and each layer
 * not in the cache yet, and finally records the reference in the layout's
 * index.json.  Blobs are written to a temporary name in blobs/sha256/,
 * verified, fsynced and renamed, so a blob under its final name is always
 * whole and right; index.json is rewritten the same way under a lock
 * (flock on <cache>/.barista-lock) so concurrent pulls do not lose entries.
 */
#include "oci.h"
#include "oci_int.h"

#include "error.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_MAX (16u << 20)
#define REF_NAME "org.opencontainers.image.ref.name"
#define DEFAULT_PLATFORM "linux/amd64"

static int opts_ok(const bar_oci_opts *o)
{
	if (!o || o->version != 1)
		return bar_error_setc(BAR_EINVALID, "bar_oci_opts version %d: this library knows "
		                      "version 1 (BAR_OCI_OPTS_INIT)", o ? o->version : 0);
	return 0;
}

static const char *platform_of(const bar_oci_opts *o)
{
	return o->platform && *o->platform ? o->platform : DEFAULT_PLATFORM;
}

/*
 * The platform manifest of ref: GET by digest or tag; an index picks the
 * platform's entry, fetched by its digest.  *body (malloc'd) and its digest
 * and media type on success.
 */
static int platform_manifest(bar_oci_client *c, const char *text, const bar_oci_ref *r,
                             const char *platform, char *digest, char *mt, char **body,
                             size_t *len)
{
	char ctype[128], pick[BAR_OCI_DIGEST_MAX], pick_mt[128];
	uint64_t pick_size;
	char *b = NULL;
	size_t n = 0;
	int kind, rc;

	rc = bar_oci_client_manifest(c, 0, r->digest[0] ? r->digest : r->tag, digest, ctype, &b,
	                             &n);
	if (rc < 0)
		return rc;
	kind = bar_oci_doc_kind(mt, b, n, ctype);
	if (kind == BAR_OCI_DOC_INDEX) {
		rc = bar_oci_index_pick(pick, pick_mt, &pick_size, b, n, platform);
		free(b);
		b = NULL;
		if (rc < 0)
			goto fail;
		rc = bar_oci_client_manifest(c, 0, pick, digest, ctype, &b, &n);
		if (rc < 0)
			return rc;
		if (n != pick_size) {
			rc = bar_error_setc(BAR_EINVALID, "the manifest %s is %zu bytes, the index "
			                    "says %llu", pick, n, (unsigned long long)pick_size);
			goto fail;
		}
		kind = bar_oci_doc_kind(mt, b, n, pick_mt[0] ? pick_mt : ctype);
		if (kind == BAR_OCI_DOC_INDEX)
			kind = bar_error_setc(BAR_EINVALID, "the index entry for %s is another index "
			                      "(nested indexes are not supported)", platform);
	}
	if (kind < 0) {
		rc = kind;
		goto fail;
	}
	*body = b;
	*len = n;
	return 0;
fail:
	free(b);
	bar_error_prefix("%s: manifest %s", text, digest);
	return rc;
}

int bar_oci_resolve(char *digest_out, const char *text, const bar_oci_opts *o)
{
	char digest[BAR_OCI_DIGEST_MAX] = "", ctype[128] = "", mt[128];
	bar_oci_client *c = NULL;
	bar_oci_ref r;
	char *body = NULL;
	size_t len;
	int rc;

	rc = opts_ok(o);
	if (rc == 0)
		rc = bar_oci_ref_parse(&r, text);
	if (rc < 0)
		return rc;
	rc = bar_oci_client_new(&c, &r, text, o);
	if (rc < 0)
		return rc;
	if (!r.digest[0]) {
		rc = bar_oci_client_manifest(c, 1, r.tag, digest, ctype, NULL, NULL);
		if (rc == BAR_ERETRY || rc == BAR_EAUTH) /* a GET would only repeat it */
			goto done;
		if (rc == 0 && digest[0] &&
		    (strcmp(ctype, BAR_OCI_MT_MANIFEST) == 0 ||
		     strcmp(ctype, BAR_OCI_MT_DOCKER_MANIFEST) == 0))
			goto found;
		/* an index, no digest header, or an error: a GET says more */
	}
	rc = platform_manifest(c, text, &r, platform_of(o), digest, mt, &body, &len);
	if (rc < 0)
		goto done;
found:
	snprintf(digest_out, BAR_OCI_DIGEST_MAX, "%s", digest);
	rc = 0;
done:
	free(body);
	bar_oci_client_free(c);
	return rc;
}

static char *blob_path(const char *cache, const char *digest)
{
	return bar_printf("%s/blobs/sha256/%s", cache, digest + 7);
}

static int cached(const char *cache, const char *digest, uint64_t size)
{
	char *p = blob_path(cache, digest);
	struct stat st;
	int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;

	free(p);
	return ok;
}

/* A temporary name in dir: the pid (sweep_leftovers) and a random part, so
 * no two writers (threads, or a process reusing a dead one's pid) collide. */
static char *tmp_in(const char *dir, const char *name)
{
	char id[37];

	bar_uuid(id);
	return bar_printf("%s/.%s.tmp.%ld.%s", dir, name, (long)getpid(), id);
}

static char *tmp_path(const char *cache, const char *name)
{
	char *dir = bar_printf("%s/blobs/sha256", cache), *p = tmp_in(dir, name);

	free(dir);
	return p;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return bar_error_set("cannot open %s: %m", dir);
	if (fsync(fd) != 0)
		rc = bar_error_set("cannot sync %s: %m", dir);
	close(fd);
	return rc;
}

/* Write data to path through a temporary file and a rename. */
static int write_atomic(const char *path, const char *tmp, const void *data, size_t n)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), rc = 0;
	const char *p = data;
	size_t left = n;

	if (fd < 0)
		return bar_error_set("cannot create %s: %m", tmp);
	while (left > 0) {
		ssize_t w = write(fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = bar_error_set("cannot write %s: %m", tmp);
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = bar_error_set("cannot write %s: %m", tmp);
	if (close(fd) != 0 && rc == 0)
		rc = bar_error_set("cannot write %s: %m", tmp);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = bar_error_set("cannot rename %s to %s: %m", tmp, path);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int store_mem(const char *cache, const char *digest, const void *data, size_t n)
{
	char *p, *t;
	int rc;

	if (cached(cache, digest, n))
		return 0;
	p = blob_path(cache, digest);
	t = tmp_path(cache, digest + 7);
	rc = write_atomic(p, t, data, n);
	free(p);
	free(t);
	return rc;
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return bar_error_set("cache directory \"%.200s\": empty or too long", path);
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return bar_error_set("cannot create %s: %m", buf);
		buf[i] = path[i];
	}
	return 0;
}

/* Remove the temporary files of pulls that were killed: their names carry
 * the pid of the process writing them (tmp_path), so a file whose process
 * is gone is a leftover; a live pull's files are left alone. */
static void sweep_leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		const char *t = e->d_name[0] == '.' ? strstr(e->d_name, ".tmp.") : NULL;
		long pid = t ? strtol(t + 5, NULL, 10) : 0;

		if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* Make cache an image layout if it is not one yet. */
static int layout_init(const char *cache)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	char *dir = bar_printf("%s/blobs/sha256", cache);
	char *f = bar_printf("%s/oci-layout", cache), *t = NULL;
	struct stat st;
	int rc = mkdir_p(dir);

	if (rc == 0 && stat(f, &st) != 0) {
		t = tmp_in(cache, "oci-layout");
		rc = write_atomic(f, t, layout, sizeof(layout) - 1);
	}
	if (rc == 0) {
		sweep_leftovers(dir);
		sweep_leftovers(cache);
	}
	free(dir);
	free(f);
	free(t);
	return rc;
}

/* Read a whole small file (at most max bytes) into *out. */
static int slurp(const char *path, size_t max, char **out, size_t *len)
{
	bar_buf b = BAR_BUF_INIT(max);
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return errno == ENOENT ? BAR_ENOTFOUND : bar_error_set("cannot read %s: %m", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (bar_buf_add(&b, chunk, n) < 0) {
			fclose(f);
			bar_buf_free(&b);
			return bar_error_set("%s is larger than %zu bytes", path, max);
		}
	}
	fclose(f);
	*len = b.len;
	*out = b.data ? bar_buf_take(&b) : bar_strdup("");
	return 0;
}

/* The config: from the cache when it is there and right, else fetched. */
static int get_config(bar_oci_client *c, const char *cache, bar_oci_image *img, char **body,
                      size_t *len)
{
	char got[BAR_OCI_DIGEST_MAX];
	char *p;
	int rc;

	if (cached(cache, img->config_digest, img->config_size)) {
		p = blob_path(cache, img->config_digest);
		rc = slurp(p, BAR_OCI_DOC_MAX, body, len);
		free(p);
		if (rc == 0) {
			bar_oci_sha256(got, *body, *len);
			if (strcmp(got, img->config_digest) == 0)
				return 0;
			free(*body); /* a damaged cache entry: fetch it again */
		}
	}
	rc = bar_oci_client_blob_mem(c, img->config_digest, img->config_size, body);
	if (rc < 0)
		return rc;
	*len = (size_t)img->config_size;
	p = blob_path(cache, img->config_digest);
	unlink(p); /* a damaged copy of the same size */
	free(p);
	return store_mem(cache, img->config_digest, *body, *len);
}

static int get_layer(bar_oci_client *c, const char *cache, const bar_oci_layer *l)
{
	char *p, *t;
	int rc;

	if (cached(cache, l->digest, l->size))
		return 0;
	p = blob_path(cache, l->digest);
	t = tmp_path(cache, l->digest + 7);
	rc = bar_oci_client_blob_file(c, l->digest, l->size, t);
	if (rc == 0 && rename(t, p) != 0)
		rc = bar_error_set("cannot rename %s to %s: %m", t, p);
	if (rc < 0)
		unlink(t);
	free(p);
	free(t);
	return rc;
}

/* Add (or replace) index.json's entry for img->ref, under the cache lock. */
static int index_record(const char *cache, const bar_oci_image *img)
{
	char *path = bar_printf("%s/index.json", cache), *lock = bar_printf("%s/.barista-lock", cache);
	char *tmp = tmp_in(cache, "index.json");
	char *text = NULL, *out = NULL;
	json_t *idx = NULL, *ms, *m, *entry;
	size_t len = 0, i;
	int fd, rc;

	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		rc = bar_error_set("cannot lock %s: %m", lock);
		goto done;
	}
	rc = slurp(path, INDEX_MAX, &text, &len);
	if (rc == BAR_ENOTFOUND) {
		idx = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
		                BAR_OCI_MT_INDEX, "manifests");
	} else if (rc == 0) {
		json_error_t je;

		idx = json_loadb(text, len, 0, &je);
		if (!json_is_object(idx) || !json_is_array(json_object_get(idx, "manifests"))) {
			rc = bar_error_set("%s is not an image index (%s); not changing it", path,
			                   idx ? "no manifests list" : je.text);
			goto done;
		}
	} else {
		goto done;
	}
	ms = json_object_get(idx, "manifests");
	for (i = json_array_size(ms); i-- > 0;) {
		m = json_array_get(ms, i);
		if (json_is_string(json_object_get(json_object_get(m, "annotations"), REF_NAME)) &&
		    strcmp(json_string_value(json_object_get(json_object_get(m, "annotations"),
		                                             REF_NAME)),
		           img->ref) == 0)
			json_array_remove(ms, i);
	}
	entry = json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", img->manifest_media_type,
	                  "digest", img->manifest_digest, "size", (json_int_t)img->manifest_size,
	                  "annotations", REF_NAME, img->ref);
	if (img->os[0] && img->architecture[0])
		json_object_set_new(entry, "platform", json_pack("{s:s, s:s}", "architecture",
		                                                 img->architecture, "os", img->os));
	json_array_append_new(ms, entry);
	out = json_dumps(idx, JSON_COMPACT);
	rc = write_atomic(path, tmp, out, strlen(out));
	if (rc == 0)
		rc = fsync_dir(cache);
done:
	if (fd >= 0)
		close(fd); /* drops the lock */
	json_decref(idx);
	free(text);
	free(out);
	free(path);
	free(lock);
	free(tmp);
	return rc;
}

int bar_oci_pull(bar_oci_image **out, const char *text, const bar_oci_opts *o)
{
	bar_oci_client *c = NULL;
	bar_oci_image *img = NULL;
	const char *cache = o ? o->cache_dir : NULL;
	char *manifest = NULL, *config = NULL, *dir = NULL;
	size_t mlen = 0, clen = 0, i;
	bar_oci_ref r;
	int rc;

	rc = opts_ok(o);
	if (rc == 0)
		rc = bar_oci_ref_parse(&r, text);
	if (rc < 0)
		return rc;
	if (!cache || !*cache)
		return bar_error_setc(BAR_EINVALID, "%s: no cache directory to pull into", text);
	rc = layout_init(cache);
	if (rc < 0)
		return rc;
	rc = bar_oci_client_new(&c, &r, text, o);
	if (rc < 0)
		return rc;
	img = bar_calloc(1, sizeof(*img));
	snprintf(img->ref, sizeof(img->ref), "%s", text);
	rc = platform_manifest(c, text, &r, platform_of(o), img->manifest_digest,
	                       img->manifest_media_type, &manifest, &mlen);
	if (rc < 0)
		goto done;
	img->manifest_size = mlen;
	rc = bar_oci_manifest_read(img, manifest, mlen);
	if (rc < 0) {
		bar_error_prefix("%s: manifest %s", text, img->manifest_digest);
		goto done;
	}
	rc = get_config(c, cache, img, &config, &clen);
	if (rc < 0)
		goto done;
	rc = bar_oci_config_read(img, config, clen, platform_of(o));
	if (rc < 0) {
		bar_error_prefix("%s: config %s", text, img->config_digest);
		goto done;
	}
	for (i = 0; i < img->nlayers; i++) {
		rc = get_layer(c, cache, &img->layers[i]);
		if (rc < 0)
			goto done;
	}
	rc = store_mem(cache, img->manifest_digest, manifest, mlen);
	if (rc == 0) {
		dir = bar_printf("%s/blobs/sha256", cache);
		rc = fsync_dir(dir);
	}
	if (rc == 0)
		rc = index_record(cache, img);
	if (rc < 0)
		goto done;
	img->requests = bar_oci_client_requests(c);
	img->blobs_fetched = bar_oci_client_blobs(c);
	*out = img;
	img = NULL;
done:
	bar_oci_image_free(img);
	bar_oci_client_free(c);
	free(manifest);
	free(config);
	free(dir);
	return rc;
}
