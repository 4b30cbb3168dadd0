/*
 * spec_mcapp.c - the schema of the MCApp kind: unit apps (a container image
 * or a command) with their start order, ports, env, volumes, resources,
 * health check, restart policy and placement on the MCI's groups, and how
 * a change rolls out (docs/apps.md).
 *
 * What can be checked inside one document is checked here (app names
 * unique, `after` names known and acyclic, one of image or command).  The
 * placement against the MCI's groups (names, labels, count) is checked and
 * resolved in spec_check.c, which fills `placement.groups` with the groups
 * an app runs on.
 *
 * Instead of `mci`, an MCApp may state `requirements` (the candidate
 * connections, the image, a cost ceiling) and each app its own (vCPU,
 * memory, replicas, regions or coordinates, latency to other apps): they
 * are checked here and kept in the attrs, and spec_derive.c chooses the
 * instance types and derives the MCI (named after the MCApp) from them.
 *
 * Values reach barista-agent in a line-based manifest (planner/app.c), so
 * every string an app carries is one line: a newline is refused here.
 */
#include "spec_internal.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define REPLICAS_MAX 1000
#define ORDER_LIMIT 1000000
#define PLACEMENT_COUNT_MAX 10000
#define ARGS_MAX 256
#define VOLUMES_MAX 32
#define REQ_VCPU_MAX 1024
#define REQ_MEMORY_GIB_MAX 65536.0
#define REQ_LIST_MAX 64

static void set_str(json_t *obj, const char *key, const char *value)
{
	json_object_set_new(obj, key, spec_jstr(value));
}

/* Report a string that holds a newline (the agent's manifest is line-based). */
static int one_line(spec_load *L, const bar_ynode *at, const char *s, const char *field)
{
	if (!s || !strpbrk(s, "\n\r"))
		return 0;
	spec_diag(L, at, "field \"%s\" must be one line; use a script file or an env "
	          "variable set by the app instead of a multi-line value", field);
	return -1;
}

typedef struct app_graph {
	spec_load *L;
	const bar_ynode *const *names; /* name node per app (NULL if invalid) */
	const bar_ynode **edge_at;     /* the `after` entry of each edge */
} app_graph;

static void app_cycle(void *ctx, const size_t *path, size_t len, size_t edge)
{
	app_graph *ag = ctx;
	char text[512];
	size_t off = 0;

	text[0] = '\0';
	for (size_t i = 0; i < len && off < sizeof(text); i++) {
		int n = snprintf(text + off, sizeof(text) - off, "%s%s", i ? " -> " : "",
		                 ag->names[path[i]]->u.str);

		if (n < 0)
			break;
		off += (size_t)n;
	}
	spec_diag(ag->L, ag->edge_at[edge], "apps form a dependency cycle through "
	          "\"after\": %s", text);
}

/* `after` names must be apps of this MCApp, without cycles. */
static void check_after(spec_load *L, const bar_ynode *apps, const spec_index *ix,
                        const bar_ynode **names)
{
	size_t n = apps->n, n_edges = 0;
	size_t *start = bar_calloc(n + 1, sizeof(*start));
	size_t *edges = NULL;
	const bar_ynode **edge_at = NULL;
	app_graph ag = { L, names, NULL };
	spec_graph g;

	for (size_t i = 0; i < n; i++) {
		const bar_ynode *after = bar_ymap_get(&apps->u.items[i], "after");

		start[i] = n_edges;
		if (!names[i] || !after || after->type != BAR_Y_SEQ)
			continue;
		spec_scope_name(L, "app", names[i]->u.str);
		edges = bar_realloc(edges, (n_edges + after->n + 1) * sizeof(*edges));
		edge_at = bar_realloc(edge_at, (n_edges + after->n + 1) * sizeof(*edge_at));
		for (uint32_t a = 0; a < after->n; a++) {
			const bar_ynode *e = &after->u.items[a];
			const size_t *j;

			if (e->type != BAR_Y_SCALAR)
				continue; /* reported already */
			if (!(j = spec_index_get(ix, e->u.str))) {
				spec_diag(L, e, "field \"after\" names unknown app \"%.80s\"", e->u.str);
				continue;
			}
			edge_at[n_edges] = e;
			edges[n_edges++] = *j;
		}
	}
	start[n] = n_edges;
	spec_scope_clear(L);
	g.n = n;
	g.start = start;
	g.edges = edges;
	ag.edge_at = edge_at;
	spec_graph_cycles(&g, app_cycle, &ag);
	free(start);
	free(edges);
	free(edge_at);
}

