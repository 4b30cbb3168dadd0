/*
 * ali_api.h - one connection's session with Alibaba Cloud and the RPC call
 * every resource handler makes through it: common parameters, signature
 * (ali_sign.h), POST of the form to the ECS or VPC endpoint through the
 * kit's HTTP client (call log, deadline, cancellation), and the answer
 * parsed.  Also the small helpers the handlers share (tags as Tag.N
 * parameters, waiting, the JSON of an observation).
 */
#ifndef BAR_ALI_API_H
#define BAR_ALI_API_H

#include "ali_parse.h"
#include "ali_sign.h"
#include "http.h"

#include <jansson.h>
#include <pthread.h>

enum { ALI_ECS = 0, ALI_VPC = 1 };

typedef struct ali_session {
	bar_kit_http *http;
	char base[2][512];    /* ECS and VPC base URLs, no trailing '/' */
	int fixed[2];         /* the config named that URL (else per region) */
	char region[64];
	int poll_ms;          /* interval between status checks */
	int bandwidth_out;    /* InternetMaxBandwidthOut of a VM (Mbit/s) */
	char disk_category[64];
	pthread_mutex_t lock; /* guards zone */
	char zone[64];        /* the vSwitch zone: config, call, or the first one */
} ali_session;

extern const bar_host_api *ali_host;

/* Make a session for the call's connection (config JSON).  Returns BAR_OK
 * with *out, or an error code with e filled. */
int ali_session_new(ali_session **out, bar_call *call, bar_kit_err *e);
void ali_session_free(ali_session *s);

/*
 * One RPC request: `action` of service ALI_ECS / ALI_VPC with the
 * parameters in p (the common ones are added here).  Returns BAR_OK with
 * *out the answer read with the kit's JSON reader (root 0, an object; the
 * caller's, free with bar_kit_jfree), or the error (in e, first failure
 * wins; e->code the cloud's code).  out may be NULL when only success
 * matters; the answer is still checked.  `resource` names the id the
 * request is about, for the call log (may be NULL).
 */
int ali_rpc(ali_session *s, bar_call *call, int svc, const char *action, ali_params *p,
            const char *resource, bar_kit_jdoc **out, bar_kit_err *e);

/* Add the tags (and, when labels is not NULL, the labels) as Tag.N.Key /
 * Tag.N.Value, numbering from 1. */
void ali_params_tags(ali_params *p, json_t *tags, json_t *labels);

/* The zone vSwitches go in: the call's, the config's, or the region's
 * first (DescribeZones, remembered). */
int ali_zone(ali_session *s, bar_call *call, char *out, size_t size, bar_kit_err *e);

/* Emit one observation: attrs dumped compact with sorted keys. */
int ali_emit(bar_sink *sink, const char *id, const char *name, const char *status,
             json_t *attrs, json_t *tags, bar_kit_err *e);

/* Sleep ms (cancellation and deadline honoured); the error in e. */
int ali_wait(bar_call *call, int ms, const char *what, bar_kit_err *e);

/* A JSON array of strings ["a"] as the text some parameters take. */
char *ali_json_list1(const char *id);

#endif
