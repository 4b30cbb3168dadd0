/*
 * local_net.c - networking of the local provider: IPv4 CIDR arithmetic,
 * VNet bridges, the address leases of a VNet, a VM's network namespace and
 * veth pair, and the nftables firewall that enforces security groups inside
 * each VM's namespace.
 *
 * Kernel objects are changed through `ip -batch` (one process for many
 * commands) and `nft -f` run inside the VM's netns by barista-local-init
 * nsexec, so a VM needs only a handful of short-lived processes.  Addresses
 * are leased from <root>/vnet/<id>/leases under an flock() so concurrent
 * creates in threads and in other processes never hand out one address twice.
 */
#include "local.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEASES_MAX (256 * 1024)

int bar_local_cidr_parse(bar_local_ctx *c, bar_local_cidr *out, const char *text,
                         const char *what)
{
	char addr[INET_ADDRSTRLEN + 1];
	struct in_addr in;
	const char *slash = text ? strchr(text, '/') : NULL;
	char *end;
	long prefix;

	if (!slash || (size_t)(slash - text) >= sizeof(addr))
		goto bad;
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET, addr, &in) != 1 || *end || end == slash + 1 || prefix < 0 ||
	    prefix > 32)
		goto bad;
	uint32_t net = ntohl(in.s_addr);
	uint32_t mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
	if (net & ~mask)
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "%s \"%s\" has host bits set (did you mean %u.%u.%u.%u/%ld?)",
		                      what, text, (net & mask) >> 24, ((net & mask) >> 16) & 255,
		                      ((net & mask) >> 8) & 255, (net & mask) & 255, prefix);
	out->net = net;
	out->prefix = (int)prefix;
	return 0;
bad:
	return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
	                      "%s \"%s\" is not an IPv4 CIDR such as 10.10.0.0/16", what,
	                      text ? text : "(missing)");
}

int bar_local_cidr_overlap(const bar_local_cidr *a, const bar_local_cidr *b)
{
	int p = a->prefix < b->prefix ? a->prefix : b->prefix;
	uint32_t mask = p ? 0xffffffffu << (32 - p) : 0;

	return (a->net & mask) == (b->net & mask);
}