static json_t *check_app_ports(spec_load *L, const bar_ynode *app, const bar_ynode *v)
{
	static const char *const known[] = { "port", "protocol", NULL };
	static const char *const protocols[] = { "tcp", "udp", NULL };
	json_t *arr = json_array();
	const bar_ynode *seq;

	if (spec_seq(L, &seq, app, v, "ports", 0) < 0 || !seq)
		return arr;
	for (uint32_t i = 0; i < seq->n; i++) {
		const bar_ynode *item = &seq->u.items[i], *f[2];
		const char *proto = "tcp";
		int64_t port = 0;
		json_t *p;

		if (spec_fields(L, item, "port", known, f) < 0 && item->type != BAR_Y_MAP)
			continue;
		spec_int(L, &port, item, f[0], "port", NULL, 1, 65535);
		spec_enum(L, &proto, item, f[1], "protocol", protocols, "tcp", 1);
		p = json_object();
		json_object_set_new(p, "port", json_integer(port));
		set_str(p, "protocol", proto);
		json_array_append_new(arr, p);
	}
	return arr;
}

static json_t *check_placement(spec_load *L, const bar_ynode *app, const bar_ynode *v)
{
	static const char *const known[] = { "groups", "labels", "count", NULL };
	json_t *placement = json_object(), *groups = json_array(), *labels = NULL;
	const bar_ynode *f[3], *seq;
	int64_t count = 0;
	static const int64_t zero = 0;

	(void)app;
	json_object_set_new(placement, "groups", groups); /* empty: every group */
	if (spec_fields(L, v, "placement", known, f) < 0)
		goto done;
	if (spec_seq(L, &seq, v, f[0], "placement.groups", 0) == 0 && seq) {
		if (seq->n == 0)
			spec_diag(L, seq, "field \"placement.groups\" must name at least one group; "
			          "leave it out to run on every group");
		for (uint32_t i = 0; i < seq->n; i++) {
			const char *s;

			if (spec_name(L, &s, seq, &seq->u.items[i], "placement.groups") == 0)
				json_array_append_new(groups, spec_jstr(s));
		}
	}
	if (spec_strmap(L, &labels, f[1], "placement.labels", 0) < 0)
		labels = NULL;
	spec_int(L, &count, v, f[2], "placement.count", &zero, 0, PLACEMENT_COUNT_MAX);
done:
	json_object_set_new(placement, "labels", labels ? labels : json_object());
	json_object_set_new(placement, "count", json_integer(count));
	return placement;
}

static json_t *check_args(spec_load *L, const bar_ynode *app, const bar_ynode *v)
{
	json_t *arr = json_array();
	const bar_ynode *seq;

	if (spec_seq(L, &seq, app, v, "args", 0) < 0 || !seq)
		return arr;
	if (seq->n > ARGS_MAX)
		spec_diag(L, seq, "field \"args\" has %u items; at most %d", seq->n, ARGS_MAX);
	for (uint32_t i = 0; i < seq->n && i < ARGS_MAX; i++) {
		const char *s;

		if (spec_str(L, &s, seq, &seq->u.items[i], "args", NULL) == 0 &&
		    one_line(L, &seq->u.items[i], s, "args") == 0)
			json_array_append_new(arr, spec_jstr(s));
	}
	return arr;
}

/* volumes: [{name, path}]: a directory kept per replica on the VM,
 * mounted at path in the container. */
static json_t *check_volumes(spec_load *L, const bar_ynode *app, const bar_ynode *v)
{
	static const char *const known[] = { "name", "path", NULL };
	json_t *arr = json_array();
	const bar_ynode *seq;
	spec_index ix;
	const bar_ynode **names;

	if (spec_seq(L, &seq, app, v, "volumes", 0) < 0 || !seq)
		return arr;
	if (seq->n > VOLUMES_MAX) {
		spec_diag(L, seq, "field \"volumes\" has %u items; at most %d", seq->n, VOLUMES_MAX);
		return arr;
	}
	names = bar_calloc(seq->n + 1, sizeof(*names));
	spec_index_init(&ix, seq->n);
	for (uint32_t i = 0; i < seq->n; i++) {
		const bar_ynode *item = &seq->u.items[i], *f[2];
		const char *name = "", *path = "";

		if (spec_fields(L, item, "volume", known, f) < 0 && item->type != BAR_Y_MAP)
			continue;
		if (spec_name(L, &name, item, f[0], "name") == 0 &&
		    !spec_name_taken(L, &ix, names, f[0], i, "volume"))
			names[i] = f[0];
		if (spec_str(L, &path, item, f[1], "path", NULL) == 0 &&
		    one_line(L, f[1], path, "path") == 0 &&
		    (path[0] != '/' || strstr(path, "/../") || !strcmp(path, "/")))
			spec_diag(L, f[1], "field \"path\" must be an absolute path in the container "
			          "other than /, got \"%.200s\"", path);
		json_array_append_new(arr, json_pack("{s:s,s:s}", "name", name, "path", path));
	}
	spec_index_free(&ix);
	free(names);
	return arr;
}

