/*
 * mutant.c - barista-provider-mutant.so, a provider plugin that wraps
 * another one ($BAR_MUTANT_INNER, a plugin path) and breaks exactly one
 * behaviour of it ($BAR_MUTANT, one of the names in `mutations` below), so
 * the conformance suite can be shown to fail for each contract it checks
 * (tests/conformance/selftest.cmake runs one case per mutation and expects
 * it to fail).  With BAR_MUTANT unset it passes everything through, and the
 * suite must pass.
 *
 * It stands between the host and the inner plugin on both sides: the inner
 * plugin gets a host table whose callbacks forward to the real host (and
 * may alter what passes), and the host gets a provider table whose
 * callbacks forward to the inner plugin (and may alter the call or its
 * result).  Many mutations know the sim provider's id format; it is meant to
 * wrap sim.
 */
#include "barista_provider.h"
#include "kit.h"

#include <dlfcn.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const mutations[] = {
	"accept-any-host", "no-types", "open-fails", "bad-status", "bad-name", "emit-twice",
	"unsorted-attrs", "drop-tags", "unstable-attrs", "read-wrong-type", "list-drops",
	"list-untagged", "list-any-region", "update-fails", "delete-noop", "delete-again-ok",
	"rc-positive", "idem-ignored", "op-never-ends", "op-final-with-token",
	"transitional-no-token", "no-set-error", "unknown-type-efail", "malformed-efail",
	"secret-from-read", "leak-secret-log", "leak-secret-fragment", "ignore-cancel",
	"ignore-deadline", "suspend-noop", "reboot-suspended-ok", "unknown-action-efail",
	"shared-id", "reboot-suspends", "leak-credential", "ignore-emit-refusal",
	"keep-refused-key", NULL,
};

static const bar_host_api *host;  /* the real one */
static bar_host_api inner_host;   /* what the inner plugin sees */
static bar_provider *inner;
static void *inner_dl;
static const char *mut = "";
static bar_provider table;
static const bar_type_info *const no_types[] = { NULL };

static _Thread_local const char *tl_op = "";
static _Thread_local bar_call *tl_call;
static _Thread_local int tl_mute, tl_share;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int in_flight;
static char shared_id[256], first_region[128];

static int is(const char *m)
{
	return strcmp(mut, m) == 0;
}

/* ---- the host side: what the inner plugin says on its way to the host ---- */

static const char *final_of(const char *status)
{
	return strcmp(status, "Creating") == 0 ? "Available" : status;
}

/* The observation as the mutation wants it; texts into the buffers. */
static void mutate_obs(bar_observed *o, char **attrs)
{
	int create = strcmp(tl_op, "create") == 0, poll = strcmp(tl_op, "poll") == 0;
	json_t *a;

	if (is("bad-status") && strcmp(o->status, "Available") == 0)
		o->status = "Ready";
	if (is("bad-name"))
		o->name = "renamed-by-mutant";
	if (is("drop-tags"))
		o->tags = "{}";
	if (is("op-never-ends") && poll)
		o->status = "Creating";
	if (is("op-final-with-token") && create)
		o->status = final_of(o->status);
	if (is("transitional-no-token") && create && strcmp(o->status, "Available") == 0)
		o->status = "Creating";
	if (is("shared-id") && tl_share && shared_id[0])
		o->system_id = shared_id;
	if ((is("unsorted-attrs") || (is("unstable-attrs") && !strcmp(tl_op, "read"))) &&
	    (a = json_loads(o->attrs, 0, NULL))) {
		json_object_set_new(a, "zzReadAt", json_integer((json_int_t)clock()));
		*attrs = json_dumps(a, is("unsorted-attrs") ? JSON_INDENT(1) : JSON_COMPACT |
		                                                                  JSON_SORT_KEYS);
		o->attrs = *attrs;
		json_decref(a);
	}
}

