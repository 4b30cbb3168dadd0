/*
 * spec_kinds.c - the schema of Namespace, Connection and the MCIR kinds
 * (VNet, SecurityGroup, SSHKey, Image, Spec): check each field, fill the
 * defaults, build the normalised attrs and record references.
 *
 * The normalised forms are documented field by field in
 * docs/spec-reference.md; keep the two in step.  Checks that need another
 * object (a security group's vnet on the same connection) are in
 * spec_check.c.
 */
#include "spec_internal.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DRIVER_NAME_MAX 32
#define PORT_MAX 65535

static void set_str(json_t *obj, const char *key, const char *value)
{
	json_object_set_new(obj, key, spec_jstr(value));
}

void spec_connection_field(spec_load *L, spec_obj *o, const bar_ynode *map,
                           const bar_ynode *v, json_t *attrs)
{
	const char *s = "";

	if (spec_name(L, &s, map, v, "connection") == 0) {
		o->pub.connection = bar_arena_strdup(&L->cfg->arena, s);
		spec_ref_add(L, o, "connection", BAR_KIND_CONNECTION, s, v,
		             "field \"connection\"");
	}
	set_str(attrs, "connection", s);
}

/* ---- Namespace --------------------------------------------------------- */

void spec_check_namespace(spec_load *L, spec_obj *o)
{
	static const char *const known[] = { "description", NULL };
	const bar_ynode *f[1];
	const char *desc = "";

	o->pub.attrs = json_object();
	spec_fields(L, o->spec, "Namespace spec", known, f);
	spec_str(L, &desc, o->spec, f[0], "description", "");
	set_str(o->pub.attrs, "description", desc);
}

/* ---- Connection -------------------------------------------------------- */

static int driver_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DRIVER_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* credential.env: {field: VARIABLE}.  Values are never echoed: a value
 * that is not a variable name may be the secret itself. */
static json_t *credential_env(spec_load *L, const bar_ynode *v)
{
	json_t *env = json_object();

	if (v->type != BAR_Y_MAP || v->n == 0) {
		spec_diag(L, v, "field \"credential.env\" must map credential fields to "
		          "environment variable names, e.g. {secret_access_key: "
		          "AWS_SECRET_ACCESS_KEY}");
		return env;
	}
	for (uint32_t p = 0; p < v->n; p++) {
		const bar_ynode *k = &v->u.kv[2 * p], *val = &v->u.kv[2 * p + 1];

		if (k->n == 0) {
			spec_diag(L, k, "field \"credential.env\" has an empty field name");
			continue;
		}
		if (val->type != BAR_Y_SCALAR || !spec_env_name_ok(val->u.str)) {
			spec_diag(L, val, "field \"credential.env.%.80s\" must be the name of "
			          "an environment variable (letters, digits and '_'), not a "
			          "value; secrets are never written into specs", k->u.str);
			continue;
		}
		set_str(env, k->u.str, val->u.str);
	}
	return env;
}

/* credential.exec: [PROGRAM, ARG...] (or one string, the program alone).
 * A program named with a '/' is relative to the spec's directory. */
static json_t *credential_exec(spec_load *L, const bar_ynode *v)
{
	json_t *argv = json_array();
	const char *prog;

	if (v->type == BAR_Y_SCALAR && v->n > 0) {
		json_array_append_new(argv, json_string(v->u.str));
	} else if (v->type == BAR_Y_SEQ && v->n > 0) {
		for (uint32_t i = 0; i < v->n; i++) {
			const bar_ynode *a = &v->u.items[i];

			if (a->type != BAR_Y_SCALAR) {
				spec_diag(L, a, "credential.exec[%u] must be a string", i);
				json_decref(argv);
				return NULL;
			}
			json_array_append_new(argv, json_string(a->u.str));
		}
	} else {
		spec_diag(L, v, "field \"credential.exec\" must be a program and its "
		          "arguments, e.g. [aws-vault, export, --format=json, prod]");
		json_decref(argv);
		return NULL;
	}
	prog = json_string_value(json_array_get(argv, 0));
	if (!prog || !*prog) {
		spec_diag(L, v, "field \"credential.exec\" names no program");
		json_decref(argv);
		return NULL;
	}
	if (strchr(prog, '/')) {
		const char *path = prog;

		if (spec_path(L, &path, v->type == BAR_Y_SEQ ? &v->u.items[0] : v, path,
		              "credential.exec") < 0) {
			json_decref(argv);
			return NULL;
		}
		json_array_set_new(argv, 0, json_string(path));
	}
	return argv;
}

