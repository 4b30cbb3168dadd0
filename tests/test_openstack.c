/*
 * test_openstack.c - what the conformance suite does not reach of the
 * openstack driver:
 *
 *   test_openstack parse DATA_DIR
 *     the parsers (os_parse.c) on the services' documented response
 *     examples in tests/data/openstack (Keystone's token and catalogue,
 *     every service's error format, a Nova server, a Neutron security
 *     group), the tag encoding, the status table, and a locally made
 *     Ed25519 key pair checked with OpenSSH's own ssh-keygen;
 *   test_openstack double PLUGIN ENDPOINT DATA_DIR
 *     against the API double (seeded with VMs, small pages): check()'s
 *     reports, catalog() of regions, specs and images, list of every
 *     seeded VM across pages, and a token from an application credential.
 */
#include "host.h"
#include "os.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                      \
		}                                                                        \
	} while (0)

/* os.h's host, for os_keygen's kit calls (none need the host). */
static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "rb")))
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void test_token(const char *dir)
{
	size_t n;
	char *body = slurp(dir, "token.json", &n), why[128];
	os_catalog c;
	json_t *regions;

	CHECK(body != NULL);
	if (!body)
		return;
	CHECK(os_parse_token(&c, body, n, "RegionOne", "public", why, sizeof(why)) == 0);
	CHECK(strcmp(c.url[OS_COMPUTE], "http://example.com/compute/v2.1") == 0);
	CHECK(strcmp(c.url[OS_NETWORK], "http://example.com:9696") == 0); /* '/' trimmed */
	CHECK(c.url[OS_IMAGE][0] == '\0'); /* only in RegionTwo */
	CHECK(c.expires_unix == 1446865123); /* 2015-11-07T02:58:43Z */
	CHECK(strcmp(c.project_id, "a6944d763bf64ee6a275f1263fae0352") == 0);
	CHECK(os_parse_token(&c, body, n, "RegionTwo", "public", why, sizeof(why)) == 0);
	CHECK(strcmp(c.url[OS_IMAGE], "http://two.example.com/image") == 0);
	CHECK(c.url[OS_COMPUTE][0] == '\0');
	CHECK(os_parse_token(&c, body, n, "RegionOne", "internal", why, sizeof(why)) == 0);
	CHECK(strcmp(c.url[OS_COMPUTE], "http://example.com/compute/v2.1") == 0);
	CHECK(os_parse_token(&c, "{}", 2, "RegionOne", "public", why, sizeof(why)) < 0);
	regions = os_parse_regions(body, n, "image");
	CHECK(json_array_size(regions) == 1 &&
	      strcmp(json_string_value(json_array_get(regions, 0)), "RegionTwo") == 0);
	json_decref(regions);
	CHECK(os_parse_time("2026-12-02T04:10:00+00:00") == 1796184600);
	CHECK(os_parse_time("yesterday") == -1);
	free(body);
}

