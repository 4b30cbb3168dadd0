/*
 * agent_gateway.c - the VM's default gateway (agent_gateway.h).
 *
 * /proc/net/route lists one route a line after a header: Iface, then
 * Destination, Gateway, Flags ... in hex, addresses in the kernel's
 * (network) byte order printed as a host-order word, so on every Linux
 * the four bytes of the word, lowest first, are the address's octets.
 */
#include "agent_gateway.h"

#include <stdio.h>
#include <string.h>

#define RTF_UP_ 0x1
#define RTF_GATEWAY_ 0x2

int bar_agent_gateway(char *out, size_t size, const char *path)
{
	FILE *f = fopen(path ? path : "/proc/net/route", "r");
	char line[512];
	int rc = -1, metric_best = -1;

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) /* the header */
		goto done;
	while (fgets(line, sizeof(line), f)) {
		char iface[64];
		unsigned dst, gw, flags, refcnt, use, metric, mask;

		if (sscanf(line, "%63s %x %x %x %u %u %u %x", iface, &dst, &gw, &flags, &refcnt, &use,
		           &metric, &mask) != 8)
			continue;
		if (dst != 0 || mask != 0 || !(flags & RTF_UP_) || !(flags & RTF_GATEWAY_) || !gw)
			continue;
		if (metric_best >= 0 && (int)metric >= metric_best)
			continue; /* the lowest metric wins, as the kernel picks */
		if (snprintf(out, size, "%u.%u.%u.%u", gw & 0xff, (gw >> 8) & 0xff, (gw >> 16) & 0xff,
		             (gw >> 24) & 0xff) >= (int)size)
			goto done;
		metric_best = (int)metric;
		rc = 0;
	}
done:
	fclose(f);
	return rc;
}
