/*
 * fuzz_oci_manifest.c - the parsers of what a registry sends
 * (runtime/oci_doc.c) on arbitrary bytes: the document kind, the platform
 * pick of an index, the manifest's layers and the image config each accept
 * the bytes or refuse them with a message and a named code, never crash,
 * and what they accept holds to its own invariants (digests well formed,
 * layer media types from the supported list, vectors as long as stated).
 */
#include "error.h"
#include "oci_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void expect_refusal(int rc)
{
	if (rc < 0 && (rc != BAR_EINVALID && rc != BAR_ENOTFOUND))
		abort();
	if (rc < 0 && !bar_error_last()[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char mt[128], digest[BAR_OCI_DIGEST_MAX];
	bar_oci_image *img = calloc(1, sizeof(*img));
	uint64_t dsize = 0;
	size_t i;
	int rc;

	if (!img)
		return 0;
	rc = bar_oci_doc_kind(mt, body, size, "application/vnd.oci.image.index.v1+json");
	if (rc != BAR_OCI_DOC_MANIFEST && rc != BAR_OCI_DOC_INDEX)
		expect_refusal(rc);
	rc = bar_oci_index_pick(digest, mt, &dsize, body, size, "linux/amd64");
	expect_refusal(rc);
	if (rc == 0 && (!bar_oci_digest_ok(digest) || dsize > BAR_OCI_DOC_MAX))
		abort();
	rc = bar_oci_manifest_read(img, body, size);
	expect_refusal(rc);
	if (rc == 0) {
		if (!bar_oci_digest_ok(img->config_digest))
			abort();
		for (i = 0; i < img->nlayers; i++)
			if (!bar_oci_digest_ok(img->layers[i].digest) ||
			    !strstr(img->layers[i].media_type, "tar") ||
			    strstr(img->layers[i].media_type, "zstd"))
				abort();
	}
	rc = bar_oci_config_read(img, body, size, "linux/amd64");
	expect_refusal(rc);
	if (rc == 0) {
		for (i = 0; i < img->nentrypoint; i++)
			if (!img->entrypoint[i])
				abort();
		for (i = 0; i < img->nenv; i++)
			if (!img->env[i])
				abort();
		for (i = 0; i < img->nexposed; i++)
			if (img->exposed_tcp[i] == 0)
				abort();
	}
	bar_oci_image_free(img);
	return 0;
}
