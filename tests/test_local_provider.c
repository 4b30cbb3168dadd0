/*
 * test_local_provider.c - integration test of the `local` provider plugin
 * with real namespaces, bridges, nftables, cgroups and sshd.
 *
 *   test_local_provider <barista-provider-local.so>            functional test
 *   test_local_provider <barista-provider-local.so> scale N T   N VMs, T threads
 *
 * The program is a tiny host: it dlopens the plugin and implements
 * bar_host_api (emit into a list, set_error into a buffer, emit_secret into
 * memory).  The test body runs in a forked child under a time limit; the
 * parent, a child subreaper, then deletes through the plugin every resource
 * the child recorded or left under the temporary root, kills and reaps any
 * stray process, and removes the temporary directory, so nothing is left even
 * when the child fails, crashes or hangs.  Needs root (exit 77 = skipped).
 */
#include "barista_provider.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REGION "local-test"
#define TEST_LIMIT_S 100
#define MAXOBS 512

#define CHECK(cond, ...)                                                                    \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
			fprintf(stderr, __VA_ARGS__);                                       \
			fputc('\n', stderr);                                                \
			exit(1);                                                            \
		}                                                                           \
	} while (0)

/* ---- the host side: sink, calls, plugin ---- */

typedef struct obs {
	char *id, *name, *status, *attrs, *tags;
} obs;

struct bar_sink {
	int n;
	obs o[MAXOBS];
	char *secret;
};

typedef struct tcall {
	bar_call call;
	char code[64];
	char msg[2048];
} tcall;

static bar_provider *prov;
static void *plugin;
static char tmpdir[PATH_MAX], root[PATH_MAX], idsfile[PATH_MAX], config[PATH_MAX + 32];
static char keyfile[PATH_MAX];

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		abort();
	return p;
}

static int host_emit(bar_sink *s, const bar_observed *o)
{
	if (s->n >= MAXOBS)
		return -1;
	s->o[s->n].id = xstrdup(o->system_id);
	s->o[s->n].name = xstrdup(o->name);
	s->o[s->n].status = xstrdup(o->status);
	s->o[s->n].attrs = xstrdup(o->attrs);
	s->o[s->n].tags = xstrdup(o->tags);
	s->n++;
	return 0;
}

__attribute__((format(printf, 3, 4))) static void
host_set_error(bar_call *call, const char *code, const char *fmt, ...)
{
	tcall *t = call->host_data;
	va_list ap;

	snprintf(t->code, sizeof(t->code), "%s", code ? code : "");
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void
host_log(bar_call *call, int level, const char *fmt, ...)
{
	va_list ap;

	(void)call;
	if (level < BAR_LOG_WARN && !getenv("BAR_LOCAL_DEBUG"))
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int host_cancelled(bar_call *call)
{
	(void)call;
	return 0;
}

static const char *host_credential(bar_call *call, const char *field)
{
	(void)call;
	(void)field;
	return NULL;
}

static int host_emit_secret(bar_sink *s, const char *field, const char *value)
{
	if (strcmp(field, "privateKey") != 0 || s->secret)
		return -1;
	s->secret = xstrdup(value);
	return 0;
}

static void host_set_operation(bar_call *call, const char *token)
{
	(void)call;
	(void)token; /* the local provider's operations all finish in the call */
}

static const bar_host_api HOST = {
	.abi_version = BAR_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(bar_host_api),
	.emit = host_emit,
	.set_error = host_set_error,
	.log = host_log,
	.cancelled = host_cancelled,
	.credential = host_credential,
	.emit_secret = host_emit_secret,
	.set_operation = host_set_operation,
};

static void sink_reset(bar_sink *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->o[i].id);
		free(s->o[i].name);
		free(s->o[i].status);
		free(s->o[i].attrs);
		free(s->o[i].tags);
	}
	if (s->secret) {
		memset(s->secret, 0, strlen(s->secret));
		free(s->secret);
	}
	memset(s, 0, sizeof(*s));
}

static int64_t now_ms(void);
static _Thread_local int64_t next_deadline_ms; /* for this thread's next call; 0: none */

static void tcall_init(tcall *t)
{
	memset(t, 0, sizeof(*t));
	t->call.deadline_ms = next_deadline_ms;
	next_deadline_ms = 0;
	t->call.struct_size = sizeof(bar_call);
	t->call.connection = "local-test";
	t->call.region = REGION;
	t->call.zone = "";
	t->call.config = config;
	t->call.host_data = t;
}

static void plugin_load(const char *path)
{
	barista_provider_init_fn init;
	char *err = NULL;

	plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CHECK(plugin, "dlopen %s: %s", path, dlerror());
	init = (barista_provider_init_fn)dlsym(plugin, BAR_PROVIDER_INIT_SYMBOL);
	CHECK(init, "no %s in %s", BAR_PROVIDER_INIT_SYMBOL, path);
	CHECK(init(&HOST, &prov, &err) == 0, "init failed: %s", err ? err : "?");
	CHECK(strcmp(prov->name, "local") == 0, "name %s", prov->name);
	CHECK(prov->capabilities & BAR_CAP_LIST, "no LIST capability");
}

/* ---- inputs ---- */

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);

	CHECK(j, "bad test JSON %s: %s", text, e.text);
	return j;
}

/* Input text of a resource; attrs/refs are JSON text, id may be NULL. */
static char *input(const char *type, const char *name, const char *attrs, json_t *refs,
                   const char *id)
{
	char addr[256];
	json_t *in;
	char *text;

	snprintf(addr, sizeof(addr), "default/%s/%s", type, name);
	in = json_pack("{s:s,s:s,s:s,s:o,s:o,s:{s:s,s:s}}", "type", type, "name", name,
	               "namespace", "default", "attrs", J(attrs), "refs",
	               refs ? json_incref(refs) : json_object(), "tags", "barista:address", addr,
	               "barista:test", "local");
	if (id)
		json_object_set_new(in, "system_id", json_string(id));
	text = json_dumps(in, JSON_COMPACT);
	json_decref(in);
	return text;
}

