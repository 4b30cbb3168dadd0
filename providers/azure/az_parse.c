/*
 * az_parse.c - the azure driver's parsers of what ARM and the identity
 * platform answer: errors, tokens, long-running operation status, list
 * pages, and the observation of each resource type (status mapping, the
 * observed attrs, tags).  They take untrusted text and never trust its
 * shape; fuzz_azure (tests/fuzz/fuzz_azure.c) runs each of them.  Pages and
 * resources are read in place in the kit's JSON documents (a node of one
 * may be AZ_JV_NONE or of any type); the small answers (errors, tokens,
 * operations) with jansson.
 */
#include "az.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AZ_LABEL_PREFIX "barista-label:"

static void copy(char *out, size_t size, const char *s)
{
	if (size)
		snprintf(out, size, "%s", s ? s : "");
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* Member k of object r (AZ_JV_NONE when r is not an object or lacks k). */
static az_jv get(az_jv r, const char *k)
{
	return (az_jv){r.d, bar_kit_jget(r.d, r.n, k)};
}

/* Element i of array r. */
static az_jv elem(az_jv r, size_t i)
{
	return (az_jv){r.d, bar_kit_jat(r.d, r.n, i)};
}

/* The string at r, or "" (sv) / NULL (sn). */
static const char *sv(az_jv r) { return bar_kit_jsv(r.d, r.n); }

static const char *sn(az_jv r) { return bar_kit_jstr(r.d, r.n); }

/* The string member k of object r, or "". */
static const char *str(az_jv r, const char *k) { return sv(get(r, k)); }

/*
 * The first element of r when r is of `type` (BAR_KIT_JARRAY: its
 * elements; BAR_KIT_JOBJECT: its members' values), else AZ_JV_NONE; after()
 * steps to the following one.  The type is checked because the reader
 * iterates either kind, where jansson's foreach of the one kind skips the
 * other.
 */
static az_jv first(az_jv r, int type)
{
	return (az_jv){r.d, bar_kit_jtype(r.d, r.n) == type ? bar_kit_jfirst(r.d, r.n) : -1};
}

static az_jv after(az_jv r, az_jv v)
{
	return (az_jv){r.d, bar_kit_jnext(r.d, r.n, v.n)};
}

void az_parse_error(const char *body, size_t len, long status, char *code, size_t csize,
                    char *msg, size_t msize)
{
	json_t *j = json_loadb(body, len, 0, NULL), *err;

	(void)status;
	copy(code, csize, "");
	copy(msg, msize, "");
	if (!json_is_object(j))
		goto done;
	err = json_object_get(j, "error");
	if (json_is_object(err)) {
		copy(code, csize, jstr(err, "code"));
		copy(msg, msize, jstr(err, "message"));
	} else if (json_is_string(err)) {
		/* the identity platform: the description starts with the AADSTS code
		 * and carries trace and correlation ids after a line break */
		const char *d = jstr(j, "error_description");
		size_t n = strcspn(d, "\r\n");

		copy(code, csize, json_string_value(err));
		if (msize)
			snprintf(msg, msize, "%.*s", (int)(n < 600 ? n : 600), d);
	}
done:
	json_decref(j);
}

int az_code_rc(const char *code, long status)
{
	static const struct {
		const char *code;
		int rc;
	} map[] = {
		{"ResourceNotFound", BAR_ENOTFOUND},
		{"NotFound", BAR_ENOTFOUND},
		{"ResourceGroupNotFound", BAR_ENOTFOUND},
		{"ParentResourceNotFound", BAR_ENOTFOUND},
		{"ArtifactNotFound", BAR_ENOTFOUND},
		{"PlatformImageNotFound", BAR_EINVALID},
		{"Conflict", BAR_ECONFLICT},
		{"OperationNotAllowed", BAR_ECONFLICT},
		{"AnotherOperationInProgress", BAR_ECONFLICT},
		{"InUseSubnetCannotBeDeleted", BAR_ECONFLICT},
		{"InUseNetworkSecurityGroupCannotBeDeleted", BAR_ECONFLICT},
		{"PublicIPAddressInUse", BAR_ECONFLICT},
		{"NicInUse", BAR_ECONFLICT},
		{"InvalidResourceGroupLocation", BAR_ECONFLICT},
		{"AuthorizationFailed", BAR_EAUTH},
		{"InvalidAuthenticationToken", BAR_EAUTH},
		{"ExpiredAuthenticationToken", BAR_EAUTH},
		{"AuthenticationFailed", BAR_EAUTH},
		{"SubscriptionNotFound", BAR_EAUTH},
		{"invalid_client", BAR_EAUTH},
		{"unauthorized_client", BAR_EAUTH},
		{"invalid_request", BAR_EAUTH},
		{"TooManyRequests", BAR_ERETRY},
		{"RetryableError", BAR_ERETRY},
		{"InternalServerError", BAR_ERETRY},
	};

	if (status == 429)
		return BAR_ERETRY;
	for (size_t i = 0; code && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(code, map[i].code) == 0)
			return map[i].rc;
	return 0;
}

int az_parse_token(const char *body, size_t len, char *tok, size_t size, long *expires_in)
{
	json_t *j = json_loadb(body, len, 0, NULL), *e;
	const char *t;
	int rc = -1;

	t = json_string_value(json_object_get(j, "access_token"));
	e = json_object_get(j, "expires_in");
	if (!t || !*t || strlen(t) >= size || strcspn(t, "\r\n ") != strlen(t))
		goto done;
	/* expires_in is a number of seconds; older endpoints send it as text */
	*expires_in = json_is_integer(e) ? (long)json_integer_value(e)
	              : json_is_string(e) ? strtol(json_string_value(e), NULL, 10)
	                                  : 3599;
	if (*expires_in <= 0)
		*expires_in = 60;
	memcpy(tok, t, strlen(t) + 1);
	rc = 0;
done:
	if (j) {
		/* the token lives on in jansson's copy: wipe it before freeing */
		json_t *at = json_object_get(j, "access_token");

		if (json_is_string(at))
			bar_kit_wipe((void *)json_string_value(at), json_string_length(at));
	}
	json_decref(j);
	return rc;
}

int az_parse_operation(const char *body, size_t len, char *status, size_t ssize, char *code,
                       size_t csize, char *msg, size_t msize)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *s = jstr(j, "status");
	json_t *err = json_object_get(j, "error");
	int rc = -1;

	copy(code, csize, "");
	copy(msg, msize, "");
	if (!*s)
		goto done;
	copy(status, ssize, s);
	if (json_is_object(err)) {
		copy(code, csize, jstr(err, "code"));
		copy(msg, msize, jstr(err, "message"));
	}
	rc = 0;
done:
	json_decref(j);
	return rc;
}