static int w_emit(bar_sink *sink, const bar_observed *obs)
{
	bar_observed o = *obs;
	char *attrs = NULL;
	int rc;

	if (tl_mute)
		return 0;
	mutate_obs(&o, &attrs);
	rc = host->emit(sink, &o);
	if (rc == 0 && is("emit-twice") && strcmp(tl_op, "create") == 0)
		rc = host->emit(sink, &o);
	if (is("shared-id") && !shared_id[0])
		snprintf(shared_id, sizeof(shared_id), "%s", obs->system_id);
	free(attrs);
	return is("ignore-emit-refusal") ? 0 : rc;
}

__attribute__((format(printf, 3, 4))) static void
w_set_error(bar_call *call, const char *code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (is("no-set-error"))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	host->set_error(call, code, "%s", msg);
}

__attribute__((format(printf, 3, 4))) static void
w_log(bar_call *call, int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	host->log(call, level, "%s", line);
}

static int w_cancelled(bar_call *call)
{
	return is("ignore-cancel") ? 0 : host->cancelled(call);
}

static const char *w_credential(bar_call *call, const char *field)
{
	return host->credential(call, field);
}

static int w_emit_secret(bar_sink *sink, const char *field, const char *value)
{
	const char *colon = strrchr(value, ':');

	if (is("leak-secret-log") && tl_call)
		host->log(tl_call, BAR_LOG_DEBUG, "made a key pair: %s", value);
	if (is("leak-secret-fragment") && tl_call)
		host->log(tl_call, BAR_LOG_DEBUG, "key material ends %s", colon ? colon + 1 : value);
	if (host->emit_secret(sink, field, value) < 0)
		return is("keep-refused-key") ? 0 : -1;
	return 0;
}

static void w_set_operation(bar_call *call, const char *token)
{
	host->set_operation(call, token);
}

/* ---- the provider side: calls on their way to the inner plugin ---- */

enum { M_CREATE, M_READ, M_UPDATE, M_DELETE, M_LIST, M_ACTION, M_POLL };
static const char *const op_names[] = { "create", "read", "update", "delete", "list",
	                                "vm_action", "poll" };

/* A call's arguments: `what` is the type, or the action of vm_action. */
typedef struct margs {
	int op;
	const char *what, *in;
	bar_sink *out;
} margs;

/* A copy of the call as the mutation wants the inner plugin to see it. */
static void enter(bar_call *cc, bar_call *call, int op)
{
	*cc = *call;
	tl_op = op_names[op];
	tl_call = cc;
	pthread_mutex_lock(&mu);
	if (!first_region[0])
		snprintf(first_region, sizeof(first_region), "%s", call->region);
	pthread_mutex_unlock(&mu);
	if (is("ignore-deadline"))
		cc->deadline_ms = 0;
	if (is("idem-ignored"))
		cc->idempotency_key = "";
	if (is("list-any-region") && op == M_LIST)
		cc->region = first_region;
}

/* The result as the mutation wants the host to see it. */
static int leave(bar_call *call, bar_call *cc, int op, int rc)
{
	call->retry_after_ms = cc->retry_after_ms;
	tl_call = NULL;
	tl_op = "";
	if (is("unknown-type-efail") && rc == BAR_ENOTSUP && op != M_ACTION)
		rc = BAR_EFAIL;
	if (is("unknown-action-efail") && rc == BAR_ENOTSUP && op == M_ACTION)
		rc = BAR_EFAIL;
	if (is("malformed-efail") && rc == BAR_EINVALID)
		rc = BAR_EFAIL;
	if (is("delete-again-ok") && rc == BAR_ENOTFOUND && op == M_DELETE)
		rc = BAR_OK;
	if (is("rc-positive") && rc == BAR_ENOTFOUND && op == M_READ)
		rc = 2;
	return rc;
}

static int m_open(bar_provider *p, bar_call *call, void **session)
{
	host->set_error(call, "MutantRefuses", "mutant: open refused");
	return BAR_EAUTH;
}

/* shared-id: the second of two creates in flight reports the first's id. */
static void share_begin(void)
{
	struct timespec ts = { 0, 30 * 1000000L };

	pthread_mutex_lock(&mu);
	tl_share = in_flight++ > 0;
	pthread_mutex_unlock(&mu);
	nanosleep(&ts, NULL); /* so that concurrent creates overlap */
}