static json_t *check_resources(spec_load *L, const bar_ynode *app, const bar_ynode *v)
{
	static const char *const known[] = { "cpu", "memoryMiB", NULL };
	const bar_ynode *f[2];
	double cpu = 0;
	int64_t mem = 0;
	static const int64_t zero = 0;

	(void)app;
	if (!spec_absent(v) && spec_fields(L, v, "resources", known, f) == 0) {
		if (!spec_absent(f[0]) && spec_number(L, &cpu, v, f[0], "resources.cpu") == 0 &&
		    (cpu < 0.01 || cpu > 1024)) {
			spec_diag(L, f[0], "field \"resources.cpu\" must be between 0.01 and 1024 "
			          "CPUs, got %g", cpu);
			cpu = 0;
		}
		spec_int(L, &mem, v, f[1], "resources.memoryMiB", &zero, 4, 1LL << 24);
	}
	return json_pack("{s:f,s:I}", "cpu", cpu, "memory", (json_int_t)(mem << 20));
}

/* health: one of http {port, path}, tcp PORT, exec COMMAND, with timing. */
static json_t *check_health(spec_load *L, const bar_ynode *app, const bar_ynode *v)
{
	static const char *const known[] = { "http", "tcp", "exec", "interval", "timeout",
	                                     "failureThreshold", "initialDelay", NULL };
	static const char *const http_known[] = { "port", "path", NULL };
	enum { H_HTTP, H_TCP, H_EXEC, H_IV, H_TO, H_FT, H_DELAY };
	const bar_ynode *f[7], *hf[2];
	json_t *h = json_object();
	int64_t port = 0, iv = 2, to = 1, ft = 3, delay = 0;
	static const int64_t three = 3, eighty = 80;
	const char *kind = "none", *path = "/", *cmd = "";
	int kinds = 0;

	(void)app;
	if (!spec_absent(v) && spec_fields(L, v, "health", known, f) == 0) {
		kinds = !spec_absent(f[H_HTTP]) + !spec_absent(f[H_TCP]) + !spec_absent(f[H_EXEC]);
		if (kinds != 1)
			spec_diag(L, v, "field \"health\" must have exactly one of http, tcp or exec");
		if (!spec_absent(f[H_HTTP]) && spec_fields(L, f[H_HTTP], "health.http", http_known,
		                                           hf) == 0) {
			kind = "http";
			spec_int(L, &port, f[H_HTTP], hf[0], "health.http.port", &eighty, 1, 65535);
			if (spec_str(L, &path, f[H_HTTP], hf[1], "health.http.path", "/") == 0 &&
			    (path[0] != '/' || strpbrk(path, " \t\r\n"))) {
				spec_diag(L, hf[1], "field \"health.http.path\" must start with / and hold "
				          "no spaces, got \"%.200s\"", path);
				path = "/";
			}
		} else if (!spec_absent(f[H_TCP])) {
			kind = "tcp";
			spec_int(L, &port, v, f[H_TCP], "health.tcp", NULL, 1, 65535);
		} else if (!spec_absent(f[H_EXEC])) {
			kind = "exec";
			if (spec_str(L, &cmd, v, f[H_EXEC], "health.exec", NULL) == 0)
				one_line(L, f[H_EXEC], cmd, "health.exec");
		}
		spec_duration(L, &iv, v, f[H_IV], "health.interval", "2s", 1);
		spec_duration(L, &to, v, f[H_TO], "health.timeout", "1s", 1);
		spec_int(L, &ft, v, f[H_FT], "health.failureThreshold", &three, 1, 100);
		spec_duration(L, &delay, v, f[H_DELAY], "health.initialDelay", "0s", 0);
		if (to > iv)
			spec_diag(L, f[H_TO] ? f[H_TO] : v, "field \"health.timeout\" (%llds) must not be "
			          "longer than health.interval (%llds)", (long long)to, (long long)iv);
	}
	set_str(h, "kind", kind);
	if (port)
		json_object_set_new(h, "port", json_integer(port));
	if (!strcmp(kind, "http"))
		set_str(h, "path", path);
	if (!strcmp(kind, "exec"))
		set_str(h, "command", cmd);
	json_object_set_new(h, "intervalSeconds", json_integer(iv));
	json_object_set_new(h, "timeoutSeconds", json_integer(to));
	json_object_set_new(h, "failureThreshold", json_integer(ft));
	json_object_set_new(h, "initialDelaySeconds", json_integer(delay));
	return h;
}

