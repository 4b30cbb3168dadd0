/*
 * local_catalog.c - SSH keys, images and specs of the local provider.
 *
 * None of these has a kernel object: a key is its public half (checked and
 * fingerprinted by ssh-keygen), an image is the host's own OS (the only one a
 * namespace "VM" can run), and a spec is a size that local_vm.c turns into
 * cgroup limits.  When asked to generate a key pair, the provider makes it in
 * a private temporary directory (in RAM when /dev/shm exists), hands the
 * private half to the host with emit_secret, and wipes the files: it never
 * keeps a private key.
 */
#include "local.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_MAX (16 * 1024)
#define OS_RELEASE_MAX (64 * 1024)

static const char *const KEY_TYPES[] = {
	"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com", NULL,
};

/* One line "type base64 [comment]" of printable ASCII: anything else could
 * smuggle options or extra keys into authorized_keys. */
int bar_local_pubkey_check(bar_local_ctx *c, char *key)
{
	size_t n = strlen(key), tl;
	int known = 0;

	while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r' || key[n - 1] == ' '))
		key[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)key[i]))
			goto bad;
	for (int i = 0; KEY_TYPES[i]; i++) {
		tl = strlen(KEY_TYPES[i]);
		if (strncmp(key, KEY_TYPES[i], tl) == 0 && key[tl] == ' ')
			known = 1;
	}
	if (!known || n > 8192)
		goto bad;
	return 0;
bad:
	return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
	                      "publicKey must be one OpenSSH public key line (\"ssh-ed25519 "
	                      "AAAA... comment\"); no options, no newlines");
}

/* "SHA256:..." fingerprint of the public key stored at path. */
static int pubkey_fingerprint(bar_local_ctx *c, char *out, size_t size, const char *path)
{
	const char *argv[] = { "/usr/bin/ssh-keygen", "-l", "-E", "sha256", "-f", path, NULL };
	char *text = NULL, fp[128];
	int rc;

	if ((rc = bar_local_run(c, &text, argv, NULL, NULL, 1))) {
		rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                    "publicKey is not a valid OpenSSH public key");
		goto done;
	}
	if (sscanf(text, "%*d %127s", fp) != 1 || strncmp(fp, "SHA256:", 7) != 0) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                    "cannot read the fingerprint from ssh-keygen: %.200s", text);
		goto done;
	}
	snprintf(out, size, "%s", fp);
done:
	free(text);
	return rc;
}

/* Generate an ed25519 pair in a private RAM directory; *priv_out and
 * *pub_out are the caller's (zero the private one before freeing). */
static int key_generate(bar_local_ctx *c, char **priv_out, char **pub_out, const char *name)
{
	char dir[64], key[96], pub[112], comment[80];
	char *priv = NULL, *pubtext = NULL;
	size_t n = 0, len = 0;
	int rc;

	snprintf(dir, sizeof(dir), "%s/barista-key-XXXXXX",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                      "cannot make a private temporary directory for the key");
	snprintf(key, sizeof(key), "%s/id", dir);
	snprintf(pub, sizeof(pub), "%s/id.pub", dir);
	/* The comment is the resource name, limited to harmless characters. */
	n = (size_t)snprintf(comment, sizeof(comment), "barista-");
	for (const char *p = name; *p && n + 1 < sizeof(comment); p++)
		comment[n++] = isalnum((unsigned char)*p) || *p == '-' || *p == '.' ? *p : '_';
	comment[n] = '\0';
	const char *argv[] = { "/usr/bin/ssh-keygen", "-t", "ed25519", "-N", "", "-q",
		               "-C", comment, "-f", key, NULL };
	if ((rc = bar_local_run(c, NULL, argv, NULL, NULL, 0)) ||
	    (rc = bar_local_file_read(c, &priv, &len, key, KEY_MAX)) ||
	    (rc = bar_local_file_read(c, &pubtext, NULL, pub, KEY_MAX)))
		goto done;
	*priv_out = priv;
	*pub_out = pubtext;
	priv = pubtext = NULL;
done:
	if (rc == BAR_ENOTFOUND)
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                    "ssh-keygen did not write the key pair");
	if (priv) {
		explicit_bzero(priv, len);
		free(priv);
	}
	free(pubtext);
	bar_local_file_wipe(key);
	bar_local_file_wipe(pub);
	rmdir(dir);
	return rc;
}

int bar_local_sshkey_create(bar_local_ctx *c, json_t *in, bar_sink *out)
{
	json_t *given = json_object_get(json_object_get(in, "attrs"), "publicKey");
	const char *name = json_string_value(json_object_get(in, "name"));
	const bar_host_api *host = c->prov->host;
	char id[BAR_LOCAL_ID_MAX] = "", path[PATH_MAX], fp[128];
	char *priv = NULL, *pub = NULL;
	json_t *meta = NULL;
	int rc;

	if (given && !json_is_null(given) && !json_is_string(given))
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "publicKey must be a string or null");
	if (json_is_string(given) && !*json_string_value(given))
		given = NULL;
	if (!json_is_string(given) &&
	    (host->struct_size < offsetof(bar_host_api, emit_secret) + sizeof(host->emit_secret) ||
	     !host->emit_secret))
		return bar_local_fail(c, BAR_ENOTSUP, BAR_LOCAL_E_NOTSUP,
		                      "this host cannot store generated private keys; give "
		                      "a publicKey instead");
	if (json_is_string(given))
		pub = strdup(json_string_value(given));
	else if ((rc = key_generate(c, &priv, &pub, name ? name : "key")))
		goto done;
	if (!pub) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
		goto done;
	}
	if ((rc = bar_local_pubkey_check(c, pub)) ||
	    (rc = bar_local_res_begin(c, id, &meta, "sshkey", "bkey", in)) ||
	    (rc = bar_local_path(c, path, "%s/sshkey/%s/id.pub", c->root, id)) ||
	    (rc = bar_local_file_write(c, path, pub, strlen(pub), 0644)) ||
	    (rc = pubkey_fingerprint(c, fp, sizeof(fp), path)))
		goto done;
	json_object_set_new(meta, "observed",
	                    json_pack("{s:s,s:s}", "fingerprint", fp, "publicKey", pub));
	if ((rc = bar_local_meta_save(c, "sshkey", id, meta)))
		goto done;
	if (priv && host->emit_secret(out, "privateKey", priv) < 0) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                    "the host could not store the generated private key");
		goto done;
	}
	rc = bar_local_emit(c, out, id, meta, "Available");
