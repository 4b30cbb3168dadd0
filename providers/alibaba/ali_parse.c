/*
 * ali_parse.c - Alibaba Cloud answers to observations (see ali_parse.h).
 * The member names are the wire names of the SDK's response body models
 * (@alicloud/ecs20140526, @alicloud/vpc20160428), which the double checks
 * its own answers against.
 */
#include "ali_parse.h"

#include "barista_provider.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ali_errparse(const char *body, size_t len, long status, char *code, size_t csize,
                  char *msg, size_t msize)
{
	bar_kit_jdoc *d = NULL;
	int ok = ali_parse_doc(&d, body, len) == 0;

	(void)status;
	snprintf(code, csize, "%s", ok ? ali_jstr(d, 0, "Code") : "");
	snprintf(msg, msize, "%s", ok ? ali_jstr(d, 0, "Message") : "");
	/* a message is the cloud's; keep it on one line for the logs */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	bar_kit_jfree(d);
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int ali_coderc(const char *code, long status)
{
	(void)status;
	if (!code || !*code)
		return 0;
	if (starts(code, "Throttling") || starts(code, "ServiceUnavailable") ||
	    strcmp(code, "InternalError") == 0 || strcmp(code, "UnknownError") == 0 ||
	    starts(code, "OperationConflict") || strcmp(code, "LastTokenProcessing") == 0)
		return BAR_ERETRY;
	if (starts(code, "InvalidAccessKeyId") || strcmp(code, "SignatureDoesNotMatch") == 0 ||
	    starts(code, "Forbidden") || starts(code, "InvalidSecurityToken") ||
	    strcmp(code, "IncompleteSignature") == 0 || starts(code, "NoPermission") ||
	    starts(code, "InvalidAccessKeySecret"))
		return BAR_EAUTH;
	if (ends(code, ".NotFound") || strcmp(code, "NotFound") == 0)
		return BAR_ENOTFOUND;
	if (starts(code, "IncorrectInstanceStatus") || starts(code, "DependencyViolation") ||
	    starts(code, "IncorrectVpcStatus") || starts(code, "IncorrectVSwitchStatus") ||
	    strstr(code, "AlreadyExist") || starts(code, "IncorrectStatus"))
		return BAR_ECONFLICT;
	if (starts(code, "InvalidParameter") || starts(code, "MissingParameter") ||
	    ends(code, ".Malformed") || ends(code, ".ValueNotSupported") ||
	    starts(code, "QuotaExceed") || starts(code, "InvalidTag") || starts(code, "Invalid"))
		return BAR_EINVALID;
	return 0;
}

/* FNV-1a of a key; its length into *len. */
static uint32_t key_hash(const char *k, size_t *len)
{
	uint32_t h = 2166136261u;
	const char *p = k;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	*len = (size_t)(p - k);
	return h;
}

/* 1 when object n (m members, m > 8) has a key twice, -1 when out of
 * memory, 0 else: an open-addressing table of its keys, at least half
 * empty. */
static int dup_keys_many(const bar_kit_jdoc *d, int n, size_t m)
{
	struct slot {
		const char *k;
		uint32_t h, len;
	} small[64], *t = small;
	size_t size = 32, i, len;
	int dup = 0;

	while (size < 2 * m)
		size *= 2;
	if (size > sizeof(small) / sizeof(small[0])) {
		if (!(t = calloc(size, sizeof(*t))))
			return -1;
	} else {
		memset(t, 0, size * sizeof(*t));
	}
	for (int v = bar_kit_jfirst(d, n); v >= 0 && !dup; v = bar_kit_jnext(d, n, v)) {
		const char *k = bar_kit_jkey(d, v);
		uint32_t h = key_hash(k, &len);

		for (i = h & (size - 1); t[i].k; i = (i + 1) & (size - 1))
			if (t[i].h == h && t[i].len == len && memcmp(t[i].k, k, len) == 0) {
				dup = 1;
				break;
			}
		t[i].k = k;
		t[i].len = (uint32_t)len;
		t[i].h = h;
	}
	if (t != small)
		free(t);
	return dup;
}

/* The same for an object of m members: small ones (most of an answer's)
 * by comparing each key with those before it. */
static int dup_keys(const bar_kit_jdoc *d, int n, size_t m)
{
	const char *seen[8];
	size_t k = 0;

	if (m > 8)
		return dup_keys_many(d, n, m);
	for (int v = bar_kit_jfirst(d, n); v >= 0; v = bar_kit_jnext(d, n, v)) {
		const char *key = bar_kit_jkey(d, v);

		for (size_t i = 0; i < k; i++)
			if (seen[i][0] == key[0] && strcmp(seen[i], key) == 0)
				return 1;
		seen[k++] = key;
	}
	return 0;
}

/* Nonzero when an object at or below node n has a key twice (or the check
 * ran out of memory).  The reader caps the depth at 2048, so the
 * recursion is bounded. */
static int has_dup(const bar_kit_jdoc *d, int n)
{
	int type = bar_kit_jtype(d, n);
	size_t m = bar_kit_jlen(d, n);

	if (type == BAR_KIT_JOBJECT && m > 1 && dup_keys(d, n, m))
		return 1;
	for (int v = bar_kit_jfirst(d, n); v >= 0; v = bar_kit_jnext(d, n, v)) {
		int t = bar_kit_jtype(d, v);
		if ((t == BAR_KIT_JOBJECT || t == BAR_KIT_JARRAY) && has_dup(d, v))
			return 1;
	}
	return 0;
}

int ali_parse_doc(bar_kit_jdoc **out, const char *body, size_t len)
{
	bar_kit_jdoc *d = NULL;

	if (!body || bar_kit_jparse(&d, body, len, NULL, 0) < 0)
		return -1;
	if (bar_kit_jtype(d, 0) != BAR_KIT_JOBJECT || has_dup(d, 0)) {
		bar_kit_jfree(d);
		return -1;
	}
	*out = d;
	return 0;
}

int ali_jpath(const bar_kit_jdoc *d, int n, const char *path)
{
	char part[128];

	while (n >= 0 && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);

		if (len >= sizeof(part))
			return -1;
		memcpy(part, path, len);
		part[len] = '\0';
		n = bar_kit_jget(d, n, part);
		path += len + (dot ? 1 : 0);
	}
	return n;
}