static void check_env_values(spec_load *L, const bar_ynode *v, const json_t *env)
{
	const char *k;
	json_t *val;

	json_object_foreach((json_t *)env, k, val)
		if (strpbrk(json_string_value(val), "\n\r"))
			one_line(L, bar_ymap_get(v, k), json_string_value(val), "env");
}

/* A list of names (DNS labels), at most REQ_LIST_MAX. */
static json_t *name_list(spec_load *L, const bar_ynode *map, const bar_ynode *v,
                         const char *field, int labels)
{
	json_t *arr = json_array();
	const bar_ynode *seq;

	if (spec_seq(L, &seq, map, v, field, 0) < 0 || !seq)
		return arr;
	if (seq->n == 0 || seq->n > REQ_LIST_MAX)
		spec_diag(L, seq, "field \"%s\" must list 1 to %d names", field, REQ_LIST_MAX);
	for (uint32_t i = 0; i < seq->n && i < REQ_LIST_MAX; i++) {
		const char *s;
		int rc = labels ? spec_name(L, &s, seq, &seq->u.items[i], field)
		                : spec_str(L, &s, seq, &seq->u.items[i], field, NULL);

		if (rc == 0 && !labels && (!*s || strpbrk(s, "+ \t\r\n"))) {
			spec_diag(L, &seq->u.items[i], "field \"%s\" holds \"%.80s\", not a region "
			          "name", field, s);
			continue;
		}
		if (rc == 0)
			json_array_append_new(arr, spec_jstr(s));
	}
	return arr;
}

/* An app's requirements (docs/spec-reference.md, MCApp): {vcpu, memoryMiB,
 * replicas, regions, near?, maxLatencyMs}; the names in maxLatencyMs are
 * checked against the other apps by the caller. */
static json_t *check_app_requirements(spec_load *L, const bar_ynode *v)
{
	static const char *const known[] = { "vcpu", "memoryGiB", "replicas", "regions", "near",
	                                     "maxLatencyMs", NULL };
	static const char *const near_known[] = { "lat", "lon", NULL };
	enum { R_VCPU, R_MEM, R_REPL, R_REGIONS, R_NEAR, R_LAT, R_N };
	static const int64_t one = 1;
	const bar_ynode *f[R_N], *nf[2];
	int64_t vcpu = 1, replicas = 1;
	double gib = 1, lat = 0, lon = 0;
	json_t *r = json_object(), *lat_ms = json_object();

	if (spec_fields(L, v, "requirements", known, f) < 0)
		goto done;
	spec_int(L, &vcpu, v, f[R_VCPU], "requirements.vcpu", NULL, 1, REQ_VCPU_MAX);
	if (spec_number(L, &gib, v, f[R_MEM], "requirements.memoryGiB") == 0 &&
	    (gib <= 0 || gib > REQ_MEMORY_GIB_MAX)) {
		spec_diag(L, f[R_MEM], "field \"requirements.memoryGiB\" must be more than 0 and "
		          "at most %g, got %g", REQ_MEMORY_GIB_MAX, gib);
		gib = 1;
	}
	spec_int(L, &replicas, v, f[R_REPL], "requirements.replicas", &one, 1, REPLICAS_MAX);
	json_object_set_new(r, "regions", name_list(L, v, f[R_REGIONS], "requirements.regions", 0));
	if (!spec_absent(f[R_NEAR]) && !spec_absent(f[R_REGIONS]))
		spec_diag(L, f[R_NEAR], "set either requirements.regions or requirements.near, "
		          "not both");
	if (!spec_absent(f[R_NEAR]) &&
	    spec_fields(L, f[R_NEAR], "requirements.near", near_known, nf) == 0 &&
	    spec_number(L, &lat, f[R_NEAR], nf[0], "requirements.near.lat") == 0 &&
	    spec_number(L, &lon, f[R_NEAR], nf[1], "requirements.near.lon") == 0) {
		if (lat < -90 || lat > 90 || lon < -180 || lon > 180)
			spec_diag(L, f[R_NEAR], "field \"requirements.near\" must have lat in [-90, 90] "
			          "and lon in [-180, 180], got %g, %g", lat, lon);
		else
			json_object_set_new(r, "near", json_pack("{s:f, s:f}", "lat", lat, "lon", lon));
	}
	if (!spec_absent(f[R_LAT]) && f[R_LAT]->type != BAR_Y_MAP)
		spec_diag(L, f[R_LAT], "field \"requirements.maxLatencyMs\" must map app names to "
		          "milliseconds");
	else if (!spec_absent(f[R_LAT]))
		for (uint32_t i = 0; i < f[R_LAT]->n; i++) {
			const bar_ynode *k = &f[R_LAT]->u.kv[2 * i], *val = &f[R_LAT]->u.kv[2 * i + 1];
			double ms = 0;

			if (spec_number(L, &ms, f[R_LAT], val, "requirements.maxLatencyMs") < 0)
				continue;
			if (ms < 1 || ms > 100000)
				spec_diag(L, val, "field \"requirements.maxLatencyMs\" must be 1 to 100000 "
				          "ms, got %g", ms);
			else
				json_object_set_new(lat_ms, k->u.str, json_real(ms));
		}
done:
	json_object_set_new(r, "vcpu", json_integer(vcpu));
	json_object_set_new(r, "memoryMiB", json_integer((json_int_t)(gib * 1024 + 0.5)));
	json_object_set_new(r, "replicas", json_integer(replicas));
	if (!json_object_get(r, "regions"))
		json_object_set_new(r, "regions", json_array());
	json_object_set_new(r, "maxLatencyMs", lat_ms);
	return r;
}

