/*
 * gcp_lookup.c - the gcp driver's lookup types (BAR_TYPE_LOOKUP): images,
 * by "projects/P/global/images/NAME", ".../family/FAMILY" (the newest image
 * of the family), a URL of either or a name in the connection's project; and
 * machine types of the zone, by name or the smallest that fits.  Create
 * resolves and emits the cloud's object with the input's tags; nothing of
 * ours is made or deleted.
 */
#include "gcp.h"

#include <stdio.h>
#include <string.h>

static const char *image_status(const char *s)
{
	if (!strcmp(s, "READY"))
		return "Available";
	if (!strcmp(s, "PENDING"))
		return "Creating";
	if (!strcmp(s, "DELETING"))
		return "Deleting";
	return "Failed";
}

static int image_emit(gcp_ctx *x, json_t *img, json_t *in, bar_sink *out)
{
	const char *self = strstr(gcp_str(img, "selfLink"), "projects/");
	json_t *a;
	int rc;

	if (!self)
		return bar_kit_fail(x->e, BAR_EFAIL, "BadAnswer", "gcp: the image has no selfLink");
	a = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "architecture", gcp_str(img, "architecture"),
	              "diskSizeGb", gcp_str(img, "diskSizeGb"), "family", gcp_str(img, "family"), "imageId",
	              self, "name", gcp_str(img, "name"), "nativeStatus", gcp_str(img, "status"));
	rc = gcp_emit(x, out, self, gcp_str(in, "name"), image_status(gcp_str(img, "status")), a,
	              json_object_get(in, "tags"));
	json_decref(a);
	return rc;
}

/* "projects/..." of an image reference, into out[size]; 0 or -1. */
static int image_path(gcp_ctx *x, const char *ref, char *out, size_t size)
{
	const char *p = strstr(ref, "projects/");

	if (p && (p == ref || strstr(ref, "/compute/v1/") != NULL))
		snprintf(out, size, "%s", p);
	else if (strncmp(ref, "global/images/", 14) == 0)
		snprintf(out, size, "projects/%s/%s", x->project, ref);
	else if (strncmp(ref, "family/", 7) == 0)
		snprintf(out, size, "projects/%s/global/images/%s", x->project, ref);
	else if (gcp_valid_name(ref))
		snprintf(out, size, "projects/%s/global/images/%s", x->project, ref);
	else
		return -1;
	/* only projects/P/global/images/N or .../family/F */
	{
		const char *g = strstr(out, "/global/images/");
		const char *rest = g ? g + 15 : NULL;
		if (!g || strchr(out + 9, '/') != g || !*rest ||
		    (strchr(rest, '/') && (strncmp(rest, "family/", 7) || strchr(rest + 7, '/'))))
			return -1;
	}
	return 0;
}

static int image_get(gcp_ctx *x, const char *ref, json_t *in, bar_sink *out)
{
	char path[512];
	json_t *img = NULL;
	int rc;

	if (image_path(x, ref, path, sizeof(path)) < 0)
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no image %s", ref);
	rc = gcp_req(x, "GET", path, NULL, NULL,
	             strstr(path, "/family/") ? "compute.images.getFromFamily" : "compute.images.get",
	             ref, &img);
	if (rc == BAR_OK)
		rc = image_emit(x, img, in, out);
	json_decref(img);
	return rc;
}

int gcp_image_create(gcp_ctx *x, json_t *in, bar_sink *out)
{
	const char *ref = gcp_str(json_object_get(in, "attrs"), "imageId");

	if (!*ref)
		return bar_kit_fail(x->e, BAR_EINVALID, "InvalidInput",
		                    "gcp: an image needs imageId (projects/P/global/images/NAME or "
		                    ".../family/FAMILY)");
	return image_get(x, ref, in, out);
}

int gcp_image_read(gcp_ctx *x, const char *id, json_t *in, bar_sink *out)
{
	if (strncmp(id, "projects/", 9) != 0 || strstr(id, "/family/"))
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no image %s", id);
	return image_get(x, id, in, out);
}

