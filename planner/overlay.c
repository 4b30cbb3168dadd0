/*
 * overlay.c - the host side of an MCI's overlay network (docs/overlay.md):
 * each VM's overlay address, its WireGuard key pair (X25519 through
 * OpenSSL) and the text of the overlay file barista-agent applies on the VM
 * (runtime/agent/overlay.c).  Nothing here touches a VM or the state; the
 * planner decides where the keys are kept (core/keystore.h) and when files
 * are written.
 */
#include "planner_int.h"
#include "error.h"
#include "keystore.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OVERLAY_KEY_LEN 32
#define OVERLAY_B64_LEN 44 /* 32 bytes in base64 with padding */

/* Parse "a.b.c.d/n" into host-order address and prefix. */
static int cidr_parse(const char *cidr, uint32_t *addr, int *prefix)
{
	char ip[16];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	struct in_addr in;
	char *end;
	long p;

	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return -1;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = '\0';
	if (inet_pton(AF_INET, ip, &in) != 1)
		return -1;
	p = strtol(slash + 1, &end, 10);
	if (end == slash + 1 || *end || p < 0 || p > 32)
		return -1;
	*addr = ntohl(in.s_addr);
	*prefix = (int)p;
	return 0;
}

/* Contract in planner_int.h ("overlay network"). */
int bar_overlay_addr(char out[16], const char *cidr, size_t index)
{
	uint32_t addr, mask, net, host;
	struct in_addr in;
	int prefix;

	if (cidr_parse(cidr, &addr, &prefix) < 0)
		return bar_error_set("overlay: \"%.40s\" is not an IPv4 CIDR", cidr ? cidr : "");
	if (prefix > 30)
		return bar_error_set("overlay: %s has no room for VMs", cidr);
	mask = 0xffffffffu << (32 - prefix);
	net = addr & mask;
	/* hosts are net+1 .. broadcast-1 */
	if ((uint64_t)index + 2 > (uint64_t)(~mask))
		return bar_error_set("overlay: VM number %zu does not fit in %s", index + 1, cidr);
	host = net + 1 + (uint32_t)index;
	in.s_addr = htonl(host);
	if (!inet_ntop(AF_INET, &in, out, 16))
		return bar_error_set("overlay: cannot format an address");
	return 0;
}

/* Contract in planner_int.h ("overlay network"). */
int bar_overlay_prefix(const char *cidr)
{
	uint32_t addr;
	int prefix;

	return cidr_parse(cidr, &addr, &prefix) < 0 ? -1 : prefix;
}

/* Base64 of one 32-byte key into out[45]. */
static int key_b64(char out[45], const unsigned char key[OVERLAY_KEY_LEN])
{
	return EVP_EncodeBlock((unsigned char *)out, key, OVERLAY_KEY_LEN) == OVERLAY_B64_LEN
	       ? 0 : -1;
}

/* The public half of raw private key priv into pub_b64. */
static int raw_pubkey(char pub_b64[45], const unsigned char priv[OVERLAY_KEY_LEN])
{
	unsigned char pub[OVERLAY_KEY_LEN];
	size_t len = sizeof(pub);
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv,
	                                            OVERLAY_KEY_LEN);
	int rc = -1;

	if (!pk) {
		bar_error_set("overlay: OpenSSL refused the private key");
		goto done;
	}
	if (EVP_PKEY_get_raw_public_key(pk, pub, &len) != 1 || len != sizeof(pub)) {
		bar_error_set("overlay: OpenSSL could not derive the public key");
		goto done;
	}
	if (key_b64(pub_b64, pub) < 0) {
		bar_error_set("overlay: cannot encode the public key");
		goto done;
	}
	rc = 0;
done:
	EVP_PKEY_free(pk);
	return rc;
}

