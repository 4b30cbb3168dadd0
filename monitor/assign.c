/*
 * assign.c - rendezvous hashing of agents onto collectors (see assign.h).
 */
#include "assign.h"

uint64_t bar_assign_weight(const char *collector, const char *vm)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[] = {collector ? collector : "", "\n", vm ? vm : ""};

	for (int i = 0; i < 3; i++)
		for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++) {
			h ^= *p;
			h *= 0x100000001b3ULL;
		}
	h += 0x9e3779b97f4a7c15ULL;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

void bar_assign_order(size_t *order, const char *const *collectors, size_t n, const char *vm)
{
	/* n is a handful: insertion sort by falling weight, stable on index */
	for (size_t i = 0; i < n; i++) {
		uint64_t wi = bar_assign_weight(collectors[i], vm);
		size_t j = i;

		while (j > 0 && bar_assign_weight(collectors[order[j - 1]], vm) < wi) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}
