/*
 * ali_parse.c - Alibaba Cloud answers to observations (see ali_parse.h).
 * The member names are the wire names of the SDK's response body models
 * (@alicloud/ecs20140526, @alicloud/vpc20160428), which the double checks
 * its own answers against.
 */
#include "ali_parse.h"

#include "barista_provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ali_errparse(const char *body, size_t len, long status, char *code, size_t csize,
                  char *msg, size_t msize)
{
	json_t *o = ali_parse_body(body, len);
	const char *c = ali_jstr(o, "Code"), *m = ali_jstr(o, "Message");

	(void)status;
	snprintf(code, csize, "%s", c);
	snprintf(msg, msize, "%s", m);
	/* a message is the cloud's; keep it on one line for the logs */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	json_decref(o);
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

json_t *ali_parse_body(const char *body, size_t len)
{
	json_t *o;

	if (!body)
		return NULL;
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ali_jpath(json_t *o, const char *path)
{
	char part[128];

	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(part) || !json_is_object(o))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		o = json_object_get(o, part);
		path += n + (dot ? 1 : 0);
	}
	return o;
}

const char *ali_jstr(json_t *o, const char *path)
{
	const char *s = json_string_value(ali_jpath(o, path));

	return s ? s : "";
}

json_t *ali_jlist(json_t *o, const char *path)
{
	json_t *a = ali_jpath(o, path);

	return json_is_array(a) ? a : NULL;
}

void ali_tags(json_t *item, const char *path, json_t **tags, json_t **labels)
{
	json_t *list = ali_jlist(item, path), *t;
	size_t i;

	*tags = json_object();
	if (labels)
		*labels = json_object();
	json_array_foreach(list, i, t) {
		/* ECS answers {TagKey, TagValue}, VPC {Key, Value} */
		const char *k = json_string_value(json_object_get(t, "TagKey"));
		const char *v = json_string_value(json_object_get(t, "TagValue"));

		if (!k) {
			k = json_string_value(json_object_get(t, "Key"));
			v = json_string_value(json_object_get(t, "Value"));
		}

		if (!k || !*k)
			continue;
		if (starts(k, "barista:"))
			json_object_set_new(*tags, k, json_string(v ? v : ""));
		else if (labels && !starts(k, "acs:") && !starts(k, "aliyun"))
			json_object_set_new(*labels, k, json_string(v ? v : ""));
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

/* The first string of a list at path ("PublicIpAddress.IpAddress"), or "". */
static const char *first(json_t *o, const char *path)
{
	const char *s = json_string_value(json_array_get(ali_jlist(o, path), 0));

	return s ? s : "";
}

json_t *ali_vm_attrs(json_t *inst)
{
	json_t *a, *tags = NULL, *labels = NULL, *sgs = json_array(), *v;
	const char *pub;
	size_t i;

	if (!json_is_object(inst))
		return NULL;
	json_array_foreach(ali_jlist(inst, "SecurityGroupIds.SecurityGroupId"), i, v)
		if (json_is_string(v))
			json_array_append(sgs, v);
	ali_sort_json(sgs);
	ali_tags(inst, "Tags.Tag", &tags, &labels);
	json_decref(tags);
	pub = first(inst, "PublicIpAddress.IpAddress");
	if (!*pub)
		pub = ali_jstr(inst, "EipAddress.IpAddress");
	a = json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:s}", "imageId",
	              ali_jstr(inst, "ImageId"), "keyName", ali_jstr(inst, "KeyPairName"), "labels",
	              labels, "nativeStatus", ali_jstr(inst, "Status"), "privateIp",
	              first(inst, "VpcAttributes.PrivateIpAddress.IpAddress"), "publicIp", pub,
	              "securityGroupIds", sgs, "specId", ali_jstr(inst, "InstanceType"), "subnetId",
	              ali_jstr(inst, "VpcAttributes.VSwitchId"), "vpcId",
	              ali_jstr(inst, "VpcAttributes.VpcId"), "zone", ali_jstr(inst, "ZoneId"));
	return a;
}