static void share_end(void)
{
	pthread_mutex_lock(&mu);
	if (--in_flight == 0)
		shared_id[0] = '\0';
	pthread_mutex_unlock(&mu);
	tl_share = 0;
}

static int do_create(bar_call *cc, const margs *a)
{
	int rc;

	if (is("shared-id"))
		share_begin();
	rc = inner->create(inner, cc, a->what, a->in, a->out);
	if (is("shared-id"))
		share_end();
	if (is("leak-credential") && host->credential(cc, "secretKey"))
		host->set_error(cc, "Mutant", "signed with %s", host->credential(cc, "secretKey"));
	return rc;
}

/* read-wrong-type: read the id as the type its sim id names. */
static int read_any_type(bar_call *cc, const char *in, bar_sink *out)
{
	json_t *j = json_loads(in, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "system_id"));
	char type[64] = "";
	char *text;
	int rc;

	if (id && sscanf(id, "sim-%63[a-z]-", type) == 1)
		json_object_set_new(j, "type", json_string(type));
	text = json_dumps(j, JSON_COMPACT);
	rc = inner->read(inner, cc, type[0] ? type : "vm", text ? text : in, out);
	free(text);
	json_decref(j);
	return rc;
}

static int do_read(bar_call *cc, const margs *a)
{
	int rc = is("read-wrong-type") ? read_any_type(cc, a->in, a->out)
	                               : inner->read(inner, cc, a->what, a->in, a->out);

	if (is("secret-from-read") && rc == BAR_OK && strcmp(a->what, "sshkey") == 0)
		host->emit_secret(a->out, "privateKey", "mutant secret handed over by a read 0123456789");
	return rc;
}

static int do_update(bar_call *cc, const margs *a)
{
	if (!is("update-fails"))
		return inner->update(inner, cc, a->what, a->in, a->out);
	host->set_error(cc, "MutantRefuses", "mutant: no updates");
	return BAR_ENOTSUP;
}

static int do_delete(bar_call *cc, const margs *a)
{
	return is("delete-noop") ? BAR_OK : inner->del(inner, cc, a->what, a->in);
}

static int do_list(bar_call *cc, const margs *a)
{
	bar_observed fake = { sizeof(fake), "mutant-untagged-1", "untagged", "Available", "{}",
		              "{}" };
	int rc = is("list-drops") ? BAR_OK : inner->list(inner, cc, a->what, a->out);

	if (is("list-untagged") && rc == BAR_OK)
		host->emit(a->out, &fake);
	return rc;
}

/* suspend-noop, reboot-suspends, and reboot-suspended-ok (resume silently,
 * then reboot, instead of refusing). */
static int do_action(bar_call *cc, const margs *a)
{
	const char *action = a->what;
	int rc;

	if (is("suspend-noop") && strcmp(action, "suspend") == 0)
		return inner->read(inner, cc, "vm", a->in, a->out);
	if (is("reboot-suspends") && strcmp(action, "reboot") == 0)
		action = "suspend";
	rc = inner->vm_action(inner, cc, action, a->in, a->out);
	if (is("reboot-suspended-ok") && rc == BAR_ECONFLICT && strcmp(action, "reboot") == 0) {
		tl_mute = 1;
		inner->vm_action(inner, cc, "resume", a->in, a->out);
		tl_mute = 0;
		rc = inner->vm_action(inner, cc, "reboot", a->in, a->out);
	}
	return rc;
}

static int do_poll(bar_call *cc, const margs *a)
{
	if (BAR_HAS(inner, poll))
		return inner->poll(inner, cc, a->what, a->in, a->out);
	return inner->read(inner, cc, a->what, a->in, a->out);
}

static int (*const ops[])(bar_call *, const margs *) = { do_create, do_read, do_update,
	                                                 do_delete, do_list, do_action,
	                                                 do_poll };