static void test_errors(const char *dir)
{
	static const struct {
		const char *file, *code, *msg;
	} cases[] = {
		{"error-nova.json", "itemNotFound", "Instance 9168b536"},
		{"error-nova-ratelimit.json", "overLimit", "rate-limited"},
		{"error-neutron.json", "NetworkNotFound", "could not be found"},
		{"error-keystone.json", "Unauthorized", "requires authentication"},
		{"error-glance.txt", "", "No image found with ID 2"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n;
		char *b = slurp(dir, cases[i].file, &n), code[64], msg[256];

		CHECK(b != NULL);
		if (!b)
			continue;
		os_parse_error(b, n, 404, code, sizeof(code), msg, sizeof(msg));
		if (strcmp(code, cases[i].code) != 0 || !strstr(msg, cases[i].msg)) {
			fprintf(stderr, "%s: code \"%s\" msg \"%s\"\n", cases[i].file, code, msg);
			failures++;
		}
		free(b);
	}
}

static void test_server(const char *dir)
{
	size_t n;
	char *b = slurp(dir, "server.json", &n);
	json_t *j = b ? json_loadb(b, n, 0, NULL) : NULL;
	os_server_obs o;

	CHECK(j != NULL);
	CHECK(os_server_observe(&o, j) == 0);
	CHECK(strcmp(o.status, "Running") == 0);
	CHECK(strcmp(o.id, "9168b536-cd40-4630-b43f-b259807c6e87") == 0);
	CHECK(o.attrs && strcmp(o.attrs, "{\"imageId\":\"70a599e0-31e7-49b7-b260-868f441e862b\","
	                        "\"keyName\":\"\",\"labels\":{},\"nativeStatus\":\"ACTIVE\","
	                        "\"privateIp\":\"192.168.1.30\",\"publicIp\":\"1.2.3.4\","
	                        "\"specId\":\"1\",\"zone\":\"nova\"}") == 0);
	CHECK(o.tags && strcmp(o.tags, "{\"My Server Name\":\"Apache1\"}") == 0);
	if (o.attrs)
		printf("# server attrs %s\n", o.attrs);
	os_server_obs_clear(&o);
	CHECK(os_server_observe(&o, json_object_get(j, "nothing")) < 0);
	json_decref(j);
	free(b);
	CHECK(strcmp(os_server_status("ACTIVE", "powering-off"), "Suspending") == 0);
	CHECK(strcmp(os_server_status("SHUTOFF", "powering-on"), "Resuming") == 0);
	CHECK(strcmp(os_server_status("SHUTOFF", NULL), "Suspended") == 0);
	CHECK(strcmp(os_server_status("BUILD", "spawning"), "Creating") == 0);
	CHECK(strcmp(os_server_status("HARD_REBOOT", NULL), "Rebooting") == 0);
	CHECK(strcmp(os_server_status("ACTIVE", "deleting"), "Terminating") == 0);
	CHECK(strcmp(os_server_status("SOFT_DELETED", NULL), "Terminated") == 0);
	CHECK(strcmp(os_server_status("ERROR", NULL), "Failed") == 0);
	CHECK(strcmp(os_server_status("MIGRATING", NULL), "Undefined") == 0);
}

static void test_rules_tags(const char *dir)
{
	size_t n;
	char *b = slurp(dir, "security-group.json", &n), *t, tag[300];
	json_t *j = b ? json_loadb(b, n, 0, NULL) : NULL, *sg = json_object_get(j, "security_group");
	json_t *obs = os_rules_observe(json_object_get(sg, "security_group_rules"));
	json_t *tags = os_tags_decode(json_object_get(sg, "tags"));

	t = json_dumps(obs, OS_JSON);
	/* the remote-group rule is not Barista's and is left out */
	CHECK(t && strcmp(t, "{\"egress\":[{\"cidr\":\"::/0\",\"fromPort\":-1,\"protocol\":\"all\","
	                  "\"toPort\":-1}],\"ingress\":[{\"cidr\":\"0.0.0.0/0\",\"fromPort\":22,"
	                  "\"protocol\":\"tcp\",\"toPort\":22}]}") == 0);
	free(t);
	t = json_dumps(tags, OS_JSON);
	CHECK(t && strcmp(t, "{\"barista:address\":\"default/securitygroup/web,sg\"}") == 0);
	free(t);
	CHECK(os_tag_encode(tag, sizeof(tag), "barista:address", "a,b%c=d") == 0);
	CHECK(strcmp(tag, "barista:address=a%2Cb%25c=d") == 0);
	{
		char big[300];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CHECK(os_tag_encode(tag, sizeof(tag), "k", big) < 0); /* Neutron's 255 */
	}
	json_decref(tags);
	tags = os_pubkey_tags("ssh-ed25519 AAAAC3Nza barista:address=ns/sshkey/k,barista:"
	                      "idempotency=8a1c%2C");
	t = json_dumps(tags, OS_JSON);
	CHECK(t && strcmp(t, "{\"barista:address\":\"ns/sshkey/k\",\"barista:idempotency\":"
	                  "\"8a1c,\"}") == 0);
	free(t);
	json_decref(tags);
	json_decref(obs);
	json_decref(j);
	free(b);
}

/* A key pair made locally: ssh-keygen derives the same public key from it. */
static void test_keygen(void)
{
	char *pub = NULL, *priv = NULL, path[] = "/tmp/bar-os-key-XXXXXX", cmd[128], line[512];
	int fd;
	FILE *p;

	CHECK(os_keygen(&pub, &priv) == 0);
	if (!pub || !priv)
		return;
	CHECK(strncmp(pub, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", 32) == 0);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, priv, strlen(priv)) == (ssize_t)strlen(priv));
		close(fd);
		snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f %s 2>&1", path);
		if ((p = popen(cmd, "r")) != NULL) {
			if (fgets(line, sizeof(line), p)) {
				line[strcspn(line, "\n")] = '\0';
				if (strncmp(line, pub, strlen(pub)) != 0) {
					fprintf(stderr, "ssh-keygen -y: %s\nwant: %s\n", line, pub);
					failures++;
				}
			} else {
				failures++;
			}
			pclose(p);
		}
		unlink(path);
	}
	bar_kit_wipe(priv, strlen(priv));
	free(priv);
	free(pub);
}

/* ---- against the double ---- */

static int n_checks, n_checks_ok;
static void count_check(bar_call *call, const char *check, int ok, const char *detail)
{
	n_checks++;
	n_checks_ok += ok != 0;
	ch_host.report_check(call, check, ok, detail);
}

static int last_retry_after;
static char last_code[128];

static int run(bar_provider *p, const char *op, const char *region, const char *config,
               void *session, const char *what, bar_sink *sink)
{
	ch_call c;
	int rc;

	ch_call_init(&c, op, "test", region, config, session);
	c.call.deadline_ms = bar_kit_now_ms() + 60000;
	if (strcmp(op, "check") == 0)
		rc = p->check(p, &c.call);
	else if (strcmp(op, "catalog") == 0)
		rc = p->catalog(p, &c.call, what, sink);
	else
		rc = p->list(p, &c.call, what, sink);
	if (rc)
		fprintf(stderr, "# %s %s: %d %s: %s\n", op, what ? what : "", rc, c.code, c.msg);
	last_retry_after = c.call.retry_after_ms;
	snprintf(last_code, sizeof(last_code), "%s", c.code);
	ch_call_clear(&c);
	return rc;
}


/* One CRUD call through the plugin; the observation's attrs into attrs[]. */
static int crud(bar_provider *p, const char *op, const char *type, const char *input,
                const char *config, void *session, char *id, size_t idsize, char *attrs,
                size_t asize)
{
	bar_sink sink = {0};
	ch_call c;
	int rc;

	ch_call_init(&c, op, "test", "RegionOne", config, session);
	c.call.deadline_ms = bar_kit_now_ms() + 60000;
	c.call.idempotency_key = "6c0d3c1e-2f9b-4d7a-9e1f-5a4b3c2d1e0f";
	if (strcmp(op, "create") == 0)
		rc = p->create(p, &c.call, type, input, &sink);
	else if (strcmp(op, "poll") == 0)
		rc = p->poll(p, &c.call, type, input, &sink);
	else
		rc = p->del(p, &c.call, type, input);
	if (rc)
		fprintf(stderr, "# %s %s: %d %s: %s\n", op, type, rc, c.code, c.msg);
	if (sink.n && id)
		snprintf(id, idsize, "%s", sink.v[0].system_id);
	if (sink.n && attrs)
		snprintf(attrs, asize, "%s", sink.v[0].attrs);
	ch_sink_clear(&sink);
	ch_call_clear(&c);
	return rc;
}

/* A VM in the second subnet of a VNet with a router: its port there, its
 * floating address, and everything gone after the deletes. */
static void vm_world(bar_provider *p, const char *config, void *session)
{
	char net[64] = "", sg[64] = "", key[300] = "", img[64] = "", vm[64] = "";
	char netattrs[2048] = "", vmattrs[2048] = "", in[8192];
	const char *tags = "\"tags\":{\"barista:address\":\"t/x/w\","
	                   "\"barista:idempotency\":\"6c0d3c1e-2f9b-4d7a-9e1f-5a4b3c2d1e0f\"}";
	int rc, polls = 0;

	snprintf(in, sizeof(in), "{\"name\":\"w-net\",\"attrs\":{\"cidr\":\"10.9.0.0/16\","
	         "\"subnets\":[{\"name\":\"a\",\"cidr\":\"10.9.1.0/24\"},{\"name\":\"b\","
	         "\"cidr\":\"10.9.2.0/24\"}]},%s}", tags);
	CHECK(crud(p, "create", "vnet", in, config, session, net, sizeof(net), netattrs,
	           sizeof(netattrs)) == BAR_OK);
	CHECK(strstr(netattrs, "\"routerId\":\"\"") == NULL); /* the double has "public" */
	snprintf(in, sizeof(in), "{\"name\":\"w-sg\",\"attrs\":{\"ingress\":[],\"egress\":[]},"
	         "%s}", tags);
	CHECK(crud(p, "create", "securitygroup", in, config, session, sg, sizeof(sg), NULL, 0) ==
	      BAR_OK);
	snprintf(in, sizeof(in), "{\"name\":\"w-key\",\"attrs\":{\"publicKey\":null},%s}", tags);
	CHECK(crud(p, "create", "sshkey", in, config, session, key, sizeof(key), NULL, 0) == BAR_OK);
	snprintf(in, sizeof(in), "{\"name\":\"w-img\",\"attrs\":{\"imageId\":\"cirros-0.6.2\"},"
	         "%s}", tags);
	CHECK(crud(p, "create", "image", in, config, session, img, sizeof(img), NULL, 0) == BAR_OK);
	snprintf(in, sizeof(in), "{\"name\":\"w-vm\",\"attrs\":{\"subnet\":\"b\"},"
	         "\"refs\":{\"vnet\":{\"system_id\":\"%s\",\"attrs\":%s},"
	         "\"securityGroups\":[{\"system_id\":\"%s\"}],\"sshKey\":{\"system_id\":\"%s\"},"
	         "\"image\":{\"system_id\":\"%s\"},\"spec\":{\"system_id\":\"1\"}},%s}",
	         net, netattrs, sg, key, img, tags);
	CHECK(crud(p, "create", "vm", in, config, session, vm, sizeof(vm), vmattrs,
	           sizeof(vmattrs)) == BAR_OK);
	printf("# vm %s\n", vmattrs);
	CHECK(strstr(vmattrs, "\"privateIp\":\"10.9.2.") != NULL);
	CHECK(strstr(vmattrs, "\"publicIp\":\"203.0.113.") != NULL);
	snprintf(in, sizeof(in), "{\"name\":\"w-vm\",\"system_id\":\"%s\",%s}", vm, tags);
	CHECK(crud(p, "delete", "vm", in, config, session, NULL, 0, NULL, 0) == BAR_OK);
	while ((rc = crud(p, "poll", "vm", in, config, session, NULL, 0, NULL, 0)) == BAR_OK &&
	       polls++ < 50)
		usleep(100 * 1000);
	CHECK(rc == BAR_ENOTFOUND);
	snprintf(in, sizeof(in), "{\"name\":\"w-key\",\"system_id\":\"%s\",%s}", key, tags);
	CHECK(crud(p, "delete", "sshkey", in, config, session, NULL, 0, NULL, 0) == BAR_OK);
	snprintf(in, sizeof(in), "{\"name\":\"w-sg\",\"system_id\":\"%s\",%s}", sg, tags);
	CHECK(crud(p, "delete", "securitygroup", in, config, session, NULL, 0, NULL, 0) == BAR_OK);
	/* the port and floating IP went with the VM, or this is NetworkInUse */
	snprintf(in, sizeof(in), "{\"name\":\"w-net\",\"system_id\":\"%s\",%s}", net, tags);
	CHECK(crud(p, "delete", "vnet", in, config, session, NULL, 0, NULL, 0) == BAR_OK);
}

/* POST ENDPOINT/_double/throttle?n=N: the double's next N requests are
 * rate-limited (413 overLimit, Retry-After: 1). */
static void throttle(const char *endpoint, int n)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "curl -s -X POST '%s/_double/throttle?n=%d'", endpoint, n);
	CHECK(system(cmd) == 0);
}

