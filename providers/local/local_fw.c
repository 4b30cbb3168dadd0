/*
 * local_fw.c - security groups as nftables rules inside each VM's network
 * namespace.
 *
 * A VM's firewall is the union of the rules of all its security groups,
 * rendered as one `table inet barista` and loaded atomically with `nft -f`
 * (the file deletes and re-adds the table in one transaction).  Inbound:
 * established/related and loopback traffic pass, each ingress rule accepts,
 * and everything else is REJECTED (tcp reset, icmp port-unreachable) so a
 * blocked port is refused at once instead of timing out.  Outbound: allowed
 * unless egress rules exist, then only what they allow.
 *
 * A security-group update re-applies the firewall of every VM whose metadata
 * lists the group; <root>/securitygroup.lock (exclusive for updates, shared
 * for a VM applying its own rules) keeps the two from interleaving.
 */
#include "local.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Check a rule's cidr: IPv4 via the CIDR parser, IPv6 by inet_pton. */
static int rule_cidr_check(bar_local_ctx *c, const char *cidr, const char *what)
{
	char addr[INET6_ADDRSTRLEN + 1];
	struct in6_addr a6;
	const char *slash;
	char *end;

	if (!cidr || !strchr(cidr, ':')) {
		bar_local_cidr tmp;

		return bar_local_cidr_parse(c, &tmp, cidr, what);
	}
	slash = strchr(cidr, '/');
	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		goto bad;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	long p = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET6, addr, &a6) == 1 && !*end && end != slash + 1 && p >= 0 && p <= 128)
		return 0;
bad:
	return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
	                      "%s \"%s\" is not a CIDR", what, cidr);
}

static int rule_port(json_t *rule, const char *key, json_int_t *out)
{
	json_t *v = json_object_get(rule, key);

	if (!v || json_is_null(v)) {
		*out = -1;
		return 0;
	}
	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

static int rule_normalise(bar_local_ctx *c, json_t **out, json_t *rule, const char *what)
{
	const char *proto = json_string_value(json_object_get(rule, "protocol"));
	const char *cidr = json_string_value(json_object_get(rule, "cidr"));
	json_int_t from, to;
	int rc;

	if (!json_is_object(rule))
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "%s: a rule must be an object", what);
	if (!proto || strcmp(proto, "-1") == 0)
		proto = "all";
	if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "icmp") &&
	    strcmp(proto, "all"))
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "%s: protocol \"%s\" is not one of tcp, udp, icmp, all", what,
		                      proto);
	if (rule_port(rule, "fromPort", &from) || rule_port(rule, "toPort", &to))
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "%s: fromPort and toPort must be integers", what);
	if (!strcmp(proto, "tcp") || !strcmp(proto, "udp")) {
		if (from != -1 && to == -1)
			to = from;
		if ((from == -1) != (to == -1) || from < -1 || from > 65535 || to > 65535 ||
		    from > to)
			return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
			                      "%s: port range %lld-%lld is not within 0-65535 "
			                      "(or -1 for all ports)",
			                      what, (long long)from, (long long)to);
	}
	if (!cidr)
		cidr = "0.0.0.0/0";
	if ((rc = rule_cidr_check(c, cidr, what)))
		return rc;
	*out = json_pack("{s:s,s:I,s:s,s:I}", "cidr", cidr, "fromPort", from, "protocol", proto,
	                 "toPort", to);
	return *out ? 0 : bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
}

int bar_local_rules_normalise(bar_local_ctx *c, json_t **out, json_t *rules, const char *what)
{
	json_t *res = json_array(), *rule, *norm = NULL;
	char label[96];
	size_t i;
	int rc = 0;

	if (rules && !json_is_null(rules) && !json_is_array(rules)) {
		rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID, "%s must be a list",
		                    what);
		goto done;
	}
	json_array_foreach(rules, i, rule) {
		snprintf(label, sizeof(label), "%s[%zu]", what, i);
		if ((rc = rule_normalise(c, &norm, rule, label)))
			goto done;
		json_array_append_new(res, norm);
	}
	*out = res;
	res = NULL;
done:
	json_decref(res);
	return rc;
}

