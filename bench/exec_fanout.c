/*
 * exec_fanout.c - `hostname` on 100 real local VMs: `barista exec` (a first
 * run, which starts the session broker and makes 100 SSH sessions, then a
 * repeat within the minute, which reuses them), `parallel-ssh -p 100` and
 * `ansible -m raw -f 100`, side by side in one run.  pssh and ansible come
 * from Debian's packages pssh and ansible: installed with apt-get when
 * missing, skipped (and said so) when that fails.  Every tool checks the
 * VMs' host keys (pinned from state into a known_hosts file for the other
 * two).  Only the bench's own VMs (network namespaces on this host) are
 * targeted; they are destroyed before it exits.
 *
 * Prints, last line:
 *   barista_s=… barista_repeat_s=… pssh_s=… ansible_s=… ratio_pssh=…
 * (ratio_pssh = barista_s / pssh_s).  Targets: ratio_pssh <= 0.5,
 * barista_repeat_s <= 0.3.  Needs root.
 */
#include "bench_util.h"
#include "error.h"
#include "host.h"
#include "keystore.h"
#include "sshmux.h"
#include "state.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define VMS 100

static char dir[4096], state[4200], root[4200], hosts[4200], known[4200], key[8400];

static double run_timed(const char *cmd, int *rc)
{
	double t0 = bench_now();
	int st = system(cmd);

	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
	return bench_now() - t0;
}

/* hosts (one IP a line), known_hosts (IP + pinned key) and the key path. */
static int write_inventory(void)
{
	bar_state *st = NULL;
	bar_records rs = { NULL, 0 };
	FILE *h = fopen(hosts, "w"), *k = fopen(known, "w");
	char keys[4300];
	int n = 0;

	snprintf(keys, sizeof(keys), "%s.keys", state);
	if (!h || !k || bar_state_open(&st, state, BAR_STATE_READONLY) < 0 ||
	    bar_state_load(st, &rs) < 0)
		return fprintf(stderr, "inventory: %s\n", bar_error_last()), -1;
	for (size_t i = 0; i < rs.n; i++) {
		json_t *obs, *refs;
		char *kp;

		if (strcmp(rs.items[i].type, "vm"))
			continue;
		obs = json_loads(rs.items[i].observed ? rs.items[i].observed : "{}", 0, NULL);
		refs = json_loads(rs.items[i].refs ? rs.items[i].refs : "{}", 0, NULL);
		fprintf(h, "%s\n", json_string_value(json_object_get(obs, "privateIp")));
		fprintf(k, "%s %s\n", json_string_value(json_object_get(obs, "privateIp")),
		        json_string_value(json_object_get(obs, "hostKey")));
		kp = bar_keystore_path(keys, json_string_value(json_object_get(refs, "sshKey")),
		                       "privateKey");
		snprintf(key, sizeof(key), "%s", kp);
		free(kp);
		json_decref(obs);
		json_decref(refs);
		n++;
	}
	bar_records_clear(&rs);
	bar_state_free(st);
	fclose(h);
	fclose(k);
	return n == VMS ? 0 : (fprintf(stderr, "%d VMs in state\n", n), -1);
}

/* The tool, installing its Debian package once if it is missing. */
static int have(const char *tool, const char *package)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", tool);
	if (system(cmd) == 0)
		return 1;
	fprintf(stderr, "installing %s (Debian package %s)\n", tool, package);
	snprintf(cmd, sizeof(cmd), "(apt-get install -y -q %s || (apt-get update -q && "
	                           "apt-get install -y -q %s)) >/dev/null 2>&1", package, package);
	if (system(cmd) != 0 || (snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", tool),
	                         system(cmd) != 0)) {
		fprintf(stderr, "%s not available: skipping it\n", tool);
		return 0;
	}
	return 1;
}

static double time_pssh(void)
{
	char cmd[30000];
	int rc;
	double t;

	if (!have("parallel-ssh", "pssh"))
		return -1;
	snprintf(cmd, sizeof(cmd),
	         "parallel-ssh -p 100 -t 60 -h '%s' -l root -x '-i %s -o UserKnownHostsFile=%s "
	         "-o StrictHostKeyChecking=yes -o BatchMode=yes' -i hostname >/dev/null",
	         hosts, key, known);
	t = run_timed(cmd, &rc);
	if (rc != 0)
		fprintf(stderr, "parallel-ssh exited %d\n", rc);
	return rc == 0 ? t : -1;
}

