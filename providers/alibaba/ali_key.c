/*
 * ali_key.c - SSH keys (ECS key pairs, named: the name is the system id)
 * and the lookups: images (DescribeImages, by id or by name pattern) and
 * specs (DescribeInstanceTypes, by id or the smallest that fits).
 */
#include "ali.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SSH keys ---- */

/* The DescribeKeyPairs answer for `name` in *doc (the caller's, also when
 * there is no such key pair) and the key pair's node in *kp, -1 when none. */
static int key_fetch(ali_ctx *x, const char *name, bar_kit_jdoc **doc, int *kp)
{
	ali_params p = {0};
	int rc, k;

	*doc = NULL;
	*kp = -1;
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "KeyPairName", name);
	rc = ali_rpc(x->s, x->call, ALI_ECS, "DescribeKeyPairs", &p, name, doc, &x->e);
	ali_params_free(&p);
	if (rc)
		return rc;
	k = bar_kit_jat(*doc, ali_jlist(*doc, 0, "KeyPairs.KeyPair"), 0);
	if (k >= 0 && strcmp(ali_jstr(*doc, k, "KeyPairName"), name) == 0)
		*kp = k;
	return BAR_OK;
}

/* The name a key pair was made for: its KeyPairName without the
 * "-<first 8 of the idempotency key>" that key_create adds. */
static void key_name(char *out, size_t size, const char *kp, json_t *tags)
{
	const char *idem = json_string_value(json_object_get(tags, "barista:idempotency"));
	size_t n = strlen(kp);

	snprintf(out, size, "%s", kp);
	if (idem && strlen(idem) >= 8 && n > 9 && kp[n - 9] == '-' &&
	    strncmp(kp + n - 8, idem, 8) == 0 && n - 9 < size)
		out[n - 9] = '\0';
}

/* Emit the key pair at node k of d. */
static int key_emit(ali_ctx *x, const bar_kit_jdoc *d, int k)
{
	json_t *attrs = ali_key_attrs(d, k), *tags = NULL;
	char name[160];
	int rc;

	ali_tags(d, k, "Tags.Tag", &tags, NULL);
	key_name(name, sizeof(name), ali_jstr(d, k, "KeyPairName"), tags);
	rc = attrs ? ali_emit(x->sink, ali_jstr(d, k, "KeyPairName"), name, "Available", attrs,
	                      tags, &x->e)
	           : bar_kit_fail(&x->e, BAR_EFAIL, "InvalidResponse", "a key pair without a name");
	json_decref(attrs);
	json_decref(tags);
	return rc;
}

static int key_drop(ali_ctx *x, const char *name)
{
	ali_params p = {0};
	char *names = ali_json_list1(name);
	int rc;

	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "KeyPairNames", names ? names : "[]");
	rc = ali_rpc(x->s, x->call, ALI_ECS, "DeleteKeyPairs", &p, name, NULL, &x->e);
	ali_params_free(&p);
	free(names);
	return rc;
}

/*
 * Key pairs have no client token: the name carries the idempotency key
 * (its first 8 characters), so a retry finds what the first try made by
 * name, and a new generation of the address gets a new name.
 */