void bar_local_ip_format(char *buf, size_t size, uint32_t ip)
{
	snprintf(buf, size, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

int bar_local_link_exists(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	return access(path, F_OK) == 0;
}

int bar_local_netns_exists(const char *id)
{
	char path[64];

	snprintf(path, sizeof(path), "/run/netns/%s", id);
	return access(path, F_OK) == 0;
}

/* Run `ip [-n ns] [-force] -batch -` with the given commands. */
static int ip_batch(bar_local_ctx *c, const char *cmds, const char *ns, int force, int quiet)
{
	const char *argv[8];
	int n = 0;

	argv[n++] = "/usr/sbin/ip";
	if (ns) {
		argv[n++] = "-n";
		argv[n++] = ns;
	}
	if (force)
		argv[n++] = "-force";
	argv[n++] = "-batch";
	argv[n++] = "-";
	argv[n] = NULL;
	return bar_local_run(c, NULL, argv, cmds, NULL, quiet);
}

static void forwarding_enable(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "r+e");
	int on = 0;

	if (!f)
		return;
	if (fscanf(f, "%d", &on) != 1 || on != 1) {
		rewind(f);
		fputs("1\n", f);
	}
	fclose(f);
}

int bar_local_bridge_create(bar_local_ctx *c, const char *id, json_t *subnets)
{
	char gw[INET_ADDRSTRLEN];
	char *cmds = NULL;
	size_t len = 0;
	FILE *f;
	size_t i;
	json_t *s;
	int rc = 0;

	if (!(f = open_memstream(&cmds, &len)))
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
	/* A set address: a bridge without one takes its ports' lowest MAC, so
	 * the gateway's MAC would change under the other VMs when a VM leaves
	 * and their traffic would stall until ARP finds it again (~1 min). */
	if (strlen(id) == 13 && strspn(id + 5, "0123456789abcdef") == 8)
		fprintf(f, "link add %s address 02:ba:%.2s:%.2s:%.2s:%.2s type bridge\n", id, id + 5,
		        id + 7, id + 9, id + 11);
	else
		fprintf(f, "link add %s type bridge\n", id);
	json_array_foreach(subnets, i, s) {
		bar_local_cidr cidr;

		if ((rc = bar_local_cidr_parse(c, &cidr,
		                               json_string_value(json_object_get(s, "cidr")),
		                               "subnet cidr")))
			break;
		bar_local_ip_format(gw, sizeof(gw), cidr.net + 1);
		fprintf(f, "addr add %s/%d dev %s\n", gw, cidr.prefix, id);
	}
	fprintf(f, "link set %s up\n", id);
	fclose(f);
	if (!rc)
		rc = ip_batch(c, cmds, NULL, 0, 0);
	free(cmds);
	if (!rc)
		forwarding_enable();
	return rc;
}

int bar_local_bridge_delete(bar_local_ctx *c, const char *id)
{
	const char *argv[] = { "/usr/sbin/ip", "link", "del", id, NULL };

	if (!bar_local_link_exists(id))
		return 0;
	if (bar_local_run(c, NULL, argv, NULL, NULL, 0) && bar_local_link_exists(id))
		return -1;
	return 0;
}

int bar_local_private_add(bar_local_ctx *c, const char *id, const char *cidr)
{
	const char *argv[] = { "/usr/sbin/nft", "-f", "-", NULL };
	char *rules = NULL;
	int rc;

	/* The output hook sees only what the host itself sends (forwarded
	 * packets take the forward hook), so VMs of other VNets still reach
	 * this one through the host, and a bastion on one can serve it. */
	if (asprintf(&rules, "table ip barista-%s {\n"
	                     "  chain host_out {\n"
	                     "    type filter hook output priority 0; policy accept;\n"
	                     "    ip daddr %s reject with icmp type admin-prohibited\n"
	                     "  }\n"
	                     "}\n", id, cidr) < 0)
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
	rc = bar_local_run(c, NULL, argv, rules, NULL, 0);
	free(rules);
	return rc;
}

void bar_local_private_drop(bar_local_ctx *c, const char *id)
{
	char table[BAR_LOCAL_ID_MAX + 16];
	const char *argv[] = { "/usr/sbin/nft", "delete", "table", "ip", table, NULL };
	int saved = c->err.rc;

	snprintf(table, sizeof(table), "barista-%s", id);
	bar_local_run(c, NULL, argv, NULL, NULL, 1);
	c->err.rc = saved; /* a table already gone is what we want */
}

/* Parse "a.b.c.d vmid" lines, keeping leases whose VM directory exists. */
static int leases_parse(bar_local_ctx *c, char *text, uint32_t **ips, char (**vms)[BAR_LOCAL_ID_MAX],
                        size_t *n)
{
	size_t cap = 0;
	char *save = NULL;

	*n = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char ip[INET_ADDRSTRLEN + 1], vm[BAR_LOCAL_ID_MAX + 1], dir[PATH_MAX];
		struct in_addr in;

		if (sscanf(line, "%16s %16s", ip, vm) != 2 || inet_pton(AF_INET, ip, &in) != 1 ||
		    !bar_local_id_valid(vm, "bvm"))
			continue;
		if (snprintf(dir, sizeof(dir), "%s/vm/%s", c->root, vm) >= (int)sizeof(dir) ||
		    access(dir, F_OK) < 0)
			continue; /* the VM is gone: its address is free again */
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			uint32_t *ni = realloc(*ips, cap * sizeof(**ips));
			if (ni)
				*ips = ni;
			char(*nv)[BAR_LOCAL_ID_MAX] = realloc(*vms, cap * sizeof(**vms));
			if (nv)
				*vms = nv;
			if (!ni || !nv)
				return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
		}
		(*ips)[*n] = ntohl(in.s_addr);
		snprintf((*vms)[*n], BAR_LOCAL_ID_MAX, "%s", vm);
		(*n)++;
	}
	return 0;
}

static int leases_write(bar_local_ctx *c, const char *path, const uint32_t *ips,
                        char (*vms)[BAR_LOCAL_ID_MAX], size_t n, const char *skip_vm)
{
	char *text = NULL, ip[INET_ADDRSTRLEN];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (!f)
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (skip_vm && strcmp(vms[i], skip_vm) == 0)
			continue;
		bar_local_ip_format(ip, sizeof(ip), ips[i]);
		fprintf(f, "%s %s\n", ip, vms[i]);
	}
	fclose(f);
	rc = bar_local_file_write(c, path, text, len, 0600);
	free(text);
	return rc;
}

