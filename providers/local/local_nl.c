/*
 * local_nl.c - a VM's network namespace and veth pair, made with rtnetlink
 * directly instead of `ip`.
 *
 * Creating a VM is dominated by short-lived helper processes; `ip` alone
 * cost two fork+exec+dynamic-link rounds per VM.  Here the plugin does what
 * `ip netns add` + `ip link add ... type veth peer ... netns` + `ip -n ...`
 * would: a helper thread unshare()s a new network namespace, bind-mounts it
 * on /run/netns/<id> (exactly like iproute2, so `ip netns` sees it) and opens
 * a netlink socket inside it; the calling thread then talks rtnetlink to the
 * host and to the new namespace.  Threads may change their own network
 * namespace, so the host's other threads are not affected.
 */
#include "local.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define NETNS_DIR "/run/netns"
#define NL_BUF 4096

typedef struct nlmsg {
	struct nlmsghdr h;
	char body[NL_BUF];
} nlmsg;

/* ---- message building ---- */

static void *nl_begin(nlmsg *m, int type, int flags, size_t hdrlen)
{
	memset(m, 0, sizeof(*m));
	m->h.nlmsg_type = (uint16_t)type;
	m->h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
	m->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdrlen);
	return NLMSG_DATA(&m->h);
}

static struct rtattr *nl_attr(nlmsg *m, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)m + NLMSG_ALIGN(m->h.nlmsg_len));

	a->rta_type = (uint16_t)type;
	a->rta_len = (uint16_t)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	m->h.nlmsg_len = (uint32_t)(NLMSG_ALIGN(m->h.nlmsg_len) + RTA_ALIGN(a->rta_len));
	return a;
}

static void nl_str(nlmsg *m, int type, const char *s)
{
	nl_attr(m, type, s, strlen(s) + 1);
}

static void nl_u32(nlmsg *m, int type, uint32_t v)
{
	nl_attr(m, type, &v, sizeof(v));
}

static void nl_nest_end(nlmsg *m, struct rtattr *nest)
{
	nest->rta_len = (uint16_t)((char *)m + m->h.nlmsg_len - (char *)nest);
}

/* Send one request and wait for its ack.  Returns 0 or -errno; with
 * `reply`, the first non-error answer is copied there (for RTM_GETLINK). */
static int nl_talk(int fd, nlmsg *m, nlmsg *reply)
{
	static uint32_t seq_counter;
	uint32_t seq = __atomic_add_fetch(&seq_counter, 1, __ATOMIC_RELAXED);
	char buf[16384];

	m->h.nlmsg_seq = seq;
	if (send(fd, &m->h, m->h.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				return e->error;
			}
			if (reply && h->nlmsg_len <= sizeof(*reply))
				memcpy(reply, h, h->nlmsg_len);
		}
	}
}

static int nl_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- the namespace ---- */

typedef struct ns_job {
	const char *path;
	int nl_fd, ns_fd;
	int err;
	const char *step;
} ns_job;

/* Runs in a throw-away thread: only this thread enters the new netns. */
static void *ns_thread(void *arg)
{
	ns_job *j = arg;

	j->step = "unshare(CLONE_NEWNET)";
	if (unshare(CLONE_NEWNET) < 0)
		goto fail;
	j->step = "bind-mount the namespace";
	if (mount("/proc/thread-self/ns/net", j->path, "none", MS_BIND, NULL) < 0)
		goto fail;
	j->step = "open it";
	if ((j->ns_fd = open(j->path, O_RDONLY | O_CLOEXEC)) < 0)
		goto fail;
	j->step = "open a netlink socket in it";
	if ((j->nl_fd = nl_socket()) < 0)
		goto fail;
	return NULL;
fail:
	j->err = errno;
	return NULL;
}

static pthread_once_t run_dir_once = PTHREAD_ONCE_INIT;

/* Like iproute2: /run/netns is a shared mount point, so namespaces mounted
 * there show up in every mount namespace. */