/* credential: {env: {...}}, {file: path [, profile: NAME]} or {exec: [...]},
 * never the secret itself. */
json_t *spec_credential(spec_load *L, const bar_ynode *v)
{
	const bar_ynode *env = NULL, *file = NULL, *exec = NULL, *profile = NULL;
	json_t *cred;
	const char *path;
	int bad = 0, kinds;

	if (spec_absent(v))
		return json_null();
	if (v->type != BAR_Y_MAP) {
		spec_diag(L, v, "field \"credential\" must be a reference "
		          "(credential.env, credential.file or credential.exec), not a value; "
		          "secrets are never written into specs");
		return NULL;
	}
	for (uint32_t p = 0; p < v->n; p++) {
		const bar_ynode *k = &v->u.kv[2 * p], *val = &v->u.kv[2 * p + 1];

		if (strcmp(k->u.str, "env") == 0) {
			env = val;
		} else if (strcmp(k->u.str, "file") == 0) {
			file = val;
		} else if (strcmp(k->u.str, "exec") == 0) {
			exec = val;
		} else if (strcmp(k->u.str, "profile") == 0) {
			profile = val;
		} else {
			spec_diag(L, k, "credential.%.80s looks like an inline secret; secrets "
			          "are never written into specs: name environment variables in "
			          "credential.env, a file in credential.file or a program in "
			          "credential.exec", k->u.str);
			bad = 1;
		}
		kinds = !!env + !!file + !!exec;
		if (kinds > 1) {
			spec_diag(L, k, "use one of credential.env, credential.file and "
			          "credential.exec, not several");
			return NULL;
		}
	}
	if (profile && !file) {
		spec_diag(L, profile, "credential.profile names a section of a credential "
		          "file: set credential.file too");
		bad = 1;
	}
	if (bad)
		return NULL;
	cred = json_object();
	if (env) {
		json_object_set_new(cred, "env", credential_env(L, env));
		return cred;
	}
	if (exec) {
		json_t *argv = credential_exec(L, exec);

		if (!argv) {
			json_decref(cred);
			return NULL;
		}
		json_object_set_new(cred, "exec", argv);
		return cred;
	}
	if (file) {
		const char *prof = NULL;

		if (spec_str(L, &path, v, file, "credential.file", NULL) < 0 ||
		    spec_path(L, &path, file, path, "credential.file") < 0 ||
		    (profile && spec_str(L, &prof, v, profile, "credential.profile", NULL) < 0)) {
			json_decref(cred);
			return NULL;
		}
		set_str(cred, "file", path);
		if (prof)
			set_str(cred, "profile", prof);
		return cred;
	}
	json_decref(cred);
	spec_diag(L, v, "field \"credential\" must set env, file or exec");
	return NULL;
}

void spec_check_connection(spec_load *L, spec_obj *o)
{
	static const char *const known[] = { "driver", "region", "zone", "credential",
	                                     "config", "maxConcurrency", NULL };
	enum { C_DRIVER, C_REGION, C_ZONE, C_CRED, C_CONFIG, C_MAXC };
	static const int64_t zero = 0;
	const bar_ynode *f[6], *spec = o->spec;
	const char *driver = "", *region = "", *zone = "";
	json_t *attrs = json_object(), *cred, *config = NULL;
	int64_t maxc = 0;

	o->pub.attrs = attrs;
	spec_fields(L, spec, "Connection spec", known, f);
	if (spec_str(L, &driver, spec, f[C_DRIVER], "driver", NULL) == 0 &&
	    !driver_ok(driver)) {
		spec_diag(L, f[C_DRIVER], "field \"driver\" must be a driver name like "
		          "\"aws\" or \"local\" (lower-case letters, digits, '-', '_'), "
		          "got \"%.80s\"", driver);
		driver = "";
	}
	spec_str(L, &region, spec, f[C_REGION], "region", NULL);
	spec_str(L, &zone, spec, f[C_ZONE], "zone", "");
	cred = spec_credential(L, f[C_CRED]);
	if (spec_strmap(L, &config, f[C_CONFIG], "config", 0) < 0)
		config = json_object();
	spec_int(L, &maxc, spec, f[C_MAXC], "maxConcurrency", &zero, 0, 1000000);
	if (cred && json_is_null(cred) && driver[0] && strcmp(driver, "local") != 0 &&
	    strcmp(driver, "sim") != 0)
		spec_diag(L, f[C_DRIVER], "driver \"%s\" needs a credential reference; add "
		          "credential.env, credential.file or credential.exec", driver);
	set_str(attrs, "driver", driver);
	set_str(attrs, "region", region);
	set_str(attrs, "zone", zone);
	json_object_set_new(attrs, "credential", cred ? cred : json_null());
	json_object_set_new(attrs, "config", config);
	json_object_set_new(attrs, "maxConcurrency", json_integer(maxc));
}

