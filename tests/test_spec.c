/*
 * test_spec.c - tests of the spec model (core/yaml*.c, core/spec*.c).
 *
 * One binary, several modes (see usage()):
 *   unit TMP        parser and loader unit tests; writes its inputs under TMP
 *                   and removes them again
 *   good DIR        load the good-spec directory and compare a dump of every
 *                   object with DIR/expected.txt
 *   bad DIR         every DIR/NN-name.yaml must fail to load with exactly the
 *                   diagnostics in DIR/NN-name.expect
 *   perf N TMP [S]  generate an N-VM configuration under TMP, time parse and
 *                   load, fail if loading takes more than S seconds
 *   doc FILE.md TMP the ```yaml examples of a Markdown file, written under
 *                   TMP, must load together and cover every kind
 *   dump PATH       print the dump of a configuration (or its diagnostics)
 *
 * Path normalisation for expected output: every occurrence of the data
 * directory ("DIR/", as given on the command line and as realpath(3) spells
 * it) is removed from each line, so a diagnostic reads
 * "03-duplicate-object.yaml:12:9: ..." and paths inside messages become
 * relative to DIR ("keys/x.pub").  `bad DIR --update` and `good DIR --update`
 * rewrite the expected files from the current output, for review with git
 * diff.
 */
#include "spec.h"
#include "yaml_tree.h"
#include "error.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,   \
			        __LINE__, #cond);                                \
			failures++;                                              \
		}                                                                \
	} while (0)

#define CHECK_STR(a, b)                                                          \
	do {                                                                     \
		const char *a_ = (a), *b_ = (b);                                 \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                         \
			fprintf(stderr, "%s:%d: %s\n   got: %s\n  want: %s\n",   \
			        __FILE__, __LINE__, #a, a_ ? a_ : "(null)",      \
			        b_ ? b_ : "(null)");                             \
			failures++;                                              \
		}                                                                \
	} while (0)

/* ---- files --------------------------------------------------------------- */

static char tmp_root[PATH_MAX];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	bar_buf b = BAR_BUF_INIT(64u << 20);
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bar_buf_add(&b, chunk, n);
	fclose(f);
	return bar_buf_take(&b);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p */
