/*
 * overlay.c - barista-agent's overlay network (overlay.h, docs/overlay.md).
 *
 * apply: parse the overlay file, make sure the interface exists (kernel
 * WireGuard, else a wireguard-go we start and remember), configure key, port
 * and peers (UAPI for wireguard-go, `wg syncconf` for the kernel), then the
 * address and same-net routes with `ip`, and record what was done in the
 * state file so the next apply or down can undo what is no longer wanted.
 */
#include "overlay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OV_IFNAME_MAX 16
#define OV_NAME_MAX 254
#define OV_KEY_B64 44
#define OV_UAPI_DIR "/var/run/wireguard"
#define OV_UAPI_REPLY_MAX (1024 * 1024)
#define OV_CMD_TIMEOUT_MS 10000
#define OV_START_TIMEOUT_MS 5000
#define OV_KEEPALIVE 25

typedef struct ov_peer {
	char name[OV_NAME_MAX];
	char pub[OV_KEY_B64 + 1];
	char endpoint[64];
	char allowed[20];  /* a.b.c.d/32 */
	char route[20];    /* same-net: destination a.b.c.d/32 */
	char via[16];      /* same-net: private address */
} ov_peer;

typedef struct ov_conf {
	char ifname[OV_IFNAME_MAX];
	char addr[16];
	int prefix, port;
	char priv[OV_KEY_B64 + 1];
	ov_peer *peers;
	size_t n;
} ov_conf;

/* What the last apply did (the state file). */
typedef struct ov_state {
	char mode[16]; /* "userspace" | "kernel" | "" */
	long pid;
	char addr[20]; /* a.b.c.d/p */
	char routes[BAR_OVERLAY_PEERS_MAX][20];
	size_t nroutes;
} ov_state;

