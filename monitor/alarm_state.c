/*
 * alarm_state.c - alert states and notification timing (see alarm.h):
 * Prometheus' rule states and Alertmanager's group timers, as pure
 * functions of their inputs and a clock so tests can drive them.
 */
#include "alarm.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

const char *bar_alert_state_name(int state)
{
	static const char *const names[] = {"inactive", "pending", "firing", "resolved"};
	return state >= 0 && state <= BAR_ALERT_RESOLVED ? names[state] : "unknown";
}

int bar_alert_step(bar_alert *a, int cond, double value, int64_t for_ms, int64_t now)
{
	int changed = 0;

	if (cond)
		a->value = value;
	switch (a->state) {
	case BAR_ALERT_INACTIVE:
	case BAR_ALERT_RESOLVED:
		if (!cond)
			break;
		a->active_ms = now;
		if (for_ms <= 0) {
			a->state = BAR_ALERT_FIRING;
			a->fired_ms = now;
			changed = 1;
		} else {
			a->state = BAR_ALERT_PENDING;
		}
		break;
	case BAR_ALERT_PENDING:
		if (!cond) {
			a->state = BAR_ALERT_INACTIVE;
		} else if (now - a->active_ms >= for_ms) {
			a->state = BAR_ALERT_FIRING;
			a->fired_ms = now;
			changed = 1;
		}
		break;
	case BAR_ALERT_FIRING:
		if (!cond) {
			a->state = BAR_ALERT_RESOLVED;
			a->resolved_ms = now;
			changed = 1;
		}
		break;
	}
	if (changed)
		a->dirty = 1;
	return changed;
}

/* SHA-256 over the alerts' identities and notified states, in hex. */
static void digest_of(const bar_alert_group *g, char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32] = {0};

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		snprintf(out, 65, "%064d", 0);
		return;
	}
	for (size_t i = 0; i < g->nalerts; i++) {
		const bar_alert *a = g->alerts[i];
		if (a->state != BAR_ALERT_FIRING && a->state != BAR_ALERT_RESOLVED)
			continue;
		EVP_DigestUpdate(ctx, a->key, strlen(a->key) + 1);
		EVP_DigestUpdate(ctx, a->state == BAR_ALERT_FIRING ? "F" : "R", 1);
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int bar_alert_group_due(const bar_alert_group *g, const bar_alert_route *r, int64_t now,
                        char *digest)
{
	int notifiable = 0, firing = 0;

	for (size_t i = 0; i < g->nalerts; i++) {
		notifiable |= g->alerts[i]->state == BAR_ALERT_FIRING ||
		              g->alerts[i]->state == BAR_ALERT_RESOLVED;
		firing |= g->alerts[i]->state == BAR_ALERT_FIRING;
	}
	digest_of(g, digest);
	if (!notifiable)
		return 0;
	if (!g->last_sent_ms)
		return now >= g->created_ms + r->wait_ms;
	if (strcmp(digest, g->last_digest) != 0)
		return now >= g->last_sent_ms + r->interval_ms;
	return firing && now >= g->last_sent_ms + r->repeat_ms;
}
