/*
 * kubeconfig.c - reading a kubeconfig file into a bar_k8s_cluster: the
 * context (named or current), its cluster (server, CA, TLS verification)
 * and its user (token, token file, client certificate and key, or an exec
 * credential plugin).  Parsed with core's YAML tree so every error names
 * file:line:col; secret values are never formatted into a message.
 * The requests themselves are in http.c.
 */
#include "k8s_cluster.h"
#include "error.h"
#include "ssh_b64.h"
#include "util.h"
#include "yaml_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KUBECONFIG_MAX (4u << 20)

typedef struct kc {
	const char *path;
	const char *dir; /* for relative paths */
} kc;

/* "<file>:<line>:<col>: <subject> <problem>", at node n. */
static int kc_err(const kc *k, const bar_ynode *n, const char *problem, const char *subject)
{
	return bar_error_set("%s:%d:%d: %s %s", k->path, n ? n->line : 1, n ? n->col : 1,
	                     subject, problem);
}

/* The scalar under key, or NULL when absent; -1 when present but not a
 * scalar. */
static int kc_str(const kc *k, const bar_ynode *map, const char *key, const char **out)
{
	const bar_ynode *v = bar_ymap_get(map, key);

	*out = NULL;
	if (!v || bar_ynode_is_null(v))
		return 0;
	if (v->type != BAR_Y_SCALAR)
		return kc_err(k, v, "must be a string", key);
	*out = v->u.str;
	return 0;
}

/* The entry of list `list` (clusters, users, contexts) whose name is
 * `name`, its `inner` mapping into *out. */
static int kc_find(const kc *k, const bar_ynode *root, const char *list, const char *inner,
                   const char *name, const bar_ynode *where, const bar_ynode **out)
{
	const bar_ynode *l = bar_ymap_get(root, list);

	if (l && l->type != BAR_Y_SEQ)
		return kc_err(k, l, "must be a list", list);
	for (uint32_t i = 0; l && i < l->n; i++) {
		const bar_ynode *e = &l->u.items[i];
		const char *nm = NULL;

		if (e->type != BAR_Y_MAP)
			return kc_err(k, e, "must be a mapping", "an entry of");
		if (kc_str(k, e, "name", &nm) < 0)
			return -1;
		if (nm && strcmp(nm, name) == 0) {
			*out = bar_ymap_get(e, inner);
			if (!*out || (*out)->type != BAR_Y_MAP)
				return bar_error_set("%s:%d:%d: %s \"%s\" has no %s mapping", k->path,
				                     e->line, e->col, list, name, inner);
			return 0;
		}
	}
	return bar_error_setc(BAR_ENOTFOUND, "%s:%d:%d: no %s entry named \"%s\"", k->path,
	                      where ? where->line : 1, where ? where->col : 1, list, name);
}

/* A path from the file, made absolute against the kubeconfig's directory. */
static char *kc_path(const kc *k, const char *p)
{
	if (p[0] == '/')
		return bar_strdup(p);
	return bar_printf("%s/%s", k->dir, p);
}

/* Base64 data of key into *out and *len (secret: the message names only the key). */
static int kc_b64(const kc *k, const bar_ynode *map, const char *key, unsigned char **out,
                  size_t *len)
{
	const char *s;
	char *clean;
	size_t n = 0;
	int rc;

	if (kc_str(k, map, key, &s) < 0)
		return -1;
	if (!s)
		return 0;
	clean = bar_malloc(strlen(s) + 1);
	for (const char *p = s; *p; p++) /* folded YAML may leave spaces */
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
			clean[n++] = *p;
	clean[n] = 0;
	rc = bar_b64_decode(out, len, clean, n);
	bar_memzero(clean, n);
	free(clean);
	if (rc < 0)
		return kc_err(k, bar_ymap_get(map, key), "is not valid base64", key);
	return 0;
}

