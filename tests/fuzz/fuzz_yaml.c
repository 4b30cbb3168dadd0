/*
 * fuzz_yaml.c - libFuzzer target: bytes through the YAML node-tree builder
 * (core/yaml.c), the first thing that sees a spec file.
 */
#include "yaml_tree.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bar_yaml *y = NULL;

	if (bar_yaml_parse(&y, (const char *)data, size) == 0)
		bar_yaml_free(y);
	return 0;
}
