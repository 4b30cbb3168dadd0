/*
 * agent_http.c - barista-agent's HTTP/1.1 client (RFC 9112) on plain
 * sockets: one POST per connection (Connection: close), non-blocking
 * connect and poll()ed reads and writes, each bounded by the timeout, the
 * answer's head read up to 16 KiB and its status line parsed.  Only what a
 * remote-write push needs: the answer's body is kept for the log (its
 * start) and otherwise ignored.
 */
#include "agent.h"
#include "agent_gateway.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events until deadline; 0, or -1 (timeout). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int64_t left = deadline - now_ms();
		int r;
		if (left <= 0)
			return -1;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* Split http://host:port/prefix into host, port, prefix. */
static int split_url(const char *url, char *host, size_t hsize, char *port, size_t psize,
                     const char **prefix)
{
	const char *h = url + 7, *e, *colon;
	size_t hl;

	if (strncmp(url, "http://", 7))
		return -1;
	e = h + strcspn(h, "/");
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(e - h));
		if (!rb || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - h - 1), h++;
		colon = rb + 1;
	} else {
		colon = memchr(h, ':', (size_t)(e - h));
		if (!colon)
			return -1;
		hl = (size_t)(colon - h);
	}
	if (hl == 0 || hl >= hsize || (size_t)(e - colon - 1) >= psize || e == colon + 1)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, colon + 1, (size_t)(e - colon - 1));
	port[e - colon - 1] = '\0';
	*prefix = e;
	return 0;
}

/* A connected socket to host:port by deadline; -1 with reason. */
static int dial(const char *host, const char *port, int64_t deadline, char *reason,
                size_t rsize)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL, *ai;
	int fd = -1, err = 0, g;
	char gw[16];

	/* "gateway": the VM's default gateway (docs/spec-reference.md) */
	if (!strcmp(host, "gateway")) {
		if (bar_agent_gateway(gw, sizeof(gw), NULL) < 0) {
			snprintf(reason, rsize, "gateway: this VM has no default route through a "
			         "gateway (/proc/net/route)");
			return -1;
		}
		host = gw;
	}
	/* numeric addresses need no resolver (and no NSS in a static binary) */
	hints.ai_flags |= AI_NUMERICHOST;
	if ((g = getaddrinfo(host, port, &hints, &res)) != 0) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		if ((g = getaddrinfo(host, port, &hints, &res)) != 0) {
			snprintf(reason, rsize, "cannot resolve %s: %s", host, gai_strerror(g));
			return -1;
		}
	}
	for (ai = res; ai; ai = ai->ai_next) {
		socklen_t elen = sizeof(err);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
			break;
		if (!err)
			err = errno == EINPROGRESS ? ETIMEDOUT : errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(reason, rsize, "cannot connect to %s:%s: %s", host, port, strerror(err));
	return fd;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w, n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline) < 0)
			return -1;
	}
	return 0;
}

int bar_agent_http_post(bar_agent_http_result *res, const char *base_url, const char *path,
                        const char *token, const void *body, size_t len, int timeout_ms)
{
	char host[256], port[16], head[1024 + 600], *in = NULL;
	const char *prefix;
	size_t got = 0;
	int fd = -1, rc = -1, hn;
	int64_t deadline = now_ms() + timeout_ms;

	memset(res, 0, sizeof(*res));
	if (split_url(base_url, host, sizeof(host), port, sizeof(port), &prefix) < 0) {
		snprintf(res->reason, sizeof(res->reason), "not an http://HOST:PORT URL");
		goto done;
	}
	if ((fd = dial(host, port, deadline, res->reason, sizeof(res->reason))) < 0)
		goto done;
	/* the token goes into this buffer only, which is wiped below */
	hn = snprintf(head, sizeof(head),
	              "POST %s%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: barista-agent\r\n"
	              "%s%s%sContent-Encoding: snappy\r\nContent-Type: application/x-protobuf\r\n"
	              "X-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: %zu\r\n"
	              "Connection: close\r\n\r\n",
	              prefix, path, host, port, token && *token ? "Authorization: Bearer " : "",
	              token && *token ? token : "", token && *token ? "\r\n" : "", len);
	if (hn < 0 || (size_t)hn >= sizeof(head)) {
		snprintf(res->reason, sizeof(res->reason), "request head too long");
		goto done;
	}
	deadline = now_ms() + timeout_ms;
	if (send_all(fd, head, (size_t)hn, deadline) < 0 || send_all(fd, body, len, deadline) < 0) {
		snprintf(res->reason, sizeof(res->reason), "sending to %s:%s: %s", host, port,
		         errno == EAGAIN ? "timed out" : strerror(errno));
		goto done;
	}
	if (!(in = malloc(HEAD_MAX + 1))) {
		snprintf(res->reason, sizeof(res->reason), "out of memory");
		goto done;
	}
	/* read until the head and a little of the body are in, the peer closes,
	 * or the buffer is full */
	for (;;) {
		ssize_t r;
		char *eoh;
		in[got] = '\0';
		if ((eoh = strstr(in, "\r\n\r\n")) && got - (size_t)(eoh + 4 - in) >= 200)
			break;
		if (got == HEAD_MAX)
			break;
		if (wait_fd(fd, POLLIN, now_ms() + timeout_ms) < 0) {
			if (eoh)
				break;
			snprintf(res->reason, sizeof(res->reason), "no answer from %s:%s in %d ms", host,
			         port, timeout_ms);
			goto done;
		}
		r = recv(fd, in + got, HEAD_MAX - got, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		/* a 2xx with an empty body is the common answer: stop at its end */
		if ((eoh = strstr(in, "\r\n\r\n")) && strcasestr(in, "\r\ncontent-length: 0\r\n"))
			break;
	}
	in[got] = '\0';
	{
		int major, minor, status;
		char *eoh = strstr(in, "\r\n\r\n");
		if (sscanf(in, "HTTP/%d.%d %d", &major, &minor, &status) != 3 || status < 100 ||
		    status > 599) {
			snprintf(res->reason, sizeof(res->reason), "%s:%s answered no HTTP status line",
			         host, port);
			goto done;
		}
		res->status = status;
		if (eoh) {
			const char *b = eoh + 4;
			size_t k = 0;
			for (; *b && k + 1 < sizeof(res->reason); b++)
				if ((unsigned char)*b >= 0x20 && (unsigned char)*b < 0x7f)
					res->reason[k++] = *b;
			res->reason[k] = '\0';
		}
		rc = 0;
	}
done:
	memset(head, 0, sizeof(head));
	free(in);
	if (fd >= 0)
		close(fd);
	return rc;
}
