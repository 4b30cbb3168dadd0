/*
 * types.c - what Barista knows about each resource type, in one place: which
 * types a provider manages (the rest are records kept only in state), which
 * statuses are transitional, and which attribute changes force replacing a
 * resource.  For provider types the last comes from the provider itself
 * (bar_type_info.in_place, ABI v2); only the host's own record types are
 * described here.
 */
#include "planner.h"

#include <string.h>

static const char *const provider_types[] = {"vnet", "securitygroup", "sshkey", "image",
                                             "spec", "vm", NULL};

/* Attributes of a Connection that change where its resources live: they
 * cannot change in place (the resources are re-made elsewhere). */
static const char *const connection_forces[] = {"driver", "region", "zone", NULL};

/* Attributes the host acts on itself and never sends to a provider: a
 * change of them alone is recorded, nothing is replaced. */
static const char *const host_attrs[] = {"postCommands", "bastion", NULL};

static const char *const transitional_statuses[] = {"Creating", "Suspending", "Resuming",
                                                    "Rebooting", "Terminating", "Deleting",
                                                    NULL};

static int in_list(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

int bar_type_is_provider(const char *type)
{
	return in_list(provider_types, type);
}

int bar_status_transitional(const char *status)
{
	return status && in_list(transitional_statuses, status);
}

int bar_attr_host_only(const char *attr)
{
	return in_list(host_attrs, attr);
}

int bar_type_forces_replacement(const bar_provider *p, const char *type, const char *attr)
{
	if (bar_attr_host_only(attr))
		return 0;
	if (strcmp(type, "connection") == 0)
		return in_list(connection_forces, attr);
	if (!bar_type_is_provider(type))
		return 0; /* records only: always updated in place */
	if (strcmp(type, "vm") == 0 && strcmp(attr, "state") == 0)
		return 0; /* suspend/resume actions, checked against capabilities */
	if (!p)
		return 1; /* nobody says it can change in place */
	return !bar_provider_in_place(p, type, attr);
}
