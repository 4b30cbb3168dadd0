/*
 * test_overlay.c - unit checks of the overlay network's host side
 * (planner/overlay.c: addresses, X25519 keys against RFC 7748's test
 * vector, the overlay file's exact text) and of the agent side's refusal of
 * malformed files (runtime/agent/overlay.c).  The real tunnels are
 * tests/overlay_check.py's.
 */
#include "testutil.h"
#include "overlay.h"
#include "planner_int.h"
#include "keystore.h"

#include <sys/stat.h>

#include <openssl/evp.h>

static void check_addr(const char *cidr, size_t index, const char *want)
{
	char out[16] = "untouched";
	int rc = bar_overlay_addr(out, cidr, index);

	if (want) {
		CHECK(rc == 0);
		CHECK(strcmp(out, want) == 0);
		if (strcmp(out, want) != 0)
			fprintf(stderr, "  %s #%zu: got %s, want %s\n", cidr, index, out, want);
	} else {
		CHECK(rc == -1);
	}
}

static void test_addr(void)
{
	check_addr("10.250.0.0/16", 0, "10.250.0.1");
	check_addr("10.250.0.0/16", 255, "10.250.1.0");
	check_addr("10.250.0.0/16", 65533, "10.250.255.254");
	check_addr("10.250.0.0/16", 65534, NULL); /* would be the broadcast */
	check_addr("192.168.7.16/28", 0, "192.168.7.17");
	check_addr("192.168.7.16/28", 13, "192.168.7.30");
	check_addr("192.168.7.16/28", 14, NULL);
	check_addr("10.1.2.3/24", 0, "10.1.2.1"); /* host bits are ignored */
	check_addr("10.0.0.0/31", 0, NULL);
	check_addr("10.0.0.0/33", 0, NULL);
	check_addr("10.0.0/16", 0, NULL);
	check_addr("nonsense", 0, NULL);
	CHECK(bar_overlay_prefix("10.250.0.0/16") == 16);
	CHECK(bar_overlay_prefix("10.250.0.0") == -1);
}

static void hex_to_b64(char out[45], const char *hex)
{
	unsigned char raw[32];

	for (int i = 0; i < 32; i++) {
		unsigned v;

		sscanf(hex + 2 * i, "%2x", &v);
		raw[i] = (unsigned char)v;
	}
	EVP_EncodeBlock((unsigned char *)out, raw, 32);
}