static json_t *check_app(spec_load *L, const bar_ynode *item, uint32_t index,
                         spec_index *ix, const bar_ynode **names, const char *runtime,
                         int reqs)
{
	static const char *const known[] = { "name", "image", "command", "args", "order",
	                                     "after", "ports", "env", "volumes", "resources",
	                                     "health", "restart", "placement", "replicas",
	                                     "requirements", NULL };
	enum { A_NAME, A_IMAGE, A_CMD, A_ARGS, A_ORDER, A_AFTER, A_PORTS, A_ENV, A_VOL, A_RES,
	       A_HEALTH, A_RESTART, A_PLACE, A_REPL, A_REQ, A_N };
	static const char *const restarts[] = { "always", "on-failure", "never", NULL };
	static const int64_t zero = 0, one = 1;
	const bar_ynode *f[A_N], *after;
	const char *name = NULL, *image = "", *cmd = "", *restart = "always";
	int64_t order = 0, replicas = 1;
	json_t *app = json_object(), *after_json = json_array(), *env = NULL;

	spec_scope_item(L, "app", item, index + 1);
	if (spec_fields(L, item, "app", known, f) < 0 && item->type != BAR_Y_MAP) {
		json_decref(after_json);
		return app;
	}
	if (spec_name(L, &name, item, f[A_NAME], "name") == 0) {
		if (!spec_name_taken(L, ix, names, f[A_NAME], index, "app"))
			names[index] = f[A_NAME];
	}
	spec_str(L, &image, item, f[A_IMAGE], "image", "");
	spec_str(L, &cmd, item, f[A_CMD], "command", "");
	one_line(L, f[A_IMAGE], image, "image");
	one_line(L, f[A_CMD], cmd, "command");
	if (spec_absent(f[A_IMAGE]) && spec_absent(f[A_CMD]))
		spec_diag(L, item, "set exactly one of image or command");
	else if (!spec_absent(f[A_IMAGE]) && !spec_absent(f[A_CMD]))
		spec_diag(L, f[A_CMD], "set either image or command, not both; to run another "
		          "program of the image, give it as args");
	else if (cmd[0] && strcmp(runtime, "kubernetes") == 0)
		spec_diag(L, f[A_CMD], "runtime \"kubernetes\" runs container images; set "
		          "image instead of command");
	if (!spec_absent(f[A_ARGS]) && spec_absent(f[A_IMAGE]))
		spec_diag(L, f[A_ARGS], "field \"args\" is for image apps; a command app gives "
		          "its arguments in command");
	if (!spec_absent(f[A_VOL]) && spec_absent(f[A_IMAGE]))
		spec_diag(L, f[A_VOL], "field \"volumes\" is for image apps; a command app "
		          "writes where its command says");
	spec_int(L, &order, item, f[A_ORDER], "order", &zero, -ORDER_LIMIT, ORDER_LIMIT);
	if (spec_seq(L, &after, item, f[A_AFTER], "after", 0) == 0 && after)
		for (uint32_t i = 0; i < after->n; i++) {
			const char *s;

			if (spec_name(L, &s, after, &after->u.items[i], "after") == 0)
				json_array_append_new(after_json, spec_jstr(s));
		}
	if (spec_strmap(L, &env, f[A_ENV], "env", 1) < 0)
		env = json_object();
	check_env_values(L, f[A_ENV], env);
	spec_enum(L, &restart, item, f[A_RESTART], "restart", restarts, "always", 1);
	spec_int(L, &replicas, item, f[A_REPL], "replicas", &one, 1, REPLICAS_MAX);
	set_str(app, "name", name ? name : "");
	set_str(app, "image", image);
	set_str(app, "command", cmd);
	json_object_set_new(app, "args", check_args(L, item, f[A_ARGS]));
	json_object_set_new(app, "order", json_integer(order));
	json_object_set_new(app, "after", after_json);
	json_object_set_new(app, "ports", check_app_ports(L, item, f[A_PORTS]));
	json_object_set_new(app, "env", env);
	json_object_set_new(app, "volumes", check_volumes(L, item, f[A_VOL]));
	json_object_set_new(app, "resources", check_resources(L, item, f[A_RES]));
	json_object_set_new(app, "health", check_health(L, item, f[A_HEALTH]));
	set_str(app, "restart", restart);
	json_object_set_new(app, "placement", check_placement(L, item, f[A_PLACE]));
	json_object_set_new(app, "replicas", json_integer(replicas));
	if (!spec_absent(f[A_REQ]) && !reqs)
		spec_diag(L, f[A_REQ], "field \"requirements\" of an app needs the MCApp's "
		          "requirements instead of \"mci\"");
	else if (!spec_absent(f[A_REQ]))
		json_object_set_new(app, "requirements", check_app_requirements(L, f[A_REQ]));
	else if (reqs)
		spec_diag(L, item, "the MCApp states requirements instead of an mci, so each app "
		          "needs \"requirements\" (at least vcpu and memoryGiB)");
	if (reqs && !spec_absent(f[A_PLACE]))
		spec_diag(L, f[A_PLACE], "field \"placement\" is derived from the requirements "
		          "(the app runs on the groups chosen for it); remove it");
	return app;
}