int az_parse_page_doc(bar_kit_jdoc **out, int *items, char *next, size_t nsize,
                      const char *body, size_t len)
{
	bar_kit_jdoc *d = NULL;
	az_jv page, v;
	const char *n;

	if (bar_kit_jparse(&d, body ? body : "", len, NULL, 0) < 0)
		return -1;
	page = (az_jv){d, 0};
	v = get(page, "value");
	if (bar_kit_jtype(d, 0) != BAR_KIT_JARRAY && bar_kit_jtype(d, v.n) != BAR_KIT_JARRAY) {
		bar_kit_jfree(d);
		return -1;
	}
	n = str(page, "nextLink");
	copy(next, nsize, strlen(n) < nsize ? n : "");
	*items = bar_kit_jtype(d, 0) == BAR_KIT_JARRAY ? 0 : v.n; /* image versions come bare */
	*out = d;
	return 0;
}

void az_obs_clear(az_obs *o)
{
	free(o->attrs);
	free(o->tags);
	memset(o, 0, sizeof(*o));
}

/* Tag names may not hold < > % & \ ? / (ARM refuses them): those and the
 * escape character ~ itself travel as ~XX. */
static int tag_special(unsigned char c)
{
	return c == '<' || c == '>' || c == '%' || c == '&' || c == '\\' || c == '?' || c == '/' ||
	       c == '~' || c < 0x20;
}