int ali_key_create(ali_ctx *x)
{
	const char *pub = json_string_value(json_object_get(x->attrs, "publicKey"));
	const char *key = BAR_COVERS(x->call, idempotency_key) && x->call->idempotency_key
	                      ? x->call->idempotency_key
	                      : "";
	char name[160];
	ali_params p = {0};
	bar_kit_jdoc *r = NULL, *kd = NULL;
	int rc, k = -1;

	snprintf(name, sizeof(name), "%.110s%s%.8s", x->name, *key ? "-" : "", key);
	for (int retry = 0;; retry++) {
		bar_kit_err e = {0};

		ali_params_add(&p, "RegionId", x->region);
		ali_params_add(&p, "KeyPairName", name);
		if (pub && *pub)
			ali_params_add(&p, "PublicKeyBody", pub);
		ali_params_tags(&p, x->tags, NULL);
		rc = ali_rpc(x->s, x->call, ALI_ECS, pub && *pub ? "ImportKeyPair" : "CreateKeyPair", &p,
		             name, &r, &e);
		ali_params_free(&p);
		if (rc != BAR_ECONFLICT || retry) {
			if (rc)
				bar_kit_fail(&x->e, rc, e.code, "%s", e.msg);
			break;
		}
		/* it exists: ours from an earlier try (same key, same tag)? */
		rc = key_fetch(x, name, &kd, &k);
		if (rc) {
			bar_kit_jfree(kd);
			return rc;
		}
		{
			json_t *t = NULL;
			int ours;

			ali_tags(kd, k, "Tags.Tag", &t, NULL);
			ours = k >= 0 && *key &&
			       json_equal(json_object_get(t, "barista:idempotency"),
			                  json_object_get(x->tags, "barista:idempotency"));
			json_decref(t);
			if (!ours) {
				bar_kit_jfree(kd);
				return bar_kit_fail(&x->e, BAR_ECONFLICT, e.code, "%s", e.msg);
			}
		}
		if (pub && *pub) { /* an imported key is the same key again */
			rc = key_emit(x, kd, k);
			bar_kit_jfree(kd);
			return rc;
		}
		/* a generated one whose private half is lost: make it again */
		bar_kit_jfree(kd);
		kd = NULL;
		rc = key_drop(x, name);
		if (rc)
			return rc;
	}
	if (rc)
		return rc;
	if (!(pub && *pub)) {
		const char *priv = ali_jstr(r, 0, "PrivateKeyBody");

		if (!*priv || ali_host->emit_secret(x->sink, "privateKey", priv) < 0) {
			rc = bar_kit_fail(&x->e, BAR_EFAIL, "SecretRefused",
			                  "the private key of %s could not be handed to the key store",
			                  name);
			bar_kit_jfree(r);
			key_drop(x, name);
			return rc;
		}
	}
	bar_kit_jfree(r);
	rc = key_fetch(x, name, &kd, &k);
	if (!rc && k < 0)
		rc = bar_kit_fail(&x->e, BAR_ERETRY, "InvalidKeyPairName.NotFound",
		                  "DescribeKeyPairs: %s is not visible yet", name);
	if (!rc)
		rc = key_emit(x, kd, k);
	bar_kit_jfree(kd);
	return rc;
}

int ali_key_read(ali_ctx *x)
{
	bar_kit_jdoc *d = NULL;
	int k, rc = key_fetch(x, x->id, &d, &k);

	if (!rc && k < 0)
		rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidKeyPairName.NotFound",
		                  "DescribeKeyPairs: key pair %s does not exist", x->id);
	if (!rc)
		rc = key_emit(x, d, k);
	bar_kit_jfree(d);
	return rc;
}

int ali_key_delete(ali_ctx *x)
{
	bar_kit_jdoc *d = NULL;
	int k, rc = key_fetch(x, x->id, &d, &k);

	/* DeleteKeyPairs says nothing of names it does not know */
	if (!rc && k < 0)
		rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidKeyPairName.NotFound",
		                  "DescribeKeyPairs: key pair %s does not exist", x->id);
	bar_kit_jfree(d);
	return rc ? rc : key_drop(x, x->id);
}

static int key_list_one(ali_ctx *x, const bar_kit_jdoc *page, int item, void *ud)
{
	json_t *t = NULL;
	int rc = BAR_OK;

	(void)ud;
	ali_tags(page, item, "Tags.Tag", &t, NULL);
	if (json_object_get(t, "barista:address"))
		rc = key_emit(x, page, item);
	json_decref(t);
	return rc;
}

int ali_key_list(ali_ctx *x)
{
	ali_params p = {0};
	int rc;

	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "Tag.1.Key", "barista:address");
	rc = ali_pages(x, ALI_ECS, "DescribeKeyPairs", &p, "KeyPairs.KeyPair", ALI_PAGE_NUMBER, 50,
	               key_list_one, NULL);
	ali_params_free(&p);
	return rc;
}

