/*
 * benchmark.c - `barista mci benchmark`: the paper's dynamic benchmarking,
 * measured on the VMs themselves over exec (core/remote.h), recorded beside
 * the state (`<state>.bench.json`), and read by recommend.
 *
 * Each VM runs one POSIX shell script with tools every Linux image has
 * (dd, sha256sum, ping, date): CPU is the rate at which it hashes 256 MiB
 * (MB/s of sha256), memory the rate of a 2 GiB in-memory copy, disk the
 * rate of writing 64 MiB with fdatasync in /tmp (then removed), and network
 * latency the mean of 3 pings to every other VM of the MCI, at the address
 * Barista reaches it by.  A VM's figures are keyed by what it runs as
 * (driver/region/instance type), so that recommend can use them for every
 * VM of the same kind; latency is kept per VM pair and per region pair.
 */
#include "planner.h"
#include "error.h"
#include "remote.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_CAPTURE (64 * 1024)

struct bar_bench {
	json_t *doc; /* {"kinds": {...}, "regions": {...}, "runs": [...]} */
};

char *bar_bench_path(const char *state_path)
{
	return bar_printf("%s.bench.json", state_path);
}

int bar_bench_load(bar_bench **out, const char *path)
{
	bar_bench *b = bar_calloc(1, sizeof(*b));
	json_error_t jerr;

	if (access(path, F_OK) != 0) {
		b->doc = json_pack("{s:{}, s:{}, s:[]}", "kinds", "regions", "runs");
	} else if (!(b->doc = json_load_file(path, 0, &jerr)) || !json_is_object(b->doc)) {
		json_decref(b->doc);
		free(b);
		return bar_error_set("benchmark results %s:%d:%d: %s", path, jerr.line, jerr.column,
		                     jerr.text);
	}
	*out = b;
	return 0;
}

void bar_bench_free(bar_bench *b)
{
	if (!b)
		return;
	json_decref(b->doc);
	free(b);
}

const json_t *bar_bench_json(const bar_bench *b)
{
	return b ? b->doc : NULL;
}

double bar_bench_cpu(const bar_bench *b, const char *driver, const char *region,
                     const char *spec)
{
	char *key = bar_printf("%s/%s/%s", driver, region, spec);
	const json_t *k = json_object_get(json_object_get(b->doc, "kinds"), key);

	free(key);
	return json_is_number(json_object_get(k, "cpu_mbps"))
	           ? json_number_value(json_object_get(k, "cpu_mbps"))
	           : -1;
}

/* The script every VM runs; `peers` is the space-separated addresses of
 * all the MCI's VMs.  Each figure is printed as "name=value". */
static char *script(const char *peers)
{
	return bar_printf(
	    "set +e\n"
	    "now() { date +%%s%%N; }\n"
	    "rate() { echo $(( $1 * 1000000000 / ( $3 - $2 + 1 ) )); }\n"
	    "t0=$(now); dd if=/dev/zero bs=1M count=256 2>/dev/null | sha256sum >/dev/null; "
	    "t1=$(now); echo cpu_mbps=$(rate 268 $t0 $t1)\n"
	    "t0=$(now); dd if=/dev/zero of=/dev/null bs=1M count=2048 2>/dev/null; t1=$(now); "
	    "echo mem_mbps=$(rate 2147 $t0 $t1)\n"
	    "f=${TMPDIR:-/tmp}/barista-bench.$$; t0=$(now); "
	    "dd if=/dev/zero of=$f bs=1M count=64 conv=fdatasync 2>/dev/null; t1=$(now); "
	    "rm -f $f; echo disk_mbps=$(rate 67 $t0 $t1)\n"
	    "for p in %s; do "
	    "r=$(ping -c 3 -i 0.2 -W 1 -q $p 2>/dev/null | sed -n 's|.*= [0-9.]*/\\([0-9.]*\\)/.*|\\1|p'); "
	    "echo lat_$p=${r:--}; done\n",
	    peers);
}

