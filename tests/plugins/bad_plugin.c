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
	return BAR_P_ENOTSUP;
}

static int nop_del(bar_provider *p, bar_call *c, const char *t, const char *in)
{
	return BAR_P_ENOTSUP;
}

static int nop_list(bar_provider *p, bar_call *c, const char *t, bar_sink *o)
{
	return BAR_P_OK;
}

static const char *const types[] = {"vm", NULL};
static bar_provider table = {
	BAR_PROVIDER_ABI_VERSION, sizeof(bar_provider), "twin", "0", 0, types,
	nop, nop, nop, nop_del, nop_list, NULL, NULL, NULL,
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
#elif VARIANT == 2 /* init fails */
	*errmsg = strdup("cannot reach the fixture cloud");
	return -1;
#endif
	*out = &table;
	return 0;
}
#endif
