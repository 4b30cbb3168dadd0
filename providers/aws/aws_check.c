/*
 * aws_check.c - the aws driver's connection test and catalogue.
 *
 * check(): DescribeRegions shows that EC2 answers and takes the credential;
 * then every mutating action the driver uses is sent with DryRun=true:
 * EC2 answers DryRunOperation when the caller may do it and
 * UnauthorizedOperation when not, without doing anything.
 *
 * catalog(): regions (DescribeRegions; the call's region with its zones
 * from DescribeAvailabilityZones), specs (DescribeInstanceTypes, every
 * page), images (the newest image of each catalogue entry, DescribeImages).
 */
#include "aws.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One right and the smallest parameters that let a dry run reach the
 * permission check. */
static const struct {
	const char *action;
	const char *params[8]; /* name, value pairs; NULL-terminated */
} rights[] = {
	{"DescribeInstances", {NULL}},
	{"CreateVpc", {"CidrBlock", "10.0.0.0/16", NULL}},
	{"CreateSubnet", {"VpcId", "vpc-00000000000000000", "CidrBlock", "10.0.0.0/24", NULL}},
	{"CreateInternetGateway", {NULL}},
	{"CreateSecurityGroup", {"GroupName", "barista-check", "GroupDescription", "check", NULL}},
	{"AuthorizeSecurityGroupIngress", {"GroupId", "sg-00000000000000000", NULL}},
	{"CreateKeyPair", {"KeyName", "barista-check", NULL}},
	{"RunInstances", {"MinCount", "1", "MaxCount", "1", "InstanceType", "t3.micro", NULL}},
	{"StopInstances", {"InstanceId.1", "i-00000000000000000", NULL}},
	{"StartInstances", {"InstanceId.1", "i-00000000000000000", NULL}},
	{"RebootInstances", {"InstanceId.1", "i-00000000000000000", NULL}},
	{"TerminateInstances", {"InstanceId.1", "i-00000000000000000", NULL}},
	{"CreateTags", {"ResourceId.1", "i-00000000000000000", "Tag.1.Key", "barista:check", NULL}},
	{"DeleteVpc", {"VpcId", "vpc-00000000000000000", NULL}},
};

