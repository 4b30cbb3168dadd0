/*
 * agent_gateway.h - the host name `gateway` in a policy's collector URLs
 * (docs/spec-reference.md, MonitoringPolicy): the VM's default gateway,
 * read from /proc/net/route, so one policy reaches a collector on the host
 * of local VMs (or on a VNet's router) without naming an address.  libc only.
 */
#ifndef BAR_MONITOR_AGENT_GATEWAY_H
#define BAR_MONITOR_AGENT_GATEWAY_H

#include <stddef.h>

/* The IPv4 default gateway as dotted text into out[size] (size >= 16), from
 * the routing table at path (NULL: /proc/net/route).  0, or -1 when there
 * is no default route through a gateway (or the table cannot be read). */
int bar_agent_gateway(char *out, size_t size, const char *path);

#endif
