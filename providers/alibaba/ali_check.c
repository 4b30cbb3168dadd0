/*
 * ali_check.c - `barista connection test` (check) and `barista catalog
 * refresh` (catalog) for Alibaba Cloud.
 *
 * check: DescribeRegions reaches ECS and proves the AccessKey (a wrong id
 * or secret fails there); the region is one of the account's; then a dry
 * run (DryRun=true: "DryRunOperation" means allowed) of the calls that need
 * rights of their own: vpc:CreateVpc, ecs:DescribeInstances, and plain
 * reads of security groups and key pairs.  RunInstances's dry run needs a
 * real image, type and vSwitch, so it is not tried (docs/driver-alibaba.md).
 */
#include "ali.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void report(ali_ctx *x, const char *check, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(ali_ctx *x, const char *check, int ok, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (BAR_HAS(ali_host, report_check))
		ali_host->report_check(x->call, check, ok, detail);
}

/* A dry run: BAR_OK when the cloud answers DryRunOperation. */
static int dry_run(ali_ctx *x, int svc, const char *action, ali_params *p, const char *check,
                   int *first)
{
	bar_kit_err e = {0};
	int rc;

	ali_params_add(p, "DryRun", "true");
	rc = ali_rpc(x->s, x->call, svc, action, p, NULL, NULL, &e);
	if (rc == BAR_OK || strcmp(e.code, "DryRunOperation") == 0) {
		report(x, check, 1, "%s dry run allowed", action);
		return BAR_OK;
	}
	report(x, check, 0, "%s: %s; grant the RAM policy action %s to the AccessKey's user "
	       "(AliyunECSFullAccess and AliyunVPCFullAccess cover the driver)", e.code, e.msg,
	       check + 6);
	if (!*first) {
		*first = rc;
		bar_kit_fail(&x->e, rc, e.code, "%s", e.msg);
	}
	return rc;
}

int ali_check(ali_ctx *x)
{
	ali_params p = {0};
	bar_kit_jdoc *r = NULL;
	bar_kit_err e = {0};
	int64_t t0 = bar_kit_now_ms();
	int rc, first = 0, found = 0, regs;

	rc = ali_rpc(x->s, x->call, ALI_ECS, "DescribeRegions", &p, NULL, &r, &e);
	ali_params_free(&p);
	if (rc) {
		int auth = rc == BAR_EAUTH;

		report(x, "reach", !(rc == BAR_ERETRY || rc == BAR_ETIMEOUT), "ECS at %s: %s %s%s",
		       x->s->base[ALI_ECS], e.code, e.msg,
		       rc == BAR_ERETRY ? "; check the endpoint and the network" : "");
		if (auth)
			report(x, "credential", 0, "%s: %s; check access_key_id / access_key_secret "
			       "(and security_token for STS)", e.code, e.msg);
		bar_kit_fail(&x->e, rc, e.code, "%s", e.msg);
		return rc;
	}
	report(x, "reach", 1, "ECS at %s answered in %lld ms", x->s->base[ALI_ECS],
	       (long long)(bar_kit_now_ms() - t0));
	report(x, "credential", 1, "the AccessKey was accepted (DescribeRegions)");
	regs = ali_jlist(r, 0, "Regions.Region");
	for (int reg = bar_kit_jfirst(r, regs); reg >= 0; reg = bar_kit_jnext(r, regs, reg))
		found |= strcmp(ali_jstr(r, reg, "RegionId"), x->region) == 0;
	bar_kit_jfree(r);
	report(x, "region", found, found ? "%s is one of the account's regions"
	                                 : "%s is not in DescribeRegions; use a RegionId it lists",
	       x->region);
	if (!found && !first) {
		first = BAR_EINVALID;
		bar_kit_fail(&x->e, first, "InvalidRegionId", "region %s is not offered", x->region);
	}
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "CidrBlock", "10.0.0.0/16");
	dry_run(x, ALI_VPC, "CreateVpc", &p, "right vpc:CreateVpc", &first);
	ali_params_free(&p);
	ali_params_add(&p, "RegionId", x->region);
	dry_run(x, ALI_ECS, "DescribeInstances", &p, "right ecs:DescribeInstances", &first);
	ali_params_free(&p);
	{
		static const char *const reads[][2] = {{"DescribeSecurityGroups",
		                                        "right ecs:DescribeSecurityGroups"},
		                                       {"DescribeKeyPairs", "right ecs:DescribeKeyPairs"}};

		for (size_t k = 0; k < 2; k++) {
			bar_kit_err e2 = {0};

			ali_params_add(&p, "RegionId", x->region);
			ali_params_add(&p, "PageSize", "1");
			rc = ali_rpc(x->s, x->call, ALI_ECS, reads[k][0], &p, NULL, NULL, &e2);
			ali_params_free(&p);
			report(x, reads[k][1], rc == BAR_OK,
			       rc == BAR_OK ? "%s allowed%s" : "%s refused: %s; grant it to the AccessKey's user",
			       reads[k][0], rc == BAR_OK ? "" : e2.msg);
			if (rc && !first) {
				first = rc;
				bar_kit_fail(&x->e, rc, e2.code, "%s", e2.msg);
			}
		}
	}
	return first;
}

