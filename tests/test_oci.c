/*
 * test_oci.c - the OCI client (runtime/oci*.c).
 *
 *   test_oci                     unit tests: references (good, edge and bad
 *                                cases from a table), index/manifest/config
 *                                parsing
 *   test_oci pull REF CACHE [PLATFORM]   pull, print the image as JSON
 *   test_oci resolve REF [PLATFORM]      print {"digest": ...}
 *
 * The two commands print {"error", "code"} and exit 1 on failure; the
 * integration test tests/oci_pull_check.py drives them against a real
 * registry (tests/oci_fixture.py).  OCI_USERNAME / OCI_PASSWORD give
 * credentials, OCI_TIMEOUT_MS the per-request timeout (10 s by default).
 */
#include "oci.h"
#include "oci_int.h"
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct ref_case {
	const char *text;
	const char *registry, *repository, *tag, *digest; /* NULL registry: an error */
	const char *error;                                /* part of the message */
} ref_cases[] = {
	{"nginx", "docker.io", "library/nginx", "latest", "", NULL},
	{"nginx:1.22", "docker.io", "library/nginx", "1.22", "", NULL},
	{"bitnami/nginx", "docker.io", "bitnami/nginx", "latest", "", NULL},
	{"docker.io/nginx", "docker.io", "library/nginx", "latest", "", NULL},
	{"localhost:5000/web/nginx:1.22", "localhost:5000", "web/nginx", "1.22", "", NULL},
	{"localhost/x", "localhost", "x", "latest", "", NULL},
	{"127.0.0.1:5000/a/b/c:v1.0-rc_1", "127.0.0.1:5000", "a/b/c", "v1.0-rc_1", "", NULL},
	{"reg.example.com/x@sha256:" D64, "reg.example.com", "x", "", "sha256:" D64, NULL},
	{"reg.example.com/x:tag@sha256:" D64, "reg.example.com", "x", "tag", "sha256:" D64, NULL},
	{"[::1]:5000/x:1", "[::1]:5000", "x", "1", "", NULL},
	{"reg:5000/a_b/c__d/e-f/g---h/i.j:T_1", "reg:5000", "a_b/c__d/e-f/g---h/i.j", "T_1", "",
	 NULL},
	{"localhost:5000", "docker.io", "library/localhost", "5000", "", NULL},
	{"", NULL, NULL, NULL, NULL, "empty"},
	{"Nginx", NULL, NULL, NULL, NULL, "lowercase"},
	{"reg.io/Web/x", NULL, NULL, NULL, NULL, "lowercase"},
	{"nginx:", NULL, NULL, NULL, NULL, "empty tag"},
	{"nginx:-x", NULL, NULL, NULL, NULL, "a tag is"},
	{"nginx:a/b", NULL, NULL, NULL, NULL, "registry"},
	{"reg.io/x@sha256:abc", NULL, NULL, NULL, NULL, "64 lowercase hex"},
	{"reg.io/x@sha256:" D64 "0", NULL, NULL, NULL, NULL, "64 lowercase hex"},
	{"reg.io/x@sha512:" D64 D64, NULL, NULL, NULL, NULL, "only sha256"},
	{"reg.io/x@sha256:" D64 "@sha256:" D64, NULL, NULL, NULL, NULL, "more than one"},
	{"reg.io/", NULL, NULL, NULL, NULL, "no repository"},
	{"reg.io/x/", NULL, NULL, NULL, NULL, "ends with"},
	{"reg.io//x", NULL, NULL, NULL, NULL, "path component"},
	{"reg.io/-x", NULL, NULL, NULL, NULL, "path component"},
	{"reg.io/x_", NULL, NULL, NULL, NULL, "path component"},
	{"reg.io/a___b", NULL, NULL, NULL, NULL, "path component"},
	{"reg.io/a._b", NULL, NULL, NULL, NULL, "path component"},
	{"-reg.io/x", NULL, NULL, NULL, NULL, "registry"},
	{"reg.io:port/x", NULL, NULL, NULL, NULL, "registry"},
	{"reg.io:123456/x", NULL, NULL, NULL, NULL, "registry"},
	{"nginx latest", NULL, NULL, NULL, NULL, "white space"},
	{":tag", NULL, NULL, NULL, NULL, "no repository"},
	{"@sha256:" D64, NULL, NULL, NULL, NULL, "no repository"},
	{"user:secret@reg.io/x", NULL, NULL, NULL, NULL, "not shown"},
};

