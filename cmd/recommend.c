/*
 * recommend.c - `barista recommend`: instance types across drivers and
 * regions ranked by cost, distance and measured performance
 * (planner/recommend.c), and `barista catalog`: what the drivers'
 * catalogues hold, and a refresh of one from its cloud's API.
 */
#include "cmd.h"
#include "catalog.h"
#include "error.h"
#include "host.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: barista recommend [options] [DIR]\n"
    "Rank instance types of the drivers' catalogues by cost, location and measured\n"
    "performance (from `barista mci benchmark`), best first.  The LINE column is what\n"
    "an MCI group can name as its spec (spec: aws+ap-northeast-2+t3.small).\n"
    "  -vcpu N              at least N vCPUs (default 1)\n"
    "  -memory MIB          at least MIB MiB of memory (default 0)\n"
    "  -max-vcpu N          at most N vCPUs\n"
    "  -arch A              only this architecture (x86_64, arm64)\n"
    "  -gpu                 only types with a GPU\n"
    "  -max-price P         at most P per hour\n"
    "  -driver D            only driver D (repeatable; default: every catalogue)\n"
    "  -region R            only region R (repeatable)\n"
    "  -near LAT,LON        score by the distance to these coordinates\n"
    "  -weights W           cost=0.5,location=0.3,performance=0.2 (the default; any\n"
    "                       subset, normalised; location counts only with -near)\n"
    "  -limit N             how many to show (default 10)\n"
    "  -json                print as JSON\n"
    "  -state FILE          state whose benchmark results to use (default\n"
    "                       DIR/barista.db; results are FILE.bench.json)\n"
    "  -plugin-path DIRS    where the plugins and their catalogues are\n";

static int number(const char *flag, const char *v, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(*out) || *out < 0) {
		fprintf(stderr, "barista: %s must be a number >= 0, not \"%s\"\n", flag, v);
		return -1;
	}
	return 0;
}

static int parse_weights(bar_recommend_opts *o, const char *text)
{
	char *s = bar_strdup(text), *save = NULL;
	int rc = 0;

	o->w_cost = o->w_location = o->w_performance = 0;
	for (char *kv = strtok_r(s, ",", &save); kv && rc == 0; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		double w;

		if (!eq || number("-weights", eq + 1, &w) < 0) {
			fprintf(stderr, "barista: -weights takes name=weight,... (cost, location, "
			        "performance)\n");
			rc = -1;
			break;
		}
		*eq = '\0';
		if (!strcmp(kv, "cost"))
			o->w_cost = w;
		else if (!strcmp(kv, "location"))
			o->w_location = w;
		else if (!strcmp(kv, "performance"))
			o->w_performance = w;
		else {
			fprintf(stderr, "barista: -weights: unknown \"%s\" (cost, location, "
			        "performance)\n", kv);
			rc = -1;
		}
	}
	free(s);
	return rc;
}

static void print_ranked(const json_t *res, const bar_recommend_opts *o)
{
	static const char *const head[] = {"RANK", "LINE", "VCPU", "MEMORY", "PER HOUR", "KM",
	                                   "CPU MB/S", "SCORE"};
	const json_t *ranked = json_object_get(res, "ranked");
	cmd_table t = CMD_TABLE_INIT(8);
	char (*cells)[7][48] = bar_calloc(json_array_size(ranked) + 1, sizeof(*cells));
	size_t i;
	json_t *e;

	if (!json_array_size(ranked)) {
		printf("No instance type fits (%lld candidates looked at).\n",
		       json_integer_value(json_object_get(res, "candidates")));
		free(cells);
		return;
	}
	cmd_table_add(&t, head);
	json_array_foreach(ranked, i, e) {
		const json_t *km = json_object_get(e, "distance_km"), *cpu = json_object_get(e,
		                                                                    "cpu_mbps");

		snprintf(cells[i][0], 48, "%lld", json_integer_value(json_object_get(e, "rank")));
		snprintf(cells[i][1], 48, "%lld", json_integer_value(json_object_get(e, "vcpu")));
		snprintf(cells[i][2], 48, "%lld MiB", json_integer_value(json_object_get(e,
		                                                                     "memoryMiB")));
		snprintf(cells[i][3], 48, "%.4f %s", json_real_value(json_object_get(e, "hourly")),
		         json_string_value(json_object_get(e, "currency")));
		snprintf(cells[i][4], 48, "%s", "-");
		if (json_is_number(km))
			snprintf(cells[i][4], 48, "%.0f", json_number_value(km));
		snprintf(cells[i][5], 48, "%s", "-");
		if (json_is_number(cpu))
			snprintf(cells[i][5], 48, "%.0f", json_number_value(cpu));
		snprintf(cells[i][6], 48, "%.3f", json_real_value(json_object_get(e, "score")));
		cmd_table_add(&t, (const char *const[]){cells[i][0],
		                                         json_string_value(json_object_get(e, "line")),
		                                         cells[i][1], cells[i][2], cells[i][3],
		                                         cells[i][4], cells[i][5], cells[i][6]});
	}
	cmd_table_print(&t, "");
	printf("%lld candidates; weights cost %.2f, location %.2f, performance %.2f.\n",
	       json_integer_value(json_object_get(res, "candidates")), o->w_cost,
	       o->has_near ? o->w_location : 0.0, o->w_performance);
	cmd_table_free(&t);
	free(cells);
}

