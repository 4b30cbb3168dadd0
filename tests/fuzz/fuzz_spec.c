/*
 * fuzz_spec.c - libFuzzer target: a spec file through the whole loader
 * (YAML parse, schema, references, cross-object checks).  Every input must
 * either load or produce diagnostics; nothing may crash, leak or hang.
 */
#include "spec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], path[80];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(dir, sizeof(dir), "/dev/shm/barista-fuzz-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/spec.yaml", dir);
	mkdir(dir, 0700);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bar_config *cfg = NULL;
	bar_diags diags = {NULL, 0};
	FILE *f = fopen(path, "wb");

	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	if (bar_config_load(&cfg, path, &diags) == 0)
		bar_config_free(cfg);
	bar_diags_clear(&diags);
	return 0;
}