static int kc_exec(const kc *k, const bar_ynode *ex, bar_k8s_cluster *c)
{
	const char *cmd, *api;
	const bar_ynode *args = bar_ymap_get(ex, "args"), *env = bar_ymap_get(ex, "env");

	if (ex->type != BAR_Y_MAP)
		return kc_err(k, ex, "must be a mapping", "exec");
	if (kc_str(k, ex, "command", &cmd) < 0 || kc_str(k, ex, "apiVersion", &api) < 0)
		return -1;
	if (!cmd)
		return kc_err(k, ex, "needs a command", "exec");
	c->exec_cmd = strchr(cmd, '/') ? kc_path(k, cmd) : bar_strdup(cmd);
	c->exec_api = bar_strdup(api ? api : "client.authentication.k8s.io/v1");
	if (args && args->type != BAR_Y_SEQ && !bar_ynode_is_null(args))
		return kc_err(k, args, "must be a list", "exec args");
	c->exec_argv = bar_calloc((args && args->type == BAR_Y_SEQ ? args->n : 0) + 2,
	                          sizeof(char *));
	c->exec_argv[0] = bar_strdup(c->exec_cmd);
	for (uint32_t i = 0; args && args->type == BAR_Y_SEQ && i < args->n; i++) {
		if (args->u.items[i].type != BAR_Y_SCALAR)
			return kc_err(k, &args->u.items[i], "must be a string", "an exec arg");
		c->exec_argv[i + 1] = bar_strdup(args->u.items[i].u.str);
	}
	if (env && env->type != BAR_Y_SEQ && !bar_ynode_is_null(env))
		return kc_err(k, env, "must be a list", "exec env");
	c->exec_env = bar_calloc((env && env->type == BAR_Y_SEQ ? env->n : 0) + 1, sizeof(char *));
	for (uint32_t i = 0; env && env->type == BAR_Y_SEQ && i < env->n; i++) {
		const char *nm, *val;

		if (kc_str(k, &env->u.items[i], "name", &nm) < 0 ||
		    kc_str(k, &env->u.items[i], "value", &val) < 0)
			return -1;
		if (!nm)
			return kc_err(k, &env->u.items[i], "needs a name", "an exec env entry");
		c->exec_env[c->n_exec_env++] = bar_printf("%s=%s", nm, val ? val : "");
	}
	return 0;
}

static int kc_user(const kc *k, const bar_ynode *u, bar_k8s_cluster *c)
{
	const char *tok, *tokfile, *cert, *key;
	const bar_ynode *ex = bar_ymap_get(u, "exec");

	if (kc_str(k, u, "token", &tok) < 0 || kc_str(k, u, "tokenFile", &tokfile) < 0 ||
	    kc_str(k, u, "client-certificate", &cert) < 0 ||
	    kc_str(k, u, "client-key", &key) < 0)
		return -1;
	if (tok)
		c->token = bar_strdup(tok);
	if (tokfile)
		c->token_file = kc_path(k, tokfile);
	if (cert)
		c->cert_file = kc_path(k, cert);
	if (key)
		c->key_file = kc_path(k, key);
	if (kc_b64(k, u, "client-certificate-data", &c->cert, &c->cert_len) < 0 ||
	    kc_b64(k, u, "client-key-data", &c->key, &c->key_len) < 0)
		return -1;
	if ((c->cert || c->cert_file) != (c->key || c->key_file))
		return kc_err(k, u, "has a client certificate without its key (or the reverse)",
		              "user");
	if (ex && !bar_ynode_is_null(ex) && kc_exec(k, ex, c) < 0)
		return -1;
	return 0;
}