static void ids_record(const char *type, const char *id)
{
	FILE *f = fopen(idsfile, "a");

	if (f) {
		fprintf(f, "%s %s\n", type, id);
		fclose(f);
	}
}

/* A created resource as a ref: {"system_id","name","attrs"}. */
typedef struct res {
	char id[32], name[64];
	json_t *attrs;
	char status[32];
} res;

static json_t *ref_of(const res *r)
{
	return json_pack("{s:s,s:s,s:O}", "system_id", r->id, "name", r->name, "attrs", r->attrs);
}

static int do_create(tcall *t, res *out, const char *type, const char *name,
                     const char *attrs, json_t *refs, bar_sink *keep)
{
	bar_sink sink = { 0 };
	char *in = input(type, name, attrs, refs, NULL);
	int rc;

	tcall_init(t);
	rc = prov->create(prov, &t->call, type, in, &sink);
	free(in);
	if (rc == 0) {
		CHECK(sink.n == 1, "create %s %s emitted %d observations", type, name, sink.n);
		snprintf(out->id, sizeof(out->id), "%s", sink.o[0].id);
		snprintf(out->name, sizeof(out->name), "%s", name);
		snprintf(out->status, sizeof(out->status), "%s", sink.o[0].status);
		out->attrs = J(sink.o[0].attrs);
		ids_record(type, out->id);
	} else {
		CHECK(t->msg[0], "create %s %s failed (%d) without a message", type, name, rc);
	}
	if (keep)
		*keep = sink;
	else
		sink_reset(&sink);
	return rc;
}

static int do_call(tcall *t, bar_sink *sink, const char *op, const char *type, const res *r,
                   const char *attrs, json_t *refs)
{
	char *in = input(type, r->name, attrs ? attrs : "{}", refs, r->id);
	int rc;

	tcall_init(t);
	if (strcmp(op, "read") == 0)
		rc = prov->read(prov, &t->call, type, in, sink);
	else if (strcmp(op, "update") == 0)
		rc = prov->update(prov, &t->call, type, in, sink);
	else if (strcmp(op, "delete") == 0)
		rc = prov->del(prov, &t->call, type, in);
	else
		rc = prov->vm_action(prov, &t->call, op, in, sink);
	free(in);
	if (rc)
		CHECK(t->msg[0], "%s %s %s failed (%d) without a message", op, type, r->id, rc);
	return rc;
}

/* ---- probes of the real thing ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int exists(const char *dir, const char *id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", dir, id);
	return access(path, F_OK) == 0;
}

/* Connect with a timeout; 0 or the errno.  *fd_out keeps the socket. */
static int tcp_connect(const char *ip, int port, int timeout_ms, int *fd_out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
	socklen_t len = sizeof(err);
	struct pollfd p = { fd, POLLOUT, 0 };

	inet_pton(AF_INET, ip, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
		} else if (poll(&p, 1, timeout_ms) != 1) {
			err = ETIMEDOUT;
		} else {
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		}
	}
	if (err || !fd_out)
		close(fd);
	else
		*fd_out = fd;
	return err;
}

/* 1 if ip:22 accepts and greets with an SSH banner within wait_ms. */
static int ssh_banner(const char *ip, int wait_ms)
{
	char buf[256] = "";
	int fd = -1;
	ssize_t n = 0;

	if (tcp_connect(ip, 22, wait_ms, &fd) != 0)
		return 0;
	struct pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, wait_ms) == 1)
		n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 8 && strncmp(buf, "SSH-2.0-", 8) == 0;
}

static json_t *meta_of(const char *id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/vm/%s/meta.json", root, id);
	return json_load_file(path, 0, NULL);
}

static int vm_pid(const char *id)
{
	json_t *m = meta_of(id);
	int pid = (int)json_integer_value(json_object_get(json_object_get(m, "local"), "pid"));

	json_decref(m);
	return pid;
}