/* One rule as an nft statement; `dir` is "saddr" (ingress) or "daddr". */
static void rule_render(FILE *f, json_t *rule, const char *dir)
{
	const char *proto = json_string_value(json_object_get(rule, "protocol"));
	const char *cidr = json_string_value(json_object_get(rule, "cidr"));
	json_int_t from = json_integer_value(json_object_get(rule, "fromPort"));
	json_int_t to = json_integer_value(json_object_get(rule, "toPort"));
	int v6 = strchr(cidr, ':') != NULL;

	fputs("\t\t", f);
	if (strcmp(cidr, "0.0.0.0/0") == 0 || strcmp(cidr, "::/0") == 0)
		fprintf(f, "meta nfproto %s ", v6 ? "ipv6" : "ipv4");
	else
		fprintf(f, "%s %s %s ", v6 ? "ip6" : "ip", dir, cidr);
	if (!strcmp(proto, "tcp") || !strcmp(proto, "udp")) {
		if (from < 0)
			fprintf(f, "meta l4proto %s ", proto);
		else if (from == to)
			fprintf(f, "%s dport %lld ", proto, (long long)from);
		else
			fprintf(f, "%s dport %lld-%lld ", proto, (long long)from, (long long)to);
	} else if (!strcmp(proto, "icmp")) {
		fprintf(f, "meta l4proto %s ", v6 ? "ipv6-icmp" : "icmp");
	}
	fputs("accept\n", f);
}

static void chain_render(FILE *f, const char *name, const char *hook, json_t *rules,
                         const char *dir, int open_when_empty)
{
	size_t i;
	json_t *r;

	fprintf(f, "\tchain %s {\n\t\ttype filter hook %s priority 0; policy %s;\n", name, hook,
	        json_array_size(rules) == 0 && open_when_empty ? "accept" : "drop");
	if (json_array_size(rules) == 0 && open_when_empty) {
		fputs("\t}\n", f);
		return;
	}
	fprintf(f, "\t\tct state established,related accept\n\t\tct state invalid drop\n"
	           "\t\t%s \"lo\" accept\n",
	        dir[0] == 's' ? "iifname" : "oifname");
	json_array_foreach(rules, i, r)
		rule_render(f, r, dir);
	fputs("\t\tmeta l4proto tcp reject with tcp reset\n\t\treject\n\t}\n", f);
}

/* Collect the union of the rules of the groups in sg_ids. */
static int rules_collect(bar_local_ctx *c, json_t *ingress, json_t *egress, json_t *sg_ids)
{
	size_t i;
	json_t *v;
	int rc = 0;

	json_array_foreach(sg_ids, i, v) {
		json_t *meta = NULL, *obs;
		const char *sg = json_string_value(v);

		if (!bar_local_id_valid(sg, "bsg"))
			return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
			                      "\"%s\" is not a local security group id",
			                      sg ? sg : "(null)");
		if ((rc = bar_local_meta_load(c, &meta, "securitygroup", sg)))
			return rc;
		obs = json_object_get(meta, "observed");
		json_array_extend(ingress, json_object_get(obs, "ingress"));
		json_array_extend(egress, json_object_get(obs, "egress"));
		json_decref(meta);
	}
	return 0;
}

int bar_local_firewall_apply(bar_local_ctx *c, const char *vm_id, json_t *sg_ids, int fresh)
{
	json_t *ingress = json_array(), *egress = json_array();
	char *text = NULL;
	size_t len = 0;
	FILE *f = NULL;
	int rc;

	if ((rc = rules_collect(c, ingress, egress, sg_ids)))
		goto done;
	if (!(f = open_memstream(&text, &len))) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
		goto done;
	}
	fputs("# Security groups of this VM (written by the Barista local provider).\n", f);
	/* Replacing an existing table costs the kernel an RCU grace period;
	 * a new namespace has none to replace. */
	if (!fresh)
		fputs("table inet barista\ndelete table inet barista\n", f);
	fputs("table inet barista {\n", f);
	chain_render(f, "input", "input", ingress, "saddr", 0);
	chain_render(f, "output", "output", egress, "daddr", 1);
	fputs("}\n", f);
	fclose(f);
	const char *argv[] = { "/usr/sbin/nft", "-f", "-", NULL };
	rc = bar_local_run(c, NULL, argv, text, vm_id, 0);
done:
	free(text);
	json_decref(ingress);
	json_decref(egress);
	return rc;
}

int bar_local_firewall_lock(bar_local_ctx *c, int *out_fd, int how)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = bar_local_path(c, path, "%s/securitygroup.lock", c->root)))
		return rc;
	return bar_local_lock(c, out_fd, path, how);
}