static int fail(char *why, size_t wsize, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t wsize, const char *fmt, ...)
{
	va_list ap;

	if (why && wsize) {
		va_start(ap, fmt);
		vsnprintf(why, wsize, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

/* ---- keys ------------------------------------------------------------- */

static int b64_val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* A WireGuard key (44 base64 chars, one '=') into 32 bytes. */
static int key_from_b64(unsigned char out[32], const char *s)
{
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	if (strlen(s) != OV_KEY_B64 || s[43] != '=')
		return -1;
	for (int i = 0; i < 43; i++) {
		int v = b64_val((unsigned char)s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < 32)
				out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return o == 32 && acc == 0 ? 0 : -1;
}

static void key_to_b64(char out[45], const unsigned char k[32])
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (int i = 0; i < 33; i += 3) {
		unsigned v = (unsigned)k[i] << 16;

		if (i + 1 < 32) v |= (unsigned)k[i + 1] << 8;
		if (i + 2 < 32) v |= k[i + 2];
		out[o++] = al[(v >> 18) & 63];
		out[o++] = al[(v >> 12) & 63];
		out[o++] = i + 1 < 32 ? al[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < 32 ? al[v & 63] : '=';
	}
	out[44] = '\0';
}

static void key_to_hex(char out[65], const unsigned char k[32])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[k[i] >> 4];
		out[2 * i + 1] = hx[k[i] & 15];
	}
	out[64] = '\0';
}

static int key_from_hex(unsigned char out[32], const char *s)
{
	if (strlen(s) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

/* ---- the overlay file ------------------------------------------------- */

static int read_file(char **out, const char *path, size_t max, char *why, size_t wsize)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	char *buf;

	if (fd < 0)
		return fail(why, wsize, "cannot open %s: %s", path, strerror(errno));
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return fail(why, wsize, "out of memory");
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, max + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail(why, wsize, "cannot read %s: %s", path, strerror(errno));
			goto bad;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			fail(why, wsize, "%s is larger than %zu bytes", path, max);
			goto bad;
		}
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	return 0;
bad:
	close(fd);
	wipe(buf, max + 1);
	free(buf);
	return -1;
}

static int ipv4_ok(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

/* "a.b.c.d/n" with n in [lo, hi]; the address part copied into ip[16]. */
static int cidr_ok(const char *s, int lo, int hi, char ip[16], int *prefix)
{
	const char *slash = strchr(s, '/');
	char *end;
	long p;

	if (!slash || slash - s > 15)
		return 0;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	p = strtol(slash + 1, &end, 10);
	if (end == slash + 1 || *end || p < lo || p > hi)
		return 0;
	*prefix = (int)p;
	return ipv4_ok(ip);
}

/* "ip:port" */
static int endpoint_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char ip[16];
	char *end;
	long port;

	if (!colon || colon - s > 15)
		return 0;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	return end != colon + 1 && !*end && port >= 1 && port <= 65535 && ipv4_ok(ip);
}

static int ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= OV_IFNAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return 0;
	return 1;
}

static void conf_free(ov_conf *c)
{
	wipe(c->priv, sizeof(c->priv));
	free(c->peers);
	c->peers = NULL;
	c->n = 0;
}

#define COPY(dst, src) (strlen(src) < sizeof(dst) ? (strcpy(dst, src), 0) : -1)

/* One key=value line into c.  Returns 0 or -1 with why. */
static int conf_line(ov_conf *c, const char *key, const char *val, int line, char *why,
                     size_t wsize)
{
	ov_peer *p = c->n ? &c->peers[c->n - 1] : NULL;
	char ip[16];
	int prefix;

	if (strcmp(key, "peer") == 0) {
		if (c->n == BAR_OVERLAY_PEERS_MAX)
			return fail(why, wsize, "line %d: more than %d peers", line,
			            BAR_OVERLAY_PEERS_MAX);
		p = &c->peers[c->n++];
		memset(p, 0, sizeof(*p));
		if (!*val || COPY(p->name, val) < 0)
			return fail(why, wsize, "line %d: bad peer name", line);
		return 0;
	}
	if (!p) { /* the interface part */
		if (strcmp(key, "interface") == 0) {
			if (!ifname_ok(val) || COPY(c->ifname, val) < 0)
				return fail(why, wsize, "line %d: bad interface name", line);
		} else if (strcmp(key, "address") == 0) {
			if (!cidr_ok(val, 1, 32, ip, &prefix))
				return fail(why, wsize, "line %d: address must be a.b.c.d/n", line);
			strcpy(c->addr, ip);
			c->prefix = prefix;
		} else if (strcmp(key, "port") == 0) {
			char *end;
			long v = strtol(val, &end, 10);

			if (end == val || *end || v < 1 || v > 65535)
				return fail(why, wsize, "line %d: port must be 1-65535", line);
			c->port = (int)v;
		} else if (strcmp(key, "private_key") == 0) {
			unsigned char k[32];
			int bad = key_from_b64(k, val) < 0 || COPY(c->priv, val) < 0;

			wipe(k, sizeof(k));
			if (bad)
				return fail(why, wsize, "line %d: private_key is not a WireGuard key",
				            line);
		} else {
			return fail(why, wsize, "line %d: unknown key \"%.40s\"", line, key);
		}
		return 0;
	}
	if (strcmp(key, "public_key") == 0) {
		unsigned char k[32];

		if (key_from_b64(k, val) < 0 || COPY(p->pub, val) < 0)
			return fail(why, wsize, "line %d: peer %s: public_key is not a WireGuard key",
			            line, p->name);
	} else if (strcmp(key, "endpoint") == 0) {
		if (!endpoint_ok(val) || COPY(p->endpoint, val) < 0)
			return fail(why, wsize, "line %d: peer %s: endpoint must be ip:port", line,
			            p->name);
	} else if (strcmp(key, "allowed_ip") == 0) {
		if (!cidr_ok(val, 32, 32, ip, &prefix) || COPY(p->allowed, val) < 0)
			return fail(why, wsize, "line %d: peer %s: allowed_ip must be a.b.c.d/32",
			            line, p->name);
	} else if (strcmp(key, "route") == 0) {
		/* "a.b.c.d/32 via e.f.g.h" */
		char dst[32], via[32];

		if (sscanf(val, "%31s via %31s", dst, via) != 2 || !cidr_ok(dst, 32, 32, ip, &prefix) ||
		    !ipv4_ok(via) || COPY(p->route, dst) < 0 || COPY(p->via, via) < 0)
			return fail(why, wsize, "line %d: peer %s: route must be a.b.c.d/32 via e.f.g.h",
			            line, p->name);
	} else {
		return fail(why, wsize, "line %d: peer %s: unknown key \"%.40s\"", line, p->name, key);
	}
	return 0;
}

/* Parse text (NUL-terminated, changed in place) into *c (conf_free it);
 * messages start with name.  Returns 0 or -1. */
static int conf_parse(ov_conf *c, char *text, const char *name, char *why, size_t wsize)
{
	char *line = text, *next;
	int no = 0;

	memset(c, 0, sizeof(*c));
	c->peers = calloc(BAR_OVERLAY_PEERS_MAX, sizeof(*c->peers));
	if (!c->peers)
		return fail(why, wsize, "out of memory");
	for (; line && *line; line = next) {
		char *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		no++;
		line[strcspn(line, "\r")] = '\0';
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			fail(why, wsize, "%s: line %d: expected key=value", name, no);
			goto bad;
		}
		*eq = '\0';
		if (conf_line(c, line, eq + 1, no, why, wsize) < 0)
			goto bad;
	}
	if (!c->ifname[0] || !c->addr[0] || !c->port || !c->priv[0]) {
		fail(why, wsize, "%s: interface, address, port and private_key are required", name);
		goto bad;
	}
	for (size_t i = 0; i < c->n; i++) {
		ov_peer *p = &c->peers[i];

		if (!p->route[0] && (!p->pub[0] || !p->allowed[0])) {
			fail(why, wsize, "%s: peer %s needs public_key and allowed_ip, or a route",
			     name, p->name);
			goto bad;
		}
	}
	return 0;
bad:
	conf_free(c);
	return -1;
}

