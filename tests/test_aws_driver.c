/*
 * test_aws_driver.c - what the conformance suite does not ask of the aws
 * driver, against the EC2 double: the connection test (check), the
 * catalogue, and a list of many seeded VMs in pages of the API's largest
 * size.
 *
 *     test_aws_driver PLUGIN ENDPOINT CREDENTIALS_JSON MODE [N]
 *
 * MODE: "check"   check() passes, reporting reach, credential and rights;
 *                 catalog() gives regions (with this region's zones), specs
 *                 and images; an unknown catalogue is BAR_ENOTSUP
 *       "badsecret"  a wrong secret fails check() with BAR_EAUTH
 *       "denied"  (the double denies RunInstances) check() fails with
 *                 BAR_EAUTH and reports that right as missing
 *       "list N"  list("vm") returns the N seeded VMs, each once
 */
#include "host.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failed;
static int n_checks, n_failed_checks;
static char failed_checks[4096];

static void expect(int ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	failed += !ok;
}

static const char **load_creds(const char *file)
{
	json_t *j = json_load_file(file, 0, NULL);
	const char **pairs = calloc(16, sizeof(*pairs));
	const char *k;
	json_t *v;
	int n = 0;

	json_object_foreach(j, k, v) {
		if (n < 14) {
			pairs[n++] = strdup(k);
			pairs[n++] = strdup(json_string_value(v));
		}
	}
	json_decref(j);
	return pairs;
}

/* Count report_check outcomes by wrapping the test host's. */
static bar_host_api host;
static void counting_report(bar_call *call, const char *check, int ok, const char *detail)
{
	n_checks++;
	if (!ok) {
		n_failed_checks++;
		strncat(failed_checks, check, sizeof(failed_checks) - strlen(failed_checks) - 2);
		strncat(failed_checks, ";", sizeof(failed_checks) - strlen(failed_checks) - 1);
	}
	ch_host.report_check(call, check, ok, detail);
}

static int run_check(bar_provider *p, const char *config)
{
	ch_call c;
	int rc;

	ch_call_init(&c, "check", "aws-test", "us-east-1", config, NULL);
	rc = p->check(p, &c.call);
	if (rc)
		printf("# check: %s %s\n", c.code, c.msg);
	ch_call_clear(&c);
	return rc;
}

static size_t run_catalog(bar_provider *p, const char *config, const char *what, int *rc,
                          bar_sink *s)
{
	ch_call c;

	memset(s, 0, sizeof(*s));
	ch_call_init(&c, "catalog", "aws-test", "us-east-1", config, NULL);
	*rc = p->catalog(p, &c.call, what, s);
	ch_call_clear(&c);
	return s->n;
}