/* ---- VNet -------------------------------------------------------------- */

/* A CIDR field: well-formed and without host bits. */
static int check_cidr(spec_load *L, const bar_ynode *v, const char *text,
                      const char *field, uint32_t *addr, int *prefix)
{
	char fixed[32];

	if (spec_cidr_parse(text, addr, prefix) < 0) {
		spec_diag(L, v, "field \"%s\" must be an IPv4 CIDR like \"10.0.0.0/16\", "
		          "got \"%.80s\"", field, text);
		return -1;
	}
	if (*addr & ~spec_cidr_mask(*prefix)) {
		spec_diag(L, v, "field \"%s\": \"%s\" has host bits set; did you mean "
		          "\"%s\"?", field, text,
		          spec_cidr_format(fixed, sizeof(fixed), *addr & spec_cidr_mask(*prefix),
		                           *prefix));
		return -1;
	}
	return 0;
}

static int cidr_overlap(uint32_t a, int pa, uint32_t b, int pb)
{
	uint32_t mask = spec_cidr_mask(pa < pb ? pa : pb);

	return (a & mask) == (b & mask);
}

typedef struct subnet_seen {
	const char *name; /* NULL when invalid */
	const bar_ynode *name_node;
	const char *cidr; /* NULL when invalid */
	uint32_t addr;
	int prefix;
} subnet_seen;

static void check_subnet_cidr(spec_load *L, subnet_seen *seen, size_t i,
                              const bar_ynode *v, uint32_t vaddr, int vprefix,
                              const char *vcidr)
{
	subnet_seen *s = &seen[i];

	if (vcidr && (s->prefix < vprefix || (s->addr & spec_cidr_mask(vprefix)) != vaddr)) {
		spec_diag(L, v, "cidr \"%s\" is outside the vnet cidr \"%s\"", s->cidr, vcidr);
		return;
	}
	for (size_t j = 0; j < i; j++)
		if (seen[j].cidr && cidr_overlap(seen[j].addr, seen[j].prefix, s->addr,
		                                 s->prefix)) {
			spec_diag(L, v, "cidr \"%s\" overlaps subnet \"%s\" (\"%s\")", s->cidr,
			          seen[j].name ? seen[j].name : "?", seen[j].cidr);
			return;
		}
}

static json_t *check_subnets(spec_load *L, const bar_ynode *spec, const bar_ynode *v,
                             const char *vcidr, uint32_t vaddr, int vprefix)
{
	static const char *const known[] = { "name", "cidr", NULL };
	json_t *arr = json_array();
	const bar_ynode *seq;
	subnet_seen *seen;

	if (spec_seq(L, &seq, spec, v, "subnets", 1) < 0)
		return arr;
	if (seq->n == 0 || seq->n > SPEC_SUBNETS_MAX) {
		spec_diag(L, seq, "field \"subnets\" must list between 1 and %d subnets",
		          SPEC_SUBNETS_MAX);
		return arr;
	}
	seen = bar_calloc(seq->n, sizeof(*seen));
	for (uint32_t i = 0; i < seq->n; i++) {
		const bar_ynode *item = &seq->u.items[i], *f[2];
		const char *name = NULL, *cidr = NULL;
		json_t *sub;

		spec_scope_item(L, "subnet", item, i + 1);
		if (spec_fields(L, item, "subnet", known, f) < 0 && item->type != BAR_Y_MAP)
			continue;
		if (spec_name(L, &name, item, f[0], "name") == 0) {
				for (uint32_t j = 0; j < i; j++)
				if (seen[j].name && strcmp(seen[j].name, name) == 0) {
					spec_diag(L, f[0], "subnet name used twice; the first is at "
					          "line %d", seen[j].name_node->line);
					name = NULL;
					break;
				}
		}
		seen[i].name = name;
		seen[i].name_node = f[0];
		if (spec_str(L, &cidr, item, f[1], "cidr", NULL) == 0 &&
		    check_cidr(L, f[1], cidr, "cidr", &seen[i].addr, &seen[i].prefix) == 0) {
			seen[i].cidr = cidr;
			check_subnet_cidr(L, seen, i, f[1], vaddr, vprefix, vcidr);
		}
		sub = json_object();
		set_str(sub, "name", name ? name : "");
		set_str(sub, "cidr", cidr ? cidr : "");
		json_array_append_new(arr, sub);
	}
	spec_scope_clear(L);
	free(seen);
	return arr;
}