/* Parse the overlay file at path into *c (conf_free it).  Returns 0 or -1. */
static int conf_load(ov_conf *c, const char *path, char *why, size_t wsize)
{
	char *text = NULL;
	size_t tlen;
	int rc;

	memset(c, 0, sizeof(*c));
	if (read_file(&text, path, BAR_OVERLAY_FILE_MAX, why, wsize) < 0)
		return -1;
	tlen = strlen(text);
	rc = conf_parse(c, text, path, why, wsize);
	wipe(text, tlen);
	free(text);
	return rc;
}

/* Contract in overlay.h. */
int bar_overlay_check(const char *text, size_t len, char *why, size_t wsize)
{
	char *copy;
	ov_conf c;
	int rc;

	if (len > BAR_OVERLAY_FILE_MAX)
		return fail(why, wsize, "overlay file is larger than %d bytes", BAR_OVERLAY_FILE_MAX);
	copy = malloc(len + 1);
	if (!copy)
		return fail(why, wsize, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	rc = conf_parse(&c, copy, "overlay file", why, wsize);
	if (rc == 0)
		conf_free(&c);
	wipe(copy, len);
	free(copy);
	return rc;
}

/* ---- running commands ------------------------------------------------- */

/* Run argv (PATH lookup), waiting up to OV_CMD_TIMEOUT_MS.  Returns its exit
 * status, or -1 when it could not run; its output's start is in out. */
static int run(char *const argv[], char *out, size_t osize)
{
	int pfd[2], status = 0, waited = 0;
	size_t len = 0;
	pid_t pid;

	if (osize)
		out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		for (int fd = 3; fd < 1024; fd++) /* the agent's sockets are not ip's */
			close(fd);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		char buf[512];
		ssize_t r;
		int pr = poll(&p, 1, 100);

		if (pr < 0 && errno == EINTR) /* the agent's SIGCHLD, say */
			continue;
		if (pr == 0) {
			waited += 100;
			if (waited >= OV_CMD_TIMEOUT_MS) {
				kill(pid, SIGKILL);
				break;
			}
			continue;
		}
		r = read(pfd[0], buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (osize && len + 1 < osize) {
			size_t k = (size_t)r < osize - 1 - len ? (size_t)r : osize - 1 - len;

			memcpy(out + len, buf, k);
			len += k;
			out[len] = '\0';
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (osize)
		out[strcspn(out, "\n")] = '\0';
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* run() that must succeed; why says which command failed and how. */
static int run_ok(char *const argv[], char *why, size_t wsize)
{
	char out[256];
	int rc = run(argv, out, sizeof(out));

	if (rc == 0)
		return 0;
	return fail(why, wsize, "%s %s %s failed (%d): %s", argv[0], argv[1] ? argv[1] : "",
	            argv[1] && argv[2] ? argv[2] : "", rc, out[0] ? out : "no output");
}

static int iface_exists(const char *ifname)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/net/%s", ifname);
	return access(path, F_OK) == 0;
}

/* ---- state file ------------------------------------------------------- */

static void state_path(char *buf, size_t n, const char *run_dir, const char *ifname,
                       const char *ext)
{
	snprintf(buf, n, "%s/overlay-%s.%s", run_dir, ifname, ext);
}

static void state_load(ov_state *s, const char *run_dir, const char *ifname)
{
	char path[4096], line[128];
	FILE *f;

	memset(s, 0, sizeof(*s));
	state_path(path, sizeof(path), run_dir, ifname, "state");
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "mode=", 5) == 0)
			snprintf(s->mode, sizeof(s->mode), "%s", line + 5);
		else if (strncmp(line, "pid=", 4) == 0)
			s->pid = strtol(line + 4, NULL, 10);
		else if (strncmp(line, "address=", 8) == 0)
			snprintf(s->addr, sizeof(s->addr), "%.19s", line + 8);
		else if (strncmp(line, "route=", 6) == 0 && s->nroutes < BAR_OVERLAY_PEERS_MAX)
			snprintf(s->routes[s->nroutes++], sizeof(s->routes[0]), "%.19s", line + 6);
	}
	fclose(f);
}

