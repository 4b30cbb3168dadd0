/*
 * promtext.c - the Prometheus text exposition format, version 0.0.4
 * (prometheus/docs content/docs/instrumenting/exposition_formats.md), as
 * the agent's pull endpoint and the collector's /metrics write it:
 *
 *   # HELP name docstring        (backslash and line feed escaped)
 *   # TYPE name gauge
 *   name{label="value",...} value [timestamp_ms]
 *
 * Label values escape backslash, double quote and line feed.  Values are
 * written as Prometheus's own client library writes them (client_golang's
 * expfmt: 0, 1 and -1 as such, NaN, +Inf, -Inf, else Go's
 * strconv.FormatFloat(v, 'g', -1, 64)): the shortest digits that read
 * back as the same double, in exponent form when the decimal exponent is
 * below -4 or at least 6 ("1e+06", "2.5e-05"), else plain ("123.45").
 */
#include "wire_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append s with backslash and line feed escaped, and with quotes set
 * double quotes too. */
static int add_escaped(bar_mbuf *out, const char *s, int quotes)
{
	const char *run = s;

	for (; *s; s++) {
		const char *e = *s == '\\'            ? "\\\\"
		                : *s == '\n'          ? "\\n"
		                : quotes && *s == '"' ? "\\\""
		                                      : NULL;

		if (!e)
			continue;
		bar_mbuf_add(out, run, (size_t)(s - run));
		bar_mbuf_add(out, e, 2);
		run = s + 1;
	}
	return bar_mbuf_add(out, run, (size_t)(s - run));
}

/*
 * The shortest decimal digits of v (finite, non-zero, positive) that read
 * back as v, and the decimal exponent of the first: v = 0.d1d2... * 10^dp.
 * From printf's %.*e at growing precision, checked with strtod, so the
 * result is exact whatever the C library's own shortest form is; only the
 * digits and the exponent are taken from it, so a locale's decimal point
 * does not matter.
 */
static int shortest_digits(char *digits, int *dp, double v)
{
	char tmp[40];
	int nd = 0;

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v || prec == 17)
			break;
	}
	for (const char *p = tmp; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	*dp = atoi(strchr(tmp, 'e') + 1) + 1;
	return nd;
}

size_t bar_promtext_value(char *buf, double v)
{
	char digits[24];
	size_t o = 0;
	int nd, dp, exp;

	if (isnan(v))
		return (size_t)snprintf(buf, 32, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, 32, v > 0 ? "+Inf" : "-Inf");
	if (v == 0) /* -0 too, as client_golang does */
		return (size_t)snprintf(buf, 32, "0");
	if (v < 0) {
		buf[o++] = '-';
		v = -v;
	}
	nd = shortest_digits(digits, &dp, v);
	exp = dp - 1;
	if (exp < -4 || exp >= 6) {
		/* d[.ddd]e±XX, at least two exponent digits */
		buf[o++] = digits[0];
		if (nd > 1) {
			buf[o++] = '.';
			memcpy(buf + o, digits + 1, (size_t)nd - 1);
			o += (size_t)nd - 1;
		}
		o += (size_t)snprintf(buf + o, 32 - o, "e%c%02d", exp < 0 ? '-' : '+',
		                      exp < 0 ? -exp : exp);
	} else if (dp <= 0) {
		/* 0.000ddd */
		buf[o++] = '0';
		buf[o++] = '.';
		for (int i = dp; i < 0; i++)
			buf[o++] = '0';
		memcpy(buf + o, digits, (size_t)nd);
		o += (size_t)nd;
	} else {
		/* ddd[.ddd], padded with zeros up to the decimal point */
		for (int i = 0; i < dp; i++)
			buf[o++] = i < nd ? digits[i] : '0';
		if (nd > dp) {
			buf[o++] = '.';
			memcpy(buf + o, digits + dp, (size_t)(nd - dp));
			o += (size_t)(nd - dp);
		}
	}
	buf[o] = '\0';
	return o;
}

/*
 * The HELP and TYPE lines of a family; either is left out when its text is
 * NULL.  0, or -1 (out->failed).
 */
int bar_promtext_family(bar_mbuf *out, const char *name, const char *help, const char *type)
{
	if (help) {
		bar_mbuf_str(out, "# HELP ");
		bar_mbuf_str(out, name);
		bar_mbuf_add(out, " ", 1);
		add_escaped(out, help, 0);
		bar_mbuf_add(out, "\n", 1);
	}
	if (type) {
		bar_mbuf_str(out, "# TYPE ");
		bar_mbuf_str(out, name);
		bar_mbuf_add(out, " ", 1);
		bar_mbuf_str(out, type);
		bar_mbuf_add(out, "\n", 1);
	}
	return out->failed ? -1 : 0;
}

/*
 * One sample line.  Names are written as given: the caller passes valid
 * metric and label names (the catalogue's, or labels that passed
 * bar_rw_decode).  0, or -1 (out->failed).
 */
int bar_promtext_sample(bar_mbuf *out, const char *name, const bar_mlabel *labels, size_t n,
                        double v, int64_t t_ms)
{
	char num[33];
	size_t len;

	bar_mbuf_str(out, name);
	for (size_t i = 0; i < n; i++) {
		bar_mbuf_add(out, i ? "," : "{", 1);
		bar_mbuf_str(out, labels[i].name);
		bar_mbuf_add(out, "=\"", 2);
		add_escaped(out, labels[i].value, 1);
		bar_mbuf_add(out, "\"", 1);
	}
	if (n)
		bar_mbuf_add(out, "}", 1);
	num[0] = ' ';
	len = 1 + bar_promtext_value(num + 1, v);
	bar_mbuf_add(out, num, len);
	if (t_ms)
		bar_mbuf_printf(out, " %lld", (long long)t_ms);
	bar_mbuf_add(out, "\n", 1);
	return out->failed ? -1 : 0;
}
