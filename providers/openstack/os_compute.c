/*
 * os_compute.c - the Nova and Glance resources: sshkey (a Nova key pair),
 * image (a Glance image, looked up), spec (a Nova flavor, looked up) and vm
 * (a Nova server) with its actions.
 *
 * Nova speaks microversion 2.1 here (no OpenStack-API-Version header): every
 * request body is one the 2.1 schemas accept, and 2.1 is what every cloud
 * since Liberty serves.  A server's tags are its metadata ("barista:*" keys;
 * labels are "label:<key>"); a key pair's tags are the comment of its
 * public key (key pairs have no metadata), and its name is the resource's
 * name with the first 8 characters of the idempotency key, so a new
 * generation gets a name of its own and a retry finds the same one.
 */
#include "os.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOVA_PAGE 1000 /* nova.conf [api]max_limit's default */

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *idem_key(os_ctx *x, const json_t *in)
{
	const char *k = x->call->idempotency_key;

	return k && *k ? k : jstr(os_in_tags(in), "barista:idempotency");
}

/* "/<prefix>" + urlencoded(id) into out, or -1 when it does not fit. */
static int path_of(char *out, size_t size, const char *prefix, const char *id,
                   const char *suffix)
{
	bar_kit_buf b = {0};
	int rc = 0;

	bar_kit_buf_str(&b, prefix);
	bar_kit_buf_urlencode(&b, id ? id : "", 0);
	bar_kit_buf_str(&b, suffix ? suffix : "");
	if (b.failed || b.len >= size)
		rc = -1;
	else
		memcpy(out, b.p, b.len + 1);
	bar_kit_buf_free(&b);
	return rc;
}

#define PATH(buf, x, prefix, id, suffix)                                                     \
	if (path_of(buf, sizeof(buf), prefix, id, suffix) < 0)                                   \
		return bar_kit_fail(&(x)->e, BAR_EINVALID, "InvalidId", "openstack: id too long");

/* ---- sshkey ---- */

static void key_name(char *out, size_t size, const char *name, const char *key)
{
	char k8[9] = "";
	size_t j = 0;

	for (size_t i = 0; key && key[i] && j < 8; i++)
		if (strchr("0123456789abcdefABCDEF", key[i]))
			k8[j++] = key[i];
	k8[j] = '\0';
	snprintf(out, size, "%s%s%s", name, *k8 ? "-" : "", k8);
}

/* The key type and blob of a public key line ("ssh-ed25519 AAAA...") */
static char *key_base(const char *pk)
{
	const char *p = pk + strspn(pk, " \t");
	size_t a = strcspn(p, " \t"), sp = strspn(p + a, " \t"), b = strcspn(p + a + sp, " \t\r\n");
	char *out = malloc(a + sp + b + 2);

	if (!out)
		return NULL;
	memcpy(out, p, a);
	out[a] = ' ';
	memcpy(out + a + 1, p + a + sp, b);
	out[a + 1 + b] = '\0';
	return out;
}

static int key_emit(os_ctx *x, bar_sink *out, const json_t *kp, const char *name)
{
	const char *pk = jstr(kp, "public_key"), *kn = jstr(kp, "name");
	char *base = key_base(pk ? pk : "");
	json_t *tags = os_pubkey_tags(pk ? pk : "");
	json_t *attrs = json_pack("{s:s,s:s,s:s}", "fingerprint",
	                          jstr(kp, "fingerprint") ? jstr(kp, "fingerprint") : "",
	                          "keyName", kn ? kn : "", "publicKey", base ? base : "");
	char derived[256];
	int rc;

	if (!name) { /* a listed key: its name is the key pair's without the key's part */
		const char *addr = jstr(tags, "barista:address"), *slash;

		slash = addr ? strrchr(addr, '/') : NULL;
		snprintf(derived, sizeof(derived), "%s", slash ? slash + 1 : kn ? kn : "");
		name = derived;
	}
	rc = os_emit(x, out, kn ? kn : "", name, "Available", attrs, tags);
	free(base);
	json_decref(tags);
	json_decref(attrs);
	return rc;
}

static int key_get(os_ctx *x, const char *id, json_t **out)
{
	char path[600];

	*out = NULL;
	PATH(path, x, "/os-keypairs/", id, NULL);
	return os_req(x, "GET", OS_COMPUTE, path, NULL, "compute.keypairs.show", id, out, NULL);
}

int os_key_read(os_ctx *x, const char *id, const char *name, bar_sink *out)
{
	json_t *j = NULL;
	int rc = key_get(x, id, &j);

	if (rc == BAR_OK)
		rc = key_emit(x, out, json_object_get(j, "keypair"), name);
	json_decref(j);
	return rc;
}

