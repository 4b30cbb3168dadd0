/*
 * test_check.c PLUGIN ENDPOINT [badkey] - the alibaba driver's connection test and
 * catalogue against the ECS/VPC double (tests/alibaba.cmake starts it with
 * --seed-vms 250): check() passes every check with the right key and fails
 * with BAR_EAUTH (and a failed "credential" check) with a wrong secret;
 * catalog() lists regions with the call's zones, specs and images; list
 * ("vm") finds the 250 seeded VMs through pages of 100.  With "badkey"
 * only the wrong-secret check runs (the double counts that request as a
 * violation: a registration with EXPECT_VIOLATIONS).  Uses the
 * conformance suite's test host (tests/conformance/host.h).
 */
#include "host.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks, checks_failed, cred_failed;

#define CHECK(cond, ...)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			failures++;                                                       \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);              \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
		}                                                                         \
	} while (0)

static void on_check(bar_call *call, const char *check, int ok, const char *detail)
{
	(void)call;
	printf("#   check %-32s %s %s\n", check, ok ? "ok" : "FAILED", detail);
	checks++;
	checks_failed += !ok;
	cred_failed += !ok && strcmp(check, "credential") == 0;
}

static size_t count(bar_sink *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return i + 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const good[] = {"access_key_id", "LTAI5tQ8bKr2xNfVwD3mZp7H",
	                                   "access_key_secret", "w9Tq2LmXv4Kp7Rz1Hs8Yd3Nf6Gb5Jc",
	                                   NULL};
	static const char *const bad[] = {"AccessKeyId", "LTAI5tQ8bKr2xNfVwD3mZp7H",
	                                  "AccessKeySecret", "not-the-secret", NULL};
	bar_host_api host;
	ch_plugin pl = {0};
	char *err = NULL, config[512];
	bar_sink sink = {0};
	ch_call c;
	int rc;

	if (argc != 3 && !(argc == 4 && strcmp(argv[3], "badkey") == 0)) {
		fprintf(stderr, "usage: test_alibaba_check PLUGIN ENDPOINT [badkey]\n");
		return 2;
	}
	snprintf(config, sizeof(config), "{\"endpoint\":\"%s\",\"pollMs\":\"100\"}", argv[2]);
	host = ch_host;
	host.report_check = on_check;
	if (ch_plugin_open(&pl, argv[1], &err) < 0 || ch_plugin_init(&pl, &host, &err) < 0) {
		fprintf(stderr, "%s\n", err ? err : "cannot load the plugin");
		return 1;
	}
	CHECK(pl.p->default_concurrency == 10, "default_concurrency %u",
	      pl.p->default_concurrency);

	if (argc == 4)
		goto badkey;
	ch_credentials_set(good);
	ch_call_init(&c, "check", "ali", "ap-southeast-1", config, NULL);
	rc = pl.p->check(pl.p, &c.call);
	CHECK(rc == BAR_OK && checks >= 6 && checks_failed == 0,
	      "check: rc %d, %d checks, %d failed (%s: %s)", rc, checks, checks_failed, c.code, c.msg);
	ch_call_clear(&c);

	goto catalog;
badkey:
	checks = checks_failed = 0;
	ch_credentials_set(bad);
	ch_call_init(&c, "check", "ali", "ap-southeast-1", config, NULL);
	rc = pl.p->check(pl.p, &c.call);
	CHECK(rc == BAR_EAUTH && cred_failed == 1 && strcmp(c.code, "SignatureDoesNotMatch") == 0,
	      "check with a wrong secret: rc %d, code %s", rc, c.code);
	CHECK(!strstr(c.msg, "not-the-secret"), "the secret in the error: %s", c.msg);
	ch_call_clear(&c);
	goto done;

catalog:
	ch_call_init(&c, "catalog", "ali", "ap-southeast-1", config, NULL);
	rc = pl.p->catalog(pl.p, &c.call, "regions", &sink);
	CHECK(rc == BAR_OK && sink.n >= 10, "catalog regions: rc %d, %zu", rc, sink.n);
	{
		size_t i = count(&sink, "ap-southeast-1");

		CHECK(i && strstr(sink.v[i - 1].attrs, "\"zones\":[\"ap-southeast-1a\""),
		      "ap-southeast-1's zones: %s", i ? sink.v[i - 1].attrs : "(not listed)");
	}
	ch_sink_clear(&sink);
	rc = pl.p->catalog(pl.p, &c.call, "specs", &sink);
	CHECK(rc == BAR_OK && count(&sink, "ecs.g7.large") &&
	          strstr(sink.v[count(&sink, "ecs.g7.large") - 1].attrs, "\"memoryMiB\":8192"),
	      "catalog specs: rc %d, %zu", rc, sink.n);
	ch_sink_clear(&sink);
	rc = pl.p->catalog(pl.p, &c.call, "images", &sink);
	CHECK(rc == BAR_OK && sink.n >= 3, "catalog images: rc %d, %zu", rc, sink.n);
	ch_sink_clear(&sink);
	rc = pl.p->catalog(pl.p, &c.call, "weather", &sink);
	CHECK(rc == BAR_ENOTSUP, "catalog weather: rc %d", rc);
	ch_call_clear(&c);

	ch_call_init(&c, "list", "ali", "ap-southeast-1", config, NULL);
	rc = pl.p->list(pl.p, &c.call, "vm", &sink);
	CHECK(rc == BAR_OK && sink.n == 250, "list vm: rc %d, %zu VMs (%s)", rc, sink.n, c.msg);
	CHECK(sink.n && strstr(sink.v[0].attrs, "\"publicIp\":\"47.") &&
	          strcmp(sink.v[0].status, "Running") == 0,
	      "a seeded VM: %s %s", sink.n ? sink.v[0].status : "", sink.n ? sink.v[0].attrs : "");
	ch_sink_clear(&sink);
	ch_call_clear(&c);
done:
	ch_plugin_close(&pl);
	free(err);
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	else
		printf("alibaba check, catalog and list: all passed\n");
	return failures ? 1 : 0;
}