const char *ali_jstr(const bar_kit_jdoc *d, int n, const char *path)
{
	return bar_kit_jsv(d, ali_jpath(d, n, path));
}

int ali_jlist(const bar_kit_jdoc *d, int n, const char *path)
{
	int a = ali_jpath(d, n, path);

	return bar_kit_jtype(d, a) == BAR_KIT_JARRAY ? a : -1;
}

/* The string member k of object n, or -1. */
static int str_member(const bar_kit_jdoc *d, int n, const char *k)
{
	int v = bar_kit_jget(d, n, k);

	return bar_kit_jtype(d, v) == BAR_KIT_JSTRING ? v : -1;
}

/* The string at node v as a jansson string ("" when v is not a string).
 * The reader has checked its UTF-8 already: no need for jansson to check
 * it again. */
static json_t *jstring(const bar_kit_jdoc *d, int v)
{
	const char *s = bar_kit_jstr(d, v);

	return s ? json_stringn_nocheck(s, bar_kit_jlen(d, v)) : json_string_nocheck("");
}

void ali_tags(const bar_kit_jdoc *d, int n, const char *path, json_t **tags, json_t **labels)
{
	int list = ali_jlist(d, n, path);

	*tags = json_object();
	if (labels)
		*labels = json_object();
	for (int t = bar_kit_jfirst(d, list); t >= 0; t = bar_kit_jnext(d, list, t)) {
		/* ECS answers {TagKey, TagValue}, VPC {Key, Value} */
		int kn = str_member(d, t, "TagKey"), vn = str_member(d, t, "TagValue");
		const char *k;

		if (kn < 0) {
			kn = str_member(d, t, "Key");
			vn = str_member(d, t, "Value");
		}
		k = bar_kit_jsv(d, kn);
		if (!*k)
			continue;
		if (starts(k, "barista:"))
			json_object_set_new_nocheck(*tags, k, jstring(d, vn));
		else if (labels && !starts(k, "acs:") && !starts(k, "aliyun"))
			json_object_set_new_nocheck(*labels, k, jstring(d, vn));
	}
}