static void run_dir_setup(void)
{
	mkdir("/run", 0755);
	mkdir(NETNS_DIR, 0755);
	if (mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0 && errno == EINVAL &&
	    mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) == 0)
		mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL);
}

/* New netns mounted on /run/netns/<id>; *nl_fd is a netlink socket in it
 * and *ns_fd the namespace itself. */
static int netns_add(bar_local_ctx *c, int *nl_fd, int *ns_fd, const char *id)
{
	char path[64];
	ns_job j = { path, -1, -1, 0, "" };
	pthread_t th;
	int fd, e;

	pthread_once(&run_dir_once, run_dir_setup);
	snprintf(path, sizeof(path), NETNS_DIR "/%s", id);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "create %s: %s", path,
		                      strerror(errno));
	close(fd);
	if ((e = pthread_create(&th, NULL, ns_thread, &j)) != 0) {
		j.err = e;
		j.step = "start a thread";
	} else {
		pthread_join(th, NULL);
	}
	if (j.err) {
		if (j.nl_fd >= 0)
			close(j.nl_fd);
		if (j.ns_fd >= 0)
			close(j.ns_fd);
		umount2(path, MNT_DETACH);
		unlink(path);
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "netns %s: %s: %s", id,
		                      j.step, strerror(j.err));
	}
	*nl_fd = j.nl_fd;
	*ns_fd = j.ns_fd;
	return 0;
}

/* ---- links, addresses, routes ---- */

/* veth <id> (host side, on `bridge`, up) with peer eth0 inside ns_fd.
 * eth0's MAC is derived from its address (02:ba:a.b.c.d), as clouds do: a
 * VM re-created with the same address then has the same MAC, so the host's
 * ARP entry for it stays right instead of pointing at the old VM for the
 * seconds it takes to go stale. */
