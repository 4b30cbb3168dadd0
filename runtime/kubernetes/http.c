/*
 * http.c - requests to the Kubernetes API server with libcurl: TLS against
 * the kubeconfig's CA (file or inline data), a client certificate and key,
 * a bearer token (inline, from a file read at each request so a rotated
 * service-account token is picked up, or from an exec credential plugin,
 * cached until its expirationTimestamp).  Answers are bounded; a Status
 * answer becomes "<verb> <path>: <code> <reason>: <message>" with a code the
 * caller acts on.  Tokens are never formatted into messages.
 */
#include "k8s_cluster.h"
#include "error.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_MAX (64u << 20)
#define EXEC_OUT_MAX (1u << 20)
#define EXEC_TIMEOUT_MS 30000
#define TOKEN_FILE_MAX (64u << 10)
#define REQUEST_TIMEOUT_MS 30000L

extern char **environ;

const k8s_kind k8s_kinds[] = {
	{"Deployment", "/apis/apps/v1", "deployments", "deployment"},
	{"Service", "/api/v1", "services", "service"},
	{"ConfigMap", "/api/v1", "configmaps", "configmap"},
	{"PersistentVolumeClaim", "/api/v1", "persistentvolumeclaims", "persistentvolumeclaim"},
};
const size_t k8s_n_kinds = sizeof(k8s_kinds) / sizeof(k8s_kinds[0]);

const k8s_kind *k8s_kind_of(const char *kind)
{
	for (size_t i = 0; kind && i < k8s_n_kinds; i++)
		if (strcmp(k8s_kinds[i].kind, kind) == 0)
			return &k8s_kinds[i];
	return NULL;
}

char *k8s_path(const k8s_kind *k, const char *ns, const char *name)
{
	if (name)
		return bar_printf("%s/namespaces/%s/%s/%s", k->prefix, ns, k->resource, name);
	return bar_printf("%s/namespaces/%s/%s", k->prefix, ns, k->resource);
}

void k8s_cluster_init(bar_k8s_cluster *c)
{
	c->exec_cache = bar_calloc(1, sizeof(*c->exec_cache));
	pthread_mutex_init(&c->exec_cache->mu, NULL);
}

void k8s_cluster_fini(bar_k8s_cluster *c)
{
	if (!c->exec_cache)
		return;
	if (c->exec_cache->token) {
		bar_memzero(c->exec_cache->token, strlen(c->exec_cache->token));
		free(c->exec_cache->token);
	}
	pthread_mutex_destroy(&c->exec_cache->mu);
	free(c->exec_cache);
}

/* RFC 3339 "2026-12-02T18:00:00Z" (fractions and offsets allowed) to wall
 * milliseconds; -1 when it is not one. */
static int64_t rfc3339_ms(const char *s)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t off = 0;

	if (!p)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == '+' || *p == '-') {
		int h, m;

		if (sscanf(p + 1, "%2d:%2d", &h, &m) != 2)
			return -1;
		off = (h * 3600 + m * 60) * (*p == '+' ? 1 : -1);
	} else if (*p != 'Z' && *p != 'z') {
		return -1;
	}
	return ((int64_t)timegm(&tm) - off) * 1000;
}