const char *ali_vm_status(const char *native, const char *op)
{
	const char *o = op ? op : "";

	if (strcmp(native, "Running") == 0)
		return "Running";
	if (strcmp(o, "reboot") == 0 &&
	    (strcmp(native, "Stopping") == 0 || strcmp(native, "Stopped") == 0 ||
	     strcmp(native, "Starting") == 0))
		return "Rebooting";
	if (strcmp(native, "Pending") == 0)
		return "Creating";
	if (strcmp(native, "Starting") == 0)
		return strcmp(o, "run") == 0 ? "Creating" : "Resuming";
	if (strcmp(native, "Stopping") == 0)
		return "Suspending";
	if (strcmp(native, "Stopped") == 0)
		return strcmp(o, "start") == 0 ? "Resuming" : "Suspended";
	return "Undefined";
}

int ali_vm_final(const char *s)
{
	return strcmp(s, "Running") == 0 || strcmp(s, "Suspended") == 0 ||
	       strcmp(s, "Terminated") == 0 || strcmp(s, "Failed") == 0 ||
	       strcmp(s, "Undefined") == 0;
}

const char *ali_res_status(const char *native)
{
	if (strcmp(native, "Available") == 0 || strcmp(native, "Deprecated") == 0)
		return "Available";
	if (strcmp(native, "Pending") == 0 || strcmp(native, "Creating") == 0 ||
	    strcmp(native, "Waiting") == 0)
		return "Creating";
	if (strcmp(native, "Deleting") == 0)
		return "Deleting";
	return "Failed";
}

/* The first string of a list at path ("PublicIpAddress.IpAddress"), or -1. */
static int first(const bar_kit_jdoc *d, int n, const char *path)
{
	int v = bar_kit_jat(d, ali_jlist(d, n, path), 0);

	return bar_kit_jtype(d, v) == BAR_KIT_JSTRING ? v : -1;
}

/* attrs[key] = the string at path below n ("" when there is none). */
static void put(json_t *attrs, const char *key, const bar_kit_jdoc *d, int n, const char *path)
{
	json_object_set_new_nocheck(attrs, key, jstring(d, ali_jpath(d, n, path)));
}

json_t *ali_vm_attrs(const bar_kit_jdoc *d, int inst, json_t **tags)
{
	int list = ali_jlist(d, inst, "SecurityGroupIds.SecurityGroupId"), pub;
	json_t *a, *t = NULL, *labels = NULL, *sgs;

	if (tags)
		*tags = NULL;
	if (bar_kit_jtype(d, inst) != BAR_KIT_JOBJECT)
		return NULL;
	sgs = json_array();
	for (int v = bar_kit_jfirst(d, list); v >= 0; v = bar_kit_jnext(d, list, v))
		if (bar_kit_jtype(d, v) == BAR_KIT_JSTRING)
			json_array_append_new(sgs, jstring(d, v));
	ali_sort_json(sgs);
	ali_tags(d, inst, "Tags.Tag", &t, &labels);
	if (tags)
		*tags = t;
	else
		json_decref(t);
	pub = first(d, inst, "PublicIpAddress.IpAddress");
	if (pub < 0 || !*bar_kit_jsv(d, pub))
		pub = ali_jpath(d, inst, "EipAddress.IpAddress");
	a = json_object();
	put(a, "imageId", d, inst, "ImageId");
	put(a, "keyName", d, inst, "KeyPairName");
	json_object_set_new_nocheck(a, "labels", labels);
	put(a, "nativeStatus", d, inst, "Status");
	json_object_set_new_nocheck(
	    a, "privateIp", jstring(d, first(d, inst, "VpcAttributes.PrivateIpAddress.IpAddress")));
	json_object_set_new_nocheck(a, "publicIp", jstring(d, pub));
	json_object_set_new_nocheck(a, "securityGroupIds", sgs);
	put(a, "specId", d, inst, "InstanceType");
	put(a, "subnetId", d, inst, "VpcAttributes.VSwitchId");
	put(a, "vpcId", d, inst, "VpcAttributes.VpcId");
	put(a, "zone", d, inst, "ZoneId");
	return a;
}