/* The comment that carries the tags: "k=v,k=v" (os_tag_encode). */
static int tags_comment(os_ctx *x, const json_t *tags, bar_kit_buf *b)
{
	const char *k;
	json_t *v;
	char t[1100];
	int first = 1;

	json_object_foreach((json_t *)tags, k, v) {
		if (!json_is_string(v))
			continue;
		if (os_tag_encode(t, sizeof(t), k, json_string_value(v)) < 0)
			return bar_kit_fail(&x->e, BAR_EINVALID, "TagTooLong", "openstack: tag %s is "
			                    "too long", k);
		bar_kit_buf_printf(b, "%s%s", first ? " " : ",", t);
		first = 0;
	}
	return BAR_OK;
}

int os_key_create(os_ctx *x, json_t *in, bar_sink *out)
{
	const char *name = jstr(in, "name");
	const char *given = jstr(json_object_get(in, "attrs"), "publicKey");
	char kn[300], *pub = NULL, *priv = NULL, *base = NULL;
	bar_kit_buf pk = {0};
	json_t *j = NULL, *body = NULL;
	int rc;

	key_name(kn, sizeof(kn), name, idem_key(x, in));
	rc = key_get(x, kn, &j);
	if (rc == BAR_OK) { /* made by this key before: the same one */
		rc = key_emit(x, out, json_object_get(j, "keypair"), name);
		goto done;
	}
	if (rc != BAR_ENOTFOUND)
		goto done;
	x->e = (bar_kit_err){0};
	if (given && *given) {
		base = key_base(given);
	} else {
		if (os_keygen(&pub, &priv) < 0) {
			rc = bar_kit_fail(&x->e, BAR_EFAIL, "KeyGeneration", "openstack: could not make "
			                  "an Ed25519 key pair");
			goto done;
		}
		/* hand the private half over before anything exists: a refusal
		 * leaves nothing behind */
		if (x->host->emit_secret(out, "privateKey", priv) != 0) {
			rc = bar_kit_fail(&x->e, BAR_EFAIL, "SecretRefused", "openstack: the host could "
			                  "not store the private key of %s", name);
			goto done;
		}
		base = strdup(pub);
	}
	if (!base || !*base || !strchr(base, ' ')) {
		rc = bar_kit_fail(&x->e, BAR_EINVALID, "InvalidPublicKey", "openstack: publicKey is "
		                  "not an OpenSSH public key line");
		goto done;
	}
	bar_kit_buf_str(&pk, base);
	if ((rc = tags_comment(x, os_in_tags(in), &pk)))
		goto done;
	if (pk.failed) {
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory");
		goto done;
	}
	body = json_pack("{s:{s:s,s:s}}", "keypair", "name", kn, "public_key", pk.p);
	json_decref(j);
	j = NULL;
	if ((rc = os_req(x, "POST", OS_COMPUTE, "/os-keypairs", body, "compute.keypairs.create",
	                 kn, &j, NULL)))
		goto done;
	rc = key_emit(x, out, json_object_get(j, "keypair"), name);
done:
	if (priv) {
		bar_kit_wipe(priv, strlen(priv));
		free(priv);
	}
	free(pub);
	free(base);
	bar_kit_buf_free(&pk);
	json_decref(body);
	json_decref(j);
	return rc;
}

int os_key_delete(os_ctx *x, const char *id)
{
	char path[600];

	PATH(path, x, "/os-keypairs/", id, NULL);
	return os_req(x, "DELETE", OS_COMPUTE, path, NULL, "compute.keypairs.delete", id, NULL,
	              NULL);
}

int os_key_list(os_ctx *x, bar_sink *out)
{
	json_t *j = NULL, *k;
	size_t i;
	/* 2.1 lists every key pair of the user at once (paging came in 2.35) */
	int rc = os_req(x, "GET", OS_COMPUTE, "/os-keypairs", NULL, "compute.keypairs.index", NULL,
	                &j, NULL);

	json_array_foreach(json_object_get(j, "keypairs"), i, k) {
		json_t *kp = json_object_get(k, "keypair"), *tags;
		int ours;

		if (rc)
			break;
		tags = os_pubkey_tags(jstr(kp, "public_key") ? jstr(kp, "public_key") : "");
		ours = json_object_get(tags, "barista:address") != NULL;
		json_decref(tags);
		if (ours)
			rc = key_emit(x, out, kp, NULL);
	}
	json_decref(j);
	return rc;
}

/* ---- image ---- */

static int image_emit(os_ctx *x, bar_sink *out, const json_t *img, const json_t *in)
{
	const char *st = jstr(img, "status");
	json_t *attrs = json_pack("{s:s,s:s,s:s,s:s}", "imageId", jstr(img, "id"), "name",
	                          jstr(img, "name") ? jstr(img, "name") : "", "nativeStatus",
	                          st ? st : "", "os",
	                          jstr(img, "os_distro") ? jstr(img, "os_distro") : "");
	int rc;

	rc = os_emit(x, out, jstr(img, "id"), jstr(in, "name"),
	             !st || strcmp(st, "active") == 0 ? "Available"
	             : strcmp(st, "queued") == 0 || strcmp(st, "saving") == 0 ||
	                       strcmp(st, "importing") == 0 ? "Creating" : "Failed",
	             attrs, os_in_tags(in));
	json_decref(attrs);
	return rc;
}