int main(int argc, char **argv)
{
	ch_plugin pl = {0};
	char config[512], *err = NULL;
	const char *mode;
	const char **creds;
	bar_sink s;
	int rc;

	if (argc < 5) {
		fprintf(stderr, "usage: test_aws_driver PLUGIN ENDPOINT CREDENTIALS MODE [N]\n");
		return 2;
	}
	mode = argv[4];
	snprintf(config, sizeof(config), "{\"endpoint\":\"%s\"}", argv[2]);
	creds = load_creds(argv[3]);
	ch_credentials_set(creds);
	host = ch_host;
	host.report_check = counting_report;
	if (ch_plugin_open(&pl, argv[1], &err) < 0 || ch_plugin_init(&pl, &host, &err) < 0) {
		printf("not ok - load: %s\n", err ? err : "?");
		return 1;
	}
	if (strcmp(mode, "check") == 0) {
		rc = run_check(pl.p, config);
		expect(rc == BAR_OK && n_failed_checks == 0 && n_checks >= 10,
		       "check passes, with reach, credential and a dry run per right");
		run_catalog(pl.p, config, "regions", &rc, &s);
		int zones = 0;
		for (size_t i = 0; i < s.n; i++)
			if (strcmp(s.v[i].name, "us-east-1") == 0)
				zones = strstr(s.v[i].attrs, "us-east-1a") != NULL;
		expect(rc == BAR_OK && s.n >= 10 && zones, "catalog regions, with this region's zones");
		ch_sink_clear(&s);
		run_catalog(pl.p, config, "specs", &rc, &s);
		expect(rc == BAR_OK && s.n >= 5 && strstr(s.v[0].attrs, "\"memoryMiB\""),
		       "catalog specs with vcpu and memoryMiB");
		ch_sink_clear(&s);
		run_catalog(pl.p, config, "images", &rc, &s);
		int ok = rc == BAR_OK && s.n >= 3;
		for (size_t i = 0; ok && i < s.n; i++)
			ok = strncmp(s.v[i].system_id, "ami-", 4) == 0 && strstr(s.v[i].attrs, "\"os\"");
		expect(ok, "catalog images: AMI ids with os and version");
		ch_sink_clear(&s);
		run_catalog(pl.p, config, "prices", &rc, &s);
		expect(rc == BAR_ENOTSUP, "an unknown catalogue is BAR_ENOTSUP");
		ch_sink_clear(&s);
		/* lookups: a spec chosen by size, images by id, pattern and name */
		struct {
			const char *type, *input;
			int rc;
			const char *want; /* in the system id, or NULL */
		} lk[] = {
			{"spec", "{\"name\":\"s\",\"attrs\":{\"specId\":\"\",\"vcpu\":2,"
			         "\"memoryMiB\":3000}}", BAR_OK, "c5.large"},
			{"spec", "{\"name\":\"s\",\"attrs\":{\"specId\":\"\",\"vcpu\":64,"
			         "\"memoryMiB\":1}}", BAR_EINVALID, NULL},
			{"spec", "{\"name\":\"s\",\"attrs\":{\"specId\":\"x9.huge\"}}", BAR_EINVALID, NULL},
			{"image", "{\"name\":\"i\",\"attrs\":{\"imageId\":\"debian-12\"}}", BAR_OK, "ami-"},
			{"image", "{\"name\":\"i\",\"attrs\":{\"imageId\":\"137112412989/al2023-ami-*-arm64\"}}",
			 BAR_OK, "ami-"},
			{"image", "{\"name\":\"i\",\"attrs\":{\"imageId\":\"nonsense\"}}", BAR_EINVALID, NULL},
			{"image", "{\"name\":\"i\",\"attrs\":{\"imageId\":\"099720109477/no-such-*\"}}",
			 BAR_EINVALID, NULL},
		};
		char newest[2048] = "";
		for (size_t i = 0; i < sizeof(lk) / sizeof(lk[0]); i++) {
			ch_call c;
			char what[160];

			memset(&s, 0, sizeof(s));
			ch_call_init(&c, "create", "aws-test", "us-east-1", config, NULL);
			rc = pl.p->create(pl.p, &c.call, lk[i].type, lk[i].input, &s);
			snprintf(what, sizeof(what), "lookup %s %zu: %d %s%s", lk[i].type, i, rc,
			         s.n ? s.v[0].system_id : c.code, s.n ? "" : "");
			expect(rc == lk[i].rc && (!lk[i].want || (s.n == 1 &&
			       strstr(s.v[0].system_id, lk[i].want))), what);
			if (i == 3 && s.n)
				snprintf(newest, sizeof(newest), "%s", s.v[0].attrs);
			ch_call_clear(&c);
			ch_sink_clear(&s);
		}
		expect(strstr(newest, "debian-12-amd64-") != NULL, "debian-12 resolves to its AMI");
	} else if (strcmp(mode, "badsecret") == 0) {
		/* the same access key, another secret: the double sees a bad
		 * signature (a violation, expected by the registration) */
		for (int i = 0; creds[i]; i += 2)
			if (strstr(creds[i], "secret")) {
				free((char *)creds[i + 1]);
				creds[i + 1] = "wrongwrongwrongwrongwrongwrongwrongwrong";
			}
		ch_credentials_set(creds);
		rc = run_check(pl.p, config);
		expect(rc == BAR_EAUTH && n_failed_checks == 1 && strstr(failed_checks, "credential"),
		       "a wrong secret fails the credential check with BAR_EAUTH");
	} else if (strcmp(mode, "denied") == 0) {
		rc = run_check(pl.p, config);
		expect(rc == BAR_EAUTH && n_failed_checks == 1 &&
		       strstr(failed_checks, "right ec2:RunInstances"),
		       "a denied RunInstances fails check with BAR_EAUTH, naming the right");
	} else if (strcmp(mode, "list") == 0 && argc > 5) {
		size_t want = (size_t)atol(argv[5]);
		ch_call c;

		memset(&s, 0, sizeof(s));
		ch_call_init(&c, "list", "aws-test", "us-east-1", config, NULL);
		rc = pl.p->list(pl.p, &c.call, "vm", &s);
		ch_call_clear(&c);
		int distinct = 1;
		for (size_t i = 1; i < s.n && distinct; i++)
			distinct = strcmp(s.v[i].system_id, s.v[i - 1].system_id) != 0;
		printf("# listed %zu\n", s.n);
		expect(rc == BAR_OK && s.n == want && distinct, "list vm returns every seeded VM once");
		ch_sink_clear(&s);
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		failed++;
	}
	ch_plugin_close(&pl);
	printf("%d failed\n", failed);
	return failed ? 1 : 0;
}
