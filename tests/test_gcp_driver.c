/*
 * test_gcp_driver.c - the gcp driver's check() and catalog() against the
 * Compute Engine double (registered in tests/gcp.cmake), through the
 * conformance suite's host (tests/conformance/host.c): every check passes
 * with the test service account, each catalogue has entries, the session
 * fetched one access token for all of it and nothing secret was handed over.
 *
 *     test_gcp_check PLUGIN.so ENDPOINT CREDENTIALS_JSON [SEEDED_VMS|badkey|refresh|throttle|deny]
 *
 * badkey: the private key is another one (RFC 7515's): check() fails with
 * BAR_EAUTH and reports the credential check failed (the double records
 * the bad signature: registered EXPECT_VIOLATIONS).  refresh: the double
 * issues 4-second tokens; after 2.5 s the session must have fetched a new
 * one before the old expired (no 401).  throttle: the double throttles the
 * first call (429, Retry-After: 1): check() returns BAR_ERETRY with
 * retry_after_ms 1000, and the next check passes.  deny: the double refuses
 * firewalls.list (403 forbidden): check() returns BAR_EAUTH after reporting
 * every check, that right failed and the others passed.
 *
 * With SEEDED_VMS (the double started with --seed-vms N), list("vm") must
 * return exactly N, through pages of at most 500 (bench/driver_refresh's
 * scenario).
 *
 * Without a mode it also makes an sshkey without a publicKey and checks
 * with OpenSSH's own ssh-keygen that the private key handed to the host is
 * one it reads and that it derives the emitted public key from it.
 */
#include "host.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
			failures++;                                                       \
		}                                                                         \
	} while (0)

typedef struct count {
	int tokens, checks;
	const char *needle;
	int leaks;
} count;

static int counter(void *ud, const char *kind, const char *op, const char *text, int secret)
{
	count *n = ud;

	(void)op;
	if (!secret && !strcmp(kind, "call log operation") && !strcmp(text, "oauth2.token"))
		n->tokens++;
	if (!secret && !strcmp(kind, "check"))
		n->checks++;
	if (!secret && n->needle && strstr(text, n->needle))
		n->leaks++;
	return 0;
}