/* The MCApp's requirements: {connections, image, maxCostPerHour} (0: no
 * ceiling). */
static json_t *check_requirements(spec_load *L, const bar_ynode *spec, const bar_ynode *v)
{
	static const char *const known[] = { "connections", "image", "maxCostPerHour", NULL };
	const bar_ynode *f[3];
	const char *image = "";
	double cost = 0;
	json_t *r = json_object();

	(void)spec;
	if (spec_fields(L, v, "requirements", known, f) == 0) {
		json_object_set_new(r, "connections",
		                    name_list(L, v, f[0], "requirements.connections", 1));
		if (spec_str(L, &image, v, f[1], "requirements.image", NULL) == 0 &&
		    (!*image || strpbrk(image, " \t\r\n")))
			spec_diag(L, f[1], "field \"requirements.image\" must name an image of the "
			          "catalogues (such as ubuntu-22.04), got \"%.80s\"", image);
		if (!spec_absent(f[2]) &&
		    spec_number(L, &cost, v, f[2], "requirements.maxCostPerHour") == 0 && cost <= 0) {
			spec_diag(L, f[2], "field \"requirements.maxCostPerHour\" must be more than 0, "
			          "got %g", cost);
			cost = 0;
		}
	}
	if (!json_object_get(r, "connections"))
		json_object_set_new(r, "connections", json_array());
	set_str(r, "image", image);
	json_object_set_new(r, "maxCostPerHour", json_real(cost));
	return r;
}

