/*
 * alarm_notify.c - delivering an alert group's notification to a receiver
 * (libcurl): a webhook gets Alertmanager's webhook payload (version 4) as
 * is; Slack gets its incoming-webhook format ({"text": ...}); e-mail goes
 * over SMTP (MAIL FROM / RCPT TO, a plain-text message); an Alertmanager
 * gets the alerts through its v2 API (POST /api/v2/alerts, the
 * postableAlerts of its OpenAPI spec), which then groups and routes them by
 * its own configuration.
 *
 * Secrets (a webhook's bearer token, Slack's URL, SMTP's password) are
 * resolved from the receiver's credential reference at each delivery (the
 * credential cache keeps that cheap) and never appear in errors.
 */
#include "collector_int.h"
#include "credential.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEND_TIMEOUT_MS 15000

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* POST body (JSON) to url; 0 on 2xx, else -1 with why (no URL in it: a
 * Slack URL is a secret). */
static int post_json(const char *url, const char *body, const char *bearer, const char *what,
                     char *why, size_t wsize)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	char auth[1100];
	long status = 0;
	CURLcode cc;

	if (!h) {
		snprintf(why, wsize, "out of memory");
		return -1;
	}
	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, "User-Agent: barista-collector/" BAR_VERSION);
	if (bearer && *bearer && strlen(bearer) < 1000) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
		hd = curl_slist_append(hd, auth);
		memset(auth, 0, sizeof(auth));
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)SEND_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK) {
		snprintf(why, wsize, "%s: %s", what, curl_easy_strerror(cc));
		return -1;
	}
	if (status < 200 || status >= 300) {
		snprintf(why, wsize, "%s answered HTTP %ld", what, status);
		return -1;
	}
	return 0;
}

/* One line per alert: "[FIRING] high-cpu vm=web-1 cpu.usage > 80 (now 93)". */
static void text_lines(bar_buf *b, const json_t *msg)
{
	json_t *alerts = json_object_get(msg, "alerts"), *a;
	size_t i;

	json_array_foreach(alerts, i, a) {
		json_t *l = json_object_get(a, "labels");
		const char *vm = jstr(l, "vm");
		bar_buf_printf(b, "[%s] %s%s%s%s%s: %s\n",
		               !strcmp(jstr(a, "status"), "firing") ? "FIRING" : "RESOLVED",
		               jstr(l, "alarm"), *jstr(l, "mci") ? " mci=" : "", jstr(l, "mci"),
		               *vm ? " vm=" : "", vm, jstr(json_object_get(a, "annotations"), "summary"));
	}
}

static int send_slack(const json_t *msg, const bar_cred *cred, char *why, size_t wsize)
{
	const char *url = cred ? bar_cred_get(cred, "url") : NULL;
	bar_buf text = BAR_BUF_INIT(0);
	json_t *body;
	char *s;
	int rc;

	if (!url) {
		snprintf(why, wsize, "slack: the credential has no field url");
		return -1;
	}
	text_lines(&text, msg);
	body = json_pack("{s:s}", "text", text.data ? text.data : "");
	s = json_dumps(body, JSON_COMPACT);
	rc = post_json(url, s, NULL, "slack", why, wsize);
	free(s);
	json_decref(body);
	bar_buf_free(&text);
	return rc;
}

static int send_alertmanager(const json_t *receiver, const json_t *msg, char *why,
                             size_t wsize)
{
	json_t *out = json_array(), *a;
	char url[1200], *s;
	size_t i;
	int rc;

	json_array_foreach(json_object_get(msg, "alerts"), i, a) {
		json_t *pa = json_pack("{s:O,s:O,s:O}", "labels", json_object_get(a, "labels"),
		                       "annotations", json_object_get(a, "annotations"), "startsAt",
		                       json_object_get(a, "startsAt"));
		/* a resolved alert is sent with its end: Alertmanager resolves it */
		if (!strcmp(jstr(a, "status"), "resolved"))
			json_object_set(pa, "endsAt", json_object_get(a, "endsAt"));
		json_array_append_new(out, pa);
	}
	snprintf(url, sizeof(url), "%s/api/v2/alerts", jstr(receiver, "url"));
	s = json_dumps(out, JSON_COMPACT);
	rc = post_json(url, s, NULL, "alertmanager", why, wsize);
	free(s);
	json_decref(out);
	return rc;
}