/* ---- catalog ---- */

static int cat_emit(ali_ctx *x, const char *name, json_t *attrs)
{
	json_t *tags = json_object();
	int rc = attrs ? ali_emit(x->sink, name, name, "Available", attrs, tags, &x->e) : BAR_OK;

	json_decref(tags);
	json_decref(attrs);
	return rc;
}

static int cat_type(ali_ctx *x, const bar_kit_jdoc *page, int it, void *ud)
{
	json_t *a = ali_type_attrs(page, it);

	(void)ud;
	if (a) {
		json_object_del(a, "family");
		json_object_del(a, "specId");
	}
	return cat_emit(x, ali_jstr(page, it, "InstanceTypeId"), a);
}

static int cat_image(ali_ctx *x, const bar_kit_jdoc *page, int img, void *ud)
{
	(void)ud;
	return cat_emit(x, ali_jstr(page, img, "ImageId"),
	                json_pack("{s:s,s:s,s:s,s:s}", "arch", ali_jstr(page, img, "Architecture"),
	                          "description", ali_jstr(page, img, "OSNameEn"), "os",
	                          ali_jstr(page, img, "Platform"), "version",
	                          ali_jstr(page, img, "ImageVersion")));
}

int ali_catalog(ali_ctx *x, const char *what)
{
	ali_params p = {0};
	bar_kit_jdoc *r = NULL, *z = NULL;
	int rc, regs, zones;

	if (strcmp(what, "specs") == 0) {
		rc = ali_pages(x, ALI_ECS, "DescribeInstanceTypes", &p, "InstanceTypes.InstanceType",
		               ALI_PAGE_TOKEN, 1600, cat_type, NULL);
		ali_params_free(&p);
		return rc;
	}
	if (strcmp(what, "images") == 0) {
		ali_params_add(&p, "RegionId", x->region);
		ali_params_add(&p, "ImageOwnerAlias", "system");
		rc = ali_pages(x, ALI_ECS, "DescribeImages", &p, "Images.Image", ALI_PAGE_NUMBER, 100,
		               cat_image, NULL);
		ali_params_free(&p);
		return rc;
	}
	if (strcmp(what, "regions") != 0)
		return bar_kit_fail(&x->e, BAR_ENOTSUP, "UnsupportedCatalog",
		                    "alibaba: no catalogue \"%s\" (regions, specs, images)", what);
	rc = ali_rpc(x->s, x->call, ALI_ECS, "DescribeRegions", &p, NULL, &r, &x->e);
	ali_params_free(&p);
	if (!rc) {
		ali_params_add(&p, "RegionId", x->region);
		rc = ali_rpc(x->s, x->call, ALI_ECS, "DescribeZones", &p, NULL, &z, &x->e);
		ali_params_free(&p);
	}
	regs = ali_jlist(r, 0, "Regions.Region");
	zones = ali_jlist(z, 0, "Zones.Zone");
	for (int reg = bar_kit_jfirst(r, regs); reg >= 0 && !rc; reg = bar_kit_jnext(r, regs, reg)) {
		const char *name = ali_jstr(r, reg, "RegionId");
		json_t *zl = json_array();

		/* zones only for the call's region: DescribeZones is per region */
		if (strcmp(name, x->region) == 0)
			for (int zn = bar_kit_jfirst(z, zones); zn >= 0; zn = bar_kit_jnext(z, zones, zn))
				json_array_append_new(zl, json_string(ali_jstr(z, zn, "ZoneId")));
		rc = cat_emit(x, name, json_pack("{s:o,s:s}", "zones", zl, "localName",
		                                 ali_jstr(r, reg, "LocalName")));
	}
	bar_kit_jfree(r);
	bar_kit_jfree(z);
	return rc;
}