/* ---- spec ---- */

static int spec_emit(gcp_ctx *x, json_t *mt, json_t *in, bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *a;
	json_t *disk = json_object_get(attrs, "diskGiB");
	char id[256];
	int rc;

	snprintf(id, sizeof(id), "zones/%s/machineTypes/%s", gcp_last(gcp_str(mt, "zone")),
	         gcp_str(mt, "name"));
	a = json_pack("{s:I,s:I,s:s,s:I,s:s}", "diskGiB",
	              (json_int_t)(json_is_integer(disk) ? json_integer_value(disk) : 10), "memoryMiB",
	              json_integer_value(json_object_get(mt, "memoryMb")), "specId", gcp_str(mt, "name"),
	              "vcpu", json_integer_value(json_object_get(mt, "guestCpus")), "zone",
	              gcp_last(gcp_str(mt, "zone")));
	rc = gcp_emit(x, out, id, gcp_str(in, "name"), "Available", a, json_object_get(in, "tags"));
	json_decref(a);
	return rc;
}

static int spec_get(gcp_ctx *x, const char *zone, const char *type, json_t *in, bar_sink *out)
{
	char rel[256];
	json_t *mt = NULL;
	int rc;

	if (!gcp_valid_name(zone) || !gcp_valid_name(type))
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no machine type %s in %s",
		                    type, zone);
	snprintf(rel, sizeof(rel), "zones/%s/machineTypes/%s", zone, type);
	rc = gcp_preq(x, "GET", rel, NULL, NULL, "compute.machineTypes.get", type, &mt);
	if (rc == BAR_OK)
		rc = spec_emit(x, mt, in, out);
	json_decref(mt);
	return rc;
}

int gcp_spec_create(gcp_ctx *x, json_t *in, bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *all = NULL, *mt, *best = NULL;
	const char *type = gcp_str(attrs, "specId");
	json_int_t vcpu = json_integer_value(json_object_get(attrs, "vcpu"));
	json_int_t mem = json_integer_value(json_object_get(attrs, "memoryMiB"));
	char rel[128], pick[GCP_NAME_MAX] = "";
	size_t i;
	int rc;

	if ((rc = gcp_zone(x)) != BAR_OK)
		return rc;
	if (*type)
		return spec_get(x, x->zone, type, in, out);
	/* no specId: the smallest machine type of the zone that fits */
	snprintf(rel, sizeof(rel), "zones/%s/machineTypes", x->zone);
	if ((rc = gcp_list(x, rel, NULL, "compute.machineTypes.list", 0, NULL, &all)) != BAR_OK)
		return rc;
	json_array_foreach(all, i, mt) {
		json_int_t c = json_integer_value(json_object_get(mt, "guestCpus"));
		json_int_t m = json_integer_value(json_object_get(mt, "memoryMb"));
		if (c < vcpu || m < mem)
			continue;
		if (!best ||
		    m < json_integer_value(json_object_get(best, "memoryMb")) ||
		    (m == json_integer_value(json_object_get(best, "memoryMb")) &&
		     c < json_integer_value(json_object_get(best, "guestCpus"))))
			best = mt;
	}
	if (best)
		snprintf(pick, sizeof(pick), "%s", gcp_str(best, "name"));
	json_decref(all);
	if (!*pick)
		return bar_kit_fail(x->e, BAR_EINVALID, "NoMachineType",
		                    "gcp: no machine type in %s has %lld vCPUs and %lld MiB", x->zone,
		                    (long long)vcpu, (long long)mem);
	return spec_get(x, x->zone, pick, in, out);
}

int gcp_spec_read(gcp_ctx *x, const char *id, json_t *in, bar_sink *out)
{
	char zone[64], type[64];

	if (sscanf(id, "zones/%63[^/]/machineTypes/%63s", zone, type) != 2)
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no machine type %s", id);
	return spec_get(x, zone, type, in, out);
}