static char *name_encode(const char *prefix, const char *k)
{
	size_t n = strlen(prefix) + 3 * strlen(k) + 1, o;
	char *out = malloc(n);

	if (!out)
		return NULL;
	o = (size_t)snprintf(out, n, "%s", prefix);
	for (const unsigned char *p = (const unsigned char *)k; *p; p++)
		o += (size_t)snprintf(out + o, n - o, tag_special(*p) ? "~%02X" : "%c", *p);
	return out;
}

static int hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                                     : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *name_decode(const char *k)
{
	char *out = malloc(strlen(k) + 1), *o = out;

	if (!out)
		return NULL;
	for (const char *p = k; *p; p++) {
		if (*p == '~' && hexv(p[1]) >= 0 && hexv(p[2]) >= 0) {
			int v = hexv(p[1]) * 16 + hexv(p[2]);

			*o++ = (char)(v ? v : '?');
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* The host's tags (labels 0) or a VM's labels (1) of ARM's tags object. */
static json_t *tags_pick(az_jv arm, int labels)
{
	json_t *out = json_object();
	size_t pl = strlen(AZ_LABEL_PREFIX);

	for (az_jv v = first(arm, BAR_KIT_JOBJECT); v.n >= 0; v = after(arm, v)) {
		const char *k = bar_kit_jkey(v.d, v.n);
		int is_label = strncmp(k, AZ_LABEL_PREFIX, pl) == 0;
		char *name;

		if (!sn(v) || is_label != labels)
			continue;
		name = name_decode(labels ? k + pl : k);
		if (name)
			json_object_set_new(out, name, json_stringn(sn(v), bar_kit_jlen(v.d, v.n)));
		free(name);
	}
	return out;
}

json_t *az_tags_decode_doc(az_jv arm_tags) { return tags_pick(arm_tags, 0); }

json_t *az_labels_of_doc(az_jv arm_tags) { return tags_pick(arm_tags, 1); }

json_t *az_tags_encode(json_t *tags, json_t *labels)
{
	json_t *out = json_object(), *v;
	const char *k;

	for (int pass = 0; pass < 2; pass++) {
		json_object_foreach(pass ? labels : tags, k, v) {
			char *name = name_encode(pass ? AZ_LABEL_PREFIX : "", k);

			if (!name || !json_is_string(v) ||
			    json_object_set(out, name, v) < 0) {
				free(name);
				json_decref(out);
				return NULL;
			}
			free(name);
		}
	}
	return out;
}

const char *az_status_of(const char *p)
{
	if (!p || !*p || strcmp(p, "Succeeded") == 0)
		return "Available";
	if (strcmp(p, "Deleting") == 0)
		return "Deleting";
	if (strcmp(p, "Failed") == 0 || strcmp(p, "Canceled") == 0)
		return "Failed";
	return "Creating"; /* Updating, Creating, Accepted, Provisioning ... */
}

static int obs_begin(az_obs *o, az_jv r, const char *provisioning)
{
	const char *id = str(r, "id"), *name = str(r, "name");
	json_t *tags;

	memset(o, 0, sizeof(*o));
	if (!*id || !*name || strlen(id) >= sizeof(o->system_id) || strlen(name) >= sizeof(o->name))
		return -1;
	copy(o->system_id, sizeof(o->system_id), id);
	copy(o->name, sizeof(o->name), name);
	copy(o->status, sizeof(o->status), az_status_of(provisioning));
	tags = tags_pick(get(r, "tags"), 0);
	o->tags = json_dumps(tags, AZ_JSON_FLAGS);
	json_decref(tags);
	return o->tags ? 0 : -1;
}

static int obs_end(az_obs *o, json_t *attrs)
{
	o->attrs = attrs ? json_dumps(attrs, AZ_JSON_FLAGS) : NULL;
	json_decref(attrs);
	if (!o->attrs) {
		az_obs_clear(o);
		return -1;
	}
	return 0;
}

/* The Barista name is the tag-less part of the ARM name: "<name>-<hash8>". */
static void barista_name(az_obs *o)
{
	size_t n = strlen(o->name);

	if (n > 9 && o->name[n - 9] == '-' && strspn(o->name + n - 8, "0123456789abcdef") == 8)
		o->name[n - 9] = '\0';
}

int az_obs_vnet_doc(az_obs *o, az_jv r)
{
	az_jv p = get(r, "properties"), subnets = get(p, "subnets");
	json_t *subs = json_array();
	const char *ps = str(p, "provisioningState");

	if (obs_begin(o, r, ps) < 0) {
		json_decref(subs);
		az_obs_clear(o);
		return -1;
	}
	barista_name(o);
	for (az_jv s = first(subnets, BAR_KIT_JARRAY); s.n >= 0; s = after(subnets, s)) {
		az_jv sp = get(s, "properties");

		json_array_append_new(subs, json_pack("{s:s,s:s,s:s}", "name", str(s, "name"), "cidr",
		                                      str(sp, "addressPrefix"), "id", str(s, "id")));
	}
	return obs_end(o, json_pack("{s:s?,s:s,s:s,s:o}", "cidr",
	                            sn(elem(get(get(p, "addressSpace"), "addressPrefixes"), 0)),
	                            "location", str(r, "location"), "nativeStatus", ps, "subnets",
	                            subs));
}

/* "22" / "8000-8080" / "*" -> from, to */
static void ports_of(const char *s, const char *proto, json_int_t *from, json_int_t *to)
{
	char *end;
	long a, b;

	*from = *to = -1;
	if (!s || strcmp(s, "*") == 0 || strcmp(proto, "icmp") == 0 || strcmp(proto, "all") == 0)
		return;
	a = strtol(s, &end, 10);
	b = *end == '-' ? strtol(end + 1, NULL, 10) : a;
	*from = a;
	*to = b;
}

static int rule_cmp(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "_p"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "_p"));

	return x < y ? -1 : x > y;
}

static json_t *rules_of(az_jv rules, const char *direction)
{
	json_t *out = json_array(), *v[256];
	size_t i, n = 0;

	for (az_jv r = first(rules, BAR_KIT_JARRAY); r.n >= 0; r = after(rules, r)) {
		az_jv p = get(r, "properties");
		const char *proto = str(p, "protocol"), *lp;
		json_int_t from, to;

		if (strcmp(str(p, "direction"), direction) != 0 ||
		    strcmp(str(p, "access"), "Allow") != 0 || n == 256)
			continue;
		lp = strcmp(proto, "Tcp") == 0 ? "tcp" : strcmp(proto, "Udp") == 0 ? "udp"
		     : strcmp(proto, "Icmp") == 0 ? "icmp" : "all";
		ports_of(str(p, "destinationPortRange"), lp, &from, &to);
		v[n++] = json_pack("{s:s,s:I,s:I,s:s,s:I}", "protocol", lp, "fromPort", from, "toPort",
		                   to, "cidr",
		                   str(p, strcmp(direction, "Inbound") == 0 ? "sourceAddressPrefix"
		                                                            : "destinationAddressPrefix"),
		                   "_p", bar_kit_jint(p.d, get(p, "priority").n));
	}
	qsort(v, n, sizeof(v[0]), rule_cmp);
	for (i = 0; i < n; i++) {
		json_object_del(v[i], "_p");
		json_array_append_new(out, v[i]);
	}
	return out;
}

int az_obs_nsg_doc(az_obs *o, az_jv r)
{
	az_jv p = get(r, "properties"), rules = get(p, "securityRules");
	const char *ps = str(p, "provisioningState");

	if (obs_begin(o, r, ps) < 0) {
		az_obs_clear(o);
		return -1;
	}
	barista_name(o);
	return obs_end(o, json_pack("{s:o,s:o,s:s,s:s}", "ingress", rules_of(rules, "Inbound"),
	                            "egress", rules_of(rules, "Outbound"), "location",
	                            str(r, "location"), "nativeStatus", ps[0] ? ps : "Succeeded"));
}

int az_obs_sshkey_doc(az_obs *o, az_jv r)
{
	az_jv p = get(r, "properties");

	if (obs_begin(o, r, "Succeeded") < 0) {
		az_obs_clear(o);
		return -1;
	}
	barista_name(o);
	return obs_end(o, json_pack("{s:s,s:s,s:s}", "publicKey", str(p, "publicKey"), "location",
	                            str(r, "location"), "nativeStatus", "Succeeded"));
}

/* The instance view's "PowerState/..." code, or "". */
static const char *power_of(az_jv vm)
{
	az_jv st = get(get(get(vm, "properties"), "instanceView"), "statuses");

	for (az_jv s = first(st, BAR_KIT_JARRAY); s.n >= 0; s = after(st, s)) {
		const char *c = str(s, "code");

		if (strncmp(c, "PowerState/", 11) == 0)
			return c;
	}
	return "";
}

static const char *vm_status(const char *prov, const char *power, const char *op)
{
	const char *ps = power[0] ? power + 11 : "";

	if (strcmp(prov, "Deleting") == 0)
		return "Terminating";
	if (strcmp(prov, "Failed") == 0)
		return "Failed";
	if (strcmp(prov, "Creating") == 0)
		return "Creating";
	if (strcmp(ps, "running") == 0 && strcmp(prov, "Succeeded") == 0)
		return "Running";
	if (strcmp(ps, "deallocated") == 0 || strcmp(ps, "stopped") == 0)
		return op && strcmp(op, "resume") == 0 && strcmp(prov, "Succeeded") != 0 ? "Resuming"
		                                                                          : "Suspended";
	if (op && strcmp(op, "reboot") == 0)
		return "Rebooting";
	if (op && strcmp(op, "suspend") == 0)
		return "Suspending";
	if (op && strcmp(op, "resume") == 0)
		return "Resuming";
	if (op && strcmp(op, "create") == 0)
		return "Creating";
	if (strcmp(ps, "deallocating") == 0 || strcmp(ps, "stopping") == 0)
		return "Suspending";
	if (strcmp(ps, "starting") == 0)
		return "Resuming";
	if (strcmp(ps, "running") == 0)
		return "Running"; /* Updating: tags or labels changing */
	return "Undefined";
}

int az_obs_vm_doc(az_obs *o, az_jv vm, az_jv nic, az_jv pip, const char *op)
{
	az_jv p = get(vm, "properties"), img = get(get(p, "storageProfile"), "imageReference");
	az_jv ipc = get(elem(get(get(nic, "properties"), "ipConfigurations"), 0), "properties");
	const char *prov = str(p, "provisioningState"), *power = power_of(vm), *ver;
	const char *zone = sn(elem(get(vm, "zones"), 0));
	char image[600], native[80];

	if (obs_begin(o, vm, NULL) < 0) {
		az_obs_clear(o);
		return -1;
	}
	barista_name(o);
	copy(o->status, sizeof(o->status), vm_status(prov, power, op));
	ver = str(img, "exactVersion")[0] ? str(img, "exactVersion") : str(img, "version");
	snprintf(image, sizeof(image), "%.140s:%.140s:%.140s:%.140s", str(img, "publisher"),
	         str(img, "offer"), str(img, "sku"), ver);
	snprintf(native, sizeof(native), "%.70s", power[0] ? power : prov);
	return obs_end(
	    o, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "imageId", image, "specId",
	                 str(get(p, "hardwareProfile"), "vmSize"), "zone", zone ? zone : "",
	                 "privateIp", str(ipc, "privateIPAddress"), "publicIp",
	                 str(get(pip, "properties"), "ipAddress"), "location", str(vm, "location"),
	                 "nativeStatus", native, "labels", tags_pick(get(vm, "tags"), 1)));
}

const char *az_vm_nic_id(az_jv vm)
{
	return str(elem(get(get(get(vm, "properties"), "networkProfile"), "networkInterfaces"), 0),
	           "id");
}

const char *az_nic_pip_id(az_jv nic)
{
	az_jv ipc = elem(get(get(nic, "properties"), "ipConfigurations"), 0);

	return str(get(get(ipc, "properties"), "publicIPAddress"), "id");
}
