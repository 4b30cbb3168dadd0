/*
 * test_azure_parse.c - unit test of the azure driver's token request and response
 * parsers (registered as azure_unit in tests/azure.cmake).
 *
 * The token request is checked against the example request of Microsoft's
 * "OAuth 2.0 client credentials flow" page (Microsoft identity platform,
 * "First case: Access token request with a shared secret",
 * MicrosoftDocs/azure-docs articles/active-directory/develop/
 * v2-oauth2-client-creds-grant-flow.md): client_id
 * 535fb089-9ff3-47b6-9bfb-4f1264799865, scope
 * https://graph.microsoft.com/.default, client_secret sampleCredentia1s.
 * The parsers read the documented answers in tests/data/azure/responses/.
 */
#include "az.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                         \
	do {                                                                         \
		if (!(cond)) {                                                           \
			failures++;                                                          \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);           \
			fprintf(stderr, __VA_ARGS__);                                        \
			fputc('\n', stderr);                                                 \
		}                                                                        \
	} while (0)

static char *slurp(const char *dir, const char *name, size_t *n)
{
	char path[1024];
	FILE *f;
	char *buf;
	long len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*n = (size_t)len;
	return buf;
}

static void test_token_form(void)
{
	/* Microsoft's example, with the "Line breaks for clarity" joined */
	const char *want = "client_id=535fb089-9ff3-47b6-9bfb-4f1264799865"
	                   "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
	                   "&client_secret=sampleCredentia1s&grant_type=client_credentials";
	char *got = az_token_form("535fb089-9ff3-47b6-9bfb-4f1264799865", "sampleCredentia1s",
	                          "https://graph.microsoft.com/.default");

	CHECK(got && strcmp(got, want) == 0, "got %s", got ? got : "(null)");
	free(got);
	/* secrets as the portal makes them hold ~ . _ -: unreserved, kept;
	 * anything else is percent-encoded */
	got = az_token_form("c", "Qk28Q~vX3.4_6-i+K/=&", "s");
	CHECK(got && strcmp(got, "client_id=c&scope=s&client_secret=Qk28Q~vX3.4_6-i%2BK%2F%3D%26"
	                         "&grant_type=client_credentials") == 0,
	      "got %s", got ? got : "(null)");
	free(got);
}

