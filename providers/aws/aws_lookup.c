/*
 * aws_lookup.c - the aws driver's lookup types, image and spec
 * (BAR_TYPE_LOOKUP): create finds the cloud's own object and emits it with
 * the input's tags; read finds it again by id; delete and list do nothing.
 *
 * An image's imageId is an AMI id ("ami-..."), "OWNER/NAME-PATTERN" (the
 * newest available image of that owner whose name matches, as in the
 * catalogue), or a catalogue name ("ubuntu-22.04"), which the table below
 * turns into the catalogue's OWNER/NAME-PATTERN.  A spec's specId is an
 * instance type; when it is empty, the smallest type of the region with
 * the asked vCPUs and at least the asked memory is taken.
 */
#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The catalogue's images (providers/aws/catalog.json, "images"). */
const aws_cat_image aws_catalogue_images[] = {
	{"ubuntu-22.04", "099720109477/ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*",
	 "ubuntu", "22.04"},
	{"ubuntu-24.04", "099720109477/ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
	 "ubuntu", "24.04"},
	{"debian-12", "136693071363/debian-12-amd64-*", "debian", "12"},
	{"amazon-linux-2023", "137112412989/al2023-ami-2023.*-kernel-6.1-x86_64", "amazon-linux",
	 "2023"},
	{"amazon-linux-2023-arm64", "137112412989/al2023-ami-2023.*-kernel-6.1-arm64",
	 "amazon-linux", "2023"},
	{NULL, NULL, NULL, NULL},
};

static int image_emit(aws_x *x, bar_sink *out, const aws_xml *img)
{
	json_t *attrs = aws_image_attrs(img);
	json_t *os = json_object_get(aws_attrs(x), "os");

	json_object_set_new(attrs, "os", json_string(json_is_string(os) ? json_string_value(os) : ""));
	return aws_emit(x, out, aws_xml_text(img, "imageId"), aws_name(x), "Available", attrs,
	                aws_tags_copy(x));
}

static int image_by_id(aws_x *x, bar_sink *out, const char *id)
{
	aws_q q = {{0}, 0};
	aws_xml *root = NULL;
	const aws_xml *img;
	int rc;

	if (!aws_id_is(id, "ami-"))
		return bar_kit_fail(&x->err, BAR_ENOTFOUND, "InvalidAMIID.NotFound",
		                    "aws: image %s does not exist", id);
	aws_q_add(&q, "ImageId.1", id);
	rc = aws_ec2(x, "DescribeImages", &q, id, &root, NULL, 0);
	aws_q_free(&q);
	img = rc == BAR_OK ? aws_xml_path(root, "imagesSet/item") : NULL;
	if (rc == BAR_OK && !img)
		rc = bar_kit_fail(&x->err, BAR_ENOTFOUND, "InvalidAMIID.NotFound",
		                  "aws: image %s does not exist in %s", id, x->call->region);
	if (rc == BAR_OK)
		rc = image_emit(x, out, img);
	aws_xml_free(root);
	return rc;
}

int aws_image_newest(aws_x *x, const char *want, aws_xml **root, const aws_xml **best_out)
{
	const char *slash = strchr(want, '/');
	const aws_xml *best = NULL;
	char owner[64];
	aws_q q = {{0}, 0};
	int rc;

	*root = NULL;
	*best_out = NULL;
	if (!slash || slash == want || (size_t)(slash - want) >= sizeof(owner))
		return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput",
		                    "aws: imageId \"%s\" is neither an AMI id, OWNER/NAME-PATTERN nor "
		                    "a catalogue image", want);
	snprintf(owner, sizeof(owner), "%.*s", (int)(slash - want), want);
	aws_q_add(&q, "Owner.1", owner);
	aws_q_filter1(&q, "name", slash + 1);
	aws_q_filter1(&q, "state", "available");
	rc = aws_ec2(x, "DescribeImages", &q, NULL, root, NULL, 0);
	aws_q_free(&q);
	if (rc != BAR_OK)
		return rc;
	/* the newest: CreationDate is ISO 8601, so it sorts as text */
	for (const aws_xml *i = aws_xml_path(*root, "imagesSet/item"); i; i = i->next) {
		const char *d = aws_xml_text(i, "creationDate");
		const char *bd = best ? aws_xml_text(best, "creationDate") : NULL;

		if (aws_xml_text(i, "imageId") && (!best || strcmp(d ? d : "", bd ? bd : "") > 0))
			best = i;
	}
	if (!best)
		return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidAMIID.NotFound",
		                    "aws: no available image of owner %s named %s in %s", owner,
		                    slash + 1, x->call->region);
	*best_out = best;
	return BAR_OK;
}