typedef struct sorted {
	char *text;
	json_t *v;
} sorted;

static int cmp_text(const void *x, const void *y)
{
	return strcmp(((const sorted *)x)->text, ((const sorted *)y)->text);
}

void ali_sort_json(json_t *arr)
{
	size_t n = json_array_size(arr);
	sorted *s;

	if (n < 2)
		return;
	s = calloc(n, sizeof(*s));
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		s[i].v = json_incref(json_array_get(arr, i));
		s[i].text = json_dumps(s[i].v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	}
	for (size_t i = 0; i < n; i++)
		if (!s[i].text)
			goto done;
	/* values whose texts are equal are equal: order among them is moot */
	qsort(s, n, sizeof(*s), cmp_text);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append(arr, s[i].v);
done:
	for (size_t i = 0; i < n; i++) {
		free(s[i].text);
		json_decref(s[i].v);
	}
	free(s);
}

json_t *ali_vnet_attrs(const bar_kit_jdoc *d, int vpc, const ali_item *vsw, size_t nvsw)
{
	const char *id = ali_jstr(d, vpc, "VpcId");
	json_t *subs;

	if (bar_kit_jtype(d, vpc) != BAR_KIT_JOBJECT || !*id)
		return NULL;
	subs = json_array();
	for (size_t i = 0; i < nvsw; i++) {
		const bar_kit_jdoc *sd = vsw[i].d;
		int s = vsw[i].n;

		if (strcmp(ali_jstr(sd, s, "VpcId"), id) != 0)
			continue;
		json_array_append_new(subs, json_pack("{s:s,s:s,s:s,s:s}", "cidr",
		                                      ali_jstr(sd, s, "CidrBlock"), "id",
		                                      ali_jstr(sd, s, "VSwitchId"), "name",
		                                      ali_jstr(sd, s, "VSwitchName"), "zone",
		                                      ali_jstr(sd, s, "ZoneId")));
	}
	ali_sort_json(subs);
	return json_pack("{s:s,s:s,s:o}", "cidr", ali_jstr(d, vpc, "CidrBlock"), "nativeStatus",
	                 ali_jstr(d, vpc, "Status"), "subnets", subs);
}

/* "22/80" -> 22, 80; "-1/-1" -> -1, -1.  0 on success. */
static int port_range(const char *s, long *from, long *to)
{
	char *end;

	*from = strtol(s, &end, 10);
	if (end == s || *end != '/')
		return -1;
	s = end + 1;
	*to = strtol(s, &end, 10);
	return end == s || *end ? -1 : 0;
}

static json_t *rule(const char *proto, long from, long to, const char *cidr)
{
	char p[16];
	size_t i;

	for (i = 0; proto[i] && i + 1 < sizeof(p); i++)
		p[i] = (char)((proto[i] >= 'A' && proto[i] <= 'Z') ? proto[i] + 32 : proto[i]);
	p[i] = '\0';
	if (strcmp(p, "icmp") == 0 || strcmp(p, "all") == 0)
		from = to = -1;
	return json_pack("{s:s,s:I,s:s,s:I}", "cidr", cidr, "fromPort", (json_int_t)from,
	                 "protocol", p, "toPort", (json_int_t)to);
}