static int cmp_text(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

void ali_sort_json(json_t *arr)
{
	size_t n = json_array_size(arr);
	char **text;
	json_t *sorted;

	if (n < 2)
		return;
	text = calloc(n, sizeof(*text));
	if (!text)
		return;
	for (size_t i = 0; i < n; i++)
		text[i] = json_dumps(json_array_get(arr, i),
		                     JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	for (size_t i = 0; i < n; i++)
		if (!text[i])
			goto done;
	qsort(text, n, sizeof(*text), cmp_text);
	sorted = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(sorted, json_loads(text[i], JSON_DECODE_ANY, NULL));
	json_array_clear(arr);
	json_array_extend(arr, sorted);
	json_decref(sorted);
done:
	for (size_t i = 0; i < n; i++)
		free(text[i]);
	free(text);
}

json_t *ali_vnet_attrs(json_t *vpc, json_t *vswitches)
{
	const char *id = ali_jstr(vpc, "VpcId");
	json_t *subs = json_array(), *s;
	size_t i;

	if (!json_is_object(vpc) || !*id) {
		json_decref(subs);
		return NULL;
	}
	json_array_foreach(vswitches, i, s) {
		if (strcmp(ali_jstr(s, "VpcId"), id) != 0)
			continue;
		json_array_append_new(subs, json_pack("{s:s,s:s,s:s,s:s}", "cidr",
		                                      ali_jstr(s, "CidrBlock"), "id",
		                                      ali_jstr(s, "VSwitchId"), "name",
		                                      ali_jstr(s, "VSwitchName"), "zone",
		                                      ali_jstr(s, "ZoneId")));
	}
	ali_sort_json(subs);
	return json_pack("{s:s,s:s,s:o}", "cidr", ali_jstr(vpc, "CidrBlock"), "nativeStatus",
	                 ali_jstr(vpc, "Status"), "subnets", subs);
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

json_t *ali_sg_rules(json_t *attribute)
{
	json_t *in = json_array(), *out = json_array(), *p;
	size_t i;

	json_array_foreach(ali_jlist(attribute, "Permissions.Permission"), i, p) {
		const char *dir = ali_jstr(p, "Direction"), *policy = ali_jstr(p, "Policy");
		int ingress = strcmp(dir, "ingress") == 0;
		const char *cidr = ali_jstr(p, ingress ? "SourceCidrIp" : "DestCidrIp");
		long from, to;

		if ((!ingress && strcmp(dir, "egress") != 0) || !*cidr ||
		    (*policy && strcasecmp(policy, "accept") != 0) ||
		    port_range(ali_jstr(p, "PortRange"), &from, &to) < 0)
			continue;
		json_array_append_new(ingress ? in : out,
		                      rule(ali_jstr(p, "IpProtocol"), from, to, cidr));
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

json_t *ali_key_attrs(json_t *kp)
{
	if (!json_is_object(kp) || !*ali_jstr(kp, "KeyPairName"))
		return NULL;
	return json_pack("{s:s}", "fingerprint", ali_jstr(kp, "KeyPairFingerPrint"));
}

json_t *ali_image_attrs(json_t *img)
{
	if (!json_is_object(img) || !*ali_jstr(img, "ImageId"))
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "arch", ali_jstr(img, "Architecture"),
	                 "description", ali_jstr(img, "OSNameEn"), "imageId",
	                 ali_jstr(img, "ImageId"), "imageName", ali_jstr(img, "ImageName"),
	                 "nativeStatus", ali_jstr(img, "Status"), "os", ali_jstr(img, "OSType"),
	                 "platform", ali_jstr(img, "Platform"));
}

json_t *ali_type_attrs(json_t *it)
{
	json_t *cpu = json_object_get(it, "CpuCoreCount"), *mem = json_object_get(it, "MemorySize");
	json_t *gpu = json_object_get(it, "GPUAmount");
	const char *arch = ali_jstr(it, "CpuArchitecture");
	double m = json_number_value(mem);

	if (!json_is_object(it) || !*ali_jstr(it, "InstanceTypeId"))
		return NULL;
	if (!(m >= 0 && m < 1e9)) /* also NaN: a converted overflow is undefined */
		m = 0;
	return json_pack("{s:s,s:s,s:I,s:I,s:s,s:I}", "arch",
	                 strcasecmp(arch, "ARM") == 0 ? "arm64" : "x86_64", "family",
	                 ali_jstr(it, "InstanceTypeFamily"), "gpu",
	                 (json_int_t)(json_is_integer(gpu) ? json_integer_value(gpu) : 0),
	                 "memoryMiB", (json_int_t)(m * 1024.0 + 0.5), "specId",
	                 ali_jstr(it, "InstanceTypeId"), "vcpu",
	                 (json_int_t)(json_is_integer(cpu) ? json_integer_value(cpu) : 0));
}