/* Lock and load the leases of a VNet. */
static int leases_open(bar_local_ctx *c, int *lock, char *path, const char *vnet_id,
                       uint32_t **ips, char (**vms)[BAR_LOCAL_ID_MAX], size_t *n)
{
	char lockpath[PATH_MAX], *text = NULL;
	int rc;

	if ((rc = bar_local_path(c, lockpath, "%s/vnet/%s", c->root, vnet_id)))
		return rc;
	if (access(lockpath, F_OK) < 0)
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "vnet %s does not exist on this host", vnet_id);
	if ((rc = bar_local_path(c, lockpath, "%s/vnet/%s/leases.lock", c->root, vnet_id)) ||
	    (rc = bar_local_path(c, path, "%s/vnet/%s/leases", c->root, vnet_id)))
		return rc;
	if ((rc = bar_local_lock(c, lock, lockpath, LOCK_EX)))
		return rc;
	rc = bar_local_file_read(c, &text, NULL, path, LEASES_MAX);
	if (rc == BAR_ENOTFOUND)
		rc = 0;
	else if (rc == 0)
		rc = leases_parse(c, text, ips, vms, n);
	free(text);
	if (rc) {
		bar_local_unlock(*lock);
		*lock = -1;
	}
	return rc;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int bar_local_lease_take(bar_local_ctx *c, uint32_t *out, const char *vnet_id,
                         const char *vm_id, const bar_local_cidr *subnet)
{
	char path[PATH_MAX];
	uint32_t *ips = NULL, *sorted = NULL, pick = 0;
	char(*vms)[BAR_LOCAL_ID_MAX] = NULL;
	size_t n = 0;
	int lock = -1, rc;

	if ((rc = leases_open(c, &lock, path, vnet_id, &ips, &vms, &n)))
		goto done;
	if (!(sorted = malloc((n + 1) * sizeof(*sorted)))) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
		goto done;
	}
	if (n)
		memcpy(sorted, ips, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	uint32_t last = subnet->net + (uint32_t)((1ull << (32 - subnet->prefix)) - 2);
	uint32_t want = subnet->net + 2;
	for (size_t i = 0; i < n && want <= last; i++)
		if (sorted[i] == want)
			want++;
		else if (sorted[i] > want)
			break;
	if (want > last) {
		rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                    "no free address left in subnet %u.%u.%u.%u/%d of vnet %s",
		                    subnet->net >> 24, (subnet->net >> 16) & 255,
		                    (subnet->net >> 8) & 255, subnet->net & 255, subnet->prefix,
		                    vnet_id);
		goto done;
	}
	pick = want;
	uint32_t *ni = realloc(ips, (n + 1) * sizeof(*ips));
	char(*nv)[BAR_LOCAL_ID_MAX] = ni ? realloc(vms, (n + 1) * sizeof(*vms)) : NULL;
	if (ni)
		ips = ni;
	if (nv)
		vms = nv;
	if (!ni || !nv) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
		goto done;
	}
	ips[n] = pick;
	snprintf(vms[n], BAR_LOCAL_ID_MAX, "%s", vm_id);
	if ((rc = leases_write(c, path, ips, vms, n + 1, NULL)))
		goto done;
	*out = pick;
done:
	bar_local_unlock(lock);
	free(sorted);
	free(ips);
	free(vms);
	return rc;
}

void bar_local_lease_drop(bar_local_ctx *c, const char *vnet_id, const char *vm_id)
{
	char path[PATH_MAX];
	uint32_t *ips = NULL;
	char(*vms)[BAR_LOCAL_ID_MAX] = NULL;
	size_t n = 0;
	int lock = -1;
	int saved = c->err.rc;

	if (leases_open(c, &lock, path, vnet_id, &ips, &vms, &n) == 0)
		leases_write(c, path, ips, vms, n, vm_id);
	bar_local_unlock(lock);
	free(ips);
	free(vms);
	c->err.rc = saved; /* a VNet already gone has no lease to give back */
}