static int veth_add(int fd, const char *id, const char *bridge, int ns_fd, uint32_t ip)
{
	unsigned char mac[6] = {0x02, 0xba, (unsigned char)(ip >> 24), (unsigned char)(ip >> 16),
	                        (unsigned char)(ip >> 8), (unsigned char)ip};
	unsigned master = if_nametoindex(bridge);
	struct ifinfomsg *ifi;
	struct rtattr *info, *data, *peer;
	nlmsg m;
	int rc;

	if (!master)
		return -ENODEV;
	ifi = nl_begin(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	nl_str(&m, IFLA_IFNAME, id);
	nl_u32(&m, IFLA_MASTER, master);
	info = nl_attr(&m, IFLA_LINKINFO, NULL, 0);
	nl_str(&m, IFLA_INFO_KIND, "veth");
	data = nl_attr(&m, IFLA_INFO_DATA, NULL, 0);
	peer = nl_attr(&m, VETH_INFO_PEER, NULL, 0);
	/* The peer's attributes follow its own ifinfomsg. */
	m.h.nlmsg_len += (uint32_t)NLMSG_ALIGN(sizeof(struct ifinfomsg));
	nl_str(&m, IFLA_IFNAME, "eth0");
	nl_attr(&m, IFLA_ADDRESS, mac, sizeof(mac));
	nl_u32(&m, IFLA_NET_NS_FD, (uint32_t)ns_fd);
	nl_nest_end(&m, peer);
	nl_nest_end(&m, data);
	nl_nest_end(&m, info);
	if ((rc = nl_talk(fd, &m, NULL)))
		return rc;
	return 0;
}

/* Set a link (by name) up. */
static int link_up(int fd, const char *name)
{
	struct ifinfomsg *ifi;
	nlmsg m;

	ifi = nl_begin(&m, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	nl_str(&m, IFLA_IFNAME, name);
	return nl_talk(fd, &m, NULL);
}

static int link_index(int fd, const char *name, int *out)
{
	struct ifinfomsg *ifi;
	nlmsg m, reply;
	int rc;

	ifi = nl_begin(&m, RTM_GETLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	nl_str(&m, IFLA_IFNAME, name);
	memset(&reply, 0, sizeof(reply));
	if ((rc = nl_talk(fd, &m, &reply)))
		return rc;
	if (reply.h.nlmsg_type != RTM_NEWLINK)
		return -ENODEV;
	*out = ((struct ifinfomsg *)NLMSG_DATA(&reply.h))->ifi_index;
	return 0;
}

static int addr_add(int fd, int ifindex, uint32_t ip, int prefix)
{
	struct ifaddrmsg *ifa;
	uint32_t a = htonl(ip);
	uint32_t b = htonl(ip | (prefix < 32 ? 0xffffffffu >> prefix : 0));
	nlmsg m;

	ifa = nl_begin(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_index = (unsigned)ifindex;
	nl_attr(&m, IFA_LOCAL, &a, sizeof(a));
	nl_attr(&m, IFA_ADDRESS, &a, sizeof(a));
	nl_attr(&m, IFA_BROADCAST, &b, sizeof(b));
	return nl_talk(fd, &m, NULL);
}

static int route_default(int fd, int ifindex, uint32_t gw)
{
	struct rtmsg *rt;
	uint32_t g = htonl(gw);
	nlmsg m;

	rt = nl_begin(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*rt));
	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	nl_attr(&m, RTA_GATEWAY, &g, sizeof(g));
	nl_u32(&m, RTA_OIF, (uint32_t)ifindex);
	return nl_talk(fd, &m, NULL);
}

/* Inside the VM's netns: lo up, eth0 with the address, default route. */
static int ns_configure(int fd, uint32_t ip, int prefix, uint32_t gw, const char **step)
{
	int eth0 = 0, rc;

	*step = "lo up";
	if ((rc = link_up(fd, "lo")))
		return rc;
	*step = "find eth0";
	if ((rc = link_index(fd, "eth0", &eth0)))
		return rc;
	*step = "address eth0";
	if ((rc = addr_add(fd, eth0, ip, prefix)))
		return rc;
	*step = "eth0 up";
	if ((rc = link_up(fd, "eth0")))
		return rc;
	*step = "default route";
	return route_default(fd, eth0, gw);
}

int bar_local_netns_create(bar_local_ctx *c, const char *id, const char *bridge,
                           uint32_t ip, int prefix, uint32_t gw)
{
	int host = -1, nl = -1, ns = -1, err, rc = 0;
	const char *step = "open a netlink socket";

	if ((rc = netns_add(c, &nl, &ns, id)))
		return rc;
	if ((host = nl_socket()) < 0) {
		err = -errno;
		goto fail;
	}
	step = "create the veth pair";
	if ((err = veth_add(host, id, bridge, ns, ip)))
		goto fail;
	step = "host side up";
	if ((err = link_up(host, id)))
		goto fail;
	if ((err = ns_configure(nl, ip, prefix, gw, &step)))
		goto fail;
	goto done;
fail:
	rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "vm %s network (bridge %s): %s: %s",
	                    id, bridge, step, strerror(-err));
done:
	if (host >= 0)
		close(host);
	close(nl);
	close(ns);
	return rc;
}

int bar_local_netns_delete(bar_local_ctx *c, const char *id)
{
	char path[64];
	int fd, rc = 0;

	if (bar_local_link_exists(id) && (fd = nl_socket()) >= 0) {
		struct ifinfomsg *ifi;
		nlmsg m;

		ifi = nl_begin(&m, RTM_DELLINK, 0, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
		nl_str(&m, IFLA_IFNAME, id);
		nl_talk(fd, &m, NULL); /* checked below, by looking */
		close(fd);
	}
	snprintf(path, sizeof(path), NETNS_DIR "/%s", id);
	if (access(path, F_OK) == 0) {
		umount2(path, MNT_DETACH);
		unlink(path);
	}
	if (bar_local_link_exists(id) || bar_local_netns_exists(id))
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                    "could not remove veth/netns %s (see `ip link`, `ip netns list`)",
		                    id);
	return rc;
}
