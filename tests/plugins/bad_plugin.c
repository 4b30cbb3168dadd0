/*
 * bad_plugin.c - deliberately broken provider plugins for the loader tests,
 * one per VARIANT: no init symbol, an unknown ABI version, a failing init,
 * and two plugins that both claim the name "twin".
 */
#include "barista_provider.h"

#include <stdlib.h>
#include <string.h>

static int nop(bar_provider *p, bar_call *c, const char *t, const char *in, bar_sink *o)
{
	return BAR_ENOTSUP;
}

static int nop_del(bar_provider *p, bar_call *c, const char *t, const char *in)
{
	return BAR_ENOTSUP;
}

static int nop_list(bar_provider *p, bar_call *c, const char *t, bar_sink *o)
{
	return BAR_OK;
}

static const bar_type_info vm_type = {.struct_size = sizeof(bar_type_info), .type = "vm"};
static const bar_type_info *const types[] = {&vm_type, NULL};
static bar_provider table = {
	.abi_version = BAR_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(bar_provider),
	.name = "twin",
	.version = "0",
	.types = types,
	.create = nop,
	.read = nop,
	.update = nop,
	.del = nop_del,
	.list = nop_list,
};

#if VARIANT == 0 /* no symbol */
int barista_provider_init_misspelled(const bar_host_api *h, bar_provider **out, char **e)
{
	*out = &table;
	return 0;
}
#else
__attribute__((visibility("default"))) int
barista_provider_init(const bar_host_api *h, bar_provider **out, char **errmsg)
{
#if VARIANT == 1 /* future ABI */
	table.abi_version = 99;
#elif VARIANT == 5 /* a plugin built for version 1 */
	table.abi_version = 1;
	table.struct_size = 96; /* v1's table was smaller */
#elif VARIANT == 2 /* init fails */
	*errmsg = strdup("cannot reach the fixture cloud");
	return -1;
#endif
	*out = &table;
	return 0;
}
#endif