static int image_by_id(os_ctx *x, const char *id, json_t **out)
{
	char path[600];

	*out = NULL;
	if (!os_is_uuid(id))
		return bar_kit_fail(&x->e, BAR_ENOTFOUND, "ImageNotFound",
		                    "image.images.show: no image %s", id);
	PATH(path, x, "/images/", id, NULL);
	return os_req(x, "GET", OS_IMAGE, path, NULL, "image.images.show", id, out, NULL);
}

int os_image_create(os_ctx *x, json_t *in, bar_sink *out)
{
	const char *want = jstr(json_object_get(in, "attrs"), "imageId");
	json_t *img = NULL, *j = NULL, *i2;
	char path[600];
	size_t i;
	int rc;

	if (!want || !*want)
		return bar_kit_fail(&x->e, BAR_EINVALID, "InvalidInput", "openstack: an image needs "
		                    "an imageId (a Glance image id or name)");
	if (os_is_uuid(want)) {
		rc = image_by_id(x, want, &img);
		if (rc == BAR_OK)
			goto found;
		if (rc != BAR_ENOTFOUND)
			return rc;
		x->e = (bar_kit_err){0};
	}
	PATH(path, x, "/images?limit=25&name=", want, NULL);
	if ((rc = os_req(x, "GET", OS_IMAGE, path, NULL, "image.images.index", NULL, &j, NULL)))
		return rc;
	json_array_foreach(json_object_get(j, "images"), i, i2) {
		if (!img && jstr(i2, "id") && jstr(i2, "status") &&
		    strcmp(jstr(i2, "status"), "active") == 0)
			img = json_pack("{s:O}", "image", i2);
	}
	json_decref(j);
	if (!img)
		return bar_kit_fail(&x->e, BAR_EINVALID, "ImageNotFound", "image.images.index: no "
		                    "active image named %s in region %s", want, x->call->region);
	j = json_incref(json_object_get(img, "image"));
	json_decref(img);
	img = j;
found:
	rc = image_emit(x, out, img, in);
	json_decref(img);
	return rc;
}

int os_image_read(os_ctx *x, json_t *in, bar_sink *out)
{
	json_t *img = NULL;
	int rc = image_by_id(x, jstr(in, "system_id"), &img);

	if (rc == BAR_OK)
		rc = image_emit(x, out, img, in);
	json_decref(img);
	return rc;
}

/* ---- spec ---- */

int os_flavors(os_ctx *x, json_t **out)
{
	json_t *j = NULL;
	/* flavors/detail in 2.1 answers every flavor unless asked for a page */
	int rc = os_req(x, "GET", OS_COMPUTE, "/flavors/detail", NULL, "compute.flavors.detail",
	                NULL, &j, NULL);

	*out = rc == BAR_OK ? json_incref(json_object_get(j, "flavors")) : NULL;
	if (rc == BAR_OK && !*out)
		*out = json_array();
	json_decref(j);
	return rc;
}

static int spec_emit(os_ctx *x, bar_sink *out, const json_t *f, const json_t *in)
{
	json_t *attrs = json_pack("{s:I,s:I,s:s,s:s,s:I}", "diskGiB",
	                          json_integer_value(json_object_get(f, "disk")), "memoryMiB",
	                          json_integer_value(json_object_get(f, "ram")), "name",
	                          jstr(f, "name") ? jstr(f, "name") : "", "specId", jstr(f, "id"),
	                          "vcpu", json_integer_value(json_object_get(f, "vcpus")));
	int rc = os_emit(x, out, jstr(f, "id"), jstr(in, "name"), "Available", attrs,
	                 os_in_tags(in));

	json_decref(attrs);
	return rc;
}

static int flavor_get(os_ctx *x, const char *id, json_t **out)
{
	char path[600];

	*out = NULL;
	PATH(path, x, "/flavors/", id, NULL);
	return os_req(x, "GET", OS_COMPUTE, path, NULL, "compute.flavors.show", id, out, NULL);
}