static void test_refs(void)
{
	size_t i;

	for (i = 0; i < sizeof(ref_cases) / sizeof(ref_cases[0]); i++) {
		const struct ref_case *c = &ref_cases[i];
		bar_oci_ref r;
		int rc;

		memset(&r, 0x55, sizeof(r));
		rc = bar_oci_ref_parse(&r, c->text);
		if (c->registry) {
			if (rc != 0) {
				fprintf(stderr, "ref \"%s\": %s\n", c->text, bar_error_last());
				test_failures++;
				continue;
			}
			CHECK(strcmp(r.registry, c->registry) == 0);
			CHECK(strcmp(r.repository, c->repository) == 0);
			CHECK(strcmp(r.tag, c->tag) == 0);
			CHECK(strcmp(r.digest, c->digest) == 0);
		} else if (rc != BAR_EINVALID || !strstr(bar_error_last(), c->error)) {
			fprintf(stderr, "ref \"%s\": rc %d, \"%s\" (want \"%s\")\n", c->text, rc,
			        rc ? bar_error_last() : "", c->error);
			test_failures++;
		}
	}
	{ /* format round-trips; too long names fail */
		char buf[700], longname[400];
		bar_oci_ref r, r2;

		CHECK(bar_oci_ref_parse(&r, "reg.io:5000/a/b:t@sha256:" D64) == 0);
		bar_oci_ref_format(buf, sizeof(buf), &r);
		CHECK(strcmp(buf, "reg.io:5000/a/b:t@sha256:" D64) == 0);
		CHECK(bar_oci_ref_parse(&r2, buf) == 0 && memcmp(&r, &r2, sizeof(r)) == 0);
		CHECK(bar_oci_ref_parse(&r, "nginx") == 0);
		bar_oci_ref_format(buf, sizeof(buf), &r);
		CHECK(strcmp(buf, "docker.io/library/nginx:latest") == 0);
		bar_oci_ref_format(buf, 5, &r);
		CHECK(strcmp(buf, "dock") == 0);
		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		memcpy(longname, "r.io/", 5);
		CHECK(bar_oci_ref_parse(&r, longname) == BAR_EINVALID);
		CHECK(strstr(bar_error_last(), "too long") != NULL);
		memset(&r, 0x55, sizeof(r));
		r2 = r;
		CHECK(bar_oci_ref_parse(&r, "BAD") < 0 && memcmp(&r, &r2, sizeof(r)) == 0);
		CHECK(bar_oci_ref_parse(&r, "u:hunter2@reg.io/x") < 0);
		CHECK(strstr(bar_error_last(), "hunter2") == NULL);
	}
}

