/*
 * test_aws_sigv4.c - the kit's SigV4 signer (providers/kit/kit_sigv4.c)
 * against AWS's published test suite, copied into tests/data/aws/sigv4/
 * (see its README): for each case, sign request.txt with the context's
 * credentials and time and compare the canonical request, the string to
 * sign and the signature with the expected files.
 *
 *     test_aws_sigv4 DIR CASE...
 */
#include "kit_sigv4.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *dir, const char *name, const char *file)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, name, file);
	if (!(f = fopen(path, "rb")))
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static int same(const char *name, const char *what, const char *want, const char *got)
{
	if (strcmp(want, got) == 0)
		return 1;
	printf("not ok - %s: %s differs\n# want:\n%s\n# got:\n%s\n", name, what, want, got);
	return 0;
}

static int run_case(const char *dir, const char *name)
{
	char *ctx_text = slurp(dir, name, "context.json"), *req = slurp(dir, name, "request.txt");
	char *want_c = slurp(dir, name, "header-canonical-request.txt");
	char *want_s = slurp(dir, name, "header-string-to-sign.txt");
	char *want_sig = slurp(dir, name, "header-signature.txt");
	bar_kit_sigv4_header hs[16];
	bar_kit_sigv4_out out;
	bar_kit_sigv4_req r = {0};
	char method[16], target[512], date[17], bodyhash[65];
	unsigned char h[32];
	json_t *ctx = NULL;
	int ok = 0;
	size_t n = 0;

	if (!ctx_text || !req || !want_c || !want_s || !want_sig) {
		printf("not ok - %s: a file is missing\n", name);
		goto done;
	}
	chomp(want_c);
	chomp(want_s);
	chomp(want_sig);
	ctx = json_loads(ctx_text, 0, NULL);
	/* request.txt: "METHOD TARGET HTTP/1.1", header lines, blank, body */
	char *line = strtok(req, "\n");
	if (!line || sscanf(line, "%15s %511s", method, target) != 2)
		goto done;
	char *rest = line + strlen(line) + 1;
	char *body = strstr(rest, "\n\n");
	if (body) {
		*body = '\0';
		body += 2;
	} else {
		body = "";
	}
	for (char *l = strtok(rest, "\n"); l && n < 12; l = strtok(NULL, "\n")) {
		char *colon = strchr(l, ':');
		if (!colon)
			continue;
		*colon = '\0';
		hs[n++] = (bar_kit_sigv4_header){l, colon + 1};
	}
	/* the time, and what the context says the signer adds */
	const char *ts = json_string_value(json_object_get(ctx, "timestamp"));
	snprintf(date, sizeof(date), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", ts, ts + 5, ts + 8, ts + 11,
	         ts + 14, ts + 17);
	hs[n++] = (bar_kit_sigv4_header){"X-Amz-Date", date};
	json_t *cred = json_object_get(ctx, "credentials");
	const char *token = json_string_value(json_object_get(cred, "token"));
	if (token)
		hs[n++] = (bar_kit_sigv4_header){"X-Amz-Security-Token", token};
	if (json_is_true(json_object_get(ctx, "sign_body"))) {
		bar_kit_sha256(h, body, strlen(body));
		bar_kit_hex(bodyhash, h, 32);
		hs[n++] = (bar_kit_sigv4_header){"X-Amz-Content-Sha256", bodyhash};
	}
	char *q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	r.method = method;
	r.path = target;
	r.query = q;
	r.headers = hs;
	r.n_headers = n;
	r.payload = body;
	r.payload_len = strlen(body);
	r.amz_date = date;
	r.region = json_string_value(json_object_get(ctx, "region"));
	r.service = json_string_value(json_object_get(ctx, "service"));
	r.access_key_id = json_string_value(json_object_get(cred, "access_key_id"));
	r.secret_access_key = json_string_value(json_object_get(cred, "secret_access_key"));
	if (bar_kit_sigv4_sign(&out, &r) < 0) {
		printf("not ok - %s: the signer failed\n", name);
		bar_kit_sigv4_out_free(&out);
		goto done;
	}
	ok = same(name, "canonical request", want_c, out.canonical.p) &&
	     same(name, "string to sign", want_s, out.string_to_sign.p) &&
	     same(name, "signature", want_sig, out.signature);
	if (ok && !strstr(out.authorization.p, want_sig))
		ok = same(name, "authorization", want_sig, out.authorization.p);
	if (ok)
		printf("ok - %s\n", name);
	bar_kit_sigv4_out_free(&out);
done:
	json_decref(ctx);
	free(ctx_text);
	free(req);
	free(want_c);
	free(want_s);
	free(want_sig);
	return ok;
}

int main(int argc, char **argv)
{
	int failed = 0;
	char d[17];

	if (argc < 3) {
		fprintf(stderr, "usage: test_aws_sigv4 DIR CASE...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		failed += !run_case(argv[1], argv[i]);
	bar_kit_sigv4_date(d, 1440938160); /* 2015-08-30T12:36:00Z */
	if (strcmp(d, "20150830T123600Z") != 0) {
		printf("not ok - date: %s\n", d);
		failed++;
	}
	printf("%d failed\n", failed);
	return failed ? 1 : 0;
}