/* What one VM runs as: "driver/region/spec" from its records. */
static char *vm_kind(const bar_records *rs, const char *vm_address, char **region_key)
{
	const bar_record *vm = bar_records_find(rs, vm_address), *conn, *spec;
	json_t *refs, *cattrs = NULL, *sattrs = NULL;
	char addr[512], *kind = NULL;

	*region_key = NULL;
	if (!vm || !vm->refs)
		return NULL;
	refs = json_loads(vm->refs, 0, NULL);
	snprintf(addr, sizeof(addr), "%s/connection/%s", vm->ns, vm->connection ? vm->connection : "");
	conn = bar_records_find(rs, addr);
	spec = bar_records_find(rs, json_string_value(json_object_get(refs, "spec")));
	if (conn && conn->desired)
		cattrs = json_loads(conn->desired, 0, NULL);
	if (spec && spec->desired)
		sattrs = json_loads(spec->desired, 0, NULL);
	if (cattrs && sattrs) {
		const char *sid = json_string_value(json_object_get(sattrs, "specId"));

		*region_key = bar_printf("%s/%s", json_string_value(json_object_get(cattrs, "driver")),
		                         json_string_value(json_object_get(cattrs, "region")));
		kind = bar_printf("%s/%s", *region_key, sid && *sid ? sid : spec->name);
	}
	json_decref(refs);
	json_decref(cattrs);
	json_decref(sattrs);
	return kind;
}

/* Parse "name=value" lines into an object of numbers (or null for "-"). */
static json_t *parse_figures(const char *out)
{
	json_t *f = json_object();
	char *text = bar_strdup(out ? out : ""), *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), *end;
		double v;

		if (!eq || eq == line)
			continue;
		*eq = '\0';
		v = strtod(eq + 1, &end);
		json_object_set_new(f, line, end != eq + 1 && *end == '\0' ? json_real(v) : json_null());
	}
	free(text);
	return f;
}

int bar_mci_benchmark(json_t **out, const bar_records *rs, const char *keys_dir,
                      const char *mci, const bar_bench_opts *o)
{
	bar_remote_select sel = BAR_REMOTE_SELECT_INIT;
	bar_remote_targets t = {0};
	bar_remote_results res = {0};
	bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
	json_t *vms, *lat;
	int rc;

	sel.mci = mci;
	if ((rc = bar_remote_targets_select(&t, rs, keys_dir, &sel)) < 0)
		return rc;
	vms = json_object();
	lat = json_object();
	ro.capture = BENCH_CAPTURE;
	ro.cancel = o ? o->cancel : NULL;
	ro.parallel = o && o->parallel ? o->parallel : 0;
	{
		/* one script for all (each VM also pings itself; that pair is
		 * dropped), run on every VM at once */
		bar_buf peers = BAR_BUF_INIT(1 << 20);
		bar_remote_job job = BAR_REMOTE_JOB_INIT;
		char *cmd;

		for (size_t j = 0; j < t.n; j++)
			if (t.items[j].host)
				bar_buf_printf(&peers, "%s%s", peers.len ? " " : "", t.items[j].host);
		cmd = script(peers.data ? peers.data : "");
		job.command = cmd;
		job.timeout_ms = o && o->timeout_ms ? o->timeout_ms : 300000;
		rc = bar_remote_run(&res, &t, &job, &ro);
		free(cmd);
		bar_buf_free(&peers);
		if (rc < 0) {
			json_decref(vms);
			json_decref(lat);
			bar_remote_targets_clear(&t);
			return rc;
		}
	}
	for (size_t i = 0; i < t.n && i < res.n; i++) {
		const bar_remote_result *r1 = &res.items[i];
		char *region_key = NULL, *kind = vm_kind(rs, t.items[i].address, &region_key);
		json_t *fig = parse_figures(r1->out), *v, *x;
		const char *k;

		v = json_pack("{s:s, s:s?, s:s, s:o}", "address", t.items[i].address, "kind", kind,
		              "outcome", bar_remote_outcome_name(r1->outcome), "figures", json_object());
		if (r1->error)
			json_object_set_new(v, "error", json_string(r1->error));
		json_object_foreach(fig, k, x) {
			if (strncmp(k, "lat_", 4) != 0) {
				json_object_set(json_object_get(v, "figures"), k, x);
				continue;
			}
			for (size_t j = 0; j < t.n; j++)
				if (j != i && t.items[j].host && !strcmp(t.items[j].host, k + 4)) {
					char *pair = bar_printf("%s|%s", t.items[i].name, t.items[j].name);

					json_object_set(lat, pair, x);
					free(pair);
				}
		}
		if (region_key)
			json_object_set_new(v, "region", json_string(region_key));
		json_object_set_new(vms, t.items[i].name, v);
		json_decref(fig);
		free(kind);
		free(region_key);
	}
	*out = json_pack("{s:s, s:I, s:o, s:o}", "mci", t.mci, "measured_at",
	                 (json_int_t)time(NULL), "vms", vms, "latency_ms", lat);
	bar_remote_results_clear(&res);
	bar_remote_targets_clear(&t);
	return 0;
}