int cmd_recommend(int argc, char **argv)
{
	bar_recommend_opts o = BAR_RECOMMEND_OPTS_INIT;
	const char *drivers[64], *regions[64], *dir = ".", *state = NULL;
	int json = 0, rc = 1;
	bar_bench *bench = NULL;
	json_t *res = NULL;
	char *state_path = NULL, *bench_path = NULL;

	o.min_vcpu = 1;
	o.drivers = drivers;
	o.regions = regions;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		double x;
		int takes = 1;

		if (a[0] == '-' && a[1] == '-')
			a++;
		if (!strcmp(a, "-help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "-json")) {
			json = 1, takes = 0;
		} else if (!strcmp(a, "-gpu")) {
			o.gpu = 1, takes = 0;
		} else if (a[0] != '-') {
			dir = a, takes = 0;
		} else if (!v) {
			fprintf(stderr, "barista: option %s needs a value\n%s", a, usage);
			return 1;
		} else if (!strcmp(a, "-vcpu") || !strcmp(a, "-max-vcpu") || !strcmp(a, "-memory") ||
		           !strcmp(a, "-limit")) {
			if (number(a, v, &x) < 0 || x != floor(x))
				return fprintf(stderr, "barista: %s takes a whole number\n", a), 1;
			if (!strcmp(a, "-vcpu"))
				o.min_vcpu = (json_int_t)x;
			else if (!strcmp(a, "-max-vcpu"))
				o.max_vcpu = (json_int_t)x;
			else if (!strcmp(a, "-memory"))
				o.min_memory_mib = (json_int_t)x;
			else
				o.limit = (size_t)x;
		} else if (!strcmp(a, "-max-price")) {
			if (number(a, v, &o.max_price) < 0)
				return 1;
		} else if (!strcmp(a, "-arch")) {
			o.arch = v;
		} else if (!strcmp(a, "-driver") || !strcmp(a, "-region")) {
			size_t *n = a[1] == 'd' ? &o.n_drivers : &o.n_regions;

			if (*n == 64)
				return fprintf(stderr, "barista: at most 64 %s options\n", a), 1;
			(a[1] == 'd' ? drivers : regions)[(*n)++] = v;
		} else if (!strcmp(a, "-near")) {
			if (sscanf(v, "%lf,%lf", &o.near_lat, &o.near_lon) != 2 || fabs(o.near_lat) > 90 ||
			    fabs(o.near_lon) > 180)
				return fprintf(stderr, "barista: -near takes LAT,LON in degrees, e.g. "
				               "37.57,126.98\n"), 1;
			o.has_near = 1;
		} else if (!strcmp(a, "-weights")) {
			if (parse_weights(&o, v) < 0)
				return 1;
		} else if (!strcmp(a, "-state")) {
			state = v;
		} else if (!strcmp(a, "-plugin-path")) {
			bar_catalog_set_path(v);
		} else {
			fprintf(stderr, "barista: unknown option %s\n%s", a, usage);
			return 1;
		}
		i += takes;
	}
	state_path = state ? bar_strdup(state) : bar_printf("%s/barista.db", dir);
	bench_path = bar_bench_path(state_path);
	if (bar_bench_load(&bench, bench_path) < 0)
		goto fail;
	o.bench = bench;
	if (bar_recommend(&res, &o) < 0)
		goto fail;
	if (json) {
		char *s = json_dumps(res, JSON_INDENT(2) | JSON_REAL_PRECISION(10));

		puts(s);
		free(s);
	} else {
		print_ranked(res, &o);
	}
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "Error: %s\n", bar_error_last());
done:
	json_decref(res);
	bar_bench_free(bench);
	free(bench_path);
	free(state_path);
	return rc;
}