void spec_check_vnet(spec_load *L, spec_obj *o)
{
	static const char *const known[] = { "connection", "cidr", "subnets", "private", NULL };
	enum { V_CONNECTION, V_CIDR, V_SUBNETS, V_PRIVATE };
	const bar_ynode *f[4], *spec = o->spec;
	const char *cidr = NULL;
	int priv = 0;
	uint32_t addr = 0;
	int prefix = 0;
	json_t *attrs = json_object();

	o->pub.attrs = attrs;
	spec_fields(L, spec, "VNet spec", known, f);
	spec_connection_field(L, o, spec, f[V_CONNECTION], attrs);
	if (spec_str(L, &cidr, spec, f[V_CIDR], "cidr", NULL) < 0 ||
	    check_cidr(L, f[V_CIDR], cidr, "cidr", &addr, &prefix) < 0)
		cidr = NULL;
	set_str(attrs, "cidr", cidr ? cidr : "");
	json_object_set_new(attrs, "subnets",
	                    check_subnets(L, spec, f[V_SUBNETS], cidr, addr, prefix));
	/* absent unless true, so other VNets normalise (and hash) as before */
	if (spec_bool(L, &priv, f[V_PRIVATE], "private", 0) == 0 && priv)
		json_object_set_new(attrs, "private", json_true());
}

/* ---- SecurityGroup ----------------------------------------------------- */

