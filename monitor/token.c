/*
 * token.c - the tokens agents and apply present to a collector: HMAC-SHA256
 * of a fixed label with the collectors' shared secret (see collector.h), so
 * a collector keeps no token table and a token opens exactly one MCI.
 */
#include "collector.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static int mac_hex(char *hex, const unsigned char *secret, size_t len, const char *label)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!HMAC(EVP_sha256(), secret, (int)len, (const unsigned char *)label, strlen(label), mac,
	          &n) || n != 32)
		return -1;
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int bar_monitor_token(char *out, size_t size, const unsigned char *secret, size_t len,
                      const char *ns, const char *mci)
{
	char label[300], hex[65];
	int n;

	if (snprintf(label, sizeof(label), "push:%s/%s", ns, mci) >= (int)sizeof(label) ||
	    mac_hex(hex, secret, len, label) < 0)
		return -1;
	n = snprintf(out, size, "%s/%s.%s", ns, mci, hex);
	OPENSSL_cleanse(hex, sizeof(hex));
	return n > 0 && (size_t)n < size ? 0 : -1;
}

int bar_monitor_admin_token(char *out, size_t size, const unsigned char *secret, size_t len)
{
	char hex[65];
	int n;

	if (mac_hex(hex, secret, len, "admin") < 0)
		return -1;
	n = snprintf(out, size, "admin.%s", hex);
	OPENSSL_cleanse(hex, sizeof(hex));
	return n > 0 && (size_t)n < size ? 0 : -1;
}