/* Contract in planner_int.h ("overlay network"). */
int bar_overlay_keypair(char priv_b64[45], char pub_b64[45])
{
	unsigned char priv[OVERLAY_KEY_LEN];
	char p[45], q[45];
	int rc = -1;

	if (RAND_bytes(priv, sizeof(priv)) != 1) {
		bar_error_set("overlay: no random bytes for a key");
		goto done;
	}
	/* clamped as Curve25519 wants it, the way `wg genkey` writes keys */
	priv[0] &= 248;
	priv[31] = (unsigned char)((priv[31] & 127) | 64);
	if (raw_pubkey(q, priv) < 0)
		goto done;
	if (key_b64(p, priv) < 0) {
		bar_error_set("overlay: cannot encode the private key");
		goto done;
	}
	memcpy(priv_b64, p, sizeof(p));
	memcpy(pub_b64, q, sizeof(q));
	rc = 0;
done:
	OPENSSL_cleanse(priv, sizeof(priv));
	OPENSSL_cleanse(p, sizeof(p));
	return rc;
}

/* Contract in planner_int.h ("overlay network"). */
int bar_overlay_pubkey(char pub_b64[45], const char *priv_b64)
{
	unsigned char raw[48];
	int n, rc = -1;

	if (!priv_b64 || strlen(priv_b64) != OVERLAY_B64_LEN) {
		bar_error_set("overlay: a private key is 44 base64 characters");
		goto done;
	}
	n = EVP_DecodeBlock(raw, (const unsigned char *)priv_b64, OVERLAY_B64_LEN);
	/* EVP_DecodeBlock counts the padding byte as data: 33 for one '=' */
	if (n != OVERLAY_KEY_LEN + 1 || priv_b64[OVERLAY_B64_LEN - 1] != '=' ||
	    priv_b64[OVERLAY_B64_LEN - 2] == '=') {
		bar_error_set("overlay: the private key is not base64 of 32 bytes");
		goto done;
	}
	rc = raw_pubkey(pub_b64, raw);
done:
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

/* A value that fits on one line of the file: no newline, '=' only where a
 * key may hold it (base64 padding), bounded. */
static int field_ok(const char *s, size_t max)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	return n > 0 && n <= max && !strpbrk(s, "\r\n");
}

/* Append to a growing buffer; -1 when out of memory. */
typedef struct obuf {
	char *p;
	size_t len, cap;
} obuf;

static int obuf_add(obuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int obuf_add(obuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return 0;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *p = malloc(cap);

		if (!p)
			return -1;
		memcpy(p, b->p, b->len);
		OPENSSL_cleanse(b->p, b->cap); /* may hold the private key */
		free(b->p);
		b->p = p;
		b->cap = cap;
	}
}

/* Contract in planner_int.h ("overlay network"). */
char *bar_overlay_config(const char *vm, const char *priv_b64, const char *overlay_ip,
                         int prefix, int port, const bar_overlay_peer *peers, size_t npeers)
{
	obuf b = { malloc(1024), 0, 1024 };
	char *out = NULL;

	if (!b.p) {
		bar_error_set("overlay: out of memory");
		return NULL;
	}
	if (!field_ok(vm, 253) || !field_ok(overlay_ip, 15) || prefix < 1 || prefix > 32 ||
	    port < 1 || port > 65535) {
		bar_error_set("overlay: bad VM name, address, prefix or port for the overlay file");
		goto done;
	}
	if (!field_ok(priv_b64, OVERLAY_B64_LEN) || strlen(priv_b64) != OVERLAY_B64_LEN) {
		bar_error_set("overlay: VM \"%s\": the private key is not 44 base64 characters",
		              vm);
		goto done;
	}
	if (obuf_add(&b, "# barista overlay of VM %s (docs/overlay.md); holds its private key\n"
	                 "interface=%s\naddress=%s/%d\nport=%d\nprivate_key=%s\n",
	             vm, BAR_OVERLAY_IFNAME, overlay_ip, prefix, port, priv_b64) < 0)
		goto nomem;
	for (size_t i = 0; i < npeers; i++) {
		const bar_overlay_peer *p = &peers[i];

		if (!field_ok(p->name, 253) || !field_ok(p->overlay_ip, 15)) {
			bar_error_set("overlay: VM \"%s\": peer %zu has no name or overlay address",
			              vm, i + 1);
			goto done;
		}
		if (obuf_add(&b, "\npeer=%s\n", p->name) < 0)
			goto nomem;
		if (p->same_net) {
			if (!field_ok(p->private_ip, 15)) {
				bar_error_set("overlay: VM \"%s\": same-net peer \"%s\" has no private "
				              "address", vm, p->name);
				goto done;
			}
			if (obuf_add(&b, "route=%s/32 via %s\n", p->overlay_ip, p->private_ip) < 0)
				goto nomem;
			continue;
		}
		if (!field_ok(p->pubkey, OVERLAY_B64_LEN) || !field_ok(p->endpoint, 64)) {
			bar_error_set("overlay: VM \"%s\": peer \"%s\" has no public key or endpoint",
			              vm, p->name);
			goto done;
		}
		if (obuf_add(&b, "public_key=%s\nendpoint=%s\nallowed_ip=%s/32\n", p->pubkey,
		             p->endpoint, p->overlay_ip) < 0)
			goto nomem;
	}
	out = b.p;
	b.p = NULL;
	goto done;
nomem:
	bar_error_set("overlay: out of memory");
done:
	if (b.p) {
		OPENSSL_cleanse(b.p, b.cap);
		free(b.p);
	}
	return out;
}