/* Fold one run into the per-kind and per-region-pair figures: the newest
 * measurement of a kind wins (an average over its VMs). */
static void fold(json_t *doc, const json_t *run)
{
	json_t *kinds = json_object_get(doc, "kinds"), *regions = json_object_get(doc, "regions");
	json_t *sums = json_object();
	const json_t *vms = json_object_get(run, "vms");
	const char *name, *pair;
	json_t *v, *ms, *s;

	json_object_foreach((json_t *)vms, name, v) {
		const char *kind = json_string_value(json_object_get(v, "kind"));
		const char *fkey;
		json_t *fval;

		if (!kind)
			continue;
		s = json_object_get(sums, kind);
		if (!s) {
			s = json_object();
			json_object_set_new(sums, kind, s);
		}
		json_object_foreach(json_object_get(v, "figures"), fkey, fval) {
			json_t *acc = json_object_get(s, fkey);

			if (!json_is_number(fval))
				continue;
			if (!acc) {
				acc = json_pack("{s:f, s:i}", "sum", 0.0, "n", 0);
				json_object_set_new(s, fkey, acc);
			}
			json_object_set_new(acc, "sum", json_real(json_real_value(json_object_get(acc,
			                                          "sum")) + json_number_value(fval)));
			json_object_set_new(acc, "n", json_integer(json_integer_value(json_object_get(
			                                  acc, "n")) + 1));
		}
	}
	json_object_foreach(sums, name, s) {
		json_t *k = json_pack("{s:I}", "measured_at",
		                      json_integer_value(json_object_get(run, "measured_at")));
		const char *fkey;
		json_t *acc;

		json_object_foreach(s, fkey, acc) {
			json_object_set_new(k, fkey, json_real(json_real_value(json_object_get(acc, "sum")) /
			                                       (double)json_integer_value(json_object_get(acc, "n"))));
		}
		json_object_set_new(kinds, name, k);
	}
	json_object_foreach(json_object_get(run, "latency_ms"), pair, ms) {
		char a[256], b[256];
		const char *bar = strchr(pair, '|');
		const char *ra, *rb;
		char *key;

		if (!bar || !json_is_number(ms))
			continue;
		snprintf(a, sizeof(a), "%.*s", (int)(bar - pair), pair);
		snprintf(b, sizeof(b), "%s", bar + 1);
		ra = json_string_value(json_object_get(json_object_get(vms, a), "region"));
		rb = json_string_value(json_object_get(json_object_get(vms, b), "region"));
		if (!ra || !rb)
			continue;
		key = strcmp(ra, rb) <= 0 ? bar_printf("%s|%s", ra, rb) : bar_printf("%s|%s", rb, ra);
		json_object_set(regions, key, ms);
		free(key);
	}
	json_decref(sums);
}

int bar_bench_record(const char *path, const json_t *run)
{
	bar_bench *b = NULL;
	json_t *runs;
	char *tmp;
	int rc;

	if ((rc = bar_bench_load(&b, path)) < 0)
		return rc;
	if (!json_object_get(b->doc, "kinds"))
		json_object_set_new(b->doc, "kinds", json_object());
	if (!json_object_get(b->doc, "regions"))
		json_object_set_new(b->doc, "regions", json_object());
	runs = json_object_get(b->doc, "runs");
	if (!json_is_array(runs)) {
		runs = json_array();
		json_object_set_new(b->doc, "runs", runs);
	}
	json_array_append(runs, (json_t *)run);
	while (json_array_size(runs) > 20) /* the last 20 runs, whole */
		json_array_remove(runs, 0);
	fold(b->doc, run);
	tmp = bar_printf("%s.tmp", path);
	if (json_dump_file(b->doc, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) < 0 ||
	    rename(tmp, path) < 0)
		rc = bar_error_set("writing benchmark results %s failed", path);
	free(tmp);
	bar_bench_free(b);
	return rc;
}
