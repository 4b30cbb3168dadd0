/*
 * assign.h - which collector serves which agent: rendezvous (highest random
 * weight) hashing of (collector URL, VM key), so every agent and `barista`
 * agree without a coordinator, and when a collector leaves only its own
 * agents move (docs/monitoring.md, "Several collectors").  libc only.
 */
#ifndef BAR_MONITOR_ASSIGN_H
#define BAR_MONITOR_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

/* The weight of collector for vm: 64-bit FNV-1a of "collector\nvm",
 * finished with a 64-bit mixer (splitmix64's). */
uint64_t bar_assign_weight(const char *collector, const char *vm);

/* order[0..n) := indices of collectors[0..n) by falling weight for vm (ties
 * by index), the agent's order of preference. */
void bar_assign_order(size_t *order, const char *const *collectors, size_t n, const char *vm);

#endif