typedef struct mail {
	const char *data;
	size_t len, pos;
} mail;

static size_t mail_read(char *p, size_t size, size_t n, void *ud)
{
	mail *m = ud;
	size_t k = size * n < m->len - m->pos ? size * n : m->len - m->pos;

	memcpy(p, m->data + m->pos, k);
	m->pos += k;
	return k;
}

static int send_email(const json_t *receiver, const json_t *msg, const bar_cred *cred,
                      char *why, size_t wsize)
{
	CURL *h = curl_easy_init();
	struct curl_slist *rcpt = NULL;
	bar_buf body = BAR_BUF_INIT(0);
	json_t *to = json_object_get(receiver, "to"), *v;
	const char *user = cred ? bar_cred_get(cred, "username") : NULL;
	const char *pass = cred ? bar_cred_get(cred, "password") : NULL;
	char from[400], date[64];
	time_t now = time(NULL);
	struct tm tm;
	mail m;
	size_t i;
	CURLcode cc;

	if (!h) {
		snprintf(why, wsize, "out of memory");
		return -1;
	}
	snprintf(from, sizeof(from), "<%s>", jstr(receiver, "from"));
	json_array_foreach(to, i, v) {
		char addr[400];
		snprintf(addr, sizeof(addr), "<%s>", json_string_value(v));
		rcpt = curl_slist_append(rcpt, addr);
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	bar_buf_printf(&body, "Date: %s\r\nFrom: %s\r\nTo: ", date, from);
	json_array_foreach(to, i, v)
		bar_buf_printf(&body, "%s<%s>", i ? ", " : "", json_string_value(v));
	bar_buf_printf(&body, "\r\nSubject: [%s] Barista alarm %s\r\n"
	               "Content-Type: text/plain; charset=utf-8\r\n\r\n",
	               !strcmp(jstr(msg, "status"), "firing") ? "FIRING" : "RESOLVED",
	               jstr(msg, "groupKey"));
	{
		bar_buf text = BAR_BUF_INIT(0);
		text_lines(&text, msg);
		/* dot-stuffing is libcurl's; CRLF line ends are SMTP's */
		for (const char *p = text.data ? text.data : ""; *p; p++) {
			if (*p == '\n')
				bar_buf_puts(&body, "\r\n");
			else
				bar_buf_add(&body, p, 1);
		}
		bar_buf_free(&text);
	}
	m.data = body.data ? body.data : "";
	m.len = body.len;
	m.pos = 0;
	curl_easy_setopt(h, CURLOPT_URL, jstr(receiver, "smtp"));
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, mail_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &m);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)SEND_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	if (user && pass) {
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, pass);
		/* a password goes over TLS or not at all (STARTTLS on smtp://) */
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	}
	cc = curl_easy_perform(h);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	bar_buf_free(&body);
	if (cc != CURLE_OK) {
		snprintf(why, wsize, "email via %s: %s", jstr(receiver, "smtp"), curl_easy_strerror(cc));
		return -1;
	}
	return 0;
}

int alarm_send(bar_collector *c, const json_t *receiver, const json_t *msg, char *why,
               size_t wsize)
{
	const char *type = jstr(receiver, "type");
	const json_t *ref = json_object_get(receiver, "credential");
	bar_cred *cred = NULL;
	int rc;

	(void)c;
	if (json_is_object(ref) && bar_cred_resolve(&cred, ref) != 0) {
		snprintf(why, wsize, "receiver %s: its credential did not resolve",
		         jstr(receiver, "name"));
		return -1;
	}
	if (!strcmp(type, "slack")) {
		rc = send_slack(msg, cred, why, wsize);
	} else if (!strcmp(type, "email")) {
		rc = send_email(receiver, msg, cred, why, wsize);
	} else if (!strcmp(type, "alertmanager")) {
		rc = send_alertmanager(receiver, msg, why, wsize);
	} else {
		char *s = json_dumps(msg, JSON_COMPACT);
		rc = post_json(jstr(receiver, "url"), s ? s : "{}",
		               cred ? bar_cred_get(cred, "token") : NULL, "webhook", why, wsize);
		free(s);
	}
	bar_cred_release(cred);
	return rc;
}