static int forward(bar_call *call, margs a)
{
	bar_call cc;

	enter(&cc, call, a.op);
	return leave(call, &cc, a.op, ops[a.op](&cc, &a));
}

static int m_create(bar_provider *p, bar_call *call, const char *type, const char *in,
                    bar_sink *out)
{
	return forward(call, (margs){ M_CREATE, type, in, out });
}

static int m_read(bar_provider *p, bar_call *call, const char *type, const char *in,
                  bar_sink *out)
{
	return forward(call, (margs){ M_READ, type, in, out });
}

static int m_update(bar_provider *p, bar_call *call, const char *type, const char *in,
                    bar_sink *out)
{
	return forward(call, (margs){ M_UPDATE, type, in, out });
}

static int m_del(bar_provider *p, bar_call *call, const char *type, const char *in)
{
	return forward(call, (margs){ M_DELETE, type, in, NULL });
}

static int m_list(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	return forward(call, (margs){ M_LIST, type, NULL, out });
}

static int m_vm_action(bar_provider *p, bar_call *call, const char *action, const char *in,
                       bar_sink *out)
{
	return forward(call, (margs){ M_ACTION, action, in, out });
}

static int m_poll(bar_provider *p, bar_call *call, const char *type, const char *in,
                  bar_sink *out)
{
	return forward(call, (margs){ M_POLL, type, in, out });
}

static void m_destroy(bar_provider *p)
{
	if (inner && inner->destroy)
		inner->destroy(inner);
	if (inner_dl)
		dlclose(inner_dl);
	inner = NULL;
	inner_dl = NULL;
}

/* ---- init ---- */

static int fail(char **errmsg, const char *what, const char *detail)
{
	if (asprintf(errmsg, "mutant: %s%s", what, detail ? detail : "") < 0)
		*errmsg = NULL;
	return -1;
}

/* The inner plugin, loaded with our host table. */
static int load_inner(char **errmsg)
{
	const char *path = getenv("BAR_MUTANT_INNER");
	barista_provider_init_fn init;

	if (!path || !(inner_dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
		return fail(errmsg, "cannot load $BAR_MUTANT_INNER: ", path ? dlerror() : "unset");
	init = (barista_provider_init_fn)dlsym(inner_dl, BAR_PROVIDER_INIT_SYMBOL);
	if (!init || init(&inner_host, &inner, errmsg) != 0) {
		dlclose(inner_dl);
		inner_dl = NULL;
		return init ? -1 : fail(errmsg, "no init symbol in ", path);
	}
	return 0;
}

/* The plugin's one export: the inner plugin's table behind ours. */
__attribute__((visibility("default"))) int
barista_provider_init(const bar_host_api *h, bar_provider **out, char **errmsg)
{
	const char *m = getenv("BAR_MUTANT");
	size_t i;

	for (i = 0; m && *m && mutations[i] && strcmp(mutations[i], m) != 0; i++)
		;
	if (m && *m && !mutations[i])
		return fail(errmsg, "unknown mutation ", m);
	mut = m ? m : "";
	if (!is("accept-any-host") && bar_kit_check_host(h, "mutant", errmsg) < 0)
		return -1;
	host = h;
	inner_host = (bar_host_api){ BAR_PROVIDER_ABI_VERSION, sizeof(bar_host_api), w_emit,
		                     w_set_error, w_log, w_cancelled, w_credential,
		                     w_emit_secret, w_set_operation,
				     NULL /* record_call: sim makes no cloud calls */, NULL };
	if (!inner && load_inner(errmsg) < 0)
		return -1;
	table = *inner;
	table.name = "mutant";
	table.types = is("no-types") ? no_types : inner->types;
	table.open = is("open-fails") ? m_open : inner->open;
	table.create = m_create;
	table.read = m_read;
	table.update = inner->update ? m_update : NULL;
	table.del = m_del;
	table.list = m_list;
	table.vm_action = inner->vm_action ? m_vm_action : NULL;
	table.poll = m_poll;
	table.destroy = m_destroy;
	*out = &table;
	return 0;
}