int main(int argc, char **argv)
{
	const char *fields[] = {"client_email", "private_key", "private_key_id", "token_uri",
	                        "project_id"};
	const char *pairs[11] = {NULL};
	char config[1024], *err = NULL;
	ch_plugin pl = {0};
	json_t *cred;
	void *session = NULL;
	count n = {0};

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: test_gcp_check PLUGIN ENDPOINT CREDENTIALS\n");
		return 2;
	}
	const char *mode = argc == 5 ? argv[4] : "";
	char *other = NULL;

	cred = json_load_file(argv[3], 0, NULL);
	for (int i = 0; i < 5; i++) {
		pairs[2 * i] = fields[i];
		pairs[2 * i + 1] = json_string_value(json_object_get(cred, fields[i]));
	}
	if (!strcmp(mode, "badkey")) {
		char path[1024];
		FILE *f;
		long len;

		snprintf(path, sizeof(path), "%s", argv[3]);
		*(strrchr(path, '/') ? strrchr(path, '/') + 1 : path) = 0;
		strncat(path, "rfc7515-a2-key.pem", sizeof(path) - strlen(path) - 1);
		f = fopen(path, "rb");
		if (!f)
			return 2;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		other = calloc(1, (size_t)len + 1);
		if (!other || fread(other, 1, (size_t)len, f) != (size_t)len)
			return 2;
		fclose(f);
		pairs[3] = other;
	}
	ch_credentials_set(pairs);
	snprintf(config, sizeof(config), "{\"endpoint\":\"%s\",\"tokenUri\":\"%s/token\"}", argv[2],
	         argv[2]);
	if (ch_plugin_open(&pl, argv[1], &err) < 0 || ch_plugin_init(&pl, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	CHECK(pl.p->default_concurrency > 0);
	{
		ch_call c;
		ch_call_init(&c, "open", "gcp-test", "us-central1", config, NULL);
		CHECK(pl.p->open(pl.p, &c.call, &session) == BAR_OK);
		ch_call_clear(&c);
	}
	if (!strcmp(mode, "badkey")) {
		ch_call c;
		ch_call_init(&c, "check", "gcp-test", "us-central1", config, session);
		CHECK(pl.p->check(pl.p, &c.call) == BAR_EAUTH);
		CHECK(c.n_errors == 1);
		printf("check with another key: %s: %s\n", c.code, c.msg);
		ch_call_clear(&c);
		pl.p->close(pl.p, session);
		ch_transcript_each(counter, &n);
		CHECK(n.checks == 1); /* the credential check, failed */
		ch_transcript_free();
		ch_plugin_close(&pl);
		json_decref(cred);
		free(other);
		printf(failures ? "%d checks failed\n" : "all checks passed\n", failures);
		return failures ? 1 : 0;
	}
	if (!strcmp(mode, "throttle")) {
		ch_call c;
		ch_call_init(&c, "check", "gcp-test", "us-central1", config, session);
		CHECK(pl.p->check(pl.p, &c.call) == BAR_ERETRY);
		CHECK(c.call.retry_after_ms == 1000);
		printf("throttled: %s: %s (retry after %d ms)\n", c.code, c.msg, c.call.retry_after_ms);
		ch_call_clear(&c);
	}
	if (!strcmp(mode, "deny")) {
		ch_call c;
		ch_call_init(&c, "check", "gcp-test", "us-central1", config, session);
		CHECK(pl.p->check(pl.p, &c.call) == BAR_EAUTH);
		CHECK(!strcmp(c.code, "forbidden") && strstr(c.msg, "compute.firewalls.list"));
		printf("denied: %s: %s\n", c.code, c.msg);
		ch_call_clear(&c);
		pl.p->close(pl.p, session);
		ch_transcript_each(counter, &n);
		CHECK(n.checks == 6); /* credential, reach and the four rights, one failed */
		ch_transcript_free();
		ch_plugin_close(&pl);
		json_decref(cred);
		printf(failures ? "%d checks failed\n" : "all checks passed\n", failures);
		return failures ? 1 : 0;
	}
	for (int round = 0; round < (!strcmp(mode, "refresh") ? 2 : 1); round++) {
		ch_call c;
		if (round)
			sleep(3); /* past half the 4 s lifetime: the session refreshes */
		ch_call_init(&c, "check", "gcp-test", "us-central1", config, session);
		CHECK(pl.p->check(pl.p, &c.call) == BAR_OK);
		if (c.n_errors)
			fprintf(stderr, "check: %s: %s\n", c.code, c.msg);
		ch_call_clear(&c);
	}
	{
		const char *what[] = {"regions", "specs", "images"};
		for (int i = 0; i < 3; i++) {
			ch_call c;
			bar_sink s = {0};
			int found = 0;

			ch_call_init(&c, "catalog", "gcp-test", "us-central1", config, session);
			CHECK(pl.p->catalog(pl.p, &c.call, what[i], &s) == BAR_OK);
			CHECK(s.n > 0);
			for (size_t k = 0; k < s.n; k++)
				if ((i == 0 && !strcmp(s.v[k].name, "us-central1") &&
				     strstr(s.v[k].attrs, "us-central1-a")) ||
				    (i == 1 && !strcmp(s.v[k].name, "e2-small") &&
				     strstr(s.v[k].attrs, "\"vcpu\":2")) ||
				    (i == 2 && strstr(s.v[k].name, "projects/debian-cloud/global/images/")))
					found = 1;
			CHECK(found);
			printf("catalog %s: %zu entries\n", what[i], s.n);
			ch_sink_clear(&s);
			ch_call_clear(&c);
		}
		ch_call c;
		bar_sink s = {0};
		ch_call_init(&c, "catalog", "gcp-test", "us-central1", config, session);
		CHECK(pl.p->catalog(pl.p, &c.call, "prices", &s) == BAR_ENOTSUP);
		ch_call_clear(&c);
	}
	if (!*mode) {
		const char *input = "{\"type\":\"sshkey\",\"name\":\"gen-1\",\"namespace\":\"t\","
		                    "\"attrs\":{\"publicKey\":null},\"refs\":{},\"tags\":"
		                    "{\"barista:address\":\"t/sshkey/gen-1\"}}";
		char path[] = "/tmp/gcp-key-XXXXXX", cmd[256], got[512] = "", del[512];
		ch_call c;
		bar_sink s = {0};
		json_t *a = NULL;
		int fd;

		ch_call_init(&c, "create", "gcp-test", "us-central1", config, session);
		c.call.idempotency_key = "5f0c8a1e-2b7d-4c3e-9a10-0123456789ab";
		CHECK(pl.p->create(pl.p, &c.call, "sshkey", input, &s) == BAR_OK);
		CHECK(s.n == 1 && s.n_secrets == 1);
		if (s.n == 1 && s.n_secrets == 1 && (fd = mkstemp(path)) >= 0) {
			FILE *f = fdopen(fd, "w"), *p;
			const char *pub;

			fputs(s.secrets[0].value, f);
			fclose(f);
			snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f %s 2>&1", path);
			p = popen(cmd, "r");
			if (p) {
				if (!fgets(got, sizeof(got), p))
					got[0] = 0;
				pclose(p);
			}
			unlink(path);
			got[strcspn(got, "\n")] = 0;
			a = json_loads(s.v[0].attrs, 0, NULL);
			pub = json_string_value(json_object_get(a, "publicKey"));
			/* ssh-keygen -y prints "type base64 comment" */
			CHECK(pub && strncmp(got, pub, strlen("ssh-ed25519 ") + 68) == 0);
			printf("ssh-keygen -y: %.40s...\n", got);
			snprintf(del, sizeof(del), "{\"type\":\"sshkey\",\"name\":\"gen-1\","
			         "\"system_id\":\"%s\"}", s.v[0].system_id);
		}
		ch_sink_clear(&s);
		ch_call_clear(&c);
		json_decref(a);
		ch_call_init(&c, "delete", "gcp-test", "us-central1", config, session);
		CHECK(pl.p->del(pl.p, &c.call, "sshkey", del) == BAR_OK);
		ch_call_clear(&c);
	}
	if (argc == 5 && atol(mode) > 0) {
		ch_call c;
		bar_sink s = {0};
		size_t want = (size_t)atol(argv[4]);

		ch_call_init(&c, "list", "gcp-test", "us-central1", config, session);
		CHECK(pl.p->list(pl.p, &c.call, "vm", &s) == BAR_OK);
		CHECK(s.n == want);
		for (size_t k = 0; k < s.n; k++)
			CHECK(!strcmp(s.v[k].status, "Running") && strstr(s.v[k].tags, "barista:address"));
		printf("list vm: %zu of %zu seeded\n", s.n, want);
		ch_sink_clear(&s);
		ch_call_clear(&c);
		/* another region sees none of them */
		ch_call_init(&c, "list", "gcp-test", "europe-west1", config, session);
		CHECK(pl.p->list(pl.p, &c.call, "vm", &s) == BAR_OK && s.n == 0);
		ch_sink_clear(&s);
		ch_call_clear(&c);
	}
	pl.p->close(pl.p, session);
	n.needle = pairs[3]; /* the service account's private key */
	ch_transcript_each(counter, &n);
	/* one token for the whole session (two when it outlived the first) */
	CHECK(n.tokens == (!strcmp(mode, "refresh") ? 2 : 1));
	CHECK(n.checks >= 6); /* credential, reach, four rights */
	CHECK(n.leaks == 0);
	ch_transcript_free();
	ch_plugin_close(&pl);
	json_decref(cred);
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	else
		printf("all checks passed\n");
	return failures ? 1 : 0;
}