/* ports: 22, "22" or "8000-8080". */
static int parse_ports(const bar_ynode *v, int64_t *from, int64_t *to)
{
	const char *s = v->u.str;
	char *end;
	long a, b;

	if (v->type != BAR_Y_SCALAR || !*s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	a = strtol(s, &end, 10);
	b = a;
	if (*end == '-') {
		s = end + 1;
		if (*s < '0' || *s > '9')
			return -1;
		b = strtol(s, &end, 10);
	}
	if (*end || errno || a < 1 || a > PORT_MAX || b < 1 || b > PORT_MAX)
		return -1;
	*from = a;
	*to = b;
	return 0;
}

static json_t *check_rule(spec_load *L, const bar_ynode *item)
{
	static const char *const known[] = { "protocol", "ports", "cidr", NULL };
	static const char *const protocols[] = { "tcp", "udp", "icmp", "all", NULL };
	const bar_ynode *f[3];
	const char *proto = "all", *cidr = "0.0.0.0/0";
	int64_t from = -1, to = -1;
	uint32_t addr;
	int prefix;
	json_t *rule = json_object();

	if (spec_fields(L, item, "rule", known, f) < 0 && item->type != BAR_Y_MAP)
		return rule;
	if (spec_enum(L, &proto, item, f[0], "protocol", protocols, NULL, 1) == 0) {
		int needs_ports = strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0;

		if (needs_ports && spec_absent(f[1])) {
			spec_diag(L, item, "field \"ports\" is required for protocol \"%s\"", proto);
		} else if (!needs_ports && !spec_absent(f[1])) {
			spec_diag(L, f[1], "field \"ports\" is not allowed for protocol \"%s\"",
			          proto);
		} else if (needs_ports && parse_ports(f[1], &from, &to) < 0) {
			char desc[80];

			spec_describe(f[1], desc, sizeof(desc));
			spec_diag(L, f[1], "field \"ports\" must be a port (1-65535) or a range "
			          "like \"8000-8080\", got %s", desc);
		} else if (from > to) {
			spec_diag(L, f[1], "field \"ports\": range \"%s\" is reversed; write "
			          "\"%lld-%lld\"", f[1]->u.str, (long long)to, (long long)from);
		}
	}
	if (spec_str(L, &cidr, item, f[2], "cidr", "0.0.0.0/0") < 0 ||
	    check_cidr(L, f[2] ? f[2] : item, cidr, "cidr", &addr, &prefix) < 0)
		cidr = "";
	set_str(rule, "protocol", proto);
	json_object_set_new(rule, "fromPort", json_integer(from));
	json_object_set_new(rule, "toPort", json_integer(to));
	set_str(rule, "cidr", cidr);
	return rule;
}

static json_t *check_rules(spec_load *L, const bar_ynode *spec, const bar_ynode *v,
                           const char *field)
{
	const bar_ynode *seq;
	json_t *arr = json_array();

	if (spec_absent(v) && strcmp(field, "egress") == 0) {
		json_t *all = json_object();

		set_str(all, "protocol", "all");
		json_object_set_new(all, "fromPort", json_integer(-1));
		json_object_set_new(all, "toPort", json_integer(-1));
		set_str(all, "cidr", "0.0.0.0/0");
		json_array_append_new(arr, all);
		return arr;
	}
	if (spec_seq(L, &seq, spec, v, field, 0) < 0 || !seq)
		return arr;
	for (uint32_t i = 0; i < seq->n; i++) {
		spec_scope_set(L, "%s rule %u", field, i + 1);
		json_array_append_new(arr, check_rule(L, &seq->u.items[i]));
	}
	spec_scope_clear(L);
	return arr;
}

void spec_check_securitygroup(spec_load *L, spec_obj *o)
{
	static const char *const known[] = { "connection", "vnet", "ingress", "egress", NULL };
	enum { S_CONNECTION, S_VNET, S_INGRESS, S_EGRESS };
	const bar_ynode *f[4], *spec = o->spec;
	const char *vnet = "";
	json_t *attrs = json_object();

	o->pub.attrs = attrs;
	spec_fields(L, spec, "SecurityGroup spec", known, f);
	spec_connection_field(L, o, spec, f[S_CONNECTION], attrs);
	if (spec_name(L, &vnet, spec, f[S_VNET], "vnet") == 0)
		spec_ref_add(L, o, "vnet", BAR_KIND_VNET, vnet, f[S_VNET], "field \"vnet\"");
	set_str(attrs, "vnet", vnet);
	json_object_set_new(attrs, "ingress", check_rules(L, spec, f[S_INGRESS], "ingress"));
	json_object_set_new(attrs, "egress", check_rules(L, spec, f[S_EGRESS], "egress"));
}

/* ---- SSHKey ------------------------------------------------------------ */

static int looks_private(const char *s)
{
	return strstr(s, "PRIVATE KEY") || strstr(s, "PuTTY-User-Key-File");
}

/* "type base64 [comment]" on one line; returns the trimmed key (arena) or
 * NULL when it is not one. */
static const char *pubkey_normalise(spec_load *L, const char *s)
{
	size_t n = strlen(s), type_len, b64_len, end;
	const char *p;

	while (*s == ' ' || *s == '\t')
		s++, n--;
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
	             s[n - 1] == '\t'))
		n--;
	if (memchr(s, '\n', n) || memchr(s, '\r', n))
		return NULL;
	type_len = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789@.-");
	if (!(strncmp(s, "ssh-", 4) == 0 || strncmp(s, "ecdsa-", 6) == 0 ||
	      strncmp(s, "sk-", 3) == 0) || type_len >= n || s[type_len] != ' ')
		return NULL;
	p = s + type_len + 1;
	b64_len = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
	end = type_len + 1 + b64_len;
	if (b64_len < 16 || end > n || (end < n && s[end] != ' '))
		return NULL;
	return bar_arena_strndup(&L->cfg->arena, s, n);
}

/* Read a public key file; its contents never reach a message. */
static const char *read_pubkey_file(spec_load *L, const bar_ynode *at, const char *path)
{
	char buf[SPEC_PUBKEY_FILE_MAX + 1];
	const char *key = NULL;
	struct stat st;
	size_t n = 0;
	int fd;

	memset(&st, 0, sizeof(st));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		spec_diag(L, at, "cannot read publicKeyFile \"%s\": %s", path,
		          fd >= 0 && !S_ISREG(st.st_mode) ? "not a regular file" : strerror(errno));
		goto done;
	}
	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			spec_diag(L, at, "cannot read publicKeyFile \"%s\": %s", path,
			          strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > SPEC_PUBKEY_FILE_MAX) {
		spec_diag(L, at, "publicKeyFile \"%s\" is too large to be a public key", path);
		goto done;
	}
	buf[n] = '\0';
	if (looks_private(buf))
		spec_diag(L, at, "publicKeyFile \"%s\" holds a private key; point it at the "
		          "public key (.pub): private keys are never read into specs", path);
	else if (!(key = pubkey_normalise(L, buf)))
		spec_diag(L, at, "publicKeyFile \"%s\" does not hold an OpenSSH public key "
		          "(\"ssh-ed25519 AAAA... comment\")", path);