static int double_tests(const char *plugin, const char *endpoint, const char *dir)
{
	static const char *const creds[] = {"username", "ci-operator-4821", "password",
	                                    "Zq3vN8rT2wLk5pXs9dFh", "user_domain_name", "Default",
	                                    "project_name", "ci-project-7f3a",
	                                    "project_domain_name", "Default", NULL};
	static const char *const appcred[] = {"application_credential_id",
	                                      "4f1c2a9e8b7d4c3fa6e5d2c1b0a99887",
	                                      "application_credential_secret",
	                                      "Kp7Rw2Zt9Qm4Vx8Ln3Hs6Jd1Fg5Bc0Ay", NULL};
	static const char *const wrong[] = {"username", "ci-operator-4821", "password", "nope",
	                                    "project_name", "ci-project-7f3a", NULL};
	bar_host_api host = ch_host;
	ch_plugin pl = {0};
	char *err = NULL, config[512];
	bar_sink sink = {0};
	ch_call oc;
	void *session = NULL;

	(void)dir;
	host.report_check = count_check;
	snprintf(config, sizeof(config), "{\"authUrl\":\"%s/identity/v3\"}", endpoint);
	if (ch_plugin_open(&pl, plugin, &err) < 0 || ch_plugin_init(&pl, &host, &err) < 0) {
		fprintf(stderr, "%s\n", err ? err : "cannot load the plugin");
		free(err);
		return 1;
	}
	ch_credentials_set(creds);
	ch_call_init(&oc, "open", "test", "RegionOne", config, NULL);
	CHECK(pl.p->open(pl.p, &oc.call, &session) == BAR_OK);
	ch_call_clear(&oc);

	CHECK(run(pl.p, "check", "RegionOne", config, session, NULL, NULL) == BAR_OK);
	printf("# check: %d of %d passed\n", n_checks_ok, n_checks);
	CHECK(n_checks >= 7 && n_checks_ok == n_checks);

	CHECK(run(pl.p, "catalog", "RegionOne", config, session, "regions", &sink) == BAR_OK);
	CHECK(sink.n == 2 && strcmp(sink.v[0].name, "RegionOne") == 0 &&
	      strcmp(sink.v[1].name, "RegionTwo") == 0);
	ch_sink_clear(&sink);
	CHECK(run(pl.p, "catalog", "RegionOne", config, session, "specs", &sink) == BAR_OK);
	CHECK(sink.n == 5 && strcmp(sink.v[1].name, "m1.small") == 0 &&
	      strcmp(sink.v[1].attrs, "{\"diskGiB\":20,\"memoryMiB\":2048,\"vcpu\":1}") == 0);
	ch_sink_clear(&sink);
	CHECK(run(pl.p, "catalog", "RegionOne", config, session, "images", &sink) == BAR_OK);
	CHECK(sink.n == 3);
	ch_sink_clear(&sink);
	CHECK(run(pl.p, "catalog", "RegionOne", config, session, "planets", &sink) ==
	      BAR_ENOTSUP);

	/* the double holds 250 seeded VMs in RegionOne and pages by 100 */
	CHECK(run(pl.p, "list", "RegionOne", config, session, "vm", &sink) == BAR_OK);
	printf("# listed %zu seeded VMs\n", sink.n);
	CHECK(sink.n == 250);
	for (size_t i = 0; i < sink.n; i++)
		CHECK(strcmp(sink.v[i].status, "Running") == 0);
	ch_sink_clear(&sink);
	CHECK(run(pl.p, "list", "RegionTwo", config, session, "vm", &sink) == BAR_OK);
	CHECK(sink.n == 0);
	ch_sink_clear(&sink);
	vm_world(pl.p, config, session);

	/* Nova's rate limit: BAR_ERETRY, its code, Retry-After honoured */
	throttle(endpoint, 1);
	CHECK(run(pl.p, "list", "RegionOne", config, session, "vm", &sink) == BAR_ERETRY);
	CHECK(last_retry_after == 1000 && strcmp(last_code, "overLimit") == 0);
	ch_sink_clear(&sink);

	/* tokens live 3 s here: the driver takes a new one before the old one
	 * expires (an expired token is a violation of the double) */
	for (int i = 0; i < 4; i++) {
		usleep(900 * 1000);
		CHECK(run(pl.p, "list", "RegionOne", config, session, "sshkey", &sink) == BAR_OK);
		ch_sink_clear(&sink);
	}
	pl.p->close(pl.p, session);

	/* an application credential; then a wrong password: EAUTH, check fails */
	ch_credentials_set(appcred);
	n_checks = n_checks_ok = 0;
	CHECK(run(pl.p, "check", "RegionOne", config, NULL, NULL, NULL) == BAR_OK);
	CHECK(n_checks_ok == n_checks && n_checks > 0);
	ch_credentials_set(wrong);
	n_checks = n_checks_ok = 0;
	CHECK(run(pl.p, "check", "RegionOne", config, NULL, NULL, NULL) == BAR_EAUTH);
	CHECK(n_checks == 1 && n_checks_ok == 0);
	ch_credentials_set(NULL);
	ch_plugin_close(&pl);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "parse") == 0) {
		test_token(argv[2]);
		test_errors(argv[2]);
		test_server(argv[2]);
		test_rules_tags(argv[2]);
		test_keygen();
	} else if (argc == 5 && strcmp(argv[1], "double") == 0) {
		if (double_tests(argv[2], argv[3], argv[4]))
			return 1;
	} else {
		fprintf(stderr, "usage: test_openstack parse DATA_DIR | double PLUGIN ENDPOINT DIR\n");
		return 2;
	}
	printf("%s: %d failure(s)\n", argv[1], failures);
	return failures ? 1 : 0;
}