/* Run the exec plugin and read its ExecCredential from stdout. */
static int exec_run(const bar_k8s_cluster *c, char **token, int64_t *expires)
{
	int out[2] = {-1, -1}, status = 0, rc = -1;
	pid_t pid;
	bar_buf b = BAR_BUF_INIT(EXEC_OUT_MAX);
	char *info = bar_printf("KUBERNETES_EXEC_INFO={\"apiVersion\":\"%s\",\"kind\":"
	                        "\"ExecCredential\",\"spec\":{\"interactive\":false}}",
	                        c->exec_api);
	size_t nenv = 0;
	char **envp;
	int64_t deadline = bar_now_ms() + EXEC_TIMEOUT_MS;
	json_t *j = NULL;
	const char *tok, *exp;

	while (environ[nenv])
		nenv++;
	envp = bar_calloc(nenv + c->n_exec_env + 2, sizeof(char *));
	memcpy(envp, environ, nenv * sizeof(char *));
	memcpy(envp + nenv, c->exec_env, c->n_exec_env * sizeof(char *));
	envp[nenv + c->n_exec_env] = info;
	if (pipe2(out, O_CLOEXEC) < 0) {
		bar_error_set("exec credential %s: pipe: %m", c->exec_cmd);
		goto done;
	}
	pid = fork();
	if (pid < 0) {
		bar_error_set("exec credential %s: fork: %m", c->exec_cmd);
		goto done;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(out[1], 1);
		dup2(devnull, 2); /* a plugin's chatter could hold secrets */
		execvpe(c->exec_cmd, c->exec_argv, envp);
		_exit(127);
	}
	close(out[1]);
	out[1] = -1;
	for (;;) {
		struct pollfd pfd = {out[0], POLLIN, 0};
		char chunk[4096];
		int64_t left = deadline - bar_now_ms();
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			rc = bar_error_setc(BAR_ETIMEOUT, "exec credential %s: no answer within %d s",
			                    c->exec_cmd, EXEC_TIMEOUT_MS / 1000);
			goto done;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
		n = read(out[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (bar_buf_add(&b, chunk, (size_t)n) < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			bar_error_set("exec credential %s: more than %u bytes of output", c->exec_cmd,
			              EXEC_OUT_MAX);
			goto done;
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = bar_error_setc(BAR_EAUTH, "exec credential %s: exited with status %d%s",
		                    c->exec_cmd, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		                    WIFEXITED(status) && WEXITSTATUS(status) == 127
		                        ? " (not found?)" : "");
		goto done;
	}
	j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
	tok = json_string_value(json_object_get(json_object_get(j, "status"), "token"));
	exp = json_string_value(json_object_get(json_object_get(j, "status"),
	                                        "expirationTimestamp"));
	if (!j || strcmp(json_string_value(json_object_get(j, "kind")) ?: "", "ExecCredential")) {
		rc = bar_error_setc(BAR_EAUTH, "exec credential %s: the output is not an "
		                    "ExecCredential", c->exec_cmd);
		goto done;
	}
	if (!tok) {
		rc = bar_error_setc(BAR_EAUTH, "exec credential %s: no status.token (client "
		                    "certificates from exec plugins are not supported)", c->exec_cmd);
		goto done;
	}
	*expires = 0;
	if (exp && (*expires = rfc3339_ms(exp)) < 0) {
		bar_error_set("exec credential %s: expirationTimestamp is not RFC 3339",
		              c->exec_cmd);
		goto done;
	}
	*token = bar_strdup(tok);
	rc = 0;
done:
	if (j) {
		const char *t = json_string_value(json_object_get(json_object_get(j, "status"),
		                                                  "token"));
		if (t)
			bar_memzero((char *)t, strlen(t));
		json_decref(j);
	}
	if (b.data)
		bar_memzero(b.data, b.len);
	bar_buf_free(&b);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	free(envp);
	free(info);
	return rc;
}

/* The bearer token for the next request (new string, NULL with none). */
static int bearer(const bar_k8s_cluster *c, char **out)
{
	*out = NULL;
	if (c->exec_cmd) {
		k8s_exec_cache *ec = c->exec_cache;
		int rc = 0;

		pthread_mutex_lock(&ec->mu);
		/* refresh 10 s before the expiry, so a request in flight does
		 * not carry a token that lapses on the way */
		if (!ec->token || (ec->expires_ms && ec->expires_ms - 10000 <= bar_wall_ms())) {
			char *t = NULL;
			int64_t exp = 0;

			rc = exec_run(c, &t, &exp);
			if (rc == 0) {
				if (ec->token) {
					bar_memzero(ec->token, strlen(ec->token));
					free(ec->token);
				}
				ec->token = t;
				ec->expires_ms = exp;
			}
		}
		if (rc == 0)
			*out = bar_strdup(ec->token);
		pthread_mutex_unlock(&ec->mu);
		return rc;
	}
	if (c->token_file) {
		FILE *f = fopen(c->token_file, "rb");
		char *buf;
		size_t n;

		if (!f)
			return bar_error_setc(BAR_EAUTH, "tokenFile %s: %m", c->token_file);
		buf = bar_malloc(TOKEN_FILE_MAX + 1);
		n = fread(buf, 1, TOKEN_FILE_MAX, f);
		fclose(f);
		buf[n] = 0;
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
			buf[--n] = 0;
		*out = buf;
		return 0;
	}
	if (c->token)
		*out = bar_strdup(c->token);
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	return bar_buf_add(ud, p, size * n) < 0 ? 0 : size * n;
}

static void tls_setup(CURL *h, const bar_k8s_cluster *c)
{
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca) {
		struct curl_blob blob = {c->ca, c->ca_len, CURL_BLOB_COPY};

		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	} else if (c->ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	}
	if (c->cert) {
		struct curl_blob blob = {c->cert, c->cert_len, CURL_BLOB_COPY};

		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (c->cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
	}
	if (c->key) {
		struct curl_blob blob = {c->key, c->key_len, CURL_BLOB_COPY};

		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (c->key_file) {
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
	}
}

/* One HTTP exchange; the answer's bytes into b and its status. */
static int exchange(const bar_k8s_cluster *c, const char *method, const char *path,
                    const char *body, const char *ctype, bar_buf *b, long *status)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	char *url = bar_printf("%s%s", c->server, path), *tok = NULL, *auth = NULL, *ct = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	int rc = -1;

	*status = 0;
	if (!h) {
		bar_error_set("%s %s: cannot start libcurl", method, path);
		goto done;
	}
	rc = bearer(c, &tok);
	if (rc < 0)
		goto done;
	rc = -1;
	if (tok) {
		auth = bar_printf("Authorization: Bearer %s", tok);
		hd = curl_slist_append(hd, auth);
	}
	hd = curl_slist_append(hd, "Accept: application/json");
	if (body) {
		ct = bar_printf("Content-Type: %s", ctype ? ctype : "application/json");
		hd = curl_slist_append(hd, ct);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	tls_setup(h, c);
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = bar_error_setc(cc == CURLE_OPERATION_TIMEDOUT ? BAR_ERETRY : -1,
		                    "%s %s%s: %s", method, c->server, path,
		                    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto done;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	rc = 0;
done:
	curl_slist_free_all(hd);
	if (h)
		curl_easy_cleanup(h);
	if (auth) {
		bar_memzero(auth, strlen(auth));
		free(auth);
	}
	if (tok) {
		bar_memzero(tok, strlen(tok));
		free(tok);
	}
	free(ct);
	free(url);
	return rc;
}

int bar_k8s_request(json_t **out, long *status, const bar_k8s_cluster *c, const char *method,
                    const char *path, const char *body, const char *ctype)
{
	bar_buf b = BAR_BUF_INIT(ANSWER_MAX);
	int rc = exchange(c, method, path, body, ctype, &b, status);

	if (rc == 0) {
		*out = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
		if (*status == 401 || *status == 403)
			rc = BAR_EAUTH;
	}
	bar_buf_free(&b);
	return rc;
}

static int code_of(long status)
{
	switch (status) {
	case 401:
	case 403:
		return BAR_EAUTH;
	case 404:
		return BAR_ENOTFOUND;
	case 409:
		return BAR_ECONFLICT;
	case 422:
		return BAR_EINVALID;
	case 429:
		return BAR_ERETRY;
	default:
		return status >= 500 ? BAR_ERETRY : -1;
	}
}

int k8s_call(json_t **out, const bar_k8s_cluster *c, const char *method, const char *path,
             const char *body, const char *ctype)
{
	bar_buf b = BAR_BUF_INIT(ANSWER_MAX);
	long status = 0;
	json_t *j = NULL;
	int rc = exchange(c, method, path, body, ctype, &b, &status);

	if (rc < 0)
		goto done;
	j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
	if (status < 200 || status >= 300) {
		const char *reason = json_string_value(json_object_get(j, "reason"));
		const char *msg = json_string_value(json_object_get(j, "message"));
		bar_error *e;

		rc = bar_error_setc(code_of(status), "%s %s: %ld %s: %s", method, path, status,
		                    reason ? reason : "", msg ? msg : "(no Status in the answer)");
		e = bar_error_get();
		snprintf(e->provider_code, sizeof(e->provider_code), "%s", reason ? reason : "");
		snprintf(e->provider_message, sizeof(e->provider_message), "%s", msg ? msg : "");
		snprintf(e->operation, sizeof(e->operation), "%s", method);
		snprintf(e->address, sizeof(e->address), "%s", path);
		goto done;
	}
	if (out) {
		*out = j;
		j = NULL;
	}
done:
	json_decref(j);
	bar_buf_free(&b);
	return rc;
}
