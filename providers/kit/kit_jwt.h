/*
 * kit_jwt.h - JSON Web Signatures (RFC 7515) signed RS256 (RSASSA-PKCS1-v1_5
 * with SHA-256, RFC 7518 section 3.3) and the JWT bearer assertion Google's
 * OAuth 2.0 token endpoint takes for a service account (RFC 7523).
 *
 * Part of the provider kit's HTTP library (bar_kit_http, libcrypto).  Nothing
 * here keeps state; the private key is a PEM text borrowed for the call and
 * every copy of it or of the signing input is wiped before it is freed.
 */
#ifndef BAR_KIT_JWT_H
#define BAR_KIT_JWT_H

#include <stddef.h>
#include <stdint.h>

/*
 * The compact serialization BASE64URL(header) "." BASE64URL(payload) "."
 * BASE64URL(RS256 signature) of the given octets, signed with the RSA
 * private key in `pem` (PKCS#8 or PKCS#1 PEM).  Returns 0 with *out (malloc'd,
 * the caller's; it is a credential: wipe it before freeing), or -1 with
 * why[size] saying what failed (never anything of the key).
 */
int bar_kit_jws_rs256(char **out, const void *header, size_t hlen, const void *payload,
                      size_t plen, const char *pem, char *why, size_t size);

/*
 * A service account's token request assertion: header
 * {"alg":"RS256","kid":kid,"typ":"JWT"} (kid omitted when NULL or ""),
 * claims {"aud":aud,"exp":iat+lifetime_s,"iat":iat,"iss":iss,"scope":scope}.
 * Same ownership and failure as bar_kit_jws_rs256.
 */
int bar_kit_jwt_assertion(char **out, const char *iss, const char *kid, const char *scope,
                          const char *aud, int64_t iat, int lifetime_s, const char *pem,
                          char *why, size_t size);

#endif