static void test_keys(void)
{
	char priv[45], pub[45], priv2[45], pub2[45], derived[45], want[45];
	unsigned char raw[48];

	/* RFC 7748 section 6.1: Alice's key pair */
	hex_to_b64(priv, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	hex_to_b64(want, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	CHECK(bar_overlay_pubkey(derived, priv) == 0);
	CHECK(strcmp(derived, want) == 0);

	CHECK(bar_overlay_keypair(priv, pub) == 0);
	CHECK(bar_overlay_keypair(priv2, pub2) == 0);
	CHECK(strlen(priv) == 44 && strlen(pub) == 44 && priv[43] == '=' && pub[43] == '=');
	CHECK(strcmp(priv, priv2) != 0 && strcmp(pub, pub2) != 0);
	CHECK(bar_overlay_pubkey(derived, priv) == 0);
	CHECK(strcmp(derived, pub) == 0);
	CHECK(EVP_DecodeBlock(raw, (unsigned char *)priv, 44) == 33);
	CHECK((raw[0] & 7) == 0 && (raw[31] & 128) == 0 && (raw[31] & 64) == 64); /* clamped */

	strcpy(derived, "untouched");
	CHECK(bar_overlay_pubkey(derived, "short") == -1);
	CHECK(bar_overlay_pubkey(derived, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == -1);
	CHECK(bar_overlay_pubkey(derived, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*=") == -1);
	CHECK(bar_overlay_pubkey(derived, NULL) == -1);
	CHECK(strcmp(derived, "untouched") == 0);
}

static const char PRIV[] = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
static const char PUB_B[] = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

static void test_config(void)
{
	const bar_overlay_peer peers[] = {
		{ .name = "web-b-1", .pubkey = PUB_B, .overlay_ip = "10.250.0.2",
		  .endpoint = "203.0.113.9:51820", .private_ip = "172.16.1.4" },
		{ .name = "web-a-2", .pubkey = NULL, .overlay_ip = "10.250.0.3",
		  .endpoint = NULL, .private_ip = "192.168.1.3", .same_net = 1 },
	};
	const char *want =
		"# barista overlay of VM web-a-1 (docs/overlay.md); holds its private key\n"
		"interface=bar0\n"
		"address=10.250.0.1/16\n"
		"port=51820\n"
		"private_key=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"
		"\n"
		"peer=web-b-1\n"
		"public_key=xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n"
		"endpoint=203.0.113.9:51820\n"
		"allowed_ip=10.250.0.2/32\n"
		"\n"
		"peer=web-a-2\n"
		"route=10.250.0.3/32 via 192.168.1.3\n";
	char *text = bar_overlay_config("web-a-1", PRIV, "10.250.0.1", 16, 51820, peers, 2);
	bar_overlay_peer bad;

	CHECK(text && strcmp(text, want) == 0);
	if (text && strcmp(text, want) != 0)
		fprintf(stderr, "got:\n%s\n", text);
	bar_overlay_config_free(text);

	text = bar_overlay_config("web-a-1", PRIV, "10.250.0.1", 16, 51820, NULL, 0);
	CHECK(text && !strstr(text, "peer="));
	bar_overlay_config_free(text);

	CHECK(!bar_overlay_config("web\na", PRIV, "10.250.0.1", 16, 51820, NULL, 0));
	CHECK(!bar_overlay_config("web-a-1", "short", "10.250.0.1", 16, 51820, NULL, 0));
	CHECK(!strstr(bar_error_last(), "short")); /* the key is never in a message */
	CHECK(!bar_overlay_config("web-a-1", PRIV, "10.250.0.1", 16, 0, NULL, 0));
	CHECK(!bar_overlay_config("web-a-1", PRIV, "10.250.0.1", 0, 51820, NULL, 0));
	bad = peers[1];
	bad.private_ip = NULL;
	CHECK(!bar_overlay_config("web-a-1", PRIV, "10.250.0.1", 16, 51820, &bad, 1));
	CHECK(strstr(bar_error_last(), "web-a-2") != NULL);
	bad = peers[0];
	bad.endpoint = NULL;
	CHECK(!bar_overlay_config("web-a-1", PRIV, "10.250.0.1", 16, 51820, &bad, 1));
	bad = peers[0];
	bad.name = "x\ny";
	CHECK(!bar_overlay_config("web-a-1", PRIV, "10.250.0.1", 16, 51820, &bad, 1));
}

/* The file of each VM of an MCI from the VM list: addresses by order,
 * same-net peers by route, public addresses as endpoints when known. */
static void test_config_for(void)
{
	const bar_overlay_vm vms[] = {
		{ "m-a-1", "aws-seoul", "net1", "198.51.100.7", "10.0.1.2", PUB_B },
		{ "m-b-1", "gcp-tokyo", "net1", NULL, "10.1.1.2", PUB_B },
		{ "m-a-2", "aws-seoul", "net1", "198.51.100.8", "10.0.1.3", PUB_B },
		{ "m-a-3", "aws-seoul", "net2", "198.51.100.9", "10.0.2.2", PUB_B },
	};
	char *text = bar_overlay_config_for(vms, 4, 0, PRIV, "10.250.0.0/16", 51820);

	CHECK(text != NULL);
	if (text) {
		CHECK(strstr(text, "address=10.250.0.1/16\n") != NULL);
		CHECK(strstr(text, "peer=m-b-1\npublic_key=" ) != NULL);
		CHECK(strstr(text, "endpoint=10.1.1.2:51820\nallowed_ip=10.250.0.2/32\n") != NULL);
		CHECK(strstr(text, "peer=m-a-2\nroute=10.250.0.3/32 via 10.0.1.3\n") != NULL);
		CHECK(strstr(text, "endpoint=198.51.100.9:51820\nallowed_ip=10.250.0.4/32\n") != NULL);
		CHECK(!strstr(text, "peer=m-a-1"));
	}
	bar_overlay_config_free(text);
	text = bar_overlay_config_for(vms, 4, 3, PRIV, "10.250.0.0/30", 51820);
	CHECK(text == NULL); /* four VMs do not fit in a /30 */
	CHECK(bar_overlay_config_for(vms, 4, 4, PRIV, "10.250.0.0/16", 51820) == NULL);
}

/* Overlay keys live in the key store: made once, kept, renewed when fresh. */
static void test_key_store(void)
{
	char dir[] = "/tmp/test_overlay_keys.XXXXXX", keys[256], pub1[45], pub2[45], pub3[45];
	char priv[45], derived[45], *path, *cmd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	CHECK(bar_overlay_key_ensure(pub1, priv, keys, "mci/web/vm/web-a-1", 0) == 0);
	CHECK(bar_overlay_pubkey(derived, priv) == 0 && strcmp(derived, pub1) == 0);
	CHECK(bar_overlay_key_ensure(pub2, NULL, keys, "mci/web/vm/web-a-1", 0) == 0);
	CHECK(strcmp(pub1, pub2) == 0); /* kept */
	CHECK(bar_overlay_key_ensure(pub3, NULL, keys, "mci/web/vm/web-a-1", 1) == 0);
	CHECK(strcmp(pub1, pub3) != 0); /* re-created VM: new key */
	CHECK(bar_overlay_key_ensure(pub2, NULL, keys, "mci/web/vm/web-a-1", 0) == 0);
	CHECK(strcmp(pub2, pub3) == 0);
	path = bar_keystore_path(keys, "mci/web/vm/web-a-1", BAR_OVERLAY_KEY_FIELD);
	{
		struct stat st;

		CHECK(path && stat(path, &st) == 0 && (st.st_mode & 077) == 0);
	}
	free(path);
	cmd = bar_printf("rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	free(cmd);
}

/* The agent refuses a malformed file before touching anything. */
static void agent_refuses(const char *dir, const char *text, const char *want)
{
	char path[512], why[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/overlay.conf", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	CHECK(bar_overlay_apply(path, dir, why, sizeof(why)) == -1);
	CHECK(strstr(why, want) != NULL);
	if (!strstr(why, want))
		fprintf(stderr, "  why: \"%s\", want \"%s\"\n", why, want);
	CHECK(!strstr(why, PRIV));
	unlink(path);
}

static void test_agent_parse(void)
{
	char dir[] = "/tmp/test_overlay.XXXXXX", json[256];
	const char *head = "interface=bar0\naddress=10.250.0.1/16\nport=51820\n";

	CHECK(mkdtemp(dir) != NULL);
	agent_refuses(dir, "interface=bar0\naddress=10.250.0.1/16\nport=51820\n",
	              "private_key are required");
	agent_refuses(dir, "interface=bar0\ncolour=blue\n", "line 2: unknown key \"colour\"");
	agent_refuses(dir, "interface=bar0\naddress=10.250.0.1\n", "line 2: address");
	agent_refuses(dir, "interface=bar0\nport=70000\n", "line 2: port");
	agent_refuses(dir, "interface=bar0\nprivate_key=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm=\n",
	              "line 2: private_key is not a WireGuard key");
	agent_refuses(dir, "interface=Bar 0\n", "line 1: bad interface name");
	{
		char text[1024];

		snprintf(text, sizeof(text), "%sprivate_key=%s\npeer=b\npublic_key=%s\n", head,
		         PRIV, PUB_B);
		agent_refuses(dir, text, "peer b needs public_key and allowed_ip");
		snprintf(text, sizeof(text), "%sprivate_key=%s\npeer=b\nendpoint=1.2.3.4\n", head,
		         PRIV);
		agent_refuses(dir, text, "line 6: peer b: endpoint must be ip:port");
		snprintf(text, sizeof(text), "%sprivate_key=%s\npeer=c\nroute=10.250.0.3/24 via x\n",
		         head, PRIV);
		agent_refuses(dir, text, "line 6: peer c: route must be");
		snprintf(text, sizeof(text), "%sprivate_key=%s\nno equals sign\n", head, PRIV);
		agent_refuses(dir, text, "line 5: expected key=value");
		/* blank lines and comments count in line numbers */
		snprintf(text, sizeof(text), "# c\n\n%sprivate_key=%s\n\n\npeer=b\nbad=1\n", head,
		         PRIV);
		agent_refuses(dir, text, "line 10: peer b: unknown key \"bad\"");
	}
	{
		char why[256] = "";

		CHECK(bar_overlay_apply("/nonexistent/overlay.conf", dir, why, sizeof(why)) == -1);
		CHECK(strstr(why, "cannot open /nonexistent/overlay.conf") != NULL);
	}
	{
		/* what bar_overlay_config writes, the agent reads */
		const bar_overlay_peer peers[] = {
			{ .name = "b", .pubkey = PUB_B, .overlay_ip = "10.250.0.2",
			  .endpoint = "203.0.113.9:51820" },
			{ .name = "c", .overlay_ip = "10.250.0.3", .private_ip = "10.0.0.3",
			  .same_net = 1 },
		};
		char *text = bar_overlay_config("a", PRIV, "10.250.0.1", 16, 51820, peers, 2);
		char why[256] = "";

		CHECK(text && bar_overlay_check(text, strlen(text), why, sizeof(why)) == 0);
		CHECK(bar_overlay_check("interface=bar0\n", 15, why, sizeof(why)) == -1);
		bar_overlay_config_free(text);
	}
	CHECK(bar_overlay_status(json, sizeof(json), "barnone9") == -1);
	CHECK(bar_overlay_status(json, sizeof(json), "../../etc") == -1);
	rmdir(dir);
}

int main(void)
{
	test_addr();
	test_keys();
	test_config();
	test_config_for();
	test_key_store();
	test_agent_parse();
	if (test_failures) {
		fprintf(stderr, "test_overlay: %d check(s) failed\n", test_failures);
		return 1;
	}
	printf("test_overlay: all checks passed\n");
	return 0;
}