/* Hostname seen in the UTS namespace of pid (read in a forked child). */
static void vm_hostname(char *out, size_t size, int pid)
{
	char path[64];
	int p[2];
	pid_t c;

	out[0] = '\0';
	CHECK(pipe(p) == 0, "pipe");
	c = fork();
	if (c == 0) {
		struct utsname u;
		snprintf(path, sizeof(path), "/proc/%d/ns/uts", pid);
		int fd = open(path, O_RDONLY);
		if (fd < 0 || setns(fd, CLONE_NEWUTS) < 0 || uname(&u) < 0)
			_exit(1);
		if (write(p[1], u.nodename, strlen(u.nodename)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	ssize_t n = read(p[0], out, size - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(c, NULL, 0);
}

/* A TCP listener on `port` inside netns `id`; checks it accepts from the
 * VM's own loopback, so a refusal from outside is the firewall's doing. */
static pid_t listener_start(const char *id, int port)
{
	char path[PATH_MAX], ok = 0;
	int p[2];
	pid_t c;

	CHECK(pipe(p) == 0, "pipe");
	c = fork();
	if (c == 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int one = 1, s;
		snprintf(path, sizeof(path), "/run/netns/%s", id);
		int fd = open(path, O_RDONLY);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(1);
		s = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 16) < 0)
			_exit(1);
		if (tcp_connect("127.0.0.1", port, 1000, NULL) != 0)
			_exit(1);
		if (write(p[1], "1", 1) < 0)
			_exit(1);
		for (;;) {
			int a = accept(s, NULL, NULL);
			if (a >= 0)
				close(a);
		}
	}
	close(p[1]);
	CHECK(read(p[0], &ok, 1) == 1 && ok == '1', "listener in %s did not start", id);
	close(p[0]);
	return c;
}

/* Reap orphans (VM inits reparented to us); only between plugin calls. */
static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Any process whose command line mentions our root directory. */
static int procs_under_root(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)) != NULL) {
		char path[300], buf[4096];
		ssize_t len;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((fd = open(path, O_RDONLY)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (ssize_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[len > 0 ? len : 0] = '\0';
		if (strstr(buf, root))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* Nothing of VM `id` left anywhere. */
static void check_vm_gone(const char *id)
{
	static const char *const cg[] = { "memory", "cpu", "cpuacct", "pids", "freezer" };
	char path[PATH_MAX];

	CHECK(!exists("/run/netns/", id), "netns %s left", id);
	CHECK(!exists("/sys/class/net/", id), "veth %s left", id);
	for (size_t i = 0; i < sizeof(cg) / sizeof(cg[0]); i++) {
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/barista/%s", cg[i], id);
		CHECK(access(path, F_OK) < 0, "cgroup %s left", path);
	}
	CHECK(!exists("/sys/fs/cgroup/barista/", id), "cgroup v2 %s left", id);
	snprintf(path, sizeof(path), "%s/vm/%s", root, id);
	CHECK(access(path, F_OK) < 0, "vm dir %s left", path);
}

static const char *attr_s(const res *r, const char *key)
{
	return json_string_value(json_object_get(r->attrs, key));
}

/* ---- the functional test ---- */

static const char *VNET = "{\"cidr\":\"10.231.0.0/16\",\"subnets\":"
                          "[{\"name\":\"sub1\",\"cidr\":\"10.231.1.0/24\"}]}";
static const char *SG22 = "{\"vnet\":\"net1\",\"ingress\":[{\"protocol\":\"tcp\",\"fromPort\":22,"
                          "\"toPort\":22,\"cidr\":\"0.0.0.0/0\"}],\"egress\":[{\"protocol\":"
                          "\"all\",\"fromPort\":-1,\"toPort\":-1,\"cidr\":\"0.0.0.0/0\"}]}";

static void test_not_root(void)
{
	pid_t c = fork();
	int st;

	if (c == 0) {
		tcall t;
		bar_sink s = { 0 };
		char *in = input("vnet", "net1", VNET, NULL, NULL);
		if (setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		tcall_init(&t);
		int rc = prov->create(prov, &t.call, "vnet", in, &s);
		_exit(rc == BAR_EAUTH && strstr(t.msg, "must run as root") && s.n == 0 ? 0 : 1);
	}
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "non-root create did not fail with EAUTH");
	printf("ok - not root: EAUTH\n");
}

static void host_image(char *out, size_t size)
{
	char line[512], id[128] = "", ver[128] = "";
	FILE *f = fopen("/etc/os-release", "r");

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *v = strchr(line, '=');
		if (!v)
			continue;
		*v++ = '\0';
		if (*v == '"') {
			v++;
			v[strcspn(v, "\"")] = '\0';
		}
		if (strcmp(line, "ID") == 0)
			snprintf(id, sizeof(id), "%s", v);
		if (strcmp(line, "VERSION_ID") == 0)
			snprintf(ver, sizeof(ver), "%s", v);
	}
	if (f)
		fclose(f);
	snprintf(out, size, "%s-%s", id, ver);
}

static void test_catalog(res *vnet, res *sg, res *key, res *img, res *spec)
{
	char attrs[256], imgid[200];
	bar_sink keep = { 0 };
	tcall t;
	res bad;

	CHECK(do_create(&t, vnet, "vnet", "net1", VNET, NULL, NULL) == 0, "vnet: %s", t.msg);
	CHECK(exists("/sys/class/net/", vnet->id), "bridge %s missing", vnet->id);
	CHECK(strcmp(vnet->status, "Available") == 0, "vnet status %s", vnet->status);
	CHECK(do_create(&t, &bad, "vnet", "net2",
	                "{\"cidr\":\"10.231.128.0/17\",\"subnets\":[{\"name\":\"a\","
	                "\"cidr\":\"10.231.200.0/24\"}]}",
	                NULL, NULL) == BAR_EINVALID &&
	          strstr(t.msg, "overlaps") && strstr(t.msg, "net1"),
	      "overlapping vnet: %s", t.msg);
	printf("ok - vnet %s; overlap refused: %s\n", vnet->id, t.msg);

	json_t *refs = json_pack("{s:o}", "vnet", ref_of(vnet));
	CHECK(do_create(&t, sg, "securitygroup", "sg1", SG22, refs, NULL) == 0, "sg: %s", t.msg);
	json_decref(refs);

	CHECK(do_create(&t, key, "sshkey", "key1", "{\"publicKey\":null}", NULL, &keep) == 0,
	      "sshkey: %s", t.msg);
	CHECK(keep.secret && strstr(keep.secret, "OPENSSH " "PRIVATE KEY-----"),
	      "no private key handed to the host");
	snprintf(keyfile, sizeof(keyfile), "%s/id_ed25519", tmpdir);
	int kfd = open(keyfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(kfd >= 0 && write(kfd, keep.secret, strlen(keep.secret)) == (ssize_t)strlen(keep.secret),
	      "saving the key");
	close(kfd);
	CHECK(attr_s(key, "publicKey") && strncmp(attr_s(key, "publicKey"), "ssh-ed25519 ", 12) == 0,
	      "publicKey %s", attr_s(key, "publicKey"));
	CHECK(attr_s(key, "fingerprint") && strncmp(attr_s(key, "fingerprint"), "SHA256:", 7) == 0,
	      "fingerprint");
	sink_reset(&keep);
	printf("ok - sshkey generated, private key emitted as a secret\n");

	/* A given public key is kept (same fingerprint); junk and smuggled
	 * extra lines are refused. */
	char given[1024];
	res imported;
	snprintf(given, sizeof(given), "{\"publicKey\":\"%s\"}", attr_s(key, "publicKey"));
	CHECK(do_create(&t, &imported, "sshkey", "key2", given, NULL, &keep) == 0, "%s", t.msg);
	CHECK(!keep.secret, "a secret was emitted for a given key");
	sink_reset(&keep);
	CHECK(strcmp(attr_s(&imported, "fingerprint"), attr_s(key, "fingerprint")) == 0,
	      "fingerprints differ");
	CHECK(do_call(&t, &keep, "delete", "sshkey", &imported, NULL, NULL) == 0, "%s", t.msg);
	json_decref(imported.attrs);
	CHECK(do_create(&t, &bad, "sshkey", "key3", "{\"publicKey\":\"ssh-ed25519 AAAAnot-a-key\"}",
	                NULL, NULL) == BAR_EINVALID, "a junk key was accepted");
	CHECK(do_create(&t, &bad, "sshkey", "key4",
	                "{\"publicKey\":\"ssh-ed25519 AAAA x\\nssh-rsa AAAA y\"}", NULL,
	                NULL) == BAR_EINVALID && strstr(t.msg, "newlines"),
	      "a two-line key was accepted: %s", t.msg);
	printf("ok - given public keys checked\n");

	host_image(imgid, sizeof(imgid));
	snprintf(attrs, sizeof(attrs), "{\"imageId\":\"%s\",\"os\":\"\"}", imgid);
	CHECK(do_create(&t, img, "image", "img1", attrs, NULL, NULL) == 0, "image: %s", t.msg);
	CHECK(do_create(&t, &bad, "image", "img2", "{\"imageId\":\"plan9-4\"}", NULL, NULL) ==
	              BAR_EINVALID && strstr(t.msg, "available images") && strstr(t.msg, imgid),
	      "bad image: %s", t.msg);
	printf("ok - image %s; bad image refused: %s\n", imgid, t.msg);

	CHECK(do_create(&t, spec, "spec", "small",
	                "{\"specId\":\"\",\"vcpu\":1,\"memoryMiB\":256,\"diskGiB\":10}", NULL,
	                NULL) == 0, "spec: %s", t.msg);
	CHECK(do_create(&t, &bad, "spec", "huge", "{\"vcpu\":9999,\"memoryMiB\":256}", NULL, NULL) ==
	              BAR_EINVALID, "huge spec accepted");

	bar_sink s = { 0 };
	tcall_init(&t);
	CHECK(prov->list(prov, &t.call, "vnet", &s) == 0 && s.n == 1 &&
	          strcmp(s.o[0].id, vnet->id) == 0, "list vnet: %d, %s", s.n, t.msg);
	sink_reset(&s);
	CHECK(do_call(&t, &s, "read", "securitygroup", sg, NULL, NULL) == 0 && s.n == 1,
	      "read sg: %s", t.msg);
	json_t *seen = J(s.o[0].attrs);
	CHECK(json_equal(seen, sg->attrs), "sg observed attrs not stable: %s", s.o[0].attrs);
	json_decref(seen);
	sink_reset(&s);
}

/* Log in with the generated key, pinning the observed host key; returns
 * what `hostname; echo $HOME` printed. */
static void ssh_login(char *out, size_t size, const res *vm)
{
	char kh[PATH_MAX], cmd[3 * PATH_MAX];
	FILE *f;

	snprintf(kh, sizeof(kh), "%s/known_hosts", tmpdir);
	f = fopen(kh, "w");
	CHECK(f, "known_hosts");
	fprintf(f, "%s %s\n", attr_s(vm, "privateIp"), attr_s(vm, "hostKey"));
	fclose(f);
	snprintf(cmd, sizeof(cmd),
	         "ssh -F none -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes "
	         "-o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR root@%s "
	         "'hostname; echo $HOME' 2>&1 </dev/null",
	         keyfile, kh, attr_s(vm, "privateIp"));
	out[0] = '\0';
	f = popen(cmd, "r");
	CHECK(f, "popen ssh");
	size_t n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	CHECK(pclose(f) == 0, "ssh login failed: %s", out);
}

static json_t *vm_refs(const res *vnet, const res *sg, const res *key, const res *img,
                       const res *spec)
{
	return json_pack("{s:o,s:[o],s:o,s:o,s:o}", "vnet", ref_of(vnet), "securityGroups",
	                 ref_of(sg), "sshKey", ref_of(key), "image", ref_of(img), "spec",
	                 ref_of(spec));
}

static const char *VMATTRS = "{\"mci\":\"web\",\"group\":\"seoul\",\"index\":1,"
                             "\"subnet\":\"sub1\",\"state\":\"Running\",\"labels\":{}}";

static void test_vm_boot(res *vm, const char *name, json_t *refs)
{
	char host[128];
	tcall t;

	int64_t t0 = now_ms();
	CHECK(do_create(&t, vm, "vm", name, VMATTRS, refs, NULL) == 0, "vm %s: %s", name, t.msg);
	printf("ok - vm %s (%s) created in %lld ms at %s\n", name, vm->id,
	       (long long)(now_ms() - t0), attr_s(vm, "privateIp"));
	CHECK(strcmp(vm->status, "Running") == 0, "status %s", vm->status);
	CHECK(exists("/run/netns/", vm->id), "netns %s missing", vm->id);
	CHECK(exists("/sys/class/net/", vm->id), "veth %s missing", vm->id);
	CHECK(attr_s(vm, "hostKey") && strncmp(attr_s(vm, "hostKey"), "ssh-ed25519 ", 12) == 0,
	      "hostKey");
	vm_hostname(host, sizeof(host), vm_pid(vm->id));
	CHECK(strcmp(host, name) == 0, "hostname inside is \"%s\"", host);
	CHECK(ssh_banner(attr_s(vm, "privateIp"), 2000), "no SSH banner from %s:22",
	      attr_s(vm, "privateIp"));
	char want[160], got[512];
	t0 = now_ms();
	ssh_login(got, sizeof(got), vm);
	snprintf(want, sizeof(want), "%s\n/root\n", name);
	CHECK(strcmp(got, want) == 0, "ssh session printed \"%s\"", got);
	printf("ok - ssh root@%s with the generated key and pinned host key (%lld ms)\n",
	       attr_s(vm, "privateIp"), (long long)(now_ms() - t0));
}

static void test_firewall(const res *vm, const res *sg, const res *vnet, pid_t *listener)
{
	const char *ip = attr_s(vm, "privateIp");
	bar_sink s = { 0 };
	tcall t;
	int fd = -1;

	*listener = listener_start(vm->id, 8080);
	int64_t t0 = now_ms();
	int err = tcp_connect(ip, 8080, 3000, NULL);
	CHECK(err == ECONNREFUSED && now_ms() - t0 < 1000,
	      "blocked port 8080 gave \"%s\" after %lld ms, want a prompt refusal", strerror(err),
	      (long long)(now_ms() - t0));
	printf("ok - port 8080 refused by the security group in %lld ms\n",
	       (long long)(now_ms() - t0));
	/* Opening 8080 in the group re-applies the rules to the VM. */
	json_t *refs = json_pack("{s:o}", "vnet", ref_of(vnet));
	CHECK(do_call(&t, &s, "update", "securitygroup", sg,
	              "{\"vnet\":\"net1\",\"ingress\":[{\"protocol\":\"tcp\",\"fromPort\":22,"
	              "\"toPort\":22,\"cidr\":\"0.0.0.0/0\"},{\"protocol\":\"tcp\",\"fromPort\":8000,"
	              "\"toPort\":8100,\"cidr\":\"10.231.0.0/16\"}],\"egress\":[]}",
	              refs) == 0, "sg update: %s", t.msg);
	json_decref(refs);
	sink_reset(&s);
	CHECK(tcp_connect(ip, 8080, 2000, &fd) == 0, "8080 still closed after the sg update");
	close(fd);
	printf("ok - security group update re-applied: 8080 open\n");
}

static void test_list(const res *a, const res *b, int want)
{
	bar_sink s = { 0 };
	tcall t;
	int seen = 0;

	tcall_init(&t);
	CHECK(prov->list(prov, &t.call, "vm", &s) == 0, "list: %s", t.msg);
	for (int i = 0; i < s.n; i++) {
		int ours = (a && strcmp(s.o[i].id, a->id) == 0) || (b && strcmp(s.o[i].id, b->id) == 0);
		CHECK(ours, "list returned unknown %s", s.o[i].id);
		CHECK(strstr(s.o[i].tags, "\"barista:address\":\"default/vm/"), "tags %s", s.o[i].tags);
		seen++;
	}
	CHECK(seen == want, "list returned %d VMs, want %d", seen, want);
	sink_reset(&s);
}

static void expect_status(const res *vm, const char *op, const char *want)
{
	bar_sink s = { 0 };
	tcall t;

	CHECK(do_call(&t, &s, op, "vm", vm, VMATTRS, NULL) == 0, "%s: %s", op, t.msg);
	CHECK(s.n == 1 && strcmp(s.o[0].status, want) == 0, "%s gave %s, want %s", op,
	      s.n ? s.o[0].status : "nothing", want);
	sink_reset(&s);
	CHECK(do_call(&t, &s, "read", "vm", vm, NULL, NULL) == 0, "read: %s", t.msg);
	CHECK(strcmp(s.o[0].status, want) == 0, "read after %s: %s", op, s.o[0].status);
	sink_reset(&s);
}

/* update: state in place; anything else needs a replacement. */
static void test_update(const res *vm, json_t *refs)
{
	bar_sink s = { 0 };
	tcall t;

	CHECK(do_call(&t, &s, "update", "vm", vm,
	              "{\"mci\":\"web\",\"group\":\"seoul\",\"index\":1,\"subnet\":\"sub1\","
	              "\"state\":\"Suspended\",\"labels\":{\"tier\":\"front\"}}",
	              refs) == 0 && s.n == 1 && strcmp(s.o[0].status, "Suspended") == 0,
	      "update to Suspended: %s", t.msg);
	sink_reset(&s);
	CHECK(do_call(&t, &s, "update", "vm", vm, VMATTRS, refs) == 0 && s.n == 1 &&
	          strcmp(s.o[0].status, "Running") == 0, "update to Running: %s", t.msg);
	sink_reset(&s);
	CHECK(do_call(&t, &s, "update", "vm", vm,
	              "{\"mci\":\"web\",\"group\":\"seoul\",\"index\":2,\"subnet\":\"sub1\","
	              "\"state\":\"Running\"}", refs) == BAR_ENOTSUP && s.n == 0,
	      "an index change was applied in place: %s", t.msg);
	printf("ok - update: state in place, other changes need a replacement\n");
}

static void test_lifecycle(res *vm1, res *vm2)
{
	bar_sink s = { 0 };
	tcall t;
	int old = vm_pid(vm1->id);

	expect_status(vm1, "suspend", "Suspended");
	/* Frozen: the kernel still completes the handshake, sshd cannot greet. */
	CHECK(!ssh_banner(attr_s(vm1, "privateIp"), 300), "a suspended VM's sshd answered");
	expect_status(vm1, "resume", "Running");
	printf("ok - suspend / resume\n");
	expect_status(vm1, "reboot", "Running");
	CHECK(do_call(&t, &s, "read", "vm", vm1, NULL, NULL) == 0, "read: %s", t.msg);
	json_t *a = J(s.o[0].attrs);
	CHECK(json_equal(a, vm1->attrs), "observed attrs changed by reboot: %s", s.o[0].attrs);
	json_decref(a);
	sink_reset(&s);
	CHECK(vm_pid(vm1->id) != old, "reboot kept the same init");
	reap();
	CHECK(ssh_banner(attr_s(vm1, "privateIp"), 2000), "no sshd after reboot");
	printf("ok - reboot: same host key and address, sshd back\n");

	/* Out-of-band death: the VM must read as not found, and delete cleans it. */
	CHECK(kill(vm_pid(vm2->id), SIGKILL) == 0, "kill");
	for (int i = 0; i < 200 && kill(vm_pid(vm2->id), 0) == 0; i++) {
		reap();
		usleep(10000);
	}
	CHECK(do_call(&t, &s, "read", "vm", vm2, NULL, NULL) == BAR_ENOTFOUND,
	      "read of a killed VM: %s", t.msg);
	sink_reset(&s);
	test_list(vm1, NULL, 1);
	CHECK(do_call(&t, &s, "delete", "vm", vm2, NULL, NULL) == 0, "delete half-gone: %s", t.msg);
	check_vm_gone(vm2->id);
	CHECK(do_call(&t, &s, "delete", "vm", vm2, NULL, NULL) == BAR_ENOTFOUND,
	      "second delete: %s", t.msg);
	printf("ok - killed VM reads NOT FOUND; delete cleans what was left\n");
}

static int run_functional(void)
{
	res vnet, sg, key, img, spec, vm1, vm2, bad;
	bar_sink s = { 0 };
	pid_t listener;
	tcall t;

	test_not_root();
	test_catalog(&vnet, &sg, &key, &img, &spec);

	/* A VM whose key has no public half is refused and leaves nothing. */
	json_t *refs = vm_refs(&vnet, &sg, &key, &img, &spec);
	json_t *nokey = json_deep_copy(refs);
	json_object_set_new(json_object_get(json_object_get(nokey, "sshKey"), "attrs"), "publicKey",
	                    json_null());
	CHECK(do_create(&t, &bad, "vm", "web-seoul-9", VMATTRS, nokey, NULL) == BAR_EINVALID &&
	          strstr(t.msg, "publicKey"), "vm without public key: %s", t.msg);
	json_decref(nokey);
	printf("ok - vm without a public key refused: %s\n", t.msg);

	/* A create that runs out of time undoes everything it made. */
	next_deadline_ms = now_ms() - 1;
	CHECK(do_create(&t, &bad, "vm", "web-seoul-8", VMATTRS, refs, NULL) == BAR_ETIMEOUT,
	      "create past its deadline: %s", t.msg);
	reap();
	CHECK(procs_under_root() == 0, "a timed-out create left processes");
	DIR *nsd = opendir("/run/netns");
	for (struct dirent *e; nsd && (e = readdir(nsd)) != NULL;) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/vm/%s", root, e->d_name);
		CHECK(strncmp(e->d_name, "bvm-", 4) != 0 || access(p, F_OK) == 0,
		      "netns %s of a timed-out create left", e->d_name);
	}
	if (nsd)
		closedir(nsd);
	printf("ok - a create past its deadline fails with ETIMEOUT and leaves nothing: %s\n", t.msg);

	test_vm_boot(&vm1, "web-seoul-1", refs);
	test_vm_boot(&vm2, "web-seoul-2", refs);
	test_update(&vm1, refs);
	json_decref(refs);
	CHECK(strcmp(attr_s(&vm1, "privateIp"), "10.231.1.2") == 0 &&
	          strcmp(attr_s(&vm2, "privateIp"), "10.231.1.3") == 0,
	      "addresses %s %s", attr_s(&vm1, "privateIp"), attr_s(&vm2, "privateIp"));
	test_firewall(&vm2, &sg, &vnet, &listener);
	test_list(&vm1, &vm2, 2);
	printf("ok - list returns both VMs with their tags\n");
	CHECK(do_call(&t, &s, "delete", "vnet", &vnet, NULL, NULL) == BAR_ECONFLICT,
	      "vnet in use deleted: %s", t.msg);
	test_lifecycle(&vm1, &vm2);
	kill(listener, SIGKILL);
	waitpid(listener, NULL, 0);

	CHECK(do_call(&t, &s, "delete", "vm", &vm1, NULL, NULL) == 0, "delete vm1: %s", t.msg);
	reap();
	check_vm_gone(vm1.id);
	CHECK(do_call(&t, &s, "delete", "securitygroup", &sg, NULL, NULL) == 0, "%s", t.msg);
	CHECK(do_call(&t, &s, "delete", "sshkey", &key, NULL, NULL) == 0, "%s", t.msg);
	CHECK(do_call(&t, &s, "delete", "image", &img, NULL, NULL) == 0, "%s", t.msg);
	CHECK(do_call(&t, &s, "delete", "spec", &spec, NULL, NULL) == 0, "%s", t.msg);
	CHECK(do_call(&t, &s, "delete", "vnet", &vnet, NULL, NULL) == 0, "%s", t.msg);
	CHECK(!exists("/sys/class/net/", vnet.id), "bridge %s left", vnet.id);
	reap();
	CHECK(procs_under_root() == 0, "processes of the VMs are left");
	static const char *const types[] = { "vm", "vnet", "securitygroup", "sshkey", "image", "spec" };
	for (size_t i = 0; i < 6; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", root, types[i]);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL)
			CHECK(e->d_name[0] == '.' || strstr(e->d_name, ".lock") ||
			          (i == 0 && strcmp(e->d_name, "etc") == 0), /* shared by VMs */
			      "%s/%s left", path, e->d_name);
		if (d)
			closedir(d);
	}
	printf("ok - everything deleted: no netns, bridge, veth, cgroup, process or file left\n");
	json_decref(vnet.attrs);
	json_decref(sg.attrs);
	json_decref(key.attrs);
	json_decref(img.attrs);
	json_decref(spec.attrs);
	json_decref(vm1.attrs);
	json_decref(vm2.attrs);
	return 0;
}

/* ---- the scale test: N VMs created and deleted by T threads ---- */

typedef struct worker {
	pthread_t th;
	int first, count, fails;
	json_t *refs;
	res *vms;
	int64_t *ms;
	char err[512];
} worker;

static void *create_worker(void *arg)
{
	worker *w = arg;
	char name[64];
	tcall t;

	for (int i = w->first; i < w->first + w->count; i++) {
		snprintf(name, sizeof(name), "web-scale-%d", i + 1);
		int64_t t0 = now_ms();
		if (do_create(&t, &w->vms[i], "vm", name, VMATTRS, w->refs, NULL) != 0) {
			w->fails++;
			snprintf(w->err, sizeof(w->err), "%s: %s", name, t.msg);
			w->vms[i].id[0] = '\0';
		}
		w->ms[i] = now_ms() - t0;
	}
	return NULL;
}

static void *delete_worker(void *arg)
{
	worker *w = arg;
	bar_sink s = { 0 };
	tcall t;

	for (int i = w->first; i < w->first + w->count; i++) {
		int64_t t0 = now_ms();
		if (w->vms[i].id[0] && do_call(&t, &s, "delete", "vm", &w->vms[i], NULL, NULL) != 0) {
			w->fails++;
			snprintf(w->err, sizeof(w->err), "delete %s: %s", w->vms[i].id, t.msg);
		}
		w->ms[i] = now_ms() - t0;
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Run `fn` over n VMs with `threads` workers; returns the wall time. */
static int64_t fan_out(void *(*fn)(void *), res *vms, int64_t *ms, int n, int threads,
                       json_t *refs, const char *what)
{
	worker w[64];
	int64_t t0 = now_ms(), wall, sorted[1024];
	int per = (n + threads - 1) / threads, fails = 0;

	for (int i = 0; i < threads; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].first = i * per;
		w[i].count = w[i].first + per > n ? n - w[i].first : per;
		w[i].count = w[i].count < 0 ? 0 : w[i].count;
		w[i].refs = json_deep_copy(refs);
		w[i].vms = vms;
		w[i].ms = ms;
		CHECK(pthread_create(&w[i].th, NULL, fn, &w[i]) == 0, "pthread_create");
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].th, NULL);
		json_decref(w[i].refs);
		if (w[i].fails)
			fprintf(stderr, "%s: %d failed, e.g. %s\n", what, w[i].fails, w[i].err);
		fails += w[i].fails;
	}
	wall = now_ms() - t0;
	memcpy(sorted, ms, (size_t)n * sizeof(*ms));
	qsort(sorted, (size_t)n, sizeof(*sorted), cmp_i64);
	printf("%s: %d VMs with %d threads in %lld ms; per VM min %lld, median %lld, p95 %lld, "
	       "max %lld ms\n",
	       what, n, threads, (long long)wall, (long long)sorted[0], (long long)sorted[n / 2],
	       (long long)sorted[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1],
	       (long long)sorted[n - 1]);
	CHECK(fails == 0, "%d %s failed", fails, what);
	return wall;
}

static int run_scale(int n, int threads)
{
	static res vms[1024];
	static int64_t ms[1024];
	res vnet, sg, key, img, spec;
	tcall t;
	bar_sink s = { 0 };
	int strict = getenv("BAR_LOCAL_STRICT") != NULL;

	CHECK(n > 0 && n <= 250 && threads > 0 && threads <= 64, "scale N (1-250) T (1-64)");
	CHECK(do_create(&t, &vnet, "vnet", "scale-net",
	                "{\"cidr\":\"10.232.0.0/16\",\"subnets\":[{\"name\":\"sub1\","
	                "\"cidr\":\"10.232.1.0/24\"}]}", NULL, NULL) == 0, "vnet: %s", t.msg);
	json_t *r = json_pack("{s:o}", "vnet", ref_of(&vnet));
	CHECK(do_create(&t, &sg, "securitygroup", "scale-sg", SG22, r, NULL) == 0, "%s", t.msg);
	json_decref(r);
	CHECK(do_create(&t, &key, "sshkey", "scale-key", "{\"publicKey\":null}", NULL, NULL) == 0,
	      "%s", t.msg);
	CHECK(do_create(&t, &img, "image", "scale-img", "{\"imageId\":\"host\"}", NULL, NULL) == 0,
	      "%s", t.msg);
	CHECK(do_create(&t, &spec, "spec", "scale-spec", "{\"vcpu\":1,\"memoryMiB\":128}", NULL,
	                NULL) == 0, "%s", t.msg);
	json_t *refs = vm_refs(&vnet, &sg, &key, &img, &spec);

	int64_t cwall = fan_out(create_worker, vms, ms, n, threads, refs, "create");
	int64_t cmax = 0;
	for (int i = 0; i < n; i++)
		cmax = ms[i] > cmax ? ms[i] : cmax;
	reap();
	for (int i = 0; i < n; i++) {
		CHECK(strcmp(vms[i].status, "Running") == 0, "%s is %s", vms[i].id, vms[i].status);
		CHECK(exists("/run/netns/", vms[i].id), "netns of %s", vms[i].id);
		for (int k = 0; k < i; k++)
			CHECK(strcmp(attr_s(&vms[i], "privateIp"), attr_s(&vms[k], "privateIp")) != 0,
			      "%s and %s share %s", vms[i].id, vms[k].id, attr_s(&vms[i], "privateIp"));
	}
	CHECK(ssh_banner(attr_s(&vms[n - 1], "privateIp"), 2000), "no sshd on the last VM");
	tcall_init(&t);
	CHECK(prov->list(prov, &t.call, "vm", &s) == 0 && s.n == n, "list gave %d of %d", s.n, n);
	sink_reset(&s);

	fan_out(delete_worker, vms, ms, n, threads, refs, "delete");
	reap();
	for (int i = 0; i < n; i++)
		check_vm_gone(vms[i].id);
	CHECK(procs_under_root() == 0, "VM processes left after delete");
	json_decref(refs);
	CHECK(do_call(&t, &s, "delete", "securitygroup", &sg, NULL, NULL) == 0, "%s", t.msg);
	CHECK(do_call(&t, &s, "delete", "sshkey", &key, NULL, NULL) == 0, "%s", t.msg);
	CHECK(do_call(&t, &s, "delete", "image", &img, NULL, NULL) == 0, "%s", t.msg);
	CHECK(do_call(&t, &s, "delete", "spec", &spec, NULL, NULL) == 0, "%s", t.msg);
	CHECK(do_call(&t, &s, "delete", "vnet", &vnet, NULL, NULL) == 0, "%s", t.msg);
	printf("targets: each create <= 100 ms (max %lld), all <= 3000 ms (%lld)%s\n",
	       (long long)cmax, (long long)cwall, strict ? " [enforced]" : " [reported]");
	if (strict)
		CHECK(cmax <= 100 && cwall <= 3000, "targets missed");
	/* Without BAR_LOCAL_STRICT only a gross regression fails (ctest may run
	 * other tests beside this one on two cores). */
	CHECK(cwall <= 60000, "creating %d VMs took %lld ms", n, (long long)cwall);
	for (res *x = &vnet; x; x = x == &vnet ? &sg : x == &sg ? &key : x == &key ? &img : x == &img ? &spec : NULL)
		json_decref(x->attrs);
	for (int i = 0; i < n; i++)
		json_decref(vms[i].attrs);
	return 0;
}

/* ---- the parent: time limit and cleanup whatever happened ---- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)f;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* SIGKILL and reap every process that ended up as our child. */
static void kill_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		char path[300], buf[512];
		int ppid = 0;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');
			if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == getpid())
				kill(atoi(e->d_name), SIGKILL);
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	while (waitpid(-1, NULL, 0) > 0)
		;
}

