/*
 * gcp_check.c - `barista connection test` (check) and `barista catalog
 * refresh` (catalog) for the gcp driver.
 *
 * check(): the token endpoint takes the service account's assertion, the
 * project answers (projects.get), and one read call per API the driver uses
 * succeeds.  Compute Engine has no dry run for inserts, and the Resource
 * Manager's projects:testIamPermissions is not part of the published
 * Compute model the test double validates against, so the rights are
 * checked by those read calls (docs/driver-gcp.md).
 */
#include "gcp.h"

#include <stdio.h>
#include <string.h>

static void report(gcp_ctx *x, const char *check, int ok, const char *detail)
{
	if (BAR_HAS(x->host, report_check))
		x->host->report_check(x->call, check, ok, detail);
}

int gcp_check(gcp_ctx *x)
{
	static const struct {
		const char *right, *rel, *what;
	} reads[] = {
		{"compute.instances.list", "zones/%s/instances", "instances"},
		{"compute.machineTypes.list", "zones/%s/machineTypes", "machine types"},
		{"compute.networks.list", "global/networks", "list networks"},
		{"compute.firewalls.list", "global/firewalls", "list firewalls"},
	};
	char path[192], rel[192], check[96], msg[1100];
	json_t *j = NULL;
	int rc, first = BAR_OK;
	int64_t t0 = bar_kit_now_ms();

	snprintf(path, sizeof(path), "projects/%s", x->project);
	rc = gcp_req(x, "GET", path, NULL, NULL, "compute.projects.get", NULL, &j);
	json_decref(j);
	j = NULL;
	if (rc == BAR_EAUTH) {
		snprintf(msg, sizeof(msg), "%s: check the service account key (client_email, "
		         "private_key, token_uri) and that the account is enabled", x->e->msg);
		report(x, "credential", 0, msg);
		return rc;
	}
	if (rc != BAR_OK) {
		snprintf(msg, sizeof(msg), "%s: check the endpoint, the network and the project",
		         x->e->msg);
		report(x, "reach", 0, msg);
		return rc;
	}
	report(x, "credential", 1, "the token endpoint accepted the service account's assertion");
	snprintf(msg, sizeof(msg), "Compute Engine at %s answered for the project in %lld ms",
	         x->s->endpoint, (long long)(bar_kit_now_ms() - t0));
	report(x, "reach", 1, msg);
	if ((rc = gcp_zone(x)) != BAR_OK) {
		report(x, "zone", 0, "the region's zones could not be read: set the config's zone");
		return rc;
	}
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		if (strncmp(reads[i].rel, "zones/", 6) == 0)
			snprintf(rel, sizeof(rel), "zones/%s/%s", x->zone, reads[i].rel + 9);
		else
			snprintf(rel, sizeof(rel), "%s", reads[i].rel);
		{
			/* each read's own error for its report; the call keeps the first */
			bar_kit_err own = {0}, *outer = x->e;

			x->e = &own;
			rc = gcp_preq(x, "GET", rel, "maxResults=1", NULL, reads[i].right, NULL, &j);
			x->e = outer;
			if (rc != BAR_OK)
				bar_kit_fail(outer, own.rc, own.code, "%s", own.msg);
			json_decref(j);
			j = NULL;
			snprintf(check, sizeof(check), "right %s", reads[i].right);
			if (rc == BAR_OK) {
				report(x, check, 1, "allowed");
				continue;
			}
			snprintf(msg, sizeof(msg), "%s: grant the service account roles/compute.admin "
			         "(or a role with compute.* on instances, networks, subnetworks, "
			         "firewalls, projects.setCommonInstanceMetadata)", own.msg);
			report(x, check, 0, msg);
			if (first == BAR_OK)
				first = rc;
		}
	}
	return first;
}

static int cat_emit(gcp_ctx *x, bar_sink *out, const char *name, json_t *attrs)
{
	int rc = gcp_emit(x, out, name, name, "Available", attrs, NULL);
	json_decref(attrs);
	return rc;
}

int gcp_catalog(gcp_ctx *x, const char *what, bar_sink *out)
{
	static const char *const families[][4] = {
		{"ubuntu-os-cloud", "ubuntu-2204-lts", "ubuntu", "22.04"},
		{"ubuntu-os-cloud", "ubuntu-2404-lts-amd64", "ubuntu", "24.04"},
		{"debian-cloud", "debian-12", "debian", "12"},
		{"rocky-linux-cloud", "rocky-linux-9", "rocky", "9"},
	};
	json_t *all = NULL, *it;
	char rel[192];
	size_t i;
	int rc = BAR_OK;

	if (!what || (strcmp(what, "regions") && strcmp(what, "specs") && strcmp(what, "images")))
		return bar_kit_fail(x->e, BAR_ENOTSUP, "UnknownCatalog",
		                    "gcp: no catalogue \"%s\"", what ? what : "");
	if (!strcmp(what, "regions")) {
		if ((rc = gcp_list(x, "regions", NULL, "compute.regions.list", 0, NULL, &all)))
			return rc;
		json_array_foreach(all, i, it) {
			json_t *zones = json_array(), *z;
			size_t k;
			json_array_foreach(json_object_get(it, "zones"), k, z)
				json_array_append_new(zones, json_string(gcp_last(json_string_value(z))));
			if ((rc = cat_emit(x, out, gcp_str(it, "name"), json_pack("{s:o}", "zones", zones))))
				break;
		}
	} else if (!strcmp(what, "specs")) {
		if ((rc = gcp_zone(x)) != BAR_OK)
			return rc;
		snprintf(rel, sizeof(rel), "zones/%s/machineTypes", x->zone);
		if ((rc = gcp_list(x, rel, NULL, "compute.machineTypes.list", 0, NULL, &all)))
			return rc;
		json_array_foreach(all, i, it) {
			json_t *a = json_pack("{s:I,s:I,s:s}", "vcpu",
			                      json_integer_value(json_object_get(it, "guestCpus")),
			                      "memoryMiB", json_integer_value(json_object_get(it, "memoryMb")),
			                      "arch", strncmp(gcp_str(it, "name"), "t2a-", 4) == 0 ||
			                                  strncmp(gcp_str(it, "name"), "c4a-", 4) == 0
			                              ? "arm64" : "x86_64");
			if ((rc = cat_emit(x, out, gcp_str(it, "name"), a)))
				break;
		}
	} else {
		for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
			json_t *img = NULL;
			const char *self;
			snprintf(rel, sizeof(rel), "projects/%s/global/images/family/%s", families[i][0],
			         families[i][1]);
			rc = gcp_req(x, "GET", rel, NULL, NULL, "compute.images.getFromFamily",
			             families[i][1], &img);
			if (rc == BAR_ENOTFOUND) { /* a family that is gone is no error */
				memset(x->e, 0, sizeof(*x->e));
				rc = BAR_OK;
				continue;
			}
			if (rc != BAR_OK)
				break;
			self = strstr(gcp_str(img, "selfLink"), "projects/");
			rc = cat_emit(x, out, self ? self : gcp_str(img, "name"),
			              json_pack("{s:s,s:s,s:s,s:s}", "os", families[i][2], "version",
			                        families[i][3], "arch",
			                        strcmp(gcp_str(img, "architecture"), "ARM64") == 0 ? "arm64"
			                                                                       : "x86_64",
			                        "description", gcp_str(img, "description")));
			json_decref(img);
			if (rc != BAR_OK)
				break;
		}
	}
	json_decref(all);
	return rc;
}