static void test_parsers(const char *dir)
{
	char code[128], msg[800], tok[4096], status[32];
	size_t n;
	long exp = 0;
	char *b;
	json_t *j, *items;
	az_obs o;

	b = slurp(dir, "token.json", &n);
	CHECK(b && az_parse_token(b, n, tok, sizeof(tok), &exp) == 0 && exp == 3599 &&
	          strncmp(tok, "eyJ0eXAi", 8) == 0, "token");
	CHECK(az_parse_token(b, n, tok, 16, &exp) < 0, "a token over the buffer is refused");
	free(b);
	b = slurp(dir, "error-arm.json", &n);
	az_parse_error(b, n, 404, code, sizeof(code), msg, sizeof(msg));
	CHECK(strcmp(code, "ResourceNotFound") == 0 && strstr(msg, "myVM"), "%s %s", code, msg);
	CHECK(az_code_rc(code, 404) == BAR_ENOTFOUND, "ResourceNotFound");
	free(b);
	b = slurp(dir, "error-aad.json", &n);
	az_parse_error(b, n, 401, code, sizeof(code), msg, sizeof(msg));
	CHECK(strcmp(code, "invalid_client") == 0 && strncmp(msg, "AADSTS7000215", 13) == 0 &&
	          !strstr(msg, "Trace ID"), "%s %s", code, msg);
	CHECK(az_code_rc(code, 401) == BAR_EAUTH, "invalid_client");
	free(b);
	CHECK(az_code_rc("TooManyRequests", 429) == BAR_ERETRY, "429");
	CHECK(az_code_rc("OperationNotAllowed", 409) == BAR_ECONFLICT, "409");
	b = slurp(dir, "operation-failed.json", &n);
	CHECK(az_parse_operation(b, n, status, sizeof(status), code, sizeof(code), msg,
	                         sizeof(msg)) == 0 && strcmp(status, "Failed") == 0 &&
	          strcmp(code, "AllocationFailed") == 0, "%s %s", status, code);
	free(b);
	b = slurp(dir, "list-page.json", &n);
	CHECK(az_parse_page(b, n, &items, msg, sizeof(msg)) == 0 && json_array_size(items) == 1 &&
	          strstr(msg, "$skiptoken="), "page");
	json_decref(items);
	free(b);

	b = slurp(dir, "nsg.json", &n);
	j = json_loads(b, 0, NULL);
	CHECK(az_obs_nsg(&o, j) == 0 && strcmp(o.name, "web-sg") == 0 &&
	          strcmp(o.attrs, "{\"egress\":[{\"cidr\":\"0.0.0.0/0\",\"fromPort\":-1,\"protocol\":"
	                          "\"all\",\"toPort\":-1}],\"ingress\":[{\"cidr\":\"0.0.0.0/0\","
	                          "\"fromPort\":22,\"protocol\":\"tcp\",\"toPort\":22},{\"cidr\":"
	                          "\"10.0.0.0/8\",\"fromPort\":8000,\"protocol\":\"tcp\",\"toPort\":"
	                          "8080}],\"location\":\"koreacentral\",\"nativeStatus\":"
	                          "\"Succeeded\"}") == 0, "%s", o.attrs);
	az_obs_clear(&o);
	json_decref(j);
	free(b);

	b = slurp(dir, "vnet.json", &n);
	j = json_loads(b, 0, NULL);
	CHECK(az_obs_vnet(&o, j) == 0 && strcmp(o.status, "Available") == 0 &&
	          strcmp(o.tags, "{\"barista:address\":\"default/vnet/net1\","
	                         "\"barista:name/x\":\"v\"}") == 0, "%s", o.tags);
	az_obs_clear(&o);
	json_decref(j);
	free(b);

	{
		size_t n1, n2;
		char *bv = slurp(dir, "vm.json", &n), *bn = slurp(dir, "nic.json", &n1),
		     *bp = slurp(dir, "pip.json", &n2);
		json_t *vm = json_loads(bv, 0, NULL), *nic = json_loads(bn, 0, NULL),
		       *pip = json_loads(bp, 0, NULL);

		CHECK(az_obs_vm(&o, vm, nic, pip, NULL) == 0 && strcmp(o.status, "Suspended") == 0 &&
		          strcmp(o.name, "web-1") == 0 &&
		          strcmp(o.attrs, "{\"imageId\":\"Canonical:0001-com-ubuntu-server-jammy:"
		                          "22_04-lts-gen2:22.04.202411010\",\"labels\":{\"role\":"
		                          "\"web\"},\"location\":\"koreacentral\",\"nativeStatus\":"
		                          "\"PowerState/deallocated\",\"privateIp\":\"10.1.1.4\","
		                          "\"publicIp\":\"20.41.64.7\",\"specId\":\"Standard_B1s\","
		                          "\"zone\":\"1\"}") == 0 &&
		          strcmp(o.tags, "{\"barista:address\":\"default/vm/web-1\"}") == 0,
		      "%s %s %s", o.status, o.attrs, o.tags);
		az_obs_clear(&o);
		CHECK(az_obs_vm(&o, vm, NULL, NULL, "resume") == 0 && strcmp(o.status, "Suspended") == 0,
		      "%s", o.status);
		az_obs_clear(&o);
		json_decref(vm);
		json_decref(nic);
		json_decref(pip);
		free(bv);
		free(bn);
		free(bp);
	}
	{
		json_t *t = json_pack("{s:s,s:s}", "a/b?", "1", "x~y", "2"), *l = json_pack("{s:s}", "k", "v");
		json_t *enc = az_tags_encode(t, l), *dec = az_tags_decode(enc), *lab = az_labels_of(enc);

		CHECK(json_equal(dec, t) && json_equal(lab, l) &&
		          json_is_string(json_object_get(enc, "a~2Fb~3F")) &&
		          json_is_string(json_object_get(enc, "barista-label:k")), "tag round trip");
		json_decref(t);
		json_decref(l);
		json_decref(enc);
		json_decref(dec);
		json_decref(lab);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: az_test DATA_DIR\n");
		return 2;
	}
	test_token_form();
	test_parsers(argv[1]);
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