static void make_dir(const char *path)
{
	char *copy = bar_strdup(path);

	for (char *p = copy + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(copy, 0700);
			*p = '/';
		}
	free(copy);
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

/* A fresh private directory under the test's scratch root. */
static char *scratch_dir(const char *name)
{
	char *dir = bar_printf("%s/%s", tmp_root, name);

	rm_tree(dir);
	make_dir(dir);
	return dir;
}

/* Remove every "dir/" (as given and resolved) from s, in place. */
static void strip_dir(char *s, const char *dir)
{
	char real[PATH_MAX];
	/* the resolved form first: the given one may be a part of it */
	const char *forms[2] = { realpath(dir, real), dir };

	for (int f = 0; f < 2; f++) {
		char *pat, *hit;
		size_t plen;

		if (!forms[f])
			continue;
		pat = bar_printf("%s/", forms[f]);
		plen = strlen(pat);
		while ((hit = strstr(s, pat)))
			memmove(hit, hit + plen, strlen(hit + plen) + 1);
		free(pat);
	}
}

/* ---- dumps ---------------------------------------------------------------- */

static char *json_text(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static void dump_object(bar_buf *out, const bar_object *o)
{
	char *labels = json_text(o->labels), *attrs = json_text(o->attrs);

	bar_buf_printf(out, "%s/%s/%s %s:%d:%d\n", o->ns, bar_kind_type(o->kind), o->name,
	               base_name(o->loc.file), o->loc.line, o->loc.col);
	if (o->connection)
		bar_buf_printf(out, "  connection %s\n", o->connection);
	bar_buf_printf(out, "  labels %s\n  attrs %s\n", labels, attrs);
	for (size_t r = 0; r < o->n_refs; r++)
		bar_buf_printf(out, "  ref %s -> %s/%s @%d:%d\n", o->refs[r].role,
		               bar_kind_name(o->refs[r].kind), o->refs[r].name,
		               o->refs[r].loc.line, o->refs[r].loc.col);
	free(labels);
	free(attrs);
}

static char *dump_config(const bar_config *cfg)
{
	bar_buf out = BAR_BUF_INIT(0);

	for (size_t i = 0; i < bar_config_count(cfg); i++)
		dump_object(&out, bar_config_get(cfg, i));
	return bar_buf_take(&out);
}

static char *format_diags(const bar_diags *d)
{
	bar_buf out = BAR_BUF_INIT(0);

	for (size_t i = 0; i < d->n; i++) {
		char *line = bar_diag_format(&d->items[i]);

		bar_buf_printf(&out, "%s\n", line);
		free(line);
	}
	return bar_buf_take(&out);
}

/* ---- YAML parser ---------------------------------------------------------- */

static bar_yaml *parse(const char *text)
{
	bar_yaml *y = NULL;

	if (bar_yaml_parse(&y, text, strlen(text)) < 0) {
		fprintf(stderr, "bar_yaml_parse: %s\n", bar_error_last());
		exit(2);
	}
	return y;
}

static void test_yaml_tree(void)
{
	bar_yaml *y = parse("# comment\n"
	                    "a: 1\n"
	                    "b: \"2\"\n"
	                    "list:\n"
	                    "  - x\n"
	                    "  - {k: v}\n"
	                    "empty:\n"
	                    "---\n"
	                    "---\n"
	                    "# only a comment\n"
	                    "...\n"
	                    "--- [1, 2]\n");
	const bar_ynode *root, *v;
	int64_t i;

	CHECK(bar_yaml_error_count(y) == 0);
	CHECK(bar_yaml_doc_count(y) == 2); /* the empty ones are skipped */
	root = bar_yaml_doc(y, 0)->root;
	CHECK(root->type == BAR_Y_MAP && root->n == 4);
	CHECK(root->line == 2 && root->col == 1);
	v = bar_ymap_get(root, "a");
	CHECK(v && v->type == BAR_Y_SCALAR && !v->quoted && v->line == 2 && v->col == 4);
	CHECK(bar_ynode_int(v, &i) == 0 && i == 1);
	v = bar_ymap_get(root, "b");
	CHECK(v && v->quoted && bar_ynode_int(v, &i) == -1 && strcmp(v->u.str, "2") == 0);
	v = bar_ymap_get(root, "list");
	CHECK(v && v->type == BAR_Y_SEQ && v->n == 2 && v->line == 5 && v->col == 3);
	CHECK(v->u.items[1].type == BAR_Y_MAP && v->u.items[1].line == 6);
	CHECK(strcmp(bar_ymap_get(&v->u.items[1], "k")->u.str, "v") == 0);
	CHECK(bar_ynode_is_null(bar_ymap_get(root, "empty")));
	CHECK(bar_ymap_get(root, "missing") == NULL);
	root = bar_yaml_doc(y, 1)->root;
	CHECK(root->type == BAR_Y_SEQ && root->n == 2 && root->line == 12);
	bar_yaml_free(y);
}

static void test_yaml_scalars(void)
{
	bar_yaml *y = parse("[7, -3, +4, 99999999999999999999, 1.5, .5, 1e3, x1, "
	                    "true, False, ~, null, '', 0x10, \"7\", !!str 8]");
	const bar_ynode *s = bar_yaml_doc(y, 0)->root->u.items;
	int64_t i = 0;
	double d = 0;
	int b = -1;

	CHECK(bar_ynode_int(&s[0], &i) == 0 && i == 7);
	CHECK(bar_ynode_int(&s[1], &i) == 0 && i == -3);
	CHECK(bar_ynode_int(&s[2], &i) == 0 && i == 4);
	CHECK(bar_ynode_int(&s[3], &i) == -2);
	CHECK(bar_ynode_int(&s[4], &i) == -1);
	CHECK(bar_ynode_number(&s[4], &d) == 0 && d == 1.5);
	CHECK(bar_ynode_number(&s[5], &d) == 0 && d == 0.5);
	CHECK(bar_ynode_number(&s[6], &d) == 0 && d == 1000);
	CHECK(bar_ynode_number(&s[7], &d) == -1);
	CHECK(bar_ynode_is_bool(&s[8], &b) && b == 1);
	CHECK(bar_ynode_is_bool(&s[9], &b) && b == 0);
	CHECK(!bar_ynode_is_bool(&s[7], &b));
	CHECK(bar_ynode_is_null(&s[10]) && bar_ynode_is_null(&s[11]));
	CHECK(!bar_ynode_is_null(&s[12])); /* '' is an empty string, not null */
	CHECK(bar_ynode_int(&s[13], &i) == -1); /* decimal only */
	CHECK(s[14].quoted && bar_ynode_number(&s[14], &d) == -1);
	CHECK(s[15].quoted && strcmp(s[15].u.str, "8") == 0);
	bar_yaml_free(y);
}

/* `depth` nested flow sequences: "[[[...]]]". */
static char *nested(size_t depth)
{
	char *s = bar_malloc(2 * depth + 1);

	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	s[2 * depth] = '\0';
	return s;
}

/* Nesting is limited, and hitting the limit ends the parse at once: 200k
 * levels took minutes before (libyaml's per-token cost grows with depth). */
static void test_yaml_depth(void)
{
	char *ok = nested(BAR_YAML_MAX_DEPTH), *deep = nested(200000);
	const bar_yaml_error *e;
	bar_yaml *y;

	y = parse(ok);
	CHECK(bar_yaml_error_count(y) == 0 && bar_yaml_doc_count(y) == 1);
	bar_yaml_free(y);
	y = parse(deep);
	CHECK(bar_yaml_error_count(y) == 1 && bar_yaml_doc_count(y) == 0);
	e = bar_yaml_error_get(y, 0);
	CHECK(e && e->line == 1 && e->col == BAR_YAML_MAX_DEPTH + 1);
	CHECK_STR(e ? e->message : NULL, "nesting deeper than 64 levels is not supported");
	bar_yaml_free(y);
	free(ok);
	free(deep);
}

static void test_yaml_errors(void)
{
	bar_yaml *y;
	const bar_yaml_error *e;
	bar_buf big = BAR_BUF_INIT(0);
	char *text;

	y = parse("a: &x 1\nb: *x\n");
	CHECK(bar_yaml_error_count(y) == 2);
	e = bar_yaml_error_get(y, 0);
	CHECK(e->line == 1 && e->col == 4);
	CHECK_STR(e->message, "anchors and aliases are not supported");
	e = bar_yaml_error_get(y, 1);
	CHECK(e->line == 2 && e->col == 4);
	CHECK(bar_yaml_doc(y, 0)->bad);
	bar_yaml_free(y);

	/* a syntax error ends the parse; the documents before it stay */
	y = parse("a: 1\n---\nb: [1, 2\nc: 3\n");
	CHECK(bar_yaml_doc_count(y) == 1 && !bar_yaml_doc(y, 0)->bad);
	CHECK(bar_yaml_error_count(y) == 1);
	e = bar_yaml_error_get(y, 0);
	CHECK(e->line == 4 && strncmp(e->message, "syntax error: ", 14) == 0);
	bar_yaml_free(y);

	y = parse("a: 1\nb: 2\na: 3\n");
	CHECK(bar_yaml_error_count(y) == 1);
	e = bar_yaml_error_get(y, 0);
	CHECK(e->line == 3 && e->col == 1);
	CHECK_STR(e->message, "duplicate key \"a\" (first at line 1)");
	bar_yaml_free(y);

	/* large mappings take the sorting path: same answers */
	for (int i = 0; i < 40; i++)
		bar_buf_printf(&big, "k%d: %d\n", i % 37, i);
	text = bar_buf_take(&big);
	y = parse(text);
	CHECK(bar_yaml_error_count(y) == 3);
	e = bar_yaml_error_get(y, 0);
	CHECK(e && e->line == 38);
	CHECK_STR(e ? e->message : NULL, "duplicate key \"k0\" (first at line 1)");
	bar_yaml_free(y);
	free(text);

	y = parse("? [a, b]\n: 1\n");
	CHECK(bar_yaml_error_count(y) == 1);
	CHECK_STR(bar_yaml_error_get(y, 0)->message, "mapping keys must be scalars");
	bar_yaml_free(y);

	y = parse("a: !custom 1\n");
	CHECK(bar_yaml_error_count(y) == 1);
	bar_yaml_free(y);

	y = parse("a: \"x\\0y\"\n");
	CHECK(bar_yaml_error_count(y) == 1);
	bar_yaml_free(y);

	y = parse("a: \xff\xfe\n");
	CHECK(bar_yaml_error_count(y) == 1);
	CHECK(bar_yaml_doc_count(y) == 0);
	bar_yaml_free(y);
	test_yaml_depth();
}

/* ---- loading helpers ------------------------------------------------------ */

static int case_no;

/* Write `text` as a fresh single-file configuration and load it. */
static int load_text(bar_config **out, bar_diags *d, const char *text)
{
	char *path = bar_printf("%s/case-%d.yaml", tmp_root, ++case_no);
	int rc;

	write_file(path, text);
	rc = bar_config_load(out, path, d);
	unlink(path);
	free(path);
	return rc;
}

static bar_config *load_ok(const char *text)
{
	bar_config *cfg = NULL;
	bar_diags d = { 0 };

	if (load_text(&cfg, &d, text) != 0) {
		char *msgs = format_diags(&d);

		fprintf(stderr, "unexpected load failure:\n%s", msgs);
		free(msgs);
		failures++;
	}
	bar_diags_clear(&d);
	return cfg;
}

/* The messages (without locations) of a failing load, one per line. */
static char *load_fail(const char *text)
{
	bar_config *cfg = NULL;
	bar_diags d = { 0 };
	bar_buf out = BAR_BUF_INIT(0);
	int rc = load_text(&cfg, &d, text);

	CHECK(rc == BAR_EINVALID);
	CHECK(cfg == NULL);
	for (size_t i = 0; i < d.n; i++)
		bar_buf_printf(&out, "%d:%d: %s\n", d.items[i].line, d.items[i].col,
		               d.items[i].message);
	bar_config_free(cfg);
	bar_diags_clear(&d);
	return bar_buf_take(&out);
}

static void check_attrs(const bar_config *cfg, bar_kind kind, const char *ns,
                        const char *name, const char *want)
{
	const bar_object *o = cfg ? bar_config_find(cfg, kind, ns, name) : NULL;
	char *got = o ? json_text(o->attrs) : NULL;

	if (!o)
		fprintf(stderr, "object %s/%s/%s not found\n", ns, bar_kind_type(kind), name);
	CHECK_STR(got, want);
	free(got);
}

#define API "apiVersion: barista.dev/v1\n"
#define LOCAL_CONN API "kind: Connection\nmetadata: {name: c1}\nspec: {driver: local, region: r1}\n---\n"

static const char base_mcir[] =
	LOCAL_CONN
	API "kind: VNet\nmetadata: {name: net}\n"
	"spec: {connection: c1, cidr: 10.0.0.0/16, subnets: [{name: s1, cidr: 10.0.1.0/24}]}\n---\n"
	API "kind: SecurityGroup\nmetadata: {name: sg}\nspec: {connection: c1, vnet: net}\n---\n"
	API "kind: SSHKey\nmetadata: {name: key}\nspec: {connection: c1}\n---\n"
	API "kind: Image\nmetadata: {name: img}\nspec: {connection: c1, imageId: debian-12}\n---\n"
	API "kind: Spec\nmetadata: {name: sp}\nspec: {connection: c1, vcpu: 2, memoryMiB: 1024}\n---\n";

/* ---- kinds ---------------------------------------------------------------- */

static void test_kind_namespace(void)
{
	bar_config *cfg = load_ok(API "kind: Namespace\nmetadata: {name: prod}\n---\n"
	                          API "kind: Namespace\nmetadata: {name: dev}\n"
	                          "spec: {description: \"for developers\"}\n");

	check_attrs(cfg, BAR_KIND_NAMESPACE, "prod", "prod", "{\"description\":\"\"}");
	check_attrs(cfg, BAR_KIND_NAMESPACE, "dev", "dev",
	            "{\"description\":\"for developers\"}");
	bar_config_free(cfg);
}

static void test_kind_connection(void)
{
	char *keyfile = bar_printf("%s/cred.json", tmp_root);
	char *want_file;
	bar_config *cfg;

	setenv("HOME", "/home/tester", 1);
	cfg = load_ok(API "kind: Connection\nmetadata: {name: loc}\n"
	              "spec: {driver: local, region: host}\n---\n"
	              API "kind: Connection\nmetadata: {name: aws}\n"
	              "spec:\n  driver: aws\n  region: ap-northeast-2\n  zone: ap-northeast-2a\n"
	              "  maxConcurrency: 8\n"
	              "  credential: {env: {access_key_id: AWS_ACCESS_KEY_ID, "
	              "secret_access_key: AWS_SECRET}}\n"
	              "  config: {retries: 3, debug: true, endpoint: \"https://x\"}\n---\n"
	              API "kind: Connection\nmetadata: {name: gcp}\n"
	              "spec: {driver: gcp, region: r, credential: {file: ./sub/../cred.json}}\n---\n"
	              API "kind: Connection\nmetadata: {name: azure}\n"
	              "spec: {driver: azure, region: r, credential: {file: ~/.azure/c.json}}\n");
	check_attrs(cfg, BAR_KIND_CONNECTION, "default", "loc",
	            "{\"config\":{},\"credential\":null,\"driver\":\"local\","
	            "\"maxConcurrency\":0,\"region\":\"host\",\"zone\":\"\"}");
	check_attrs(cfg, BAR_KIND_CONNECTION, "default", "aws",
	            "{\"config\":{\"debug\":\"true\",\"endpoint\":\"https://x\",\"retries\":\"3\"},"
	            "\"credential\":{\"env\":{\"access_key_id\":\"AWS_ACCESS_KEY_ID\","
	            "\"secret_access_key\":\"AWS_SECRET\"}},\"driver\":\"aws\","
	            "\"maxConcurrency\":8,\"region\":\"ap-northeast-2\",\"zone\":\"ap-northeast-2a\"}");
	{
		char real[PATH_MAX];

		CHECK(realpath(tmp_root, real) != NULL);
		want_file = bar_printf("{\"config\":{},\"credential\":{\"file\":\"%s/cred.json\"},"
		                       "\"driver\":\"gcp\",\"maxConcurrency\":0,\"region\":\"r\","
		                       "\"zone\":\"\"}", real);
	}
	check_attrs(cfg, BAR_KIND_CONNECTION, "default", "gcp", want_file);
	check_attrs(cfg, BAR_KIND_CONNECTION, "default", "azure",
	            "{\"config\":{},\"credential\":{\"file\":\"/home/tester/.azure/c.json\"},"
	            "\"driver\":\"azure\",\"maxConcurrency\":0,\"region\":\"r\",\"zone\":\"\"}");
	CHECK(bar_config_find(cfg, BAR_KIND_CONNECTION, NULL, "aws") != NULL);
	CHECK(bar_config_find(cfg, BAR_KIND_CONNECTION, "default", "aws")->connection == NULL);
	bar_config_free(cfg);
	free(want_file);
	free(keyfile);
}

static void test_kind_vnet_sg(void)
{
	bar_config *cfg = load_ok(
	    LOCAL_CONN
	    API "kind: VNet\nmetadata: {name: net}\nspec:\n  connection: c1\n  cidr: 10.0.0.0/16\n"
	    "  subnets:\n    - {name: a, cidr: 10.0.0.0/24}\n    - {name: b, cidr: 10.0.128.0/17}\n---\n"
	    API "kind: SecurityGroup\nmetadata: {name: sg}\nspec:\n  connection: c1\n  vnet: net\n"
	    "  ingress:\n    - {protocol: tcp, ports: 22}\n"
	    "    - {protocol: UDP, ports: \"5000-5010\", cidr: 10.1.0.0/16}\n"
	    "    - {protocol: icmp}\n"
	    "  egress: [{protocol: tcp, ports: \"443\"}]\n---\n"
	    API "kind: SecurityGroup\nmetadata: {name: open}\nspec: {connection: c1, vnet: net}\n");
	const bar_object *sg;

	check_attrs(cfg, BAR_KIND_VNET, "default", "net",
	            "{\"cidr\":\"10.0.0.0/16\",\"connection\":\"c1\",\"subnets\":["
	            "{\"cidr\":\"10.0.0.0/24\",\"name\":\"a\"},"
	            "{\"cidr\":\"10.0.128.0/17\",\"name\":\"b\"}]}");
	check_attrs(cfg, BAR_KIND_SECURITYGROUP, "default", "sg",
	            "{\"connection\":\"c1\",\"egress\":[{\"cidr\":\"0.0.0.0/0\",\"fromPort\":443,"
	            "\"protocol\":\"tcp\",\"toPort\":443}],\"ingress\":["
	            "{\"cidr\":\"0.0.0.0/0\",\"fromPort\":22,\"protocol\":\"tcp\",\"toPort\":22},"
	            "{\"cidr\":\"10.1.0.0/16\",\"fromPort\":5000,\"protocol\":\"udp\",\"toPort\":5010},"
	            "{\"cidr\":\"0.0.0.0/0\",\"fromPort\":-1,\"protocol\":\"icmp\",\"toPort\":-1}],"
	            "\"vnet\":\"net\"}");
	check_attrs(cfg, BAR_KIND_SECURITYGROUP, "default", "open",
	            "{\"connection\":\"c1\",\"egress\":[{\"cidr\":\"0.0.0.0/0\",\"fromPort\":-1,"
	            "\"protocol\":\"all\",\"toPort\":-1}],\"ingress\":[],\"vnet\":\"net\"}");
	sg = cfg ? bar_config_find(cfg, BAR_KIND_SECURITYGROUP, "default", "sg") : NULL;
	CHECK(sg && sg->connection && strcmp(sg->connection, "c1") == 0);
	CHECK(sg && sg->n_refs == 2);
	if (sg && sg->n_refs == 2) {
		CHECK_STR(sg->refs[0].role, "connection");
		CHECK(sg->refs[0].kind == BAR_KIND_CONNECTION);
		CHECK_STR(sg->refs[1].role, "vnet");
		CHECK(sg->refs[1].kind == BAR_KIND_VNET && strcmp(sg->refs[1].name, "net") == 0);
		CHECK(sg->refs[1].loc.line == 21 && sg->refs[1].loc.col == 9);
	}
	bar_config_free(cfg);
}

static void test_kind_sshkey_image_spec(void)
{
	char *pub = bar_printf("%s/id.pub", tmp_root);
	bar_config *cfg;

	write_file(pub, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnlyForTests me@host\n\n");
	cfg = load_ok(LOCAL_CONN
	              API "kind: SSHKey\nmetadata: {name: gen}\nspec: {connection: c1}\n---\n"
	              API "kind: SSHKey\nmetadata: {name: inline}\nspec: {connection: c1, "
	              "publicKey: \"ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB\"}\n---\n"
	              API "kind: SSHKey\nmetadata: {name: file}\nspec: {connection: c1, "
	              "publicKeyFile: id.pub}\n---\n"
	              API "kind: Image\nmetadata: {name: img}\nspec: {connection: c1, "
	              "imageId: ubuntu-22.04}\n---\n"
	              API "kind: Spec\nmetadata: {name: big}\nspec: {connection: c1, "
	              "specId: m5.large, vcpu: 2, memoryMiB: 8192, diskGiB: 100}\n---\n"
	              API "kind: Spec\nmetadata: {name: small}\nspec: {connection: c1, "
	              "vcpu: 1, memoryMiB: 64}\n");
	check_attrs(cfg, BAR_KIND_SSHKEY, "default", "gen",
	            "{\"connection\":\"c1\",\"publicKey\":null}");
	check_attrs(cfg, BAR_KIND_SSHKEY, "default", "inline",
	            "{\"connection\":\"c1\",\"publicKey\":\"ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB\"}");
	check_attrs(cfg, BAR_KIND_SSHKEY, "default", "file",
	            "{\"connection\":\"c1\",\"publicKey\":"
	            "\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnlyForTests me@host\"}");
	check_attrs(cfg, BAR_KIND_IMAGE, "default", "img",
	            "{\"connection\":\"c1\",\"imageId\":\"ubuntu-22.04\",\"os\":\"\"}");
	check_attrs(cfg, BAR_KIND_SPEC, "default", "big",
	            "{\"connection\":\"c1\",\"diskGiB\":100,\"memoryMiB\":8192,"
	            "\"specId\":\"m5.large\",\"vcpu\":2}");
	check_attrs(cfg, BAR_KIND_SPEC, "default", "small",
	            "{\"connection\":\"c1\",\"diskGiB\":10,\"memoryMiB\":64,"
	            "\"specId\":\"\",\"vcpu\":1}");
	bar_config_free(cfg);
	unlink(pub);
	free(pub);
}

static void test_kind_mci(void)
{
	char *text = bar_printf(
	    "%s" API "kind: VNet\nmetadata: {name: two}\nspec: {connection: c1, cidr: "
	    "10.1.0.0/16, subnets: [{name: x, cidr: 10.1.1.0/24}, {name: y, cidr: 10.1.2.0/24}]}\n---\n"
	    API "kind: SecurityGroup\nmetadata: {name: sg2}\nspec: {connection: c1, vnet: two}\n---\n"
	    API "kind: MCI\nmetadata: {name: web, labels: {team: a}}\nspec:\n"
	    "  groups:\n"
	    "    - {name: g1, connection: c1, spec: sp, image: img, vnet: net, sshKey: key}\n"
	    "    - name: g2\n      connection: c1\n      spec: sp\n      image: img\n"
	    "      vnet: two\n      subnet: y\n      securityGroups: [sg2]\n"
	    "      sshKey: key\n      count: 3\n      labels: {tier: 2}\n",
	    base_mcir);
	bar_config *cfg = load_ok(text);
	const bar_object *mci;

	check_attrs(cfg, BAR_KIND_MCI, "default", "web",
	            "{\"description\":\"\",\"groups\":["
	            "{\"connection\":\"c1\",\"count\":1,\"image\":\"img\",\"labels\":{},"
	            "\"name\":\"g1\",\"securityGroups\":[],\"spec\":\"sp\",\"sshKey\":\"key\","
	            "\"subnet\":\"s1\",\"vnet\":\"net\"},"
	            "{\"connection\":\"c1\",\"count\":3,\"image\":\"img\",\"labels\":{\"tier\":\"2\"},"
	            "\"name\":\"g2\",\"securityGroups\":[\"sg2\"],\"spec\":\"sp\",\"sshKey\":\"key\","
	            "\"subnet\":\"y\",\"vnet\":\"two\"}],\"state\":\"Running\"}");
	mci = cfg ? bar_config_find(cfg, BAR_KIND_MCI, "default", "web") : NULL;
	CHECK(mci && mci->connection == NULL);
	if (mci) {
		json_t *want = json_pack("{s:s}", "team", "a");

		CHECK(json_equal(mci->labels, want));
		json_decref(want);
	}
	CHECK(mci && mci->n_refs == 11);
	if (mci && mci->n_refs == 11) {
		static const char *const roles[] = {
			"groups[g1].connection", "groups[g1].spec", "groups[g1].image",
			"groups[g1].vnet", "groups[g1].sshKey", "groups[g2].connection",
			"groups[g2].spec", "groups[g2].image", "groups[g2].vnet",
			"groups[g2].securityGroups", "groups[g2].sshKey",
		};
		static const bar_kind kinds[] = {
			BAR_KIND_CONNECTION, BAR_KIND_SPEC, BAR_KIND_IMAGE, BAR_KIND_VNET,
			BAR_KIND_SSHKEY, BAR_KIND_CONNECTION, BAR_KIND_SPEC, BAR_KIND_IMAGE,
			BAR_KIND_VNET, BAR_KIND_SECURITYGROUP, BAR_KIND_SSHKEY,
		};

		for (size_t i = 0; i < 11; i++) {
			CHECK_STR(mci->refs[i].role, roles[i]);
			CHECK(mci->refs[i].kind == kinds[i]);
		}
		CHECK_STR(mci->refs[9].name, "sg2");
		CHECK(mci->refs[0].loc.line == mci->loc.line + 4);
		CHECK_STR(base_name(mci->refs[0].loc.file), base_name(mci->loc.file));
	}
	bar_config_free(cfg);
	free(text);
}

/* overlay: true takes the defaults; a mapping may set either field; false
 * and absence leave it out of the normal form (docs/overlay.md). */
static void test_kind_mci_overlay(void)
{
	static const struct {
		const char *field, *want;
	} cases[] = {
		{ "  overlay: true\n", ",\"overlay\":{\"cidr\":\"10.250.0.0/16\",\"port\":51820}" },
		{ "  overlay: {port: 4500}\n", ",\"overlay\":{\"cidr\":\"10.250.0.0/16\",\"port\":4500}" },
		{ "  overlay: {cidr: 192.168.77.0/28}\n",
		  ",\"overlay\":{\"cidr\":\"192.168.77.0/28\",\"port\":51820}" },
		{ "  overlay: false\n", "" },
		{ "  overlay: null\n", "" },
		{ "", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = bar_printf(
		    "%s" API "kind: MCI\nmetadata: {name: web}\nspec:\n"
		    "  groups:\n"
		    "    - {name: g1, connection: c1, spec: sp, image: img, vnet: net, sshKey: key,"
		    " count: 14}\n%s",
		    base_mcir, cases[i].field);
		char *want = bar_printf(
		    "{\"description\":\"\",\"groups\":["
		    "{\"connection\":\"c1\",\"count\":14,\"image\":\"img\",\"labels\":{},"
		    "\"name\":\"g1\",\"securityGroups\":[],\"spec\":\"sp\",\"sshKey\":\"key\","
		    "\"subnet\":\"s1\",\"vnet\":\"net\"}]%s,\"state\":\"Running\"}",
		    cases[i].want);
		bar_config *cfg = load_ok(text);

		check_attrs(cfg, BAR_KIND_MCI, "default", "web", want);
		bar_config_free(cfg);
		free(want);
		free(text);
	}
}

static void test_kind_mcapp_monitoring(void)
{
	char *text = bar_printf(
	    "%s" API "kind: MCI\nmetadata: {name: web}\nspec:\n  state: SUSPENDED\n"
	    "  description: shop\n  groups:\n"
	    "    - {name: a, connection: c1, spec: sp, image: img, vnet: net, sshKey: key}\n"
	    "    - {name: b, connection: c1, spec: sp, image: img, vnet: net, sshKey: key}\n---\n"
	    API "kind: MCApp\nmetadata: {name: shop}\nspec:\n  mci: web\n  apps:\n"
	    "    - {name: db, image: \"postgres:15\", ports: [{port: 5432}], "
	    "placement: {groups: [b]}}\n"
	    "    - name: api\n      command: run-api\n      after: [db]\n      order: 2\n"
	    "      env: {PORT: 8080, MODE: prod}\n      ports: [{port: 53, protocol: UDP}]\n"
	    "      replicas: 3\n---\n"
	    API "kind: MCApp\nmetadata: {name: k8s}\nspec: {mci: web, runtime: Kubernetes, "
	    "kubernetes: {kubeconfig: /etc/k8s/admin.conf}, apps: [{name: web, image: nginx}]}\n"
	    "---\n"
	    API "kind: MonitoringPolicy\nmetadata: {name: all}\nspec: {}\n---\n"
	    API "kind: MonitoringPolicy\nmetadata: {name: web}\nspec:\n  mci: web\n"
	    "  metrics: [cpu, process]\n  interval: 1m\n  retention: 2h\n"
	    "  collectors: [\"http://gateway:9109\", \"http://10.0.0.1:9110/x\"]\n"
	    "  credential: {env: {secret: MON_SECRET}}\n  alarms:\n"
	    "    - {name: hot, metric: cpu, op: \">\", threshold: 95.5, for: 1h30m}\n"
	    "    - {name: procs, rule: \"proc.count == 0\", severity: INFO}\n"
	    "    - {name: mci-hot, rule: \"avg(cpu.usage)>=80 for 30s\", summary: hot}\n"
	    "  receivers:\n"
	    "    - {name: ops, type: webhook, url: \"http://127.0.0.1:9/hook\"}\n"
	    "    - {name: mail, type: email, smtp: \"smtp://127.0.0.1:25\", "
	    "from: b@example.com, to: [ops@example.com], sendResolved: false}\n"
	    "  route: {groupBy: [alarm], repeatInterval: 1h, receivers: [ops]}\n",
	    base_mcir);
	bar_config *cfg = load_ok(text);

	check_attrs(cfg, BAR_KIND_MCI, "default", "web",
	            "{\"description\":\"shop\",\"groups\":["
	            "{\"connection\":\"c1\",\"count\":1,\"image\":\"img\",\"labels\":{},"
	            "\"name\":\"a\",\"securityGroups\":[],\"spec\":\"sp\",\"sshKey\":\"key\","
	            "\"subnet\":\"s1\",\"vnet\":\"net\"},"
	            "{\"connection\":\"c1\",\"count\":1,\"image\":\"img\",\"labels\":{},"
	            "\"name\":\"b\",\"securityGroups\":[],\"spec\":\"sp\",\"sshKey\":\"key\","
	            "\"subnet\":\"s1\",\"vnet\":\"net\"}],\"state\":\"Suspended\"}");
	check_attrs(cfg, BAR_KIND_MCAPP, "default", "shop",
	            "{\"apps\":[{\"after\":[],\"args\":[],\"command\":\"\",\"env\":{},\"health\":{\"failur"
	            "eThreshold\":3,\"initialDelaySeconds\":0,\"intervalSeconds\":2,\"kind\":\"none"
	            "\",\"timeoutSeconds\":1},\"image\":\"postgres:15\",\"name\":\"db\",\"order\":0,\"pla"
	            "cement\":{\"count\":0,\"groups\":[\"b\"],\"labels\":{}},\"ports\":[{\"port\":5432,\""
	            "protocol\":\"tcp\"}],\"replicas\":1,\"resources\":{\"cpu\":0.0,\"memory\":0},\"res"
	            "tart\":\"always\",\"volumes\":[]},{\"after\":[\"db\"],\"args\":[],\"command\":\"run-"
	            "api\",\"env\":{\"MODE\":\"prod\",\"PORT\":\"8080\"},\"health\":{\"failureThreshold\":"
	            "3,\"initialDelaySeconds\":0,\"intervalSeconds\":2,\"kind\":\"none\",\"timeoutSe"
	            "conds\":1},\"image\":\"\",\"name\":\"api\",\"order\":2,\"placement\":{\"count\":0,\"gr"
	            "oups\":[\"a\",\"b\"],\"labels\":{}},\"ports\":[{\"port\":53,\"protocol\":\"udp\"}],\"r"
	            "eplicas\":3,\"resources\":{\"cpu\":0.0,\"memory\":0},\"restart\":\"always\",\"volu"
	            "mes\":[]}],\"mci\":\"web\",\"rollout\":{\"healthTimeoutSeconds\":120,\"maxUnavai"
	            "lable\":1},\"runtime\":\"agent\"}");
	check_attrs(cfg, BAR_KIND_MCAPP, "default", "k8s",
	            "{\"apps\":[{\"after\":[],\"args\":[],\"command\":\"\",\"env\":{},\"health\":{\"failur"
	            "eThreshold\":3,\"initialDelaySeconds\":0,\"intervalSeconds\":2,\"kind\":\"none"
	            "\",\"timeoutSeconds\":1},\"image\":\"nginx\",\"name\":\"web\",\"order\":0,\"placemen"
	            "t\":{\"count\":0,\"groups\":[\"a\",\"b\"],\"labels\":{}},\"ports\":[],\"replicas\":1,"
	            "\"resources\":{\"cpu\":0.0,\"memory\":0},\"restart\":\"always\",\"volumes\":[]}],\""
	            "kubernetes\":{\"context\":\"\",\"kubeconfig\":\"/etc/k8s/admin.conf\",\"namespace\":\"default\"},\"mci\""
	            ":\"web\",\"rollout\":{\"healthTimeoutSeconds\":120,\"maxUnavailable\":1},\"runt"
	            "ime\":\"kubernetes\"}");
	check_attrs(cfg, BAR_KIND_MONITORINGPOLICY, "default", "all",
	            "{\"alarms\":[],\"coarseRetentionSeconds\":7776000,\"collectors\":[],\"credential\":null,"
	            "\"intervalSeconds\":2,\"mci\":\"\",\"metrics\":[\"cpu\",\"memory\",\"disk\",\"network\","
	            "\"process\",\"system\"],\"pullPort\":9108,\"rawRetentionSeconds\":21600,\"receivers\":[],"
	            "\"retentionSeconds\":604800,\"route\":{\"groupBy\":[\"alarm\",\"ns\",\"mci\"],\"groupIntervalSeconds\":60,"
	            "\"groupWaitSeconds\":10,\"receivers\":[],\"repeatIntervalSeconds\":14400},\"storeIntervalSeconds\":10}");
	check_attrs(cfg, BAR_KIND_MONITORINGPOLICY, "default", "web",
	            "{\"alarms\":[{\"aggregate\":\"none\",\"forSeconds\":5400,\"metric\":\"cpu.usage\","
	            "\"name\":\"hot\",\"op\":\">\",\"severity\":\"warning\",\"summary\":\"\",\"threshold\":95.5},"
	            "{\"aggregate\":\"none\",\"forSeconds\":0,\"metric\":\"proc.count\",\"name\":\"procs\","
	            "\"op\":\"==\",\"severity\":\"info\",\"summary\":\"\",\"threshold\":0.0},{\"aggregate\":\"avg\","
	            "\"forSeconds\":30,\"metric\":\"cpu.usage\",\"name\":\"mci-hot\",\"op\":\">=\",\"severity\":\"warning\","
	            "\"summary\":\"hot\",\"threshold\":80.0}],\"coarseRetentionSeconds\":7776000,\"collectors\":[\"http://gateway:9109\","
	            "\"http://10.0.0.1:9110/x\"],\"credential\":{\"env\":{\"secret\":\"MON_SECRET\"}},"
	            "\"intervalSeconds\":60,\"mci\":\"web\",\"metrics\":[\"cpu\",\"process\"],\"pullPort\":9108,"
	            "\"rawRetentionSeconds\":7200,\"receivers\":[{\"credential\":null,\"from\":\"\",\"name\":\"ops\","
	            "\"sendResolved\":true,\"smtp\":\"\",\"to\":[],\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/hook\"},"
	            "{\"credential\":null,\"from\":\"b@example.com\",\"name\":\"mail\",\"sendResolved\":false,"
	            "\"smtp\":\"smtp://127.0.0.1:25\",\"to\":[\"ops@example.com\"],\"type\":\"email\",\"url\":\"\"}],"
	            "\"retentionSeconds\":7200,\"route\":{\"groupBy\":[\"alarm\"],\"groupIntervalSeconds\":60,"
	            "\"groupWaitSeconds\":10,\"receivers\":[\"ops\"],\"repeatIntervalSeconds\":3600},"
	            "\"storeIntervalSeconds\":60}");
	if (cfg) {
		const bar_object *app = bar_config_find(cfg, BAR_KIND_MCAPP, "default", "shop");
		const bar_object *mp = bar_config_find(cfg, BAR_KIND_MONITORINGPOLICY,
		                                       "default", "all");

		CHECK(app->n_refs == 1 && app->refs[0].kind == BAR_KIND_MCI);
		CHECK_STR(app->refs[0].role, "mci");
		CHECK(mp->n_refs == 0); /* no mci: watches every MCI, references none */
	}
	bar_config_free(cfg);
	free(text);
}

/* ---- configurations -------------------------------------------------------- */

static void test_order_and_find(void)
{
	bar_config *cfg = load_ok(
	    API "kind: Namespace\nmetadata: {name: zz}\n---\n"
	    API "kind: Image\nmetadata: {name: b, namespace: zz}\nspec: {connection: c1, imageId: i}\n---\n"
	    API "kind: Connection\nmetadata: {name: c1, namespace: zz}\nspec: {driver: sim, region: r}\n---\n"
	    API "kind: Image\nmetadata: {name: a, namespace: zz}\nspec: {connection: c1, imageId: i}\n---\n"
	    API "kind: Image\nmetadata: {name: b}\nspec: {connection: c1, imageId: i}\n---\n"
	    API "kind: Connection\nmetadata: {name: c1}\nspec: {driver: sim, region: r}\n---\n"
	    API "kind: Namespace\nmetadata: {name: aa}\n");
	static const char *const want[] = {
		"aa/namespace/aa", "default/connection/c1", "default/image/b",
		"zz/namespace/zz", "zz/connection/c1", "zz/image/a", "zz/image/b",
	};

	CHECK(cfg && bar_config_count(cfg) == 7);
	for (size_t i = 0; cfg && i < 7 && i < bar_config_count(cfg); i++) {
		const bar_object *o = bar_config_get(cfg, i);
		char *id = bar_printf("%s/%s/%s", o->ns, bar_kind_type(o->kind), o->name);

		CHECK_STR(id, want[i]);
		CHECK(bar_config_find(cfg, o->kind, o->ns, o->name) == o);
		free(id);
	}
	if (cfg) {
		CHECK(bar_config_get(cfg, 7) == NULL);
		CHECK(bar_config_find(cfg, BAR_KIND_IMAGE, "aa", "b") == NULL);
		CHECK(bar_config_find(cfg, BAR_KIND_SPEC, "default", "b") == NULL);
		CHECK(bar_config_find(cfg, BAR_KIND_IMAGE, "zz", "b") !=
		      bar_config_find(cfg, BAR_KIND_IMAGE, "default", "b"));
		CHECK(strstr(bar_config_path(cfg), "/case-") != NULL);
	}
	bar_config_free(cfg);
	bar_config_free(NULL);
}

static void test_namespace_isolation(void)
{
	static const char two[] =
	    API "kind: Namespace\nmetadata: {name: prod}\n---\n"
	    API "kind: Connection\nmetadata: {name: c1}\nspec: {driver: local, region: here}\n---\n"
	    API "kind: Connection\nmetadata: {name: c1, namespace: prod}\n"
	    "spec: {driver: sim, region: there}\n---\n"
	    API "kind: Image\nmetadata: {name: img, namespace: prod}\n"
	    "spec: {connection: c1, imageId: prod-image}\n---\n"
	    API "kind: Image\nmetadata: {name: img}\nspec: {connection: c1, imageId: dev-image}\n";
	bar_config *cfg = load_ok(two);
	char *msgs;

	check_attrs(cfg, BAR_KIND_CONNECTION, "prod", "c1",
	            "{\"config\":{},\"credential\":null,\"driver\":\"sim\","
	            "\"maxConcurrency\":0,\"region\":\"there\",\"zone\":\"\"}");
	check_attrs(cfg, BAR_KIND_IMAGE, "prod", "img",
	            "{\"connection\":\"c1\",\"imageId\":\"prod-image\",\"os\":\"\"}");
	check_attrs(cfg, BAR_KIND_IMAGE, "default", "img",
	            "{\"connection\":\"c1\",\"imageId\":\"dev-image\",\"os\":\"\"}");
	bar_config_free(cfg);

	/* a reference never crosses into another namespace */
	msgs = load_fail(API "kind: Namespace\nmetadata: {name: prod}\n---\n"
	                 API "kind: Connection\nmetadata: {name: c1, namespace: prod}\n"
	                 "spec: {driver: sim, region: there}\n---\n"
	                 API "kind: Image\nmetadata: {name: img}\n"
	                 "spec: {connection: c1, imageId: i}\n");
	CHECK_STR(msgs, "13:20: image \"img\": field \"connection\" references unknown "
	          "connection \"c1\" in namespace \"default\"; namespace \"prod\" has one, "
	          "but references never cross namespaces\n");
	free(msgs);
}

static void test_errors_collected(void)
{
	bar_config *cfg = NULL;
	bar_diags d = { 0 };
	char *msgs;
	int rc;

	/* problems of several objects come back together, sorted */
	msgs = load_fail(API "kind: Image\nmetadata: {name: b}\nspec: {connection: c1}\n---\n"
	                 API "kind: Spec\nmetadata: {name: A}\nspec: {connection: c1, vcpu: 0, "
	                 "memoryMiB: lots}\n");
	CHECK_STR(msgs,
	          "4:7: image \"b\": field \"imageId\" is required\n"
	          "4:20: image \"b\": field \"connection\" references unknown connection \"c1\"\n"
	          "8:18: spec \"A\": field \"metadata.name\" must be a DNS label (lower-case "
	          "letters, digits and '-', starting and ending with a letter or digit, at "
	          "most 63 characters), got \"A\"\n"
	          "9:20: spec \"A\": field \"connection\" references unknown connection \"c1\"\n"
	          "9:30: spec \"A\": field \"vcpu\" must be between 1 and 4096, got 0\n"
	          "9:44: spec \"A\": field \"memoryMiB\" must be an integer, got \"lots\"\n");
	free(msgs);

	/* the last error holds every diagnostic, formatted */
	rc = load_text(&cfg, NULL, API "kind: Image\nmetadata: {name: b}\n"
	               "spec: {connection: c1, imageId: x, os: [1]}\n");
	CHECK(rc == BAR_EINVALID);
	CHECK(strstr(bar_error_last(), ".yaml:4:40: image \"b\": field \"os\" must be a "
	             "string, got a list") != NULL);
	CHECK(strstr(bar_error_last(), "\n") != NULL); /* and the unknown connection */

	/* I/O problems: -1 and a diagnostic without a line */
	rc = bar_config_load(&cfg, "/nonexistent/spec-dir", &d);
	CHECK(rc == -1 && cfg == NULL && d.n == 1);
	if (d.n == 1) {
		char *line = bar_diag_format(&d.items[0]);

		CHECK(d.items[0].line == 0);
		CHECK_STR(line, "/nonexistent/spec-dir: cannot read: No such file or directory");
		free(line);
	}
	bar_diags_clear(&d);
	CHECK(d.n == 0 && d.items == NULL);
	bar_diags_clear(&d);
}

static void test_directory(void)
{
	char *dir = scratch_dir("dir");
	char *p1 = bar_printf("%s/b.yaml", dir), *p2 = bar_printf("%s/a.yml", dir);
	char *p3 = bar_printf("%s/notes.txt", dir), *p4 = bar_printf("%s/.hidden.yaml", dir);
	char *empty = scratch_dir("empty");
	bar_config *cfg = NULL;
	bar_diags d = { 0 };
	int rc;

	write_file(p1, API "kind: Image\nmetadata: {name: img}\nspec: {connection: c1, imageId: i}\n");
	write_file(p2, LOCAL_CONN);
	write_file(p3, "not yaml: [\n");
	write_file(p4, "not yaml: [\n");
	rc = bar_config_load(&cfg, dir, &d);
	CHECK(rc == 0 && d.n == 0);
	if (cfg) {
		const bar_object *img = bar_config_find(cfg, BAR_KIND_IMAGE, "default", "img");

		CHECK(bar_config_count(cfg) == 2);
		CHECK(img && strcmp(img->loc.file, p1) == 0 && img->loc.line == 2);
		CHECK(img && img->refs[0].loc.file == img->loc.file);
	}
	bar_config_free(cfg);
	cfg = NULL;

	/* duplicates across files name the first file */
	write_file(p2, LOCAL_CONN API "kind: Image\nmetadata: {name: img}\n"
	           "spec: {connection: c1, imageId: j}\n");
	rc = bar_config_load(&cfg, dir, &d);
	CHECK(rc == BAR_EINVALID && d.n == 1);
	if (d.n == 1) {
		char *line = bar_diag_format(&d.items[0]), *want;

		want = bar_printf("%s:3:18: image \"img\": defined twice in namespace "
		                  "\"default\"; the first definition is at %s:7", p1, p2);
		CHECK_STR(line, want);
		free(line);
		free(want);
	}
	bar_diags_clear(&d);

	rc = bar_config_load(&cfg, empty, &d);
	CHECK(rc == BAR_EINVALID && d.n == 1 && cfg == NULL);
	bar_diags_clear(&d);
	rm_tree(dir);
	rm_tree(empty);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
	free(dir);
	free(empty);
}

/* Mutated good specs must never crash the loader, and a failure must come
 * with diagnostics (run it under ASan to make this meaningful). */
static void test_mutations(const char *good_dir)
{
	char *src = bar_printf("%s/20-mcir.yaml", good_dir);
	char *text = read_text(src);
	char *path = bar_printf("%s/mut.yaml", tmp_root);
	unsigned seed = 12345;
	size_t len;

	CHECK(text != NULL);
	if (!text)
		goto done;
	len = strlen(text);
	for (int round = 0; round < 400; round++) {
		char *copy = bar_strdup(text);
		bar_config *cfg = NULL;
		bar_diags d = { 0 };
		int rc;

		for (int k = 0; k < 1 + round % 4; k++) {
			static const char alphabet[] = " :-[]{}\n#&*!|>'\"\t0aZ,?%@`";
			size_t at = (seed = seed * 1103515245u + 12345u) % len;

			copy[at] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		if (round % 7 == 0)
			copy[(seed >> 8) % len] = '\0';
		write_file(path, copy);
		rc = bar_config_load(&cfg, path, &d);
		CHECK(rc == 0 ? d.n == 0 && cfg != NULL : d.n > 0 && cfg == NULL);
		for (size_t i = 0; i < d.n; i++)
			CHECK(d.items[i].line >= 1 && d.items[i].col >= 1 && d.items[i].message[0]);
		bar_config_free(cfg);
		bar_diags_clear(&d);
		free(copy);
	}
	unlink(path);
done:
	free(text);
	free(src);
	free(path);
}

static void test_kinds_api(void)
{
	bar_kind k;

	for (int i = 0; i < BAR_KIND__COUNT; i++) {
		CHECK(bar_kind_parse(&k, bar_kind_name((bar_kind)i)) == 0 && k == (bar_kind)i);
		CHECK(bar_kind_parse(&k, bar_kind_type((bar_kind)i)) == 0 && k == (bar_kind)i);
	}
	CHECK_STR(bar_kind_name(BAR_KIND_SECURITYGROUP), "SecurityGroup");
	CHECK_STR(bar_kind_type(BAR_KIND_MONITORINGPOLICY), "monitoringpolicy");
	k = BAR_KIND_MCI;
	CHECK(bar_kind_parse(&k, "Vnet") == BAR_ENOTFOUND && k == BAR_KIND_MCI);
}

static int run_unit(const char *tmp, const char *good_dir)
{
	snprintf(tmp_root, sizeof(tmp_root), "%s", tmp);
	rm_tree(tmp_root);
	make_dir(tmp_root);
	test_yaml_tree();
	test_yaml_scalars();
	test_yaml_errors();
	test_kinds_api();
	test_kind_namespace();
	test_kind_connection();
	test_kind_vnet_sg();
	test_kind_sshkey_image_spec();
	test_kind_mci();
	test_kind_mci_overlay();
	test_kind_mcapp_monitoring();
	test_order_and_find();
	test_namespace_isolation();
	test_errors_collected();
	test_directory();
	test_mutations(good_dir);
	rm_tree(tmp_root);
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}

/* ---- data-driven cases ------------------------------------------------------ */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compare `got` with the file `want_path`, or rewrite it with --update. */
static void compare_file(const char *label, const char *got, const char *want_path,
                         int update)
{
	char *want;

	if (update) {
		write_file(want_path, got);
		return;
	}
	want = read_text(want_path);
	if (!want || strcmp(want, got) != 0) {
		fprintf(stderr, "FAIL %s\n--- want (%s)\n%s--- got\n%s", label, want_path,
		        want ? want : "(missing)\n", got);
		failures++;
	} else {
		printf("ok %s\n", label);
	}
	free(want);
}

static void run_bad_case(const char *dir, const char *name, int update)
{
	char *path = bar_printf("%s/%s", dir, name);
	char *expect = bar_printf("%s/%.*s.expect", dir, (int)(strlen(name) - 5), name);
	bar_config *cfg = NULL;
	bar_diags d = { 0 };
	int rc = bar_config_load(&cfg, path, &d);
	char *got = format_diags(&d);

	if (rc != BAR_EINVALID || cfg || !d.n) {
		fprintf(stderr, "FAIL %s: expected a spec error, got rc=%d\n", name, rc);
		failures++;
	}
	/* the last error carries the same lines (up to its size limit) */
	if (got[0] && strlen(got) < 3500 &&
	    strncmp(bar_error_last(), got, strlen(got) - 1) != 0) {
		fprintf(stderr, "FAIL %s: last error differs:\n%s\n", name, bar_error_last());
		failures++;
	}
	strip_dir(got, dir);
	compare_file(name, got, expect, update);
	bar_config_free(cfg);
	bar_diags_clear(&d);
	free(got);
	free(expect);
	free(path);
}

static int run_bad(const char *dir, int update)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!dh) {
		fprintf(stderr, "cannot open %s: %s\n", dir, strerror(errno));
		return 2;
	}
	while ((de = readdir(dh))) {
		size_t len = strlen(de->d_name);

		if (len > 5 && strcmp(de->d_name + len - 5, ".yaml") == 0) {
			names = bar_realloc(names, (n + 1) * sizeof(*names));
			names[n++] = bar_strdup(de->d_name);
		}
	}
	closedir(dh);
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		run_bad_case(dir, names[i], update);
		free(names[i]);
	}
	free(names);
	if (n < 25) {
		fprintf(stderr, "FAIL only %zu bad cases in %s\n", n, dir);
		failures++;
	}
	printf("%zu bad cases, %d failed\n", n, failures);
	return failures ? 1 : 0;
}

static int run_good(const char *dir, int update)
{
	bar_config *cfg = NULL;
	bar_diags d = { 0 };
	char *want_path = bar_printf("%s/expected.txt", dir);
	int seen[BAR_KIND__COUNT] = { 0 };
	char *got;

	setenv("HOME", "/home/tester", 1);
	if (bar_config_load(&cfg, dir, &d) != 0) {
		got = format_diags(&d);
		fprintf(stderr, "FAIL loading %s:\n%s", dir, got);
		free(got);
		bar_diags_clear(&d);
		free(want_path);
		return 1;
	}
	for (size_t i = 0; i < bar_config_count(cfg); i++)
		seen[bar_config_get(cfg, i)->kind]++;
	for (int k = 0; k < BAR_KIND__COUNT; k++)
		if (!seen[k]) {
			fprintf(stderr, "FAIL no %s in %s\n", bar_kind_name((bar_kind)k), dir);
			failures++;
		}
	got = dump_config(cfg);
	strip_dir(got, dir);
	compare_file("good", got, want_path, update);
	free(got);
	free(want_path);
	bar_config_free(cfg);
	return failures ? 1 : 0;
}

/* Every ```yaml block of a Markdown file, together, must load. */
static int run_doc(const char *md, const char *tmp)
{
	char *text = read_text(md), *dir, *p, *end;
	int blocks = 0, seen[BAR_KIND__COUNT] = { 0 };
	bar_config *cfg = NULL;
	bar_diags d = { 0 };

	if (!text) {
		fprintf(stderr, "cannot read %s\n", md);
		return 2;
	}
	snprintf(tmp_root, sizeof(tmp_root), "%s", tmp);
	make_dir(tmp_root);
	dir = scratch_dir("doc");
	for (p = text; (p = strstr(p, "```yaml\n")) && (end = strstr(p + 8, "```")); p = end + 3) {
		char *path = bar_printf("%s/block-%02d.yaml", dir, ++blocks);

		*end = '\0';
		write_file(path, p + 8);
		free(path);
	}
	CHECK(blocks >= 10);
	if (bar_config_load(&cfg, dir, &d) != 0) {
		char *msgs = format_diags(&d);

		fprintf(stderr, "FAIL the examples of %s do not load:\n%s", md, msgs);
		free(msgs);
		failures++;
	}
	for (size_t i = 0; i < bar_config_count(cfg); i++)
		seen[bar_config_get(cfg, i)->kind]++;
	for (int k = 0; cfg && k < BAR_KIND__COUNT; k++)
		if (!seen[k]) {
			fprintf(stderr, "FAIL no %s example in %s\n", bar_kind_name((bar_kind)k), md);
			failures++;
		}
	printf("%d example blocks, %zu objects: %s\n", blocks, bar_config_count(cfg),
	       failures ? "FAIL" : "ok");
	bar_config_free(cfg);
	bar_diags_clear(&d);
	rm_tree(dir);
	rmdir(tmp_root);
	free(dir);
	free(text);
	return failures ? 1 : 0;
}

static int run_dump(const char *path)
{
	bar_config *cfg = NULL;
	bar_diags d = { 0 };
	char *text;
	int rc = bar_config_load(&cfg, path, &d);

	text = rc == 0 ? dump_config(cfg) : format_diags(&d);
	fputs(text, rc == 0 ? stdout : stderr);
	free(text);
	bar_config_free(cfg);
	bar_diags_clear(&d);
	return rc == 0 ? 0 : 1;
}

/* ---- performance -------------------------------------------------------------- */

/* n VMs: MCIs of up to 100 groups of count 1 each, on one set of MCIR. */
static void write_perf_config(const char *dir, long n)
{
	char *mcir = bar_printf("%s/00-mcir.yaml", dir), *mci = bar_printf("%s/10-mci.yaml", dir);
	bar_buf b = BAR_BUF_INIT(0);
	char *text;
	long done = 0;

	write_file(mcir, base_mcir);
	for (long m = 0; done < n; m++) {
		bar_buf_printf(&b, "%s" API "kind: MCI\nmetadata:\n  name: mci-%ld\n"
		               "spec:\n  groups:\n", m ? "---\n" : "", m);
		for (int g = 0; g < 100 && done < n; g++, done++)
			bar_buf_printf(&b, "    - name: group-%d\n      connection: c1\n"
			               "      spec: sp\n      image: img\n      vnet: net\n"
			               "      securityGroups: [sg]\n      sshKey: key\n"
			               "      count: 1\n      labels: {tier: web, zone: z%d}\n",
			               g, g % 3);
	}
	text = bar_buf_take(&b);
	write_file(mci, text);
	free(text);
	free(mcir);
	free(mci);
}

static int run_perf(long n, const char *tmp, double max_seconds)
{
	char *dir, *path, *text;
	bar_config *cfg = NULL;
	bar_diags d = { 0 };
	bar_yaml *y = NULL;
	double t0, t_parse, t_load;
	int rc;

	snprintf(tmp_root, sizeof(tmp_root), "%s", tmp);
	make_dir(tmp_root);
	dir = scratch_dir("perf");
	write_perf_config(dir, n);
	path = bar_printf("%s/10-mci.yaml", dir);
	text = read_text(path);
	t0 = bar_now_s();
	rc = bar_yaml_parse(&y, text, strlen(text));
	t_parse = bar_now_s() - t0;
	CHECK(rc == 0 && bar_yaml_error_count(y) == 0);
	bar_yaml_free(y);
	t0 = bar_now_s();
	rc = bar_config_load(&cfg, dir, &d);
	t_load = bar_now_s() - t0;
	CHECK(rc == 0 && d.n == 0);
	CHECK(cfg && bar_config_count(cfg) == 6 + (size_t)((n + 99) / 100));
	printf("%ld VMs: %zu bytes of YAML, parse %.1f ms, load (parse + validate) %.1f ms\n",
	       n, strlen(text), t_parse * 1000, t_load * 1000);
	if (max_seconds > 0 && t_load > max_seconds) {
		fprintf(stderr, "FAIL load took %.3f s, more than %.3f s\n", t_load, max_seconds);
		failures++;
	}
	bar_config_free(cfg);
	bar_diags_clear(&d);
	rm_tree(dir);
	rmdir(tmp_root);
	free(text);
	free(path);
	free(dir);
	return failures ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: test_spec unit TMPDIR GOODDIR\n"
	                "       test_spec good DIR [--update]\n"
	                "       test_spec bad DIR [--update]\n"
	                "       test_spec perf N TMPDIR [MAX_SECONDS]\n"
	                "       test_spec doc FILE.md TMPDIR\n"
	                "       test_spec dump PATH\n");
	return 2;
}

int main(int argc, char **argv)
{
	int update = argc > 3 && strcmp(argv[3], "--update") == 0;

	if (argc >= 4 && strcmp(argv[1], "unit") == 0)
		return run_unit(argv[2], argv[3]);
	if (argc >= 3 && strcmp(argv[1], "good") == 0)
		return run_good(argv[2], update);
	if (argc >= 3 && strcmp(argv[1], "bad") == 0)
		return run_bad(argv[2], update);
	if (argc >= 4 && strcmp(argv[1], "perf") == 0)
		return run_perf(atol(argv[2]), argv[3], argc > 4 ? atof(argv[4]) : 0);
	if (argc >= 4 && strcmp(argv[1], "doc") == 0)
		return run_doc(argv[2], argv[3]);
	if (argc >= 3 && strcmp(argv[1], "dump") == 0)
		return run_dump(argv[2]);
	return usage();
}