static int state_save(const ov_state *s, const char *run_dir, const char *ifname, char *why,
                      size_t wsize)
{
	char path[4096], tmp[4200];
	FILE *f;

	state_path(path, sizeof(path), run_dir, ifname, "state");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return fail(why, wsize, "cannot write %s: %s", tmp, strerror(errno));
	fprintf(f, "mode=%s\npid=%ld\naddress=%s\n", s->mode, s->pid, s->addr);
	for (size_t i = 0; i < s->nroutes; i++)
		fprintf(f, "route=%s\n", s->routes[i]);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return fail(why, wsize, "cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}

/* ---- UAPI ------------------------------------------------------------- */

static int uapi_connect(const char *ifname)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), OV_UAPI_DIR "/%s.sock", ifname);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send req and read the reply up to its blank line into *reply (malloc'd,
 * NUL-terminated).  Returns 0 or -1 with why. */
static int uapi_call(const char *ifname, const char *req, char **reply, char *why,
                     size_t wsize)
{
	size_t len = 0, cap = 4096, sent = 0, rlen = strlen(req);
	int fd = uapi_connect(ifname), rc = -1, waited = 0;
	char *buf = NULL;

	if (fd < 0)
		return fail(why, wsize, "cannot reach %s/%s.sock: %s", OV_UAPI_DIR, ifname,
		            strerror(errno));
	while (sent < rlen) {
		ssize_t w = send(fd, req + sent, rlen - sent, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fail(why, wsize, "UAPI write to %s: %s", ifname, strerror(errno));
			goto done;
		}
		sent += (size_t)w;
	}
	buf = malloc(cap);
	if (!buf) {
		fail(why, wsize, "out of memory");
		goto done;
	}
	buf[0] = '\0';
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;
		int pr;

		if ((len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n') ||
		    (len == 1 && buf[0] == '\n'))
			break;
		pr = poll(&p, 1, 100);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			if ((waited += 100) >= OV_CMD_TIMEOUT_MS) {
				fail(why, wsize, "UAPI of %s did not answer", ifname);
				goto done;
			}
			continue;
		}
		if (len + 1 >= cap) {
			char *nb;

			if (cap >= OV_UAPI_REPLY_MAX) {
				fail(why, wsize, "UAPI reply of %s is larger than %d bytes", ifname,
				     OV_UAPI_REPLY_MAX);
				goto done;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				fail(why, wsize, "out of memory");
				goto done;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
	}
	*reply = buf;
	buf = NULL;
	rc = 0;
done:
	if (buf) {
		wipe(buf, cap);
		free(buf);
	}
	close(fd);
	return rc;
}

/* The errno=N of a reply; -1 when it has none. */
static long uapi_errno(const char *reply)
{
	const char *e = strstr(reply, "errno=");

	return e && (e == reply || e[-1] == '\n') ? strtol(e + 6, NULL, 10) : -1;
}

/* A growing request; the private key goes through it, so it is wiped. */
typedef struct reqbuf {
	char *p;
	size_t len, cap;
	int oom;
} reqbuf;

static void req_add(reqbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void req_add(reqbuf *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (b->oom || n < 0 || (size_t)n >= sizeof(line)) {
		b->oom = 1;
		return;
	}
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *p = malloc(cap);

		if (!p) {
			b->oom = 1;
			return;
		}
		if (b->p) {
			memcpy(p, b->p, b->len);
			wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, line, (size_t)n + 1);
	b->len += (size_t)n;
	wipe(line, sizeof(line));
}

static void req_free(reqbuf *b)
{
	if (b->p) {
		wipe(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

/* Configure key, port and peers of a wireguard-go interface; peers it has
 * that c does not list are removed. */
static int uapi_configure(const ov_conf *c, char *why, size_t wsize)
{
	unsigned char k[32];
	char hex[65], *reply = NULL, *save = NULL, *line;
	reqbuf b = { 0 };
	int rc = -1;

	if (uapi_call(c->ifname, "get=1\n\n", &reply, why, wsize) < 0)
		return -1;
	key_from_b64(k, c->priv);
	key_to_hex(hex, k);
	req_add(&b, "set=1\nprivate_key=%s\nlisten_port=%d\n", hex, c->port);
	wipe(k, sizeof(k));
	wipe(hex, sizeof(hex));
	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int keep = 0;

		if (strncmp(line, "public_key=", 11) != 0 || key_from_hex(k, line + 11) < 0)
			continue;
		for (size_t i = 0; i < c->n && !keep; i++) {
			unsigned char pk[32];

			keep = !c->peers[i].route[0] && key_from_b64(pk, c->peers[i].pub) == 0 &&
			       memcmp(pk, k, 32) == 0;
		}
		if (!keep)
			req_add(&b, "public_key=%s\nremove=true\n", line + 11);
	}
	for (size_t i = 0; i < c->n; i++) {
		const ov_peer *p = &c->peers[i];

		if (p->route[0])
			continue; /* same net: a route, no tunnel */
		key_from_b64(k, p->pub);
		key_to_hex(hex, k);
		req_add(&b, "public_key=%s\nreplace_allowed_ips=true\nallowed_ip=%s\n"
		            "persistent_keepalive_interval=%d\n", hex, p->allowed, OV_KEEPALIVE);
		if (p->endpoint[0])
			req_add(&b, "endpoint=%s\n", p->endpoint);
	}
	req_add(&b, "\n");
	if (b.oom) {
		fail(why, wsize, "out of memory");
		goto done;
	}
	wipe(reply, strlen(reply));
	free(reply);
	reply = NULL;
	if (uapi_call(c->ifname, b.p, &reply, why, wsize) < 0)
		goto done;
	if (uapi_errno(reply) != 0) {
		fail(why, wsize, "UAPI set on %s failed: errno=%ld", c->ifname, uapi_errno(reply));
		goto done;
	}
	rc = 0;
done:
	req_free(&b);
	if (reply) {
		wipe(reply, strlen(reply));
		free(reply);
	}
	return rc;
}

/* Configure a kernel interface with `wg syncconf` (wireguard-tools) from a
 * 0600 file in run_dir that is wiped and removed at once. */
static int kernel_configure(const ov_conf *c, const char *run_dir, char *why, size_t wsize)
{
	char path[4096];
	int fd, rc = -1;
	FILE *f;

	state_path(path, sizeof(path), run_dir, c->ifname, "wgconf");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return fail(why, wsize, "cannot write %s: %s", path, strerror(errno));
	}
	fprintf(f, "[Interface]\nPrivateKey = %s\nListenPort = %d\n", c->priv, c->port);
	for (size_t i = 0; i < c->n; i++) {
		const ov_peer *p = &c->peers[i];

		if (p->route[0])
			continue;
		fprintf(f, "\n[Peer]\nPublicKey = %s\nAllowedIPs = %s\nPersistentKeepalive = %d\n",
		        p->pub, p->allowed, OV_KEEPALIVE);
		if (p->endpoint[0])
			fprintf(f, "Endpoint = %s\n", p->endpoint);
	}
	if (fclose(f) != 0) {
		fail(why, wsize, "cannot write %s", path);
		goto done;
	}
	{
		char *argv[] = { "wg", "syncconf", (char *)c->ifname, path, NULL };

		rc = run_ok(argv, why, wsize);
	}
done:
	/* overwrite before unlinking: the file held the private key */
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0) {
		struct stat st;
		char zero[512] = { 0 };

		if (fstat(fd, &st) == 0)
			for (off_t o = 0; o < st.st_size; o += (off_t)sizeof(zero))
				if (write(fd, zero, sizeof(zero)) < 0)
					break;
		close(fd);
	}
	unlink(path);
	return rc;
}

/* ---- the interface ---------------------------------------------------- */

static int pid_alive(long pid)
{
	int st;

	if (pid <= 0)
		return 0;
	if (waitpid((pid_t)pid, &st, WNOHANG) == (pid_t)pid)
		return 0; /* our child, and it has exited */
	return kill((pid_t)pid, 0) == 0;
}

static void pid_stop(long pid)
{
	if (!pid_alive(pid))
		return;
	kill((pid_t)pid, SIGTERM);
	for (int i = 0; i < 40 && pid_alive(pid); i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (pid_alive(pid)) {
		kill((pid_t)pid, SIGKILL);
		for (int i = 0; i < 20 && pid_alive(pid); i++) {
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
}

static int mkdir_p(const char *dir)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* Start wireguard-go for c->ifname in its own session with output to the
 * log in run_dir, and wait for its UAPI socket.  *pid is its pid. */
static int start_userspace(const ov_conf *c, const char *run_dir, long *pid, char *why,
                           size_t wsize)
{
	char log[4096];
	pid_t child;

	if (mkdir_p(OV_UAPI_DIR) < 0)
		return fail(why, wsize, "cannot create %s: %s", OV_UAPI_DIR, strerror(errno));
	if (access("/dev/net/tun", R_OK | W_OK) < 0)
		return fail(why, wsize, "no kernel WireGuard and /dev/net/tun is not usable (%s)",
		            strerror(errno));
	state_path(log, sizeof(log), run_dir, c->ifname, "log");
	child = fork();
	if (child < 0)
		return fail(why, wsize, "fork: %s", strerror(errno));
	if (child == 0) {
		int null = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		setsid();
		if (null >= 0)
			dup2(null, 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		setenv("WG_PROCESS_FOREGROUND", "1", 1);
		execlp("wireguard-go", "wireguard-go", c->ifname, (char *)NULL);
		_exit(127);
	}
	for (int waited = 0; waited < OV_START_TIMEOUT_MS; waited += 50) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		int fd = uapi_connect(c->ifname);

		if (fd >= 0) {
			close(fd);
			*pid = child;
			return 0;
		}
		if (!pid_alive(child)) {
			char tail[200] = "";
			FILE *f = fopen(log, "re");

			if (f) {
				char line[200];

				while (fgets(line, sizeof(line), f))
					if (line[0] != '\n')
						snprintf(tail, sizeof(tail), "%s", line);
				fclose(f);
			}
			tail[strcspn(tail, "\n")] = '\0';
			return fail(why, wsize, "wireguard-go %s exited at start: %s", c->ifname,
			            tail[0] ? tail : "no output (is wireguard-go installed?)");
		}
		nanosleep(&ts, NULL);
	}
	pid_stop(child);
	return fail(why, wsize, "wireguard-go %s did not open its UAPI socket in %d ms", c->ifname,
	            OV_START_TIMEOUT_MS);
}

/* Make sure the interface exists and is ours; fills s->mode and s->pid. */
static int ensure_iface(const ov_conf *c, ov_state *s, const char *run_dir, char *why,
                        size_t wsize)
{
	char *del[] = { "ip", "link", "del", (char *)c->ifname, NULL };
	char *add[] = { "ip", "link", "add", (char *)c->ifname, "type", "wireguard", NULL };
	char *wgv[] = { "wg", "--version", NULL };
	char out[128];

	if (iface_exists(c->ifname)) {
		int fd = uapi_connect(c->ifname);

		if (fd >= 0) { /* a live wireguard-go */
			close(fd);
			if (strcmp(s->mode, "userspace") != 0 || !pid_alive(s->pid))
				s->pid = 0; /* not one we started: leave it running on down */
			snprintf(s->mode, sizeof(s->mode), "userspace");
			return 0;
		}
		if (strcmp(s->mode, "kernel") == 0)
			return 0;
		/* a stale interface (wireguard-go gone, or not ours): start afresh */
		pid_stop(s->pid);
		run(del, out, sizeof(out));
	} else if (strcmp(s->mode, "userspace") == 0) {
		pid_stop(s->pid); /* its interface is gone: it is of no use */
	}
	s->pid = 0;
	if (run(add, out, sizeof(out)) == 0) {
		if (run(wgv, out, sizeof(out)) == 0) {
			snprintf(s->mode, sizeof(s->mode), "kernel");
			return 0;
		}
		/* kernel WireGuard without wireguard-tools: configure wireguard-go */
		run(del, out, sizeof(out));
	}
	snprintf(s->mode, sizeof(s->mode), "userspace");
	return start_userspace(c, run_dir, &s->pid, why, wsize);
}

/* ---- apply / down ----------------------------------------------------- */

static int in_conf_routes(const ov_conf *c, const char *dst)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->peers[i].route[0] && strcmp(c->peers[i].route, dst) == 0)
			return 1;
	return 0;
}

/* Contract in overlay.h. */
int bar_overlay_apply(const char *path, const char *run_dir, char *why, size_t wsize)
{
	ov_state *s = calloc(1, sizeof(*s));
	ov_conf c;
	char addr[20], out[256];
	int rc = -1;

	if (!s)
		return fail(why, wsize, "out of memory");
	if (conf_load(&c, path, why, wsize) < 0) {
		free(s);
		return -1;
	}
	if (mkdir_p(run_dir) < 0) {
		fail(why, wsize, "cannot create %s: %s", run_dir, strerror(errno));
		goto done;
	}
	state_load(s, run_dir, c.ifname);
	if (ensure_iface(&c, s, run_dir, why, wsize) < 0)
		goto save;
	if (strcmp(s->mode, "kernel") == 0 ? kernel_configure(&c, run_dir, why, wsize) < 0
	                                   : uapi_configure(&c, why, wsize) < 0)
		goto save;
	snprintf(addr, sizeof(addr), "%s/%d", c.addr, c.prefix);
	if (s->addr[0] && strcmp(s->addr, addr) != 0) {
		char *argv[] = { "ip", "addr", "del", s->addr, "dev", c.ifname, NULL };

		run(argv, out, sizeof(out)); /* gone already is fine */
	}
	{
		char *a[] = { "ip", "addr", "replace", addr, "dev", c.ifname, NULL };
		char *u[] = { "ip", "link", "set", c.ifname, "up", NULL };

		if (run_ok(a, why, wsize) < 0 || run_ok(u, why, wsize) < 0)
			goto save;
	}
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	/* routes of peers that left, then the file's */
	for (size_t i = 0; i < s->nroutes; i++) {
		char *argv[] = { "ip", "route", "del", s->routes[i], NULL };

		if (!in_conf_routes(&c, s->routes[i]))
			run(argv, out, sizeof(out));
	}
	s->nroutes = 0;
	for (size_t i = 0; i < c.n; i++) {
		ov_peer *p = &c.peers[i];
		char *argv[] = { "ip", "route", "replace", p->route, "via", p->via, "src", c.addr, NULL };

		if (!p->route[0])
			continue;
		if (run_ok(argv, why, wsize) < 0)
			goto save;
		snprintf(s->routes[s->nroutes++], sizeof(s->routes[0]), "%s", p->route);
	}
	rc = 0;
save:
	/* what exists is recorded even after a failure, so down can remove it */
	if (state_save(s, run_dir, c.ifname, rc < 0 ? NULL : why, rc < 0 ? 0 : wsize) < 0)
		rc = -1;
done:
	conf_free(&c);
	free(s);
	return rc;
}

/* Contract in overlay.h. */
int bar_overlay_down(const char *path, const char *run_dir, char *why, size_t wsize)
{
	ov_state *s = calloc(1, sizeof(*s));
	char ifname[OV_IFNAME_MAX] = "bar0", spath[4096], out[256];
	ov_conf c;
	int rc = 0;

	if (!s)
		return fail(why, wsize, "out of memory");
	if (conf_load(&c, path, NULL, 0) == 0) {
		snprintf(ifname, sizeof(ifname), "%s", c.ifname);
		conf_free(&c);
	}
	state_load(s, run_dir, ifname);
	for (size_t i = 0; i < s->nroutes; i++) {
		char *argv[] = { "ip", "route", "del", s->routes[i], NULL };

		run(argv, out, sizeof(out));
	}
	if (strcmp(s->mode, "userspace") == 0)
		pid_stop(s->pid);
	if (iface_exists(ifname)) {
		char *argv[] = { "ip", "link", "del", ifname, NULL };

		if (run_ok(argv, why, wsize) < 0 && iface_exists(ifname))
			rc = -1;
	}
	if (rc == 0) {
		state_path(spath, sizeof(spath), run_dir, ifname, "state");
		if (unlink(spath) < 0 && errno != ENOENT)
			rc = fail(why, wsize, "cannot remove %s: %s", spath, strerror(errno));
	}
	free(s);
	return rc;
}

/* ---- status ----------------------------------------------------------- */

typedef struct jbuf {
	char *p;
	size_t n, len;
	int full;
} jbuf;

static void jadd(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jadd(jbuf *j, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (j->full)
		return;
	va_start(ap, fmt);
	k = vsnprintf(j->p + j->len, j->n - j->len, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= j->n - j->len)
		j->full = 1;
	else
		j->len += (size_t)k;
}

/* Contract in overlay.h. */
int bar_overlay_status(char *json, size_t n, const char *ifname)
{
	char *reply = NULL, *save = NULL, *line, why[160];
	jbuf j = { json, n, 0, 0 };
	int npeers = 0, port = 0;

	if (!n)
		return -2;
	json[0] = '\0';
	if (!ifname_ok(ifname) || uapi_call(ifname, "get=1\n\n", &reply, why, sizeof(why)) < 0)
		return -1;
	if (uapi_errno(reply) != 0) {
		wipe(reply, strlen(reply));
		free(reply);
		return -1;
	}
	{
		const char *lp = strstr(reply, "listen_port=");

		if (lp)
			port = atoi(lp + 12);
	}
	jadd(&j, "{\"interface\":\"%s\",\"listen_port\":%d,\"peers\":[", ifname, port);
	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned char k[32];
		char b64[45];

		if (strncmp(line, "private_key=", 12) == 0) {
			wipe(line, strlen(line));
		} else if (strncmp(line, "public_key=", 11) == 0 && key_from_hex(k, line + 11) == 0) {
			key_to_b64(b64, k);
			jadd(&j, "%s{\"public_key\":\"%s\"", npeers++ ? "}," : "", b64);
		} else if (!npeers) {
			continue;
		} else if (strncmp(line, "endpoint=", 9) == 0 && endpoint_ok(line + 9)) {
			jadd(&j, ",\"endpoint\":\"%s\"", line + 9);
		} else if (strncmp(line, "last_handshake_time_sec=", 24) == 0) {
			jadd(&j, ",\"last_handshake\":%lld", strtoll(line + 24, NULL, 10));
		} else if (strncmp(line, "rx_bytes=", 9) == 0) {
			jadd(&j, ",\"rx_bytes\":%llu", strtoull(line + 9, NULL, 10));
		} else if (strncmp(line, "tx_bytes=", 9) == 0) {
			jadd(&j, ",\"tx_bytes\":%llu", strtoull(line + 9, NULL, 10));
		}
	}
	jadd(&j, "%s]}", npeers ? "}" : "");
	free(reply);
	if (j.full) {
		json[0] = '\0';
		return -2;
	}
	return 0;
}