/* maxLatencyMs must name other apps of this MCApp. */
static void check_latency_names(spec_load *L, const bar_ynode *apps, const spec_index *ix,
                                const bar_ynode **names)
{
	for (uint32_t i = 0; i < apps->n; i++) {
		const bar_ynode *req = bar_ymap_get(&apps->u.items[i], "requirements");
		const bar_ynode *lat = req && req->type == BAR_Y_MAP ?
		                       bar_ymap_get(req, "maxLatencyMs") : NULL;
		const size_t *j;

		if (!names[i] || !lat || lat->type != BAR_Y_MAP)
			continue;
		spec_scope_name(L, "app", names[i]->u.str);
		for (uint32_t k = 0; k < lat->n; k++) {
			const bar_ynode *key = &lat->u.kv[2 * k];

			if (!(j = spec_index_get(ix, key->u.str)))
				spec_diag(L, key, "field \"requirements.maxLatencyMs\" names unknown app "
				          "\"%.80s\"", key->u.str);
			else if (*j == i)
				spec_diag(L, key, "field \"requirements.maxLatencyMs\" names the app "
				          "itself");
		}
	}
	spec_scope_clear(L);
}

/* rollout: how a change reaches the VMs (docs/apps.md, "Rollout"). */
static json_t *check_rollout(spec_load *L, const bar_ynode *spec, const bar_ynode *v)
{
	static const char *const known[] = { "maxUnavailable", "healthTimeout", NULL };
	const bar_ynode *f[2];
	int64_t mu = 1, to = 120;
	static const int64_t one = 1;

	(void)spec;
	if (!spec_absent(v) && spec_fields(L, v, "rollout", known, f) == 0) {
		spec_int(L, &mu, v, f[0], "rollout.maxUnavailable", &one, 1, PLACEMENT_COUNT_MAX);
		spec_duration(L, &to, v, f[1], "rollout.healthTimeout", "2m", 1);
	}
	return json_pack("{s:I,s:I}", "maxUnavailable", (json_int_t)mu, "healthTimeoutSeconds",
	                 (json_int_t)to);
}

/* kubernetes.bootstrap: a cluster made with kubeadm on the MCI's VMs
 * (docs/kubernetes.md): {version, podCidr, cni}. */
static json_t *check_bootstrap(spec_load *L, const bar_ynode *map, const bar_ynode *v)
{
	static const char *const known[] = { "version", "podCidr", "cni", NULL };
	const bar_ynode *f[3], *m;
	const char *ver = "v1.31", *cidr = "10.244.0.0/16", *cni = "";
	uint32_t addr;
	int prefix;

	if (spec_map(L, &m, map, v, "kubernetes.bootstrap", 0) < 0 || !m)
		return json_null();
	if (spec_fields(L, m, "kubernetes.bootstrap", known, f) < 0)
		return json_null();
	if (spec_str(L, &ver, m, f[0], "kubernetes.bootstrap.version", "v1.31") == 0 &&
	    (ver[0] != 'v' || strspn(ver + 1, "0123456789.") != strlen(ver + 1) ||
	     !strchr(ver, '.')))
		spec_diag(L, f[0], "field \"kubernetes.bootstrap.version\" must be a Kubernetes "
		          "minor version such as v1.31, got \"%.40s\"", ver);
	if (spec_str(L, &cidr, m, f[1], "kubernetes.bootstrap.podCidr", "10.244.0.0/16") == 0 &&
	    spec_cidr_parse(cidr, &addr, &prefix) < 0)
		spec_diag(L, f[1], "field \"kubernetes.bootstrap.podCidr\" must be a CIDR such as "
		          "10.244.0.0/16, got \"%.40s\"", cidr);
	if (spec_str(L, &cni, m, f[2], "kubernetes.bootstrap.cni", NULL) == 0)
		spec_path(L, &cni, f[2], cni, "kubernetes.bootstrap.cni");
	return json_pack("{s:s,s:s,s:s}", "version", ver, "podCidr", cidr, "cni", cni);
}

/* kubernetes: the cluster of runtime "kubernetes" (docs/kubernetes.md). */
static json_t *check_kubernetes(spec_load *L, const bar_ynode *spec, const bar_ynode *v,
                                const char *runtime)
{
	static const char *const known[] = { "kubeconfig", "context", "namespace", "bootstrap",
	                                     NULL };
	const bar_ynode *f[4];
	const char *kc = "", *ctx = "", *kns = "default";
	json_t *k = json_object();

	if (!spec_absent(v) && strcmp(runtime, "kubernetes") != 0)
		spec_diag(L, v, "field \"kubernetes\" is for runtime \"kubernetes\"; this MCApp's "
		          "runtime is \"%s\"", runtime);
	if (!spec_absent(v) && spec_fields(L, v, "kubernetes", known, f) == 0) {
		if (!spec_absent(f[0]) && spec_str(L, &kc, v, f[0], "kubernetes.kubeconfig", "") == 0)
			spec_path(L, &kc, f[0], kc, "kubernetes.kubeconfig");
		spec_str(L, &ctx, v, f[1], "kubernetes.context", "");
		if (spec_str(L, &kns, v, f[2], "kubernetes.namespace", "default") == 0 &&
		    !spec_dns_label_ok(kns))
			spec_diag(L, f[2], "field \"kubernetes.namespace\" must be a DNS label, got "
			          "\"%.80s\"", kns);
		if (!spec_absent(f[3])) {
			if (*kc)
				spec_diag(L, f[3], "set either kubernetes.kubeconfig (an existing "
				          "cluster) or kubernetes.bootstrap (one made on the MCI), not both");
			json_object_set_new(k, "bootstrap", check_bootstrap(L, v, f[3]));
		}
	}
	(void)spec;
	set_str(k, "kubeconfig", kc);
	set_str(k, "context", ctx);
	set_str(k, "namespace", kns);
	return k;
}