json_t *ali_sg_rules(const bar_kit_jdoc *d, int n)
{
	json_t *in = json_array(), *out = json_array();
	int list = ali_jlist(d, n, "Permissions.Permission");

	for (int p = bar_kit_jfirst(d, list); p >= 0; p = bar_kit_jnext(d, list, p)) {
		const char *dir = ali_jstr(d, p, "Direction"), *policy = ali_jstr(d, p, "Policy");
		int ingress = strcmp(dir, "ingress") == 0;
		const char *cidr = ali_jstr(d, p, ingress ? "SourceCidrIp" : "DestCidrIp");
		long from, to;

		if ((!ingress && strcmp(dir, "egress") != 0) || !*cidr ||
		    (*policy && strcasecmp(policy, "accept") != 0) ||
		    port_range(ali_jstr(d, p, "PortRange"), &from, &to) < 0)
			continue;
		json_array_append_new(ingress ? in : out,
		                      rule(ali_jstr(d, p, "IpProtocol"), from, to, cidr));
	}
	ali_sort_json(in);
	ali_sort_json(out);
	return json_pack("{s:o,s:o}", "egress", out, "ingress", in);
}

json_t *ali_rule_norm(json_t *r)
{
	const char *proto = json_string_value(json_object_get(r, "protocol"));
	const char *cidr = json_string_value(json_object_get(r, "cidr"));
	json_t *f = json_object_get(r, "fromPort"), *t = json_object_get(r, "toPort");

	if (!proto || !*proto)
		return NULL;
	return rule(proto, json_is_integer(f) ? (long)json_integer_value(f) : -1,
	            json_is_integer(t) ? (long)json_integer_value(t) : -1,
	            cidr && *cidr ? cidr : "0.0.0.0/0");
}

json_t *ali_key_attrs(const bar_kit_jdoc *d, int n)
{
	if (bar_kit_jtype(d, n) != BAR_KIT_JOBJECT || !*ali_jstr(d, n, "KeyPairName"))
		return NULL;
	return json_pack("{s:s}", "fingerprint", ali_jstr(d, n, "KeyPairFingerPrint"));
}

json_t *ali_image_attrs(const bar_kit_jdoc *d, int n)
{
	if (bar_kit_jtype(d, n) != BAR_KIT_JOBJECT || !*ali_jstr(d, n, "ImageId"))
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "arch", ali_jstr(d, n, "Architecture"),
	                 "description", ali_jstr(d, n, "OSNameEn"), "imageId",
	                 ali_jstr(d, n, "ImageId"), "imageName", ali_jstr(d, n, "ImageName"),
	                 "nativeStatus", ali_jstr(d, n, "Status"), "os", ali_jstr(d, n, "OSType"),
	                 "platform", ali_jstr(d, n, "Platform"));
}

/* The integer member k of object n, or 0. */
static json_int_t int_member(const bar_kit_jdoc *d, int n, const char *k)
{
	return bar_kit_jint(d, bar_kit_jget(d, n, k));
}

json_t *ali_type_attrs(const bar_kit_jdoc *d, int n)
{
	const char *arch = ali_jstr(d, n, "CpuArchitecture");
	double m = bar_kit_jreal(d, bar_kit_jget(d, n, "MemorySize"));

	if (bar_kit_jtype(d, n) != BAR_KIT_JOBJECT || !*ali_jstr(d, n, "InstanceTypeId"))
		return NULL;
	if (!(m >= 0 && m < 1e9)) /* also NaN: a converted overflow is undefined */
		m = 0;
	return json_pack("{s:s,s:s,s:I,s:I,s:s,s:I}", "arch",
	                 strcasecmp(arch, "ARM") == 0 ? "arm64" : "x86_64", "family",
	                 ali_jstr(d, n, "InstanceTypeFamily"), "gpu", int_member(d, n, "GPUAmount"),
	                 "memoryMiB", (json_int_t)(m * 1024.0 + 0.5), "specId",
	                 ali_jstr(d, n, "InstanceTypeId"), "vcpu", int_member(d, n, "CpuCoreCount"));
}