static const char index_doc[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" BAR_OCI_MT_INDEX "\",\"manifests\":["
	"{\"mediaType\":\"" BAR_OCI_MT_MANIFEST "\",\"digest\":\"sha256:" D64 "\",\"size\":10,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":"
	"\"sha256:1111111111111111111111111111111111111111111111111111111111111111\",\"size\":20,"
	"\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}},"
	"{\"mediaType\":\"" BAR_OCI_MT_DOCKER_MANIFEST "\",\"digest\":"
	"\"sha256:2222222222222222222222222222222222222222222222222222222222222222\",\"size\":30,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";

static void test_docs(void)
{
	char mt[128], digest[BAR_OCI_DIGEST_MAX];
	bar_oci_image *img = bar_calloc(1, sizeof(*img));
	uint64_t size = 0;
	const char *s;

	/* what a document is */
	CHECK(bar_oci_doc_kind(mt, index_doc, strlen(index_doc), NULL) == BAR_OCI_DOC_INDEX);
	s = "{\"schemaVersion\":2,\"manifests\":[]}";
	CHECK(bar_oci_doc_kind(mt, s, strlen(s), BAR_OCI_MT_DOCKER_LIST) == BAR_OCI_DOC_INDEX);
	CHECK(strcmp(mt, BAR_OCI_MT_DOCKER_LIST) == 0);
	CHECK(bar_oci_doc_kind(mt, s, strlen(s), "") == BAR_OCI_DOC_INDEX);
	s = "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}";
	CHECK(bar_oci_doc_kind(mt, s, strlen(s), NULL) == BAR_OCI_DOC_MANIFEST);
	s = "{\"schemaVersion\":1,\"fsLayers\":[]}";
	CHECK(bar_oci_doc_kind(mt, s, strlen(s), NULL) == BAR_EINVALID);
	CHECK(strstr(bar_error_last(), "schema 1") != NULL);
	s = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.cncf.helm.config\"}";
	CHECK(bar_oci_doc_kind(mt, s, strlen(s), NULL) == BAR_EINVALID);
	CHECK(bar_oci_doc_kind(mt, "[1]", 3, NULL) == BAR_EINVALID);
	CHECK(bar_oci_doc_kind(mt, "{\"a\":", 5, NULL) == BAR_EINVALID);
	CHECK(strstr(bar_error_last(), "not JSON") != NULL);

	/* picking a platform */
	CHECK(bar_oci_index_pick(digest, mt, &size, index_doc, strlen(index_doc),
	                         "linux/amd64") == 0);
	CHECK(strncmp(digest, "sha256:2222", 11) == 0 && size == 30);
	CHECK(strcmp(mt, BAR_OCI_MT_DOCKER_MANIFEST) == 0);
	CHECK(bar_oci_index_pick(digest, mt, &size, index_doc, strlen(index_doc),
	                         "linux/arm64") == 0);
	CHECK(strcmp(digest, "sha256:" D64) == 0 && size == 10);
	CHECK(bar_oci_index_pick(digest, mt, &size, index_doc, strlen(index_doc),
	                         "linux/arm64/v8") == 0);
	CHECK(bar_oci_index_pick(digest, mt, &size, index_doc, strlen(index_doc),
	                         "linux/arm64/v7") == BAR_ENOTFOUND);
	CHECK(bar_oci_index_pick(digest, mt, &size, index_doc, strlen(index_doc),
	                         "windows/amd64") == BAR_ENOTFOUND);
	CHECK(strstr(bar_error_last(), "linux/arm64/v8, linux/amd64") != NULL);
	CHECK(bar_oci_index_pick(digest, mt, &size, index_doc, strlen(index_doc), "linux") ==
	      BAR_EINVALID);

	/* manifests */
	s = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:" D64 "\","
	    "\"size\":7},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
	    "\"digest\":\"sha256:" D64 "\",\"size\":100},{\"mediaType\":"
	    "\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"sha256:" D64 "\","
	    "\"size\":5},{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"
	    "\"sha256:" D64 "\",\"size\":0}]}";
	CHECK(bar_oci_manifest_read(img, s, strlen(s)) == 0);
	CHECK(img->nlayers == 3 && img->layers[0].size == 100 && img->layers[2].size == 0);
	CHECK(img->config_size == 7 && strcmp(img->config_digest, "sha256:" D64) == 0);
	s = "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" D64 "\",\"size\":7},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
	    "\"digest\":\"sha256:" D64 "\",\"size\":100}]}";
	CHECK(bar_oci_manifest_read(img, s, strlen(s)) == BAR_EINVALID);
	CHECK(strstr(bar_error_last(), "zstd") != NULL);
	s = "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" D64 "\",\"size\":7},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar."
	    "gzip\",\"digest\":\"sha256:" D64 "\",\"size\":100}]}";
	CHECK(bar_oci_manifest_read(img, s, strlen(s)) == BAR_EINVALID);
	CHECK(strstr(bar_error_last(), "only tar and tar+gzip") != NULL);
	s = "{\"schemaVersion\":2,\"config\":{\"digest\":\"md5:x\",\"size\":7},\"layers\":[]}";
	CHECK(bar_oci_manifest_read(img, s, strlen(s)) == BAR_EINVALID);
	s = "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" D64 "\",\"size\":-1},"
	    "\"layers\":[]}";
	CHECK(bar_oci_manifest_read(img, s, strlen(s)) == BAR_EINVALID);
	CHECK(img->nlayers == 3); /* a failed read changes nothing */

	/* configs */
	s = "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"/bin/sh\","
	    "\"-c\"],\"Cmd\":[\"echo hi\"],\"Env\":[\"PATH=/bin\",\"A=b c\"],\"WorkingDir\":"
	    "\"/www\",\"User\":\"33:33\",\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{},"
	    "\"8080\":{}}}}";
	CHECK(bar_oci_config_read(img, s, strlen(s), "linux/amd64") == 0);
	CHECK(img->nentrypoint == 2 && strcmp(img->entrypoint[1], "-c") == 0);
	CHECK(img->ncmd == 1 && strcmp(img->cmd[0], "echo hi") == 0);
	CHECK(img->nenv == 2 && strcmp(img->env[1], "A=b c") == 0);
	CHECK(strcmp(img->workdir, "/www") == 0 && strcmp(img->user, "33:33") == 0);
	CHECK(img->nexposed == 2);
	bar_oci_image_free(img);
	img = bar_calloc(1, sizeof(*img));
	CHECK(bar_oci_config_read(img, s, strlen(s), "linux/arm64") == BAR_EINVALID);
	CHECK(strstr(bar_error_last(), "linux/amd64, not linux/arm64") != NULL);
	bar_oci_image_free(img);
	img = bar_calloc(1, sizeof(*img));
	s = "{\"config\":{\"Cmd\":null}}";
	CHECK(bar_oci_config_read(img, s, strlen(s), NULL) == 0 && img->ncmd == 0);
	s = "{\"config\":{\"Cmd\":[1]}}";
	CHECK(bar_oci_config_read(img, s, strlen(s), NULL) == BAR_EINVALID);
	s = "{\"config\":{\"ExposedPorts\":{\"http\":{}}}}";
	CHECK(bar_oci_config_read(img, s, strlen(s), NULL) == BAR_EINVALID);
	bar_oci_image_free(img);
	bar_oci_image_free(NULL);
}

static int fail(const char *what)
{
	json_t *j = json_pack("{s:s, s:i, s:s}", "error", bar_error_last(), "code",
	                      bar_error_get()->code, "what", what);
	char *s = json_dumps(j, JSON_COMPACT);

	printf("%s\n", s);
	free(s);
	json_decref(j);
	return 1;
}

static json_t *strv_json(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static long timeout_ms(void)
{
	const char *t = getenv("OCI_TIMEOUT_MS");

	return t && atol(t) > 0 ? atol(t) : 10000;
}

static int cmd_pull(const char *ref, const char *cache, const char *platform)
{
	bar_oci_opts o = BAR_OCI_OPTS_INIT;
	bar_oci_image *img = NULL;
	json_t *j, *layers, *ports;
	char *s;
	size_t i;

	o.cache_dir = cache;
	o.platform = platform;
	o.timeout_ms = timeout_ms();
	o.username = getenv("OCI_USERNAME");
	o.password = getenv("OCI_PASSWORD");
	if (bar_oci_pull(&img, ref, &o) < 0)
		return fail("pull");
	layers = json_array();
	for (i = 0; i < img->nlayers; i++)
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "digest",
		                                        img->layers[i].digest, "media_type",
		                                        img->layers[i].media_type, "size",
		                                        (json_int_t)img->layers[i].size));
	ports = json_array();
	for (i = 0; i < img->nexposed; i++)
		json_array_append_new(ports, json_integer(img->exposed_tcp[i]));
	j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:s, s:s,"
	              " s:I, s:I}",
	              "ref", img->ref, "manifest_digest", img->manifest_digest,
	              "manifest_media_type", img->manifest_media_type, "manifest_size",
	              (json_int_t)img->manifest_size, "config_digest", img->config_digest,
	              "layers", layers, "entrypoint", strv_json(img->entrypoint, img->nentrypoint),
	              "cmd", strv_json(img->cmd, img->ncmd), "env", strv_json(img->env, img->nenv),
	              "workdir", img->workdir, "user", img->user, "exposed_tcp", ports, "os",
	              img->os, "architecture", img->architecture, "requests",
	              (json_int_t)img->requests, "blobs_fetched", (json_int_t)img->blobs_fetched);
	s = json_dumps(j, JSON_COMPACT);
	printf("%s\n", s);
	free(s);
	json_decref(j);
	bar_oci_image_free(img);
	return 0;
}