/* Delete through the plugin everything recorded or found under root. */
static int cleanup(const char *so)
{
	static const char *const order[] = { "vm", "securitygroup", "sshkey", "image", "spec", "vnet" };
	char line[128], type[32], id[32], path[PATH_MAX];
	int left = 0;

	plugin_load(so);
	for (size_t k = 0; k < 6; k++) {
		FILE *f = fopen(idsfile, "r");
		while (f && fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%31s %31s", type, id) != 2 || strcmp(type, order[k]) != 0)
				continue;
			res r = { .name = "cleanup" };
			bar_sink s = { 0 };
			tcall t;
			snprintf(r.id, sizeof(r.id), "%s", id);
			if (do_call(&t, &s, "delete", type, &r, NULL, NULL) == 0) {
				fprintf(stderr, "cleanup: deleted leftover %s %s\n", type, id);
				left++;
			}
		}
		if (f)
			fclose(f);
		/* Anything made but never reported (a create that died midway). */
		snprintf(path, sizeof(path), "%s/%s", root, order[k]);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			if (e->d_name[0] != 'b')
				continue;
			res r = { .name = "cleanup" };
			bar_sink s = { 0 };
			tcall t;
			snprintf(r.id, sizeof(r.id), "%.31s", e->d_name);
			if (do_call(&t, &s, "delete", order[k], &r, NULL, NULL) == 0)
				left++;
		}
		if (d)
			closedir(d);
	}
	if (prov->destroy)
		prov->destroy(prov);
	kill_children();
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return left;
}

