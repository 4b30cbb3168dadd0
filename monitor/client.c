/*
 * client.c - HTTP requests to a collector (see client.h).
 */
#include "client.h"
#include "util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX (256u << 20)
#define TIMEOUT_MS 30000L

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	return bar_buf_add(ud, p, size * n) < 0 ? 0 : size * n;
}

static int request(const char *method, const char *base, const char *path, const char *body,
                   const char *bearer, bar_buf *answer, long *status, char *why, size_t wsize)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	char *url = bar_printf("%s%s", base, path), *auth = NULL;
	CURLcode cc;

	*status = 0;
	if (!h) {
		free(url);
		snprintf(why, wsize, "out of memory");
		return -1;
	}
	if (bearer) {
		auth = bar_printf("Authorization: Bearer %s", bearer);
		hd = curl_slist_append(hd, auth);
	}
	if (body)
		hd = curl_slist_append(hd, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	if (auth) {
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	if (cc != CURLE_OK) {
		snprintf(why, wsize, "collector %s: %s (is `barista collector` running there?)", base,
		         curl_easy_strerror(cc));
		free(url);
		return -1;
	}
	free(url);
	if (*status < 200 || *status >= 300) {
		json_t *j = json_loadb(answer->data ? answer->data : "", answer->len, 0, NULL);
		const char *e = json_string_value(json_object_get(j, "error"));
		snprintf(why, wsize, "collector %s: HTTP %ld%s%s", base, *status, e ? ": " : "",
		         e ? e : "");
		json_decref(j);
		return -1;
	}
	return 0;
}

int bar_monitor_get(json_t **out, const char *base, const char *path, const char *bearer,
                    char *why, size_t wsize)
{
	bar_buf b = BAR_BUF_INIT(ANSWER_MAX);
	json_error_t je;
	long status;
	json_t *j;

	if (request("GET", base, path, NULL, bearer, &b, &status, why, wsize) < 0) {
		bar_buf_free(&b);
		return -1;
	}
	j = json_loadb(b.data ? b.data : "", b.len, 0, &je);
	bar_buf_free(&b);
	if (!j) {
		snprintf(why, wsize, "collector %s: the answer is not JSON (%s)", base, je.text);
		return -1;
	}
	*out = j;
	return 0;
}

int bar_monitor_send(const char *method, const char *base, const char *path,
                     const char *body, const char *bearer, char *why, size_t wsize)
{
	bar_buf b = BAR_BUF_INIT(1u << 20);
	long status;
	int rc = request(method, base, path, body, bearer, &b, &status, why, wsize);

	bar_buf_free(&b);
	return rc;
}

char *bar_monitor_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s ? s : "", 0), *copy;

	copy = bar_strdup(e ? e : "");
	curl_free(e);
	return copy;
}