done:
	bar_memzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return key;
}

void spec_check_sshkey(spec_load *L, spec_obj *o)
{
	static const char *const known[] = { "connection", "publicKey", "publicKeyFile", NULL };
	enum { K_CONNECTION, K_KEY, K_FILE };
	const bar_ynode *f[3], *spec = o->spec;
	const char *text = NULL, *key = NULL, *path;
	json_t *attrs = json_object();

	o->pub.attrs = attrs;
	spec_fields(L, spec, "SSHKey spec", known, f);
	spec_connection_field(L, o, spec, f[K_CONNECTION], attrs);
	if (!spec_absent(f[K_KEY]) && !spec_absent(f[K_FILE])) {
		spec_diag(L, f[K_FILE], "use either publicKey or publicKeyFile, not both");
	} else if (!spec_absent(f[K_KEY])) {
		if (spec_str(L, &text, spec, f[K_KEY], "publicKey", NULL) < 0)
			; /* reported */
		else if (looks_private(text))
			spec_diag(L, f[K_KEY], "field \"publicKey\" holds a private key; remove "
			          "it and give the public key: private keys are never written "
			          "into specs");
		else if (!(key = pubkey_normalise(L, text)))
			spec_diag(L, f[K_KEY], "field \"publicKey\" must be an OpenSSH public key "
			          "like \"ssh-ed25519 AAAA... comment\"");
	} else if (!spec_absent(f[K_FILE])) {
		if (spec_str(L, &path, spec, f[K_FILE], "publicKeyFile", NULL) == 0 &&
		    spec_path(L, &path, f[K_FILE], path, "publicKeyFile") == 0)
			key = read_pubkey_file(L, f[K_FILE], path);
	}
	json_object_set_new(attrs, "publicKey", key ? spec_jstr(key) : json_null());
}

/* ---- Image and Spec ---------------------------------------------------- */

void spec_check_image(spec_load *L, spec_obj *o)
{
	static const char *const known[] = { "connection", "imageId", "os", NULL };
	const bar_ynode *f[3], *spec = o->spec;
	const char *image = "", *os = "";
	json_t *attrs = json_object();

	o->pub.attrs = attrs;
	spec_fields(L, spec, "Image spec", known, f);
	spec_connection_field(L, o, spec, f[0], attrs);
	spec_str(L, &image, spec, f[1], "imageId", NULL);
	spec_str(L, &os, spec, f[2], "os", "");
	set_str(attrs, "imageId", image);
	set_str(attrs, "os", os);
}

void spec_check_spec(spec_load *L, spec_obj *o)
{
	static const char *const known[] = { "connection", "specId", "vcpu", "memoryMiB",
	                                     "diskGiB", NULL };
	enum { P_CONNECTION, P_ID, P_VCPU, P_MEM, P_DISK };
	static const int64_t disk_default = 10;
	const bar_ynode *f[5], *spec = o->spec;
	const char *id = "";
	int64_t vcpu = 0, mem = 0, disk = 0;
	json_t *attrs = json_object();

	o->pub.attrs = attrs;
	spec_fields(L, spec, "Spec spec", known, f);
	spec_connection_field(L, o, spec, f[P_CONNECTION], attrs);
	spec_str(L, &id, spec, f[P_ID], "specId", "");
	spec_int(L, &vcpu, spec, f[P_VCPU], "vcpu", NULL, 1, 4096);
	spec_int(L, &mem, spec, f[P_MEM], "memoryMiB", NULL, 64, 1LL << 32);
	spec_int(L, &disk, spec, f[P_DISK], "diskGiB", &disk_default, 1, 1 << 20);
	set_str(attrs, "specId", id);
	json_object_set_new(attrs, "vcpu", json_integer(vcpu));
	json_object_set_new(attrs, "memoryMiB", json_integer(mem));
	json_object_set_new(attrs, "diskGiB", json_integer(disk));
}