static void report(aws_x *x, const char *check, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(aws_x *x, const char *check, int ok, const char *fmt, ...)
{
	char detail[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (BAR_HAS(x->host, report_check))
		x->host->report_check(x->call, check, ok, detail);
}

int aws_check(aws_x *x)
{
	bar_kit_err first = {0};
	char code[128], name[96];
	int64_t t0 = bar_kit_now_ms();
	aws_xml *root = NULL;
	int rc = aws_ec2(x, "DescribeRegions", NULL, NULL, &root, code, sizeof(code));

	aws_xml_free(root);
	if (rc == BAR_EAUTH) {
		report(x, "reach", 1, "EC2 at %s answered", x->sess->url);
		report(x, "credential", 0, "%s: %s - check aws_access_key_id, aws_secret_access_key "
		       "(and aws_session_token for temporary credentials) of the connection's "
		       "credential file, and the machine's clock", code, x->err.msg);
		return rc;
	}
	if (rc != BAR_OK) {
		report(x, "reach", 0, "%s - check the connection's endpoint / region and the network "
		       "path to it (proxy, firewall)", x->err.msg);
		return rc;
	}
	report(x, "reach", 1, "EC2 at %s answered in %lld ms", x->sess->url,
	       (long long)(bar_kit_now_ms() - t0));
	report(x, "credential", 1, "the access key is accepted");
	for (size_t i = 0; i < sizeof(rights) / sizeof(rights[0]); i++) {
		aws_q q = {{0}, 0};

		for (int k = 0; rights[i].params[k]; k += 2)
			aws_q_add(&q, rights[i].params[k], rights[i].params[k + 1]);
		aws_q_add(&q, "DryRun", "true");
		x->err = (bar_kit_err){0};
		rc = aws_ec2(x, rights[i].action, &q, NULL, NULL, code, sizeof(code));
		aws_q_free(&q);
		snprintf(name, sizeof(name), "right ec2:%s", rights[i].action);
		if (rc == BAR_OK || strcmp(code, "DryRunOperation") == 0) {
			report(x, name, 1, "allowed (dry run)");
		} else if (rc == BAR_EAUTH) {
			report(x, name, 0, "%s: %s - grant ec2:%s to the credential's IAM user or role",
			       code, x->err.msg, rights[i].action);
			bar_kit_fail(&first, BAR_EAUTH, code, "%s", x->err.msg);
		} else if (rc == BAR_ERETRY || rc == BAR_ETIMEOUT || rc == BAR_ECANCELED) {
			report(x, name, 0, "%s - could not be checked; try again", x->err.msg);
			bar_kit_fail(&first, rc, code, "%s", x->err.msg);
		} else {
			/* another refusal: the permission was not what EC2 objected to */
			report(x, name, 1, "not refused for lack of rights (the dry run answered %s)",
			       code);
		}
	}
	x->err = first;
	return first.rc;
}

/* ---- catalogue ---- */

static int emit_cat(aws_x *x, bar_sink *out, const char *name, json_t *attrs)
{
	return aws_emit(x, out, name, name, "Available", attrs, json_object());
}

static int cat_regions(aws_x *x, bar_sink *out)
{
	aws_xml *regions = NULL, *zones = NULL;
	json_t *mine = json_array();
	int rc = aws_ec2(x, "DescribeRegions", NULL, NULL, &regions, NULL, 0);

	if (rc == BAR_OK) {
		aws_q q = {{0}, 0};

		aws_q_filter1(&q, "region-name", x->call->region);
		rc = aws_ec2(x, "DescribeAvailabilityZones", &q, NULL, &zones, NULL, 0);
		aws_q_free(&q);
	}
	for (const aws_xml *z = rc == BAR_OK ? aws_xml_path(zones, "availabilityZoneInfo/item") : NULL;
	     z; z = z->next)
		if (aws_xml_text(z, "zoneName"))
			json_array_append_new(mine, json_string(aws_xml_text(z, "zoneName")));
	for (const aws_xml *r = rc == BAR_OK ? aws_xml_path(regions, "regionInfo/item") : NULL;
	     r && rc == BAR_OK; r = r->next) {
		const char *n = aws_xml_text(r, "regionName");
		if (n)
			rc = emit_cat(x, out, n, json_pack("{s:o}", "zones",
			                                   strcmp(n, x->call->region) == 0
			                                       ? json_incref(mine)
			                                       : json_array()));
	}
	json_decref(mine);
	aws_xml_free(regions);
	aws_xml_free(zones);
	return rc;
}

static int on_types(aws_x *x, const aws_xml *root, void *ctx)
{
	const aws_xml *set = aws_xml_get(root, "instanceTypeSet");
	int rc = BAR_OK;

	for (const aws_xml *t = set ? set->child : NULL; t && rc == BAR_OK; t = t->next) {
		json_t *a = aws_spec_attrs(t);
		char name[64];

		snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(a, "specId")));
		json_object_del(a, "specId");
		rc = name[0] ? emit_cat(x, ctx, name, a) : (json_decref(a), BAR_OK);
	}
	return rc;
}

static int cat_images(aws_x *x, bar_sink *out)
{
	int rc = BAR_OK;

	for (size_t i = 0; rc == BAR_OK && aws_catalogue_images[i].name; i++) {
		const aws_cat_image *c = &aws_catalogue_images[i];
		aws_xml *root = NULL;
		const aws_xml *best;

		rc = aws_image_newest(x, c->pattern, &root, &best);
		if (rc == BAR_EINVALID) { /* not offered in this region */
			x->err = (bar_kit_err){0};
			rc = BAR_OK;
		} else if (rc == BAR_OK) {
			const char *d = aws_xml_text(best, "description");
			rc = emit_cat(x, out, aws_xml_text(best, "imageId"),
			              json_pack("{s:s,s:s,s:s,s:s,s:s}", "arch",
			                        aws_xml_text(best, "architecture")
			                            ? aws_xml_text(best, "architecture")
			                            : "",
			                        "catalogueName", c->name, "description", d ? d : "", "os",
			                        c->os, "version", c->version));
		}
		aws_xml_free(root);
	}
	return rc;
}

int aws_catalog(aws_x *x, const char *what, bar_sink *out)
{
	if (strcmp(what, "regions") == 0)
		return cat_regions(x, out);
	if (strcmp(what, "specs") == 0)
		return aws_ec2_pages(x, "DescribeInstanceTypes", NULL, 100, on_types, out);
	if (strcmp(what, "images") == 0)
		return cat_images(x, out);
	return bar_kit_fail(&x->err, BAR_ENOTSUP, "UnsupportedCatalog",
	                    "aws: no catalogue of \"%s\" (regions, specs, images)", what);
}
