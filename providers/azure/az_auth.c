/*
 * az_auth.c - the token request of the Microsoft identity platform's OAuth
 * 2.0 client credentials grant with a shared secret: the form body the
 * driver POSTs to {authorityHost}/{tenant}/oauth2/v2.0/token.  The request
 * itself and the token cache are the plugin's (azure.c); this part is kept
 * apart so that the unit test can check it against Microsoft's documented
 * example request.
 */
#include "az.h"

#include <stdlib.h>
#include <string.h>

char *az_token_form(const char *client_id, const char *client_secret, const char *scope)
{
	bar_kit_buf b = {0};

	/* the order of Microsoft's example: client_id, scope, client_secret,
	 * grant_type (the server does not care; the unit test does) */
	bar_kit_buf_str(&b, "client_id=");
	bar_kit_buf_urlencode(&b, client_id, 0);
	bar_kit_buf_str(&b, "&scope=");
	bar_kit_buf_urlencode(&b, scope, 0);
	bar_kit_buf_str(&b, "&client_secret=");
	bar_kit_buf_urlencode(&b, client_secret, 0);
	bar_kit_buf_str(&b, "&grant_type=client_credentials");
	if (b.failed || !b.p) {
		bar_kit_buf_free(&b);
		return NULL;
	}
	return b.p;
}