int aws_image_create(aws_x *x, bar_sink *out)
{
	const char *want = json_string_value(json_object_get(aws_attrs(x), "imageId"));
	aws_xml *root = NULL;
	const aws_xml *best = NULL;
	int rc;

	if (!want || !*want)
		return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput", "aws: an image needs an imageId");
	if (aws_id_is(want, "ami-"))
		return image_by_id(x, out, want);
	for (size_t i = 0; aws_catalogue_images[i].name; i++)
		if (strcmp(want, aws_catalogue_images[i].name) == 0)
			want = aws_catalogue_images[i].pattern;
	rc = aws_image_newest(x, want, &root, &best);
	if (rc == BAR_OK)
		rc = image_emit(x, out, best);
	aws_xml_free(root);
	return rc;
}

int aws_image_read(aws_x *x, bar_sink *out)
{
	return image_by_id(x, out, aws_id(x));
}

/* ---- spec ---- */

static int spec_emit(aws_x *x, bar_sink *out, const aws_xml *it)
{
	json_t *attrs = aws_spec_attrs(it);
	json_t *disk = json_object_get(aws_attrs(x), "diskGiB");

	if (json_is_integer(disk))
		json_object_set(attrs, "diskGiB", disk);
	return aws_emit(x, out, aws_xml_text(it, "instanceType"), aws_name(x), "Available", attrs,
	                aws_tags_copy(x));
}

static int spec_by_type(aws_x *x, bar_sink *out, const char *type, int reading)
{
	aws_q q = {{0}, 0};
	aws_xml *root = NULL;
	char code[128];
	const aws_xml *it;
	int rc;

	/* instance types look like family.size; anything else is not one */
	if (!strchr(type, '.') || strchr(type, '/'))
		return bar_kit_fail(&x->err, reading ? BAR_ENOTFOUND : BAR_EINVALID,
		                    "InvalidInstanceType",
		                    "aws: instance type %s does not exist", type);
	aws_q_add(&q, "InstanceType.1", type);
	rc = aws_ec2(x, "DescribeInstanceTypes", &q, type, &root, code, sizeof(code));
	aws_q_free(&q);
	if (reading && rc != BAR_OK && strcmp(code, "InvalidInstanceType") == 0)
		rc = x->err.rc = BAR_ENOTFOUND; /* the id read is no type (any more) */
	it = rc == BAR_OK ? aws_xml_path(root, "instanceTypeSet/item") : NULL;
	if (rc == BAR_OK && !it)
		rc = bar_kit_fail(&x->err, reading ? BAR_ENOTFOUND : BAR_EINVALID, "InvalidInstanceType",
		                  "aws: instance type %s is not offered in %s", type, x->call->region);
	if (rc == BAR_OK)
		rc = spec_emit(x, out, it);
	aws_xml_free(root);
	return rc;
}

typedef struct pick {
	json_int_t mem;
	char best[64];
	json_int_t best_mem;
} pick;

static int on_types(aws_x *x, const aws_xml *root, void *ctx)
{
	pick *p = ctx;
	const aws_xml *set = aws_xml_get(root, "instanceTypeSet");

	(void)x;
	for (const aws_xml *t = set ? set->child : NULL; t; t = t->next) {
		json_t *a = aws_spec_attrs(t);
		json_int_t m = json_integer_value(json_object_get(a, "memoryMiB"));
		const char *name = json_string_value(json_object_get(a, "specId"));

		if (m >= p->mem && *name &&
		    (!p->best[0] || m < p->best_mem || (m == p->best_mem && strcmp(name, p->best) < 0))) {
			snprintf(p->best, sizeof(p->best), "%s", name);
			p->best_mem = m;
		}
		json_decref(a);
	}
	return BAR_OK;
}

int aws_spec_create(aws_x *x, bar_sink *out)
{
	json_t *a = aws_attrs(x);
	const char *type = json_string_value(json_object_get(a, "specId"));
	json_int_t vcpu = json_integer_value(json_object_get(a, "vcpu"));
	pick p = {json_integer_value(json_object_get(a, "memoryMiB")), "", 0};
	char num[32];
	aws_q q = {{0}, 0};
	int rc;

	if (type && *type)
		return spec_by_type(x, out, type, 0);
	if (vcpu <= 0)
		return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput",
		                    "aws: a spec needs a specId or vcpu and memoryMiB");
	snprintf(num, sizeof(num), "%lld", (long long)vcpu);
	aws_q_filter1(&q, "vcpu-info.default-vcpus", num);
	aws_q_filter1(&q, "current-generation", "true");
	rc = aws_ec2_pages(x, "DescribeInstanceTypes", &q, 100, on_types, &p);
	aws_q_free(&q);
	if (rc != BAR_OK)
		return rc;
	if (!p.best[0])
		return bar_kit_fail(&x->err, BAR_EINVALID, "NoInstanceType",
		                    "aws: no instance type in %s has %lld vCPUs and %lld MiB or more",
		                    x->call->region, (long long)vcpu, (long long)p.mem);
	return spec_by_type(x, out, p.best, 0);
}

int aws_spec_read(aws_x *x, bar_sink *out)
{
	return spec_by_type(x, out, aws_id(x), 1);
}