/* Contract in planner_int.h ("overlay network"). */
void bar_overlay_config_free(char *text)
{
	if (!text)
		return;
	OPENSSL_cleanse(text, strlen(text));
	free(text);
}

/* Contract in planner_int.h ("overlay network"). */
char *bar_overlay_config_for(const bar_overlay_vm *vms, size_t n, size_t self,
                             const char *priv_b64, const char *cidr, int port)
{
	bar_overlay_peer *peers = NULL;
	char (*addrs)[16] = NULL, (*endpoints)[64] = NULL;
	char *text = NULL;
	size_t k = 0;
	int prefix = bar_overlay_prefix(cidr);

	if (self >= n || prefix < 0) {
		bar_error_set("overlay: no VM %zu of %zu, or no CIDR", self + 1, n);
		return NULL;
	}
	peers = calloc(n, sizeof(*peers));
	addrs = calloc(n, sizeof(*addrs));
	endpoints = calloc(n, sizeof(*endpoints));
	if (!peers || !addrs || !endpoints) {
		bar_error_set("overlay: out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const bar_overlay_vm *v = &vms[i];
		const char *ip = v->public_ip && *v->public_ip ? v->public_ip : v->private_ip;

		if (bar_overlay_addr(addrs[i], cidr, i) < 0)
			goto done;
		if (i == self)
			continue;
		snprintf(endpoints[i], sizeof(endpoints[i]), "%.40s:%d", ip ? ip : "", port);
		peers[k++] = (bar_overlay_peer){
			.name = v->name, .pubkey = v->pubkey, .overlay_ip = addrs[i],
			.endpoint = ip && *ip ? endpoints[i] : NULL, .private_ip = v->private_ip,
			.same_net = v->connection && vms[self].connection && v->vnet && vms[self].vnet &&
			            strcmp(v->connection, vms[self].connection) == 0 &&
			            strcmp(v->vnet, vms[self].vnet) == 0,
		};
	}
	text = bar_overlay_config(vms[self].name, priv_b64, addrs[self], prefix, port, peers, k);
done:
	free(peers);
	free(addrs);
	free(endpoints);
	return text;
}

/* Contract in planner_int.h ("overlay network"). */
int bar_overlay_key_ensure(char pub_b64[45], char *priv_b64, const char *keys,
                           const char *address, int fresh)
{
	char priv[45], pub[45], *stored = NULL;
	int rc = fresh ? BAR_ENOTFOUND
	               : bar_keystore_get(keys, address, BAR_OVERLAY_KEY_FIELD, &stored);

	if (rc == 0) {
		rc = bar_overlay_pubkey(pub, stored);
		if (rc == 0)
			snprintf(priv, sizeof(priv), "%s", stored);
		else
			bar_error_prefix("key store entry %s.%s: ", address, BAR_OVERLAY_KEY_FIELD);
	} else if (rc == BAR_ENOTFOUND) {
		rc = bar_overlay_keypair(priv, pub);
		if (rc == 0)
			rc = bar_keystore_put(keys, address, BAR_OVERLAY_KEY_FIELD, priv);
	}
	bar_keystore_value_free(stored);
	if (rc == 0) {
		memcpy(pub_b64, pub, sizeof(pub));
		if (priv_b64)
			memcpy(priv_b64, priv, sizeof(priv));
	}
	OPENSSL_cleanse(priv, sizeof(priv));
	return rc;
}