static int cmd_resolve(const char *ref, const char *platform)
{
	bar_oci_opts o = BAR_OCI_OPTS_INIT;
	char digest[BAR_OCI_DIGEST_MAX];

	o.platform = platform;
	o.timeout_ms = timeout_ms();
	o.username = getenv("OCI_USERNAME");
	o.password = getenv("OCI_PASSWORD");
	if (bar_oci_resolve(digest, ref, &o) < 0)
		return fail("resolve");
	printf("{\"digest\":\"%s\"}\n", digest);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "pull") == 0)
		return cmd_pull(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
	if (argc >= 3 && strcmp(argv[1], "resolve") == 0)
		return cmd_resolve(argv[2], argc > 3 ? argv[3] : NULL);
	if (argc > 1) {
		fprintf(stderr, "usage: test_oci [pull REF CACHE [PLATFORM] | resolve REF "
		                "[PLATFORM]]\n");
		return 2;
	}
	test_refs();
	test_docs();
	{ /* options are versioned */
		bar_oci_opts o = {.version = 2};
		char d[BAR_OCI_DIGEST_MAX];

		CHECK(bar_oci_resolve(d, "localhost:1/x", &o) == BAR_EINVALID);
		CHECK(strstr(bar_error_last(), "version 2") != NULL);
		CHECK(bar_oci_resolve(d, "localhost:1/x", NULL) == BAR_EINVALID);
		o.version = 1;
		CHECK(bar_oci_pull(NULL, "localhost:1/x", &o) == BAR_EINVALID);
		CHECK(strstr(bar_error_last(), "no cache directory") != NULL);
	}
	if (test_failures)
		fprintf(stderr, "test_oci: %d checks failed\n", test_failures);
	return test_failures ? 1 : 0;
}
