/*
 * client.h - asking a collector over HTTP (libcurl), for the CLI and apply:
 * GET a JSON answer, PUT or DELETE with the admin token.  Errors say what
 * failed and never carry a token.
 */
#ifndef BAR_MONITOR_CLIENT_H
#define BAR_MONITOR_CLIENT_H

#include <jansson.h>
#include <stddef.h>

/* GET base + path (path with its query string, already encoded) and parse
 * the JSON answer into *out (a new reference).  A 4xx/5xx answer's "error"
 * becomes why.  bearer: an Authorization token or NULL.  0, or -1. */
int bar_monitor_get(json_t **out, const char *base, const char *path, const char *bearer,
                    char *why, size_t wsize);

/* method ("PUT", "DELETE") base + path with body (may be NULL); 2xx is 0,
 * anything else -1 with why. */
int bar_monitor_send(const char *method, const char *base, const char *path,
                     const char *body, const char *bearer, char *why, size_t wsize);

/* URL-encode s for a query string into a new string (free it). */
char *bar_monitor_escape(const char *s);

#endif