/* ---- images ---- */

/* Emit the image at node n of d under the input's name and tags. */
static int image_emit(ali_ctx *x, const bar_kit_jdoc *d, int n)
{
	json_t *attrs = ali_image_attrs(d, n);
	int rc;

	rc = attrs ? ali_emit(x->sink, ali_jstr(d, n, "ImageId"), x->name,
	                      ali_res_status(ali_jstr(d, n, "Status")), attrs, x->tags, &x->e)
	           : bar_kit_fail(&x->e, BAR_EFAIL, "InvalidResponse", "an image without ImageId");
	json_decref(attrs);
	return rc;
}

/* The newest image DescribeImages answers for key=value: the answer in
 * *doc (the caller's, also when none), the image's node in *img or -1. */
static int image_find(ali_ctx *x, const char *key, const char *value, bar_kit_jdoc **doc,
                      int *img)
{
	ali_params p = {0};
	int rc, list, best = -1;

	*doc = NULL;
	*img = -1;
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, key, value);
	ali_params_add(&p, "PageSize", "100");
	rc = ali_rpc(x->s, x->call, ALI_ECS, "DescribeImages", &p, value, doc, &x->e);
	ali_params_free(&p);
	if (rc)
		return rc;
	list = ali_jlist(*doc, 0, "Images.Image");
	for (int i = bar_kit_jfirst(*doc, list); i >= 0; i = bar_kit_jnext(*doc, list, i))
		if (*ali_jstr(*doc, i, "ImageId") &&
		    (best < 0 || strcmp(ali_jstr(*doc, i, "CreationTime"),
		                        ali_jstr(*doc, best, "CreationTime")) > 0))
			best = i;
	*img = best;
	return BAR_OK;
}

int ali_image_create(ali_ctx *x)
{
	const char *want = json_string_value(json_object_get(x->attrs, "imageId"));
	bar_kit_jdoc *d = NULL;
	int img = -1, rc;

	if (!want || !*want)
		return bar_kit_fail(&x->e, BAR_EINVALID, "InvalidInput", "an image needs attrs.imageId");
	rc = strchr(want, '*') ? BAR_OK : image_find(x, "ImageId", want, &d, &img);
	if (!rc && img < 0) {
		bar_kit_jfree(d);
		rc = image_find(x, "ImageName", want, &d, &img);
	}
	if (!rc && img < 0)
		rc = bar_kit_fail(&x->e, BAR_EINVALID, "InvalidImageId.NotFound",
		                  "DescribeImages: no image %s in %s (an image id or a name pattern "
		                  "such as ubuntu_22_04_x64*)", want, x->region);
	if (!rc)
		rc = image_emit(x, d, img);
	bar_kit_jfree(d);
	return rc;
}

int ali_image_read(ali_ctx *x)
{
	bar_kit_jdoc *d = NULL;
	int img, rc = image_find(x, "ImageId", x->id, &d, &img);

	if (!rc && (img < 0 || strcmp(ali_jstr(d, img, "ImageId"), x->id) != 0))
		rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidImageId.NotFound",
		                  "DescribeImages: image %s does not exist in %s", x->id, x->region);
	if (!rc)
		rc = image_emit(x, d, img);
	bar_kit_jfree(d);
	return rc;
}

/* ---- specs ---- */

/* Emit an instance type from its attrs (ali_type_attrs; taken, NULL for an
 * item that was not one), with the input's diskGiB. */
static int spec_emit(ali_ctx *x, json_t *attrs)
{
	json_t *disk = json_object_get(x->attrs, "diskGiB");
	int rc;

	if (attrs && json_is_integer(disk))
		json_object_set(attrs, "diskGiB", disk);
	rc = attrs ? ali_emit(x->sink, ali_in_str(attrs, "specId"), x->name, "Available", attrs,
	                      x->tags, &x->e)
	           : bar_kit_fail(&x->e, BAR_EFAIL, "InvalidResponse",
	                          "an instance type without InstanceTypeId");
	json_decref(attrs);
	return rc;
}