int os_spec_create(os_ctx *x, json_t *in, bar_sink *out)
{
	const json_t *a = json_object_get(in, "attrs");
	const char *want = jstr(a, "specId");
	json_int_t vcpu = json_integer_value(json_object_get(a, "vcpu"));
	json_int_t mem = json_integer_value(json_object_get(a, "memoryMiB"));
	json_int_t disk = json_integer_value(json_object_get(a, "diskGiB"));
	json_t *fl = NULL, *f, *best = NULL, *j = NULL;
	size_t i;
	int rc;

	if (want && *want) {
		rc = flavor_get(x, want, &j);
		if (rc == BAR_OK) {
			rc = spec_emit(x, out, json_object_get(j, "flavor"), in);
			json_decref(j);
			return rc;
		}
		if (rc != BAR_ENOTFOUND)
			return rc;
		x->e = (bar_kit_err){0}; /* not an id: a name */
	}
	if ((rc = os_flavors(x, &fl)))
		return rc;
	json_array_foreach(fl, i, f) {
		json_int_t fv = json_integer_value(json_object_get(f, "vcpus"));
		json_int_t fm = json_integer_value(json_object_get(f, "ram"));
		json_int_t fd = json_integer_value(json_object_get(f, "disk"));

		if (want && *want) {
			if (jstr(f, "name") && strcmp(jstr(f, "name"), want) == 0)
				best = f;
			continue;
		}
		/* the smallest flavor with enough of each (a disk of 0: the image's size) */
		if (fv < vcpu || fm < mem || (fd && fd < disk))
			continue;
		if (!best || fv < json_integer_value(json_object_get(best, "vcpus")) ||
		    (fv == json_integer_value(json_object_get(best, "vcpus")) &&
		     fm < json_integer_value(json_object_get(best, "ram"))))
			best = f;
	}
	if (best)
		rc = spec_emit(x, out, best, in);
	else
		rc = bar_kit_fail(&x->e, BAR_EINVALID, "FlavorNotFound", "openstack: no flavor %s%s"
		                  " in region %s", want && *want ? want : "with at least the spec's "
		                  "vcpu, memoryMiB and diskGiB", "", x->call->region);
	json_decref(fl);
	return rc;
}

int os_spec_read(os_ctx *x, json_t *in, bar_sink *out)
{
	json_t *j = NULL;
	int rc = flavor_get(x, jstr(in, "system_id"), &j);

	if (rc == BAR_OK)
		rc = spec_emit(x, out, json_object_get(j, "flavor"), in);
	json_decref(j);
	return rc;
}

/* ---- vm ---- */

static int transitional(const char *s)
{
	return strcmp(s, "Creating") == 0 || strcmp(s, "Suspending") == 0 ||
	       strcmp(s, "Resuming") == 0 || strcmp(s, "Rebooting") == 0 ||
	       strcmp(s, "Terminating") == 0;
}

/* Emit the server at node n of d; with `op` a transitional status starts
 * (or continues) an operation: the token and the next poll's time. */
static int vm_emit(os_ctx *x, bar_sink *out, const bar_kit_jdoc *d, int n, const char *op)
{
	os_server_obs o;
	bar_observed ob;
	int rc = BAR_OK;

	if (os_server_observe_doc(&o, d, n) < 0)
		return bar_kit_fail(&x->e, BAR_EFAIL, "BadResponse", "compute.servers.show: the "
		                    "answer is not a server");
	if (strcmp(o.status, "Terminated") == 0) {
		os_server_obs_clear(&o);
		return bar_kit_fail(&x->e, BAR_ENOTFOUND, "itemNotFound", "server %s is deleted",
		                    o.id);
	}
	if (transitional(o.status)) {
		char token[200];

		snprintf(token, sizeof(token), "nova-server:%s:%s", op ? op : "wait", o.id);
		x->call->retry_after_ms = OS_POLL_MS;
		if (op)
			x->host->set_operation(x->call, token);
	}
	ob = (bar_observed){sizeof(ob), o.id, o.name, o.status, o.attrs, o.tags};
	if (x->host->emit(out, &ob) != 0)
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "EmitRefused", "openstack: the host refused "
		                  "the observation of %s", o.id);
	os_server_obs_clear(&o);
	return rc;
}

/* GET /servers/<id>: the answer ({"server": {...}}) as a document. */
static int vm_get(os_ctx *x, const char *id, bar_kit_jdoc **out)
{
	char path[600];

	*out = NULL;
	PATH(path, x, "/servers/", id, NULL);
	return os_req_doc(x, "GET", OS_COMPUTE, path, NULL, "compute.servers.show", id, out,
	                  NULL);
}

/* GET the server and emit it (vm_emit). */
static int vm_show(os_ctx *x, bar_sink *out, const char *id, const char *op)
{
	bar_kit_jdoc *d = NULL;
	int rc = vm_get(x, id, &d);

	if (rc == BAR_OK)
		rc = vm_emit(x, out, d, os_server_node(d, 0), op);
	bar_kit_jfree(d);
	return rc;
}

int os_vm_read(os_ctx *x, const char *id, bar_sink *out, int poll)
{
	return vm_show(x, out, id, poll ? "poll" : NULL);
}

/* A server this idempotency key made, found by name: *server its node in
 * *page (free the page in every case), or -1. */