static double time_ansible(void)
{
	char cmd[30000], inv[4300];
	int rc;
	double t;

	if (!have("ansible", "ansible"))
		return -1;
	snprintf(inv, sizeof(inv), "%s/inventory.ini", dir);
	snprintf(cmd, sizeof(cmd), "(echo '[vms]'; cat '%s') > '%s'", hosts, inv);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd),
	         "ANSIBLE_LOCAL_TEMP='%s/ans' ANSIBLE_SSH_CONTROL_PATH_DIR='%s/cp' "
	         "ANSIBLE_SSH_ARGS='-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes "
	         "-o ControlMaster=no' ansible all -i '%s' -m raw -a hostname -f 100 -u root "
	         "--private-key '%s' >/dev/null", dir, dir, known, inv, key);
	t = run_timed(cmd, &rc);
	if (rc != 0)
		fprintf(stderr, "ansible exited %d\n", rc);
	return rc == 0 ? t : -1;
}

/* Seconds taken by `barista ARGS` with every VM succeeding; -1 if not
 * (then its output is shown). */
static double time_barista(const char *args)
{
	double t0 = bench_now();
	int rc = bench_barista(args, 0);
	double t = bench_now() - t0;

	if (rc == 0)
		return t;
	fprintf(stderr, "barista %s: exit %d\n", args, rc);
	bench_barista(args, 1);
	return -1;
}

static void stop_broker(void)
{
	char *path = NULL;

	if (bar_sshmux_path(&path, state) == 0)
		bar_sshmux_stop(path);
	free(path);
}

static void fmt(char *out, size_t n, double v)
{
	if (v < 0)
		snprintf(out, n, "skipped");
	else
		snprintf(out, n, "%.3f", v);
}

int main(void)
{
	const char *tmp = bench_tmpdir();
	char args[9000], ps[32], an[32], ratio[32];
	double t_first = -1, t_repeat = -1, t_pssh = -1, t_ans = -1;
	FILE *f;
	int ok;

	if (geteuid() != 0)
		return fprintf(stderr, "exec_fanout: needs root\n"), 1;
	snprintf(dir, sizeof(dir), "%s/config", tmp);
	snprintf(state, sizeof(state), "%s/state.db", tmp);
	snprintf(hosts, sizeof(hosts), "%s/hosts", tmp);
	snprintf(known, sizeof(known), "%s/known_hosts", tmp);
	snprintf(root, sizeof(root), "/dev/shm/barista-bench-exec-%d", (int)getpid());
	setenv("BARISTA_LOCAL_ROOT", root, 1);
	unsetenv("BARISTA_SSH_PERSIST");
	mkdir(dir, 0755);
	f = bench_open(dir, "mcir.yaml");
	bench_write_mcir(f, "local", "bench", "bench-region", "", 0, 191);
	bench_write_mci(f, "fleet", "bench", 1, VMS);
	fclose(f);
	snprintf(args, sizeof(args), "apply -auto-approve -parallelism 20 -state '%s' '%s'",
	         state, dir);
	ok = bench_barista(args, 0) == 0 && write_inventory() == 0;
	if (ok) {
		snprintf(args, sizeof(args), "exec fleet -j 100 -state '%s' -- hostname", state);
		t_first = time_barista(args);
		t_repeat = time_barista(args);
		ok = t_first >= 0 && t_repeat >= 0;
	}
	if (ok) {
		t_pssh = time_pssh();
		t_ans = time_ansible();
		fprintf(stderr, "barista exec: first %.3f s, repeat %.3f s; parallel-ssh %.3f s; "
		        "ansible raw %.3f s\n", t_first, t_repeat, t_pssh, t_ans);
	}
	stop_broker();
	snprintf(args, sizeof(args), "destroy -auto-approve -state '%s' '%s'", state, dir);
	if (bench_barista(args, 0) != 0)
		fprintf(stderr, "destroy failed: clean up by hand (docs/local-provider.md)\n");
	snprintf(args, sizeof(args), "rm -rf '%s'", root);
	if (system(args) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	if (!ok)
		return fprintf(stderr, "failed (see above)\n"), 1;
	fmt(ps, sizeof(ps), t_pssh);
	fmt(an, sizeof(an), t_ans);
	fmt(ratio, sizeof(ratio), t_pssh > 0 ? t_first / t_pssh : -1);
	printf("barista_s=%.3f barista_repeat_s=%.3f pssh_s=%s ansible_s=%s ratio_pssh=%s\n",
	       t_first, t_repeat, ps, an, ratio);
	return 0;
}