/* The attrs of instance type id in *out (a new object), NULL when there is
 * no such type. */
static int spec_fetch(ali_ctx *x, const char *id, json_t **out)
{
	ali_params p = {0};
	bar_kit_jdoc *r = NULL;
	int rc, it;

	*out = NULL;
	ali_params_add(&p, "InstanceTypes.1", id);
	rc = ali_rpc(x->s, x->call, ALI_ECS, "DescribeInstanceTypes", &p, id, &r, &x->e);
	ali_params_free(&p);
	if (rc)
		return rc;
	it = bar_kit_jat(r, ali_jlist(r, 0, "InstanceTypes.InstanceType"), 0);
	if (it >= 0 && strcmp(ali_jstr(r, it, "InstanceTypeId"), id) == 0)
		*out = ali_type_attrs(r, it);
	bar_kit_jfree(r);
	return BAR_OK;
}

/* The smallest type that fits so far: best holds its attrs. */
typedef struct fit {
	json_int_t vcpu, mem;
	json_t *best;
} fit;

static json_int_t attr_int(json_t *a, const char *k)
{
	return json_integer_value(json_object_get(a, k));
}

static int spec_fit(ali_ctx *x, const bar_kit_jdoc *page, int it, void *ud)
{
	fit *f = ud;
	json_t *a = ali_type_attrs(page, it), *b = f->best;
	json_int_t c, m;

	(void)x;
	if (!a)
		return BAR_OK;
	c = attr_int(a, "vcpu");
	m = attr_int(a, "memoryMiB");
	if (c >= f->vcpu && m >= f->mem && attr_int(a, "gpu") == 0 &&
	    (!b || c < attr_int(b, "vcpu") ||
	     (c == attr_int(b, "vcpu") &&
	      (m < attr_int(b, "memoryMiB") ||
	       (m == attr_int(b, "memoryMiB") &&
	        strcmp(ali_in_str(a, "specId"), ali_in_str(b, "specId")) < 0))))) {
		json_decref(f->best);
		f->best = a;
		return BAR_OK;
	}
	json_decref(a);
	return BAR_OK;
}

int ali_spec_create(ali_ctx *x)
{
	const char *want = json_string_value(json_object_get(x->attrs, "specId"));
	json_t *it = NULL;
	int rc;

	if (want && *want) {
		rc = spec_fetch(x, want, &it);
		if (!rc && !it)
			rc = bar_kit_fail(&x->e, BAR_EINVALID, "InvalidInstanceType.NotFound",
			                  "DescribeInstanceTypes: no instance type %s", want);
	} else {
		fit f = {json_integer_value(json_object_get(x->attrs, "vcpu")),
		         json_integer_value(json_object_get(x->attrs, "memoryMiB")), NULL};
		ali_params p = {0};

		rc = ali_pages(x, ALI_ECS, "DescribeInstanceTypes", &p, "InstanceTypes.InstanceType",
		               ALI_PAGE_TOKEN, 1600, spec_fit, &f);
		ali_params_free(&p);
		it = f.best;
		if (!rc && !it)
			rc = bar_kit_fail(&x->e, BAR_EINVALID, "NoInstanceType",
			                  "DescribeInstanceTypes: none has %lld vCPUs and %lld MiB",
			                  (long long)f.vcpu, (long long)f.mem);
	}
	if (!rc)
		return spec_emit(x, it);
	json_decref(it);
	return rc;
}

int ali_spec_read(ali_ctx *x)
{
	json_t *it = NULL;
	int rc = spec_fetch(x, x->id, &it);

	if (!rc && !it)
		rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidInstanceType.NotFound",
		                  "DescribeInstanceTypes: instance type %s does not exist", x->id);
	if (!rc)
		return spec_emit(x, it);
	json_decref(it);
	return rc;
}