static int vm_find(os_ctx *x, const char *name, const char *key, bar_kit_jdoc **page,
                   int *server)
{
	bar_kit_buf q = {0}, rx = {0};
	int rc, list;

	*page = NULL;
	*server = -1;
	bar_kit_buf_str(&rx, "^");
	for (const char *c = name; *c; c++) /* Nova's name filter is a regular expression */
		bar_kit_buf_printf(&rx, "%s%c", strchr(".^$*+?()[]{}|\\", *c) ? "\\" : "", *c);
	bar_kit_buf_str(&rx, "$");
	bar_kit_buf_str(&q, "/servers/detail?name=");
	bar_kit_buf_urlencode(&q, rx.p ? rx.p : "", 0);
	if (q.failed || rx.failed) {
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory");
		goto done;
	}
	if ((rc = os_req_doc(x, "GET", OS_COMPUTE, q.p, NULL, "compute.servers.detail", NULL,
	                     page, NULL)))
		goto done;
	list = bar_kit_jget(*page, 0, "servers");
	for (int s = os_jelems(*page, list); s >= 0 && *server < 0;
	     s = bar_kit_jnext(*page, list, s)) {
		const char *k = os_jstr(*page, bar_kit_jget(*page, s, "metadata"),
		                        "barista:idempotency");

		if (k && strcmp(k, key) == 0)
			*server = s;
	}
done:
	bar_kit_buf_free(&q);
	bar_kit_buf_free(&rx);
	return rc;
}

static const char *ref_id(const json_t *in, const char *role)
{
	return jstr(json_object_get(json_object_get(in, "refs"), role), "system_id");
}

/* The server's metadata: the tags and the labels ("label:<key>"). */
static json_t *vm_metadata(const json_t *in)
{
	json_t *md = json_object(), *v;
	const char *k;
	char key[300];

	json_object_foreach((json_t *)os_in_tags(in), k, v)
		if (json_is_string(v))
			json_object_set(md, k, v);
	json_object_foreach(json_object_get(json_object_get(in, "attrs"), "labels"), k, v) {
		snprintf(key, sizeof(key), "label:%s", k);
		if (json_is_string(v))
			json_object_set(md, key, v);
	}
	return md;
}

/* The id of the VNet's subnet the VM asks for (attrs.subnet), or its first. */
static const char *vm_subnet(const json_t *in)
{
	const json_t *subs = json_object_get(
	    json_object_get(json_object_get(json_object_get(in, "refs"), "vnet"), "attrs"),
	    "subnets");
	const char *want = jstr(json_object_get(in, "attrs"), "subnet");
	json_t *s;
	size_t i;

	json_array_foreach(subs, i, s)
		if (want && jstr(s, "name") && strcmp(jstr(s, "name"), want) == 0)
			return jstr(s, "id");
	return jstr(json_array_get(subs, 0), "id");
}

/*
 * The VM's port in its subnet with its security groups (found by the
 * idempotency description, or made and tagged) and, when the VNet has a
 * router to an external network, a floating IP on it.  *port: the port id.
 */
static int vm_port(os_ctx *x, const json_t *in, const char *desc, char *port, size_t size)
{
	const char *net = ref_id(in, "vnet"), *sub = vm_subnet(in);
	const char *router = jstr(json_object_get(json_object_get(json_object_get(in, "refs"),
	                                                          "vnet"), "attrs"), "routerId");
	json_t *p = NULL, *body, *ans = NULL, *sgs = json_array(), *g, *fip = NULL;
	char ext[64];
	size_t i;
	int rc;

	if ((rc = os_net_find(x, "ports", "ports", "description", desc, "network.ports.list", &p)))
		goto done;
	if (!p) {
		json_array_foreach(json_object_get(json_object_get(in, "refs"), "securityGroups"), i,
		                   g)
			if (jstr(g, "system_id"))
				json_array_append_new(sgs, json_string(jstr(g, "system_id")));
		body = json_pack("{s:{s:s,s:s,s:s,s:O}}", "port", "network_id", net, "name",
		                 jstr(in, "name"), "description", desc, "security_groups", sgs);
		if (sub)
			json_object_set_new(json_object_get(body, "port"), "fixed_ips",
			                    json_pack("[{s:s}]", "subnet_id", sub));
		rc = os_req(x, "POST", OS_NETWORK, "/ports", body, "network.ports.create", net, &ans,
		            NULL);
		json_decref(body);
		if (rc)
			goto done;
		p = json_incref(json_object_get(ans, "port"));
	}
	if (!jstr(p, "id") || strlen(jstr(p, "id")) >= size) {
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "BadResponse", "network.ports.create: no id");
		goto done;
	}
	snprintf(port, size, "%s", jstr(p, "id"));
	if ((rc = os_net_tags(x, "ports", port, os_in_tags(in), "network.ports.tags.update_all")))
		goto done;
	if (!router || !*router) /* no way out of the VNet: no public address */
		goto done;
	if ((rc = os_net_external(x, ext, sizeof(ext))) || !*ext)
		goto done;
	if ((rc = os_net_find(x, "floatingips", "floatingips", "port_id", port,
	                      "network.floatingips.list", &fip)) || fip)
		goto done;
	body = json_pack("{s:{s:s,s:s,s:s}}", "floatingip", "floating_network_id", ext, "port_id",
	                 port, "description", desc);
	json_decref(ans);
	ans = NULL;
	rc = os_req(x, "POST", OS_NETWORK, "/floatingips", body, "network.floatingips.create",
	            port, &ans, NULL);
	json_decref(body);
	if (rc == BAR_OK && jstr(json_object_get(ans, "floatingip"), "id"))
		rc = os_net_tags(x, "floatingips", jstr(json_object_get(ans, "floatingip"), "id"),
		                 os_in_tags(in), "network.floatingips.tags.update_all");
