/*
 * test_azure_driver.c - the azure driver's calls the conformance suite does not
 * make, against the ARM double (registered in tests/azure.cmake):
 *
 *   azure_ops_test check PLUGIN CONFIG REGION CREDENTIALS
 *       check() before the resource group exists and after, catalog() of
 *       regions, specs and images;
 *   azure_ops_test list PLUGIN CONFIG REGION CREDENTIALS N
 *       list("vm") of the N VMs the double was seeded with: all of them,
 *       each with its IPs, through the nextLink pages;
 *   azure_ops_test denied PLUGIN CONFIG REGION CREDENTIALS ACTION
 *       check() when the double's permissions leave ACTION out: BAR_EAUTH
 *       naming it.
 * "check" also polls a VNet's create and delete operations from a session
 * other than the one that started them (a later run resuming them).
 */
#include "host.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures;

#define CHECK(cond, ...)                                                         \
	do {                                                                         \
		if (!(cond)) {                                                           \
			failures++;                                                          \
			fprintf(stderr, "not ok: %s: ", #cond);                              \
			fprintf(stderr, __VA_ARGS__);                                        \
			fputc('\n', stderr);                                                 \
		}                                                                        \
	} while (0)

static bar_provider *P;
static void *S;
static const char *CFG, *REGION;

static int call(const char *op, bar_sink *sink, int (*fn)(ch_call *, bar_sink *, const void *),
                const void *arg, ch_call *c)
{
	ch_call_init(c, op, "bench", REGION, CFG, S);
	memset(sink, 0, sizeof(*sink));
	return fn(c, sink, arg);
}

static int do_check(ch_call *c, bar_sink *s, const void *arg)
{
	(void)s;
	(void)arg;
	return P->check(P, &c->call);
}

static int do_catalog(ch_call *c, bar_sink *s, const void *arg)
{
	return P->catalog(P, &c->call, arg, s);
}

static int do_list(ch_call *c, bar_sink *s, const void *arg)
{
	return P->list(P, &c->call, arg, s);
}

static int do_create_key(ch_call *c, bar_sink *s, const void *arg)
{
	(void)arg;
	c->call.idempotency_key = "0b6f7f2e-3d5c-4c59-9a3e-5b1f1c2d3e4f";
	return P->create(P, &c->call, "sshkey",
	                 "{\"type\":\"sshkey\",\"name\":\"opstest\",\"attrs\":{\"publicKey\":"
	                 "\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHcp0fJ3Pvw3k8vQZl7bq3YF1g0R1b1c8rW"
	                 "k3bXU5y1m t\"},\"tags\":{\"barista:address\":\"t/sshkey/opstest\"}}",
	                 s);
}

static void test_check(void)
{
	ch_call c;
	bar_sink s;
	int rc;

	rc = call("check", &s, do_check, NULL, &c);
	CHECK(rc == BAR_OK, "check without the resource group: %d %s %s", rc, c.code, c.msg);
	ch_call_clear(&c);
	ch_sink_clear(&s);
	rc = call("create", &s, do_create_key, NULL, &c);
	CHECK(rc == BAR_OK && s.n == 1, "sshkey create: %d %s", rc, c.msg);
	ch_call_clear(&c);
	ch_sink_clear(&s);
	rc = call("check", &s, do_check, NULL, &c);
	CHECK(rc == BAR_OK, "check with the resource group: %d %s %s", rc, c.code, c.msg);
	ch_call_clear(&c);
	ch_sink_clear(&s);
	for (int i = 0; i < 3; i++) {
		static const char *const what[] = {"regions", "specs", "images"};

		rc = call("catalog", &s, do_catalog, what[i], &c);
		CHECK(rc == BAR_OK && s.n >= 3, "catalog %s: %d, %zu entries: %s", what[i], rc, s.n,
		      c.msg);
		if (s.n)
			printf("# catalog %s: %zu, first %s %s\n", what[i], s.n, s.v[0].name,
			       s.v[0].attrs);
		ch_call_clear(&c);
		ch_sink_clear(&s);
	}
	rc = call("catalog", &s, do_catalog, "prices", &c);
	CHECK(rc == BAR_ENOTSUP, "catalog prices: %d", rc);
	ch_call_clear(&c);
	ch_sink_clear(&s);
}

static int do_create_vnet(ch_call *c, bar_sink *s, const void *arg)
{
	(void)arg;
	c->call.idempotency_key = "7c2d9e4a-1b3f-4e5d-8a6b-0c1d2e3f4a5b";
	return P->create(P, &c->call, "vnet",
	                 "{\"type\":\"vnet\",\"name\":\"opsnet\",\"attrs\":{\"cidr\":\"10.77.0.0/16\","
	                 "\"subnets\":[{\"name\":\"s1\",\"cidr\":\"10.77.1.0/24\"}]},\"tags\":"
	                 "{\"barista:address\":\"t/vnet/opsnet\"}}",
	                 s);
}

/* Poll `token` for the vnet `id` in a new session until it ends. */
static int poll_new_session(const char *id, const char *token, const char **status)
{
	static char st[32];
	char in[1200];
	void *s2 = NULL;
	ch_call c;
	bar_sink s;
	int rc = BAR_EFAIL;

	ch_call_init(&c, "open", "bench", REGION, CFG, NULL);
	if (P->open(P, &c.call, &s2) != BAR_OK)
		return BAR_EFAIL;
	ch_call_clear(&c);
	snprintf(in, sizeof(in), "{\"type\":\"vnet\",\"name\":\"opsnet\",\"system_id\":\"%s\","
	         "\"attrs\":{},\"tags\":{\"barista:address\":\"t/vnet/opsnet\"}}", id);
	for (int i = 0; i < 100; i++) {
		struct timespec ts = {0, 100 * 1000000L};

		ch_call_init(&c, "poll", "bench", REGION, CFG, s2);
		c.call.operation = token;
		memset(&s, 0, sizeof(s));
		rc = P->poll(P, &c.call, "vnet", in, &s);
		snprintf(st, sizeof(st), "%s", rc == BAR_OK && s.n ? s.v[0].status : "");
		ch_call_clear(&c);
		ch_sink_clear(&s);
		if (rc != BAR_OK || (strcmp(st, "Creating") != 0 && strcmp(st, "Deleting") != 0))
			break;
		nanosleep(&ts, NULL);
	}
	P->close(P, s2);
	*status = st;
	return rc;
}

static void test_resume(void)
{
	char id[1024] = "", token[1100] = "";
	const char *st = "";
	ch_call c;
	bar_sink s;
	int rc;

	rc = call("create", &s, do_create_vnet, NULL, &c);
	if (rc == BAR_OK && s.n == 1)
		snprintf(id, sizeof(id), "%s", s.v[0].system_id);
	if (c.operation)
		snprintf(token, sizeof(token), "%s", c.operation);
	CHECK(rc == BAR_OK && id[0] && strncmp(token, "create ", 7) == 0,
	      "vnet create: %d, token \"%s\"", rc, token);
	ch_call_clear(&c);
	ch_sink_clear(&s);
	rc = poll_new_session(id, token, &st);
	CHECK(rc == BAR_OK && strcmp(st, "Available") == 0, "create polled from another session: %d %s",
	      rc, st);
	ch_call_init(&c, "delete", "bench", REGION, CFG, S);
	{
		char in[1200];

		snprintf(in, sizeof(in), "{\"type\":\"vnet\",\"name\":\"opsnet\",\"system_id\":\"%s\","
		         "\"attrs\":{},\"tags\":{}}", id);
		rc = P->del(P, &c.call, "vnet", in);
	}
	snprintf(token, sizeof(token), "%s", c.operation ? c.operation : "");
	CHECK(rc == BAR_OK && strncmp(token, "delete ", 7) == 0, "vnet delete: %d %s", rc, token);
	ch_call_clear(&c);
	rc = poll_new_session(id, token, &st);
	CHECK(rc == BAR_ENOTFOUND, "delete polled from another session: %d %s", rc, st);
}

static void test_denied(const char *action)
{
	ch_call c;
	bar_sink s;
	int rc;

	rc = call("create", &s, do_create_key, NULL, &c); /* makes the resource group */
	ch_call_clear(&c);
	ch_sink_clear(&s);
	rc = call("check", &s, do_check, NULL, &c);
	CHECK(rc == BAR_EAUTH && strstr(c.msg, action), "check without %s: %d %s %s", action, rc,
	      c.code, c.msg);
	ch_call_clear(&c);
	ch_sink_clear(&s);
}

static void test_list(long want)
{
	struct timespec t0, t1;
	ch_call c;
	bar_sink s;
	size_t with_ip = 0;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = call("list", &s, do_list, "vm", &c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (size_t i = 0; i < s.n; i++)
		with_ip += strstr(s.v[i].attrs, "\"publicIp\":\"20.") != NULL &&
		           strcmp(s.v[i].status, "Running") == 0;
	CHECK(rc == BAR_OK && (long)s.n == want && (long)with_ip == want,
	      "list vm: %d, %zu VMs, %zu running with a public IP, want %ld: %s", rc, s.n, with_ip,
	      want, c.msg);
	printf("# list vm: %zu VMs in %.0f ms, %ld requests\n", s.n,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	       ch_calls_recorded());
	ch_call_clear(&c);
	ch_sink_clear(&s);
}

int main(int argc, char **argv)
{
	static const char *pairs[16];
	ch_plugin pl = {0};
	char *err = NULL;
	json_t *cred;
	const char *k;
	json_t *v;
	size_t n = 0;
	ch_call c;

	if (argc < 6) {
		fprintf(stderr, "usage: azure_ops_test check|list PLUGIN CONFIG REGION CREDENTIALS [N]\n");
		return 2;
	}
	CFG = argv[3];
	REGION = argv[4];
	cred = json_load_file(argv[5], 0, NULL);
	json_object_foreach(cred, k, v) if (n < 14 && json_is_string(v))
	{
		pairs[n++] = k;
		pairs[n++] = json_string_value(v);
	}
	pairs[n] = NULL;
	ch_credentials_set(pairs);
	if (ch_plugin_open(&pl, argv[2], &err) < 0 || ch_plugin_init(&pl, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	P = pl.p;
	ch_call_init(&c, "open", "bench", REGION, CFG, NULL);
	if (P->open(P, &c.call, &S) != BAR_OK) {
		fprintf(stderr, "open: %s\n", c.msg);
		return 1;
	}
	ch_call_clear(&c);
	if (strcmp(argv[1], "check") == 0) {
		test_check();
		test_resume();
	} else if (strcmp(argv[1], "denied") == 0)
		test_denied(argc > 6 ? argv[6] : "");
	else
		test_list(argc > 6 ? atol(argv[6]) : 0);
	P->close(P, S);
	ch_plugin_close(&pl);
	json_decref(cred);
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