int main(int argc, char **argv)
{
	int st = 0, rc;
	pid_t child;

	if (argc != 2 && !(argc == 5 && strcmp(argv[2], "scale") == 0)) {
		fprintf(stderr, "usage: %s <barista-provider-local.so> [scale N THREADS]\n", argv[0]);
		return 2;
	}
	if (geteuid() != 0) {
		printf("skipped: the local provider needs root\n");
		return 77;
	}
	/* tmpfs when there is one: ext4 slows down inode allocation after many
	 * recent deletions, which repeated runs of this test produce. */
	snprintf(tmpdir, sizeof(tmpdir), "%s/barista-local-test-XXXXXX",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	CHECK(mkdtemp(tmpdir), "mkdtemp");
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	snprintf(idsfile, sizeof(idsfile), "%s/ids", tmpdir);
	snprintf(config, sizeof(config), "{\"root\":\"%s\"}", root);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	fflush(stdout);
	child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0) {
		/* VM inits double-fork away; as subreaper we can reap them. */
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		plugin_load(argv[1]);
		rc = argc == 5 ? run_scale(atoi(argv[3]), atoi(argv[4])) : run_functional();
		fflush(stdout);
		exit(rc);
	}
	for (int64_t until = now_ms() + TEST_LIMIT_S * 1000;;) {
		pid_t p = waitpid(child, &st, WNOHANG);
		if (p == child)
			break;
		if (now_ms() > until) {
			fprintf(stderr, "FAIL: the test did not finish in %d s\n", TEST_LIMIT_S);
			kill(child, SIGKILL);
			waitpid(child, &st, 0);
			st = 1 << 8;
			break;
		}
		usleep(20000);
	}
	int left = cleanup(argv[1]);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && left == 0) {
		printf("PASS\n");
		return 0;
	}
	fprintf(stderr, "FAIL (test status %d, %d leftovers removed by the cleanup)\n",
	        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), left);
	return 1;
}