done:
	json_decref(p);
	json_decref(ans);
	json_decref(sgs);
	json_decref(fip);
	return rc;
}

/* Delete the floating IPs and the ports the driver made for a VM: those
 * bound to the server, and those its idempotency description names. */
static int vm_unport(os_ctx *x, const char *server, const char *desc)
{
	json_t *ports = NULL, *more = NULL, *p;
	char q[160], path[160];
	size_t i;
	int rc;

	/* never "device_id=" alone: that is every unbound port of the project */
	snprintf(q, sizeof(q), "device_id=%s", server ? server : "");
	if (server && *server) {
		if ((rc = os_net_list(x, "ports", "ports", q, "network.ports.list", &ports)))
			return rc;
	} else {
		ports = json_array();
	}
	if (desc && *desc && (rc = os_net_find(x, "ports", "ports", "description", desc,
	                                       "network.ports.list", &more)) == BAR_OK && more) {
		int dup = 0;

		json_array_foreach(ports, i, p)
			dup |= jstr(p, "id") && jstr(more, "id") && strcmp(jstr(p, "id"), jstr(more, "id")) == 0;
		if (!dup)
			json_array_append(ports, more);
	}
	json_array_foreach(ports, i, p) {
		const char *d = jstr(p, "description"), *id = jstr(p, "id");
		json_t *fips = NULL, *f;
		size_t k;

		if (rc || !id || !d || strncmp(d, "barista:idempotency=", 20) != 0 ||
		    (!(server && *server) && strcmp(d, desc ? desc : "") != 0))
			continue; /* a port Nova made: Nova deletes it */
		snprintf(q, sizeof(q), "port_id=%s", id);
		if ((rc = os_net_list(x, "floatingips", "floatingips", q, "network.floatingips.list",
		                      &fips)))
			break;
		json_array_foreach(fips, k, f) {
			snprintf(path, sizeof(path), "/floatingips/%s", jstr(f, "id") ? jstr(f, "id") : "");
			if (!rc)
				rc = os_req(x, "DELETE", OS_NETWORK, path, NULL, "network.floatingips.delete",
				            jstr(f, "id"), NULL, NULL);
			if (rc == BAR_ENOTFOUND)
				x->e = (bar_kit_err){0}, rc = BAR_OK;
		}
		json_decref(fips);
		snprintf(path, sizeof(path), "/ports/%s", id);
		if (!rc)
			rc = os_req(x, "DELETE", OS_NETWORK, path, NULL, "network.ports.delete", id, NULL,
			            NULL);
		if (rc == BAR_ENOTFOUND)
			x->e = (bar_kit_err){0}, rc = BAR_OK;
	}
	json_decref(ports);
	json_decref(more);
	return rc;
}