void spec_check_mcapp(spec_load *L, spec_obj *o)
{
	static const char *const known[] = { "mci", "runtime", "apps", "rollout", "kubernetes",
	                                     "requirements", NULL };
	static const char *const runtimes[] = { "agent", "kubernetes", NULL };
	const bar_ynode *f[6], *spec = o->spec, *seq, **names;
	const char *mci = "", *runtime = "agent", *kubeconfig = NULL;
	json_t *attrs = json_object(), *apps = json_array();
	spec_index ix;
	int reqs;

	o->pub.attrs = attrs;
	spec_fields(L, spec, "MCApp spec", known, f);
	reqs = !spec_absent(f[5]);
	if (reqs) {
		/* the MCI is derived, named after the MCApp; spec_derive.c adds
		 * the reference once it exists */
		mci = o->pub.name;
		if (!spec_absent(f[0]))
			spec_diag(L, f[0], "set either \"mci\" or \"requirements\", not both");
		json_object_set_new(attrs, "requirements", check_requirements(L, spec, f[5]));
	}
	spec_enum(L, &runtime, spec, f[1], "runtime", runtimes, "agent", 1);
	if (reqs && !strcmp(runtime, "kubernetes"))
		spec_diag(L, f[1], "runtime \"kubernetes\" runs on a cluster, not on a derived "
		          "MCI; requirements are for runtime \"agent\"");
	if (!strcmp(runtime, "kubernetes") || !spec_absent(f[4])) {
		json_t *k = check_kubernetes(L, spec, f[4], runtime);

		json_object_set_new(attrs, "kubernetes", k);
		kubeconfig = json_string_value(json_object_get(k, "kubeconfig"));
	}
	/* an existing cluster needs no MCI; one bootstrapped with kubeadm does */
	if (!strcmp(runtime, "kubernetes") && !reqs && (!kubeconfig || !*kubeconfig) &&
	    !json_is_object(json_object_get(json_object_get(attrs, "kubernetes"), "bootstrap")))
		spec_diag(L, spec_absent(f[4]) ? spec : f[4],
		          "runtime \"kubernetes\" needs a cluster: kubernetes.kubeconfig (an "
		          "existing one) or kubernetes.bootstrap {cni: FLANNEL.yaml} (one made with "
		          "kubeadm on the MCI's VMs)");
	if (!reqs && !(kubeconfig && *kubeconfig && spec_absent(f[0])) &&
	    spec_name(L, &mci, spec, f[0], "mci") == 0)
		spec_ref_add(L, o, "mci", BAR_KIND_MCI, mci, f[0], "field \"mci\"");
	set_str(attrs, "mci", mci);
	set_str(attrs, "runtime", runtime);
	json_object_set_new(attrs, "rollout", check_rollout(L, spec, f[3]));
	json_object_set_new(attrs, "apps", apps);
	if (spec_seq(L, &seq, spec, f[2], "apps", 1) < 0)
		return;
	if (seq->n == 0) {
		spec_diag(L, seq, "field \"apps\" must list at least one app");
		return;
	}
	names = bar_calloc(seq->n, sizeof(*names));
	spec_index_init(&ix, seq->n);
	for (uint32_t i = 0; i < seq->n; i++)
		json_array_append_new(apps, check_app(L, &seq->u.items[i], i, &ix, names,
		                                      runtime, reqs));
	spec_scope_clear(L);
	check_after(L, seq, &ix, names);
	if (reqs)
		check_latency_names(L, seq, &ix, names);
	spec_index_free(&ix);
	free(names);
}