done:
	if (rc && id[0] && bar_local_res_dir(c, path, "sshkey", id) == 0)
		bar_local_rmtree(c, path);
	if (priv) {
		explicit_bzero(priv, strlen(priv));
		free(priv);
	}
	free(pub);
	json_decref(meta);
	return rc;
}

/* Value of KEY= in os-release text (quotes removed) into out. */
static void os_release_get(const char *text, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);

	out[0] = '\0';
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, kl) != 0 || line[kl] != '=')
			continue;
		const char *v = line + kl + 1;
		size_t n = strcspn(v, "\n");
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
			v++;
			n -= 2;
		}
		snprintf(out, size, "%.*s", (int)n, v);
		return;
	}
}

int bar_local_image_create(bar_local_ctx *c, json_t *in, bar_sink *out)
{
	const char *want = json_string_value(json_object_get(json_object_get(in, "attrs"), "imageId"));
	char osid[64], ver[64], pretty[256], host_image[140], id[BAR_LOCAL_ID_MAX];
	char *text = NULL;
	json_t *meta = NULL;
	int rc;

	rc = bar_local_file_read(c, &text, NULL, "/etc/os-release", OS_RELEASE_MAX);
	if (rc == BAR_ENOTFOUND)
		rc = bar_local_file_read(c, &text, NULL, "/usr/lib/os-release", OS_RELEASE_MAX);
	if (rc) {
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "cannot read /etc/os-release");
		goto done;
	}
	os_release_get(text, "ID", osid, sizeof(osid));
	os_release_get(text, "VERSION_ID", ver, sizeof(ver));
	os_release_get(text, "PRETTY_NAME", pretty, sizeof(pretty));
	snprintf(host_image, sizeof(host_image), "%s%s%s", osid, ver[0] ? "-" : "", ver);
	if (!want || (strcmp(want, "host") != 0 && strcmp(want, host_image) != 0)) {
		rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                    "image \"%s\" is not available on the local provider; available "
		                    "images: \"%s\", \"host\" (both are this host's own OS, %s)",
		                    want ? want : "(none)", host_image, pretty);
		goto done;
	}
	if ((rc = bar_local_res_begin(c, id, &meta, "image", "bimg", in)))
		goto done;
	json_object_set_new(meta, "observed", json_pack("{s:s,s:s}", "imageId", want, "os", pretty));
	rc = bar_local_meta_save(c, "image", id, meta);
	if (rc == 0)
		rc = bar_local_emit(c, out, id, meta, "Available");
	if (rc) {
		char dir[PATH_MAX];
		if (bar_local_res_dir(c, dir, "image", id) == 0)
			bar_local_rmtree(c, dir);
	}
done:
	free(text);
	json_decref(meta);
	return rc;
}

static int spec_int(bar_local_ctx *c, json_int_t *out, json_t *attrs, const char *key,
                    json_int_t dflt, json_int_t min, json_int_t max, const char *why)
{
	json_t *v = json_object_get(attrs, key);

	if (!v || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "spec %s must be an integer from %lld to %lld%s", key,
		                      (long long)min, (long long)max, why);
	*out = json_integer_value(v);
	return 0;
}

int bar_local_spec_create(bar_local_ctx *c, json_t *in, bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *meta = NULL;
	char id[BAR_LOCAL_ID_MAX], why[96], dir[PATH_MAX];
	json_int_t vcpu, mem, disk;
	int rc;

	snprintf(why, sizeof(why), " (this host has %d CPUs)", c->prov->ncpu);
	if ((rc = spec_int(c, &vcpu, attrs, "vcpu", 1, 1, c->prov->ncpu, why)) ||
	    (rc = spec_int(c, &mem, attrs, "memoryMiB", 512, 16, 1 << 24, "")) ||
	    (rc = spec_int(c, &disk, attrs, "diskGiB", 10, 0, 1 << 20, "")) ||
	    (rc = bar_local_res_begin(c, id, &meta, "spec", "bspec", in)))
		goto done;
	json_object_set_new(meta, "observed", json_pack("{s:I,s:I,s:I}", "diskGiB", disk,
	                                                "memoryMiB", mem, "vcpu", vcpu));
	if ((rc = bar_local_meta_save(c, "spec", id, meta)) ||
	    (rc = bar_local_emit(c, out, id, meta, "Available"))) {
		if (bar_local_res_dir(c, dir, "spec", id) == 0)
			bar_local_rmtree(c, dir);
	}
done:
	json_decref(meta);
	return rc;
}