int os_vm_create(os_ctx *x, json_t *in, bar_sink *out)
{
	const char *name = jstr(in, "name"), *key = idem_key(x, in);
	const char *image = ref_id(in, "image"), *flavor = ref_id(in, "spec");
	const char *net = ref_id(in, "vnet"), *kp = ref_id(in, "sshKey");
	json_t *sv, *body = NULL, *ans = NULL, *sgs, *g;
	char desc[160], port[64] = "";
	size_t i;
	int rc;

	if (!image || !flavor)
		return bar_kit_fail(&x->e, BAR_EINVALID, "InvalidInput", "openstack: a vm needs its "
		                    "image and spec (refs.image, refs.spec)");
	snprintf(desc, sizeof(desc), "barista:idempotency=%s", key ? key : "");
	if (key && *key) {
		bar_kit_jdoc *page = NULL;
		int found = -1;

		rc = vm_find(x, name, key, &page, &found);
		if (rc == BAR_OK && found >= 0)
			rc = vm_emit(x, out, page, found, "create");
		bar_kit_jfree(page);
		if (rc != BAR_OK || found >= 0)
			return rc;
	}
	/* the port first: it puts the VM in its subnet and carries the groups
	 * and the floating IP (with a key only: the port is found by it) */
	if (net && key && *key && (rc = vm_port(x, in, desc, port, sizeof(port))))
		goto undo;
	sv = json_pack("{s:s,s:s,s:s,s:o}", "name", name, "imageRef", image, "flavorRef", flavor,
	               "metadata", vm_metadata(in));
	if (*port)
		json_object_set_new(sv, "networks", json_pack("[{s:s}]", "port", port));
	else if (net)
		json_object_set_new(sv, "networks", json_pack("[{s:s}]", "uuid", net));
	if (kp)
		json_object_set_new(sv, "key_name", json_string(kp));
	if (x->call->zone && *x->call->zone)
		json_object_set_new(sv, "availability_zone", json_string(x->call->zone));
	sgs = json_array();
	json_array_foreach(json_object_get(json_object_get(in, "refs"), "securityGroups"), i, g)
		if (jstr(g, "system_id"))
			json_array_append_new(sgs, json_pack("{s:s}", "name", jstr(g, "system_id")));
	if (json_array_size(sgs) && !*port) /* a port carries its own groups */
		json_object_set(sv, "security_groups", sgs);
	json_decref(sgs);
	body = json_pack("{s:o}", "server", sv);
	rc = os_req(x, "POST", OS_COMPUTE, "/servers", body, "compute.servers.create", NULL, &ans,
	            NULL);
	json_decref(body);
	if (rc == BAR_OK) {
		const char *id = jstr(json_object_get(ans, "server"), "id");

		if (!id)
			rc = bar_kit_fail(&x->e, BAR_EFAIL, "BadResponse", "compute.servers.create: no "
			                  "server id");
		else
			rc = vm_show(x, out, id, "create");
		json_decref(ans);
		return rc;
	}
undo:
	json_decref(ans);
	/* nothing was made unless the host will retry with the same key (then
	 * the next attempt adopts the port): undo the port otherwise */
	if (*port && rc != BAR_ERETRY && rc != BAR_ETIMEOUT && rc != BAR_ECANCELED) {
		bar_kit_err keep = x->e;

		x->e = (bar_kit_err){0};
		vm_unport(x, NULL, desc);
		x->e = keep;
	}
	return rc;
}

static int vm_post_action(os_ctx *x, const char *id, const char *op, const json_t *body)
{
	char path[600];

	PATH(path, x, "/servers/", id, "/action");
	return os_req(x, "POST", OS_COMPUTE, path, body, op, id, NULL, NULL);
}

int os_vm_action(os_ctx *x, const char *action, json_t *in, bar_sink *out)
{
	const char *id = jstr(in, "system_id");
	json_t *body;
	const char *op;
	int rc;

	if (strcmp(action, "suspend") == 0) {
		body = json_pack("{s:n}", "os-stop");
		op = "compute.servers.action.os-stop";
	} else if (strcmp(action, "resume") == 0) {
		body = json_pack("{s:n}", "os-start");
		op = "compute.servers.action.os-start";
	} else if (strcmp(action, "reboot") == 0) {
		body = json_pack("{s:{s:s}}", "reboot", "type", "SOFT");
		op = "compute.servers.action.reboot";
	} else {
		return bar_kit_fail(&x->e, BAR_ENOTSUP, "UnsupportedAction",
		                    "openstack: no VM action \"%s\" (suspend, resume, reboot)", action);
	}
	rc = vm_post_action(x, id, op, body);
	json_decref(body);
	if (rc == BAR_OK)
		rc = vm_show(x, out, id, action);
	return rc;
}