static int kc_cluster(const kc *k, const bar_ynode *cl, bar_k8s_cluster *c)
{
	const char *server, *ca;
	const bar_ynode *ins = bar_ymap_get(cl, "insecure-skip-tls-verify");

	if (kc_str(k, cl, "server", &server) < 0 || kc_str(k, cl, "certificate-authority", &ca) < 0)
		return -1;
	if (!server)
		return kc_err(k, cl, "has no server", "cluster");
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		return kc_err(k, bar_ymap_get(cl, "server"), "must be an http(s) URL", "server");
	c->server = bar_strdup(server);
	while (c->server[0] && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = 0;
	if (ca)
		c->ca_file = kc_path(k, ca);
	if (kc_b64(k, cl, "certificate-authority-data", &c->ca, &c->ca_len) < 0)
		return -1;
	if (ins && !bar_ynode_is_null(ins) && !bar_ynode_is_bool(ins, &c->insecure))
		return kc_err(k, ins, "must be true or false", "insecure-skip-tls-verify");
	return 0;
}

static int kc_load(const kc *k, const bar_ynode *root, const char *context, bar_k8s_cluster *c)
{
	const bar_ynode *ctx = NULL, *cl = NULL, *u = NULL;
	const char *cur, *cname, *uname, *ns;
	int rc;

	if (!root || root->type != BAR_Y_MAP)
		return kc_err(k, root, "must be a mapping", "a kubeconfig");
	if (kc_str(k, root, "current-context", &cur) < 0)
		return -1;
	if (!context)
		context = cur;
	if (!context)
		return bar_error_set("%s: no context given and no current-context", k->path);
	rc = kc_find(k, root, "contexts", "context", context, bar_ymap_get(root, "current-context"),
	             &ctx);
	if (rc < 0)
		return rc;
	if (kc_str(k, ctx, "cluster", &cname) < 0 || kc_str(k, ctx, "user", &uname) < 0 ||
	    kc_str(k, ctx, "namespace", &ns) < 0)
		return -1;
	if (!cname)
		return kc_err(k, ctx, "names no cluster", "context");
	if (kc_find(k, root, "clusters", "cluster", cname, bar_ymap_get(ctx, "cluster"), &cl) < 0 ||
	    kc_cluster(k, cl, c) < 0)
		return -1;
	if (uname && (kc_find(k, root, "users", "user", uname, bar_ymap_get(ctx, "user"), &u) < 0 ||
	              kc_user(k, u, c) < 0))
		return -1;
	c->ns = bar_strdup(ns ? ns : "default");
	return 0;
}

int k8s_kubeconfig_parse(bar_k8s_cluster **out, const char *data, size_t len,
                         const char *path, const char *context)
{
	bar_yaml *y = NULL;
	bar_k8s_cluster *c = NULL;
	char *dir = NULL, *slash;
	kc k;
	int rc = -1;

	if (bar_yaml_parse(&y, data, len) < 0)
		goto done;
	if (bar_yaml_error_count(y) > 0) {
		const bar_yaml_error *e = bar_yaml_error_get(y, 0);

		bar_error_set("%s:%d:%d: %s", path, e->line, e->col, e->message);
		goto done;
	}
	if (bar_yaml_doc_count(y) != 1) {
		bar_error_set("%s: a kubeconfig is one YAML document", path);
		goto done;
	}
	dir = bar_strdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		strcpy(dir, ".");
	k.path = path;
	k.dir = dir;
	c = bar_calloc(1, sizeof(*c));
	k8s_cluster_init(c);
	rc = kc_load(&k, bar_yaml_doc(y, 0)->root, context, c);
	if (rc < 0)
		goto done;
	*out = c;
	c = NULL;
	rc = 0;
done:
	bar_k8s_cluster_free(c);
	free(dir);
	bar_yaml_free(y);
	return rc;
}

int bar_k8s_cluster_open(bar_k8s_cluster **out, const char *kubeconfig_path, const char *context)
{
	FILE *f = fopen(kubeconfig_path, "rb");
	bar_buf b = BAR_BUF_INIT(KUBECONFIG_MAX);
	char chunk[4096];
	size_t n;
	int rc = -1;

	if (!f)
		return bar_error_set("%s: cannot open the kubeconfig: %m", kubeconfig_path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (bar_buf_add(&b, chunk, n) < 0) {
			bar_error_set("%s: larger than %u bytes", kubeconfig_path, KUBECONFIG_MAX);
			fclose(f);
			goto done;
		}
	fclose(f);
	rc = k8s_kubeconfig_parse(out, b.data ? b.data : "", b.len, kubeconfig_path, context);
done:
	if (b.data)
		bar_memzero(b.data, b.len);
	bar_buf_free(&b);
	return rc;
}

static void free_secret(char *s)
{
	if (s) {
		bar_memzero(s, strlen(s));
		free(s);
	}
}

void bar_k8s_cluster_free(bar_k8s_cluster *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ns);
	free(c->ca_file);
	free(c->ca);
	free_secret(c->token);
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert);
	if (c->key) {
		bar_memzero(c->key, c->key_len);
		free(c->key);
	}
	free(c->exec_cmd);
	free(c->exec_api);
	for (size_t i = 0; c->exec_argv && c->exec_argv[i]; i++)
		free(c->exec_argv[i]);
	free(c->exec_argv);
	for (size_t i = 0; i < c->n_exec_env; i++)
		free_secret(c->exec_env[i]);
	free(c->exec_env);
	k8s_cluster_fini(c);
	free(c);
}

const char *bar_k8s_cluster_namespace(const bar_k8s_cluster *c)
{
	return c->ns;
}