int os_vm_update(os_ctx *x, json_t *in, bar_sink *out)
{
	const char *id = jstr(in, "system_id"), *k;
	const json_t *attrs = json_object_get(in, "attrs");
	const json_t *labels = json_object_get(attrs, "labels");
	const char *state = jstr(attrs, "state");
	bar_kit_jdoc *s = NULL;
	json_t *md = NULL, *v, *add = json_object(), *body;
	char path[900], mk[300];
	int rc, have;

	if ((rc = vm_get(x, id, &s)))
		goto done;
	/* the metadata as jansson: it is compared with the input's labels */
	have = bar_kit_jget(s, bar_kit_jget(s, 0, "server"), "metadata");
	md = bar_kit_jjson(s, have);
	bar_kit_jfree(s);
	if (have >= 0 && !md) {
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory");
		goto done;
	}
	json_object_foreach(md, k, v) { /* labels no longer wanted */
		if (strncmp(k, "label:", 6) != 0 || json_object_get(labels, k + 6))
			continue;
		if (path_of(path, sizeof(path), "/servers/", id, "/metadata/") < 0) {
			rc = bar_kit_fail(&x->e, BAR_EINVALID, "InvalidId", "openstack: id too long");
			goto done;
		}
		{
			bar_kit_buf b = {0};

			bar_kit_buf_str(&b, path);
			bar_kit_buf_urlencode(&b, k, 0);
			rc = b.failed ? BAR_EFAIL
			              : os_req(x, "DELETE", OS_COMPUTE, b.p, NULL,
			                       "compute.server_metadata.delete", id, NULL, NULL);
			bar_kit_buf_free(&b);
		}
		if (rc == BAR_ENOTFOUND)
			x->e = (bar_kit_err){0}, rc = BAR_OK;
		if (rc)
			goto done;
	}
	json_object_foreach((json_t *)labels, k, v) {
		snprintf(mk, sizeof(mk), "label:%s", k);
		if (json_is_string(v) && !json_equal(json_object_get(md, mk), v))
			json_object_set(add, mk, v);
	}
	if (json_object_size(add)) {
		if (path_of(path, sizeof(path), "/servers/", id, "/metadata") < 0) {
			rc = bar_kit_fail(&x->e, BAR_EINVALID, "InvalidId", "openstack: id too long");
			goto done;
		}
		body = json_pack("{s:O}", "metadata", add);
		rc = os_req(x, "POST", OS_COMPUTE, path, body, "compute.server_metadata.create", id,
		            NULL, NULL);
		json_decref(body);
		if (rc)
			goto done;
	}
	if (state) {
		bar_kit_jdoc *cur = NULL;
		os_server_obs o;

		if ((rc = vm_get(x, id, &cur)))
			goto done;
		if (os_server_observe_doc(&o, cur, os_server_node(cur, 0)) == 0) {
			const char *act = strcmp(state, "Suspended") == 0 &&
			                          strcmp(o.status, "Running") == 0 ? "suspend"
			                  : strcmp(state, "Running") == 0 &&
			                          strcmp(o.status, "Suspended") == 0 ? "resume" : NULL;

			os_server_obs_clear(&o);
			bar_kit_jfree(cur);
			if (act) {
				rc = os_vm_action(x, act, in, out);
				goto done;
			}
		} else {
			bar_kit_jfree(cur);
		}
	}
	rc = vm_show(x, out, id, "update");
done:
	json_decref(md);
	json_decref(add);
	return rc;
}

int os_vm_delete(os_ctx *x, json_t *in)
{
	const char *id = jstr(in, "system_id"), *key = idem_key(x, in);
	char path[600], token[200], desc[160];
	int rc;

	snprintf(desc, sizeof(desc), "barista:idempotency=%s", key ? key : "");
	PATH(path, x, "/servers/", id, NULL);
	/* the port and floating IP the driver made first (Nova keeps a port it
	 * did not make); Nova detaches a deleted port from a running server */
	if ((rc = vm_unport(x, id, key && *key ? desc : NULL)))
		return rc;
	rc = os_req(x, "DELETE", OS_COMPUTE, path, NULL, "compute.servers.delete", id, NULL, NULL);
	if (rc == BAR_OK) {
		/* Nova deletes in the background: the host polls until it is gone */
		snprintf(token, sizeof(token), "nova-server:delete:%s", id);
		x->host->set_operation(x->call, token);
		x->call->retry_after_ms = OS_POLL_MS;
	}
	return rc;
}

int os_vm_list(os_ctx *x, bar_sink *out)
{
	char marker[64] = "", path[160];
	int rc = BAR_OK;

	for (int pages = 0; rc == BAR_OK && pages < 100000; pages++) {
		bar_kit_jdoc *d = NULL;
		int list, links, s, l, last = -1, next = 0;
		const char *id;

		snprintf(path, sizeof(path), "/servers/detail?limit=%d%s%s", NOVA_PAGE,
		         *marker ? "&marker=" : "", marker);
		if ((rc = os_req_doc(x, "GET", OS_COMPUTE, path, NULL, "compute.servers.detail", NULL,
		                     &d, NULL)))
			break;
		/* each page's servers are observed in place as it arrives */
		list = bar_kit_jget(d, 0, "servers");
		for (s = os_jelems(d, list); s >= 0; s = bar_kit_jnext(d, list, s)) {
			if (os_jstr(d, bar_kit_jget(d, s, "metadata"), "barista:address") &&
			    rc == BAR_OK) {
				rc = vm_emit(x, out, d, os_server_node(d, s), NULL);
				if (rc == BAR_ENOTFOUND) /* a deleted one in the list */
					x->e = (bar_kit_err){0}, rc = BAR_OK;
			}
			last = s;
		}
		if ((id = os_jstr(d, last, "id")) && strlen(id) < sizeof(marker))
			snprintf(marker, sizeof(marker), "%s", id);
		links = bar_kit_jget(d, 0, "servers_links");
		for (l = os_jelems(d, links); l >= 0; l = bar_kit_jnext(d, links, l))
			next |= os_jstr(d, l, "rel") && strcmp(os_jstr(d, l, "rel"), "next") == 0;
		bar_kit_jfree(d);
		if (!next || last < 0)
			break;
	}
	return rc;
}
