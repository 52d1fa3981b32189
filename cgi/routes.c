#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cgi/http.h"
#include "cgi/query.h"
#include "cgi/route.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/msg.h"
#include "common/policy.h"
#include "common/text.h"

/* Whether an If-None-Match header names the checksum. */
static int
etag_matches(const char *header, const char *crc)
{
	const char *p = header;

	if (header == NULL)
		return 0;
	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p == '"' && strncmp(p + 1, crc, CRC_HEX_LEN) == 0 &&
		    p[1 + CRC_HEX_LEN] == '"')
			return 1;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}

static void
route_file_content(struct route_request *rr)
{
	char head[1024], name[MSG_NAME_LITERAL_MAX], tail[256];
	const char *crc, *inm, *enc;
	size_t mlen;
	const char *mtime;
	struct reply r;
	int n;

	if (route_file_args(rr, "proposal", NULL) == -1)
		return;
	inm = http_param(rr->x, "HTTP_IF_NONE_MATCH");
	if (inm) {
		/* Revalidation: a stat and a cached checksum, no content. */
		if (route_ask(rr, "checksum", "", &r) == -1)
			return;
		crc = reply_string(&r, "checksum");
		if (crc && etag_matches(inm, crc)) {
			route_checksum_headers(rr, crc, 1);
			http_send(rr->x, 304, 1, NULL, 0);
			reply_free(&r);
			return;
		}
		reply_free(&r);
	}
	if (route_ask(rr, "content", ",\"format\":\"json\"", &r) == -1)
		return;
	crc = reply_string(&r, "checksum");
	enc = reply_string(&r, "encoding");
	if (crc == NULL || enc == NULL || r.payload == NULL) {
		http_error(rr->x, 500, "watcherd sent an incomplete reply");
		reply_free(&r);
		return;
	}
	route_checksum_headers(rr, crc, 1);
	route_name_literal(rr, name);
	n = snprintf(head, sizeof(head), "{\"proposal\":%u,\"file_name\":%s,"
	    "\"content\":", rr->proposal, name);
	mtime = reply_json(&r, "mtime", &mlen);
	snprintf(tail, sizeof(tail), ",\"encoding\":\"%s\",\"checksum\":\"%s\","
	    "\"size\":%lld,\"mtime\":%.*s}", enc, crc,
	    (long long)json_object_get_int64(json_object_object_get(r.obj, "size")),
	    (int)mlen, mtime);
	http_send(rr->x, 200, 1, (struct http_chunk[]){
	    { head, (size_t)n }, { r.payload, r.payload_len },
	    { tail, strlen(tail) } }, 3);
	reply_free(&r);
}

static void
route_health(struct route_request *rr)
{
	struct reply r;
	char handler[160];
	size_t len;
	const char *s;
	int n;

	if (route_ask(rr, "status", "", &r) == -1)
		return;
	json_object_object_del(r.obj, "ok");
	s = json_object_to_json_string_length(r.obj, JSON_C_TO_STRING_PLAIN, &len);
	n = snprintf(handler, sizeof(handler), ",\"handler\":{\"pid\":%ld,"
	    "\"threads\":%d,\"held\":%d,\"max_held\":%d}}", (long)getpid(),
	    rr->limits->threads, atomic_load(&rr->limits->held),
	    rr->limits->max_held);
	http_send(rr->x, 200, 0, (struct http_chunk[]){
	    { "{\"status\":\"ok\",\"watcherd\":", 26 }, { s, len },
	    { handler, (size_t)n } }, 3);
	reply_free(&r);
}

static void
route_context_content(struct route_request *rr)
{
	struct reply r;
	const char *mtime, *enc;
	size_t mlen;

	if (route_file_args(rr, "proposal_number", "context.py") == -1 ||
	    route_ask(rr, "content", ",\"format\":\"json\"", &r) == -1)
		return;
	/* DAMNIT-web's shape, plus "encoding": a context.py that is not
	   UTF-8 comes as base64, and must say so. */
	mtime = reply_json(&r, "mtime", &mlen);
	enc = reply_string(&r, "encoding");
	if (enc && strcmp(enc, "base64") == 0)
		enc = ",\"encoding\":\"base64\"}";
	else
		enc = ",\"encoding\":\"utf-8\"}";
	http_send(rr->x, 200, 0, (struct http_chunk[]){
	    { "{\"lastModified\":", 16 }, { mtime, mlen },
	    { ",\"fileContent\":", 15 }, { r.payload, r.payload_len },
	    { enc, strlen(enc) } }, 5);
	reply_free(&r);
}

static void
route_context_last_modified(struct route_request *rr)
{
	struct reply r;
	const char *mtime;
	size_t mlen;

	if (route_file_args(rr, "proposal_number", "context.py") == -1 ||
	    route_ask(rr, "checksum", "", &r) == -1)
		return;
	mtime = reply_json(&r, "mtime", &mlen);
	http_send(rr->x, 200, 0, (struct http_chunk[]){
	    { "{\"lastModified\":", 16 }, { mtime, mlen }, { "}", 1 } }, 3);
	reply_free(&r);
}

static const struct route {
	const char		*path;	/* the last segment(s) of the path */
	void			(*fn)(struct route_request *);
	enum http_count_route	 counted;	/* its label in /metrics */
} routes[] = {
	{ "/file_content",	route_file_content,	HTTP_COUNT_FILE_CONTENT },
	{ "/has_new_checksum",	route_has_new_checksum,
	    HTTP_COUNT_HAS_NEW_CHECKSUM },
	{ "/file_tail",		route_file_tail,	HTTP_COUNT_FILE_TAIL },
	{ "/events",		route_events,		HTTP_COUNT_EVENTS },
	{ "/health",		route_health,		HTTP_COUNT_HEALTH },
	{ "/metrics",		route_metrics,		HTTP_COUNT_METRICS },
	{ "/contextfile/content", route_context_content,
	    HTTP_COUNT_CONTEXT_CONTENT },
	{ "/contextfile/last_modified", route_context_last_modified,
	    HTTP_COUNT_CONTEXT_LAST_MODIFIED },
};

/* The route whose path the request path ends with (a trailing slash
   ignored), or NULL. */
static const struct route *
find_route(const char *uri)
{
	size_t len, i, rlen;

	if (uri == NULL)
		return NULL;
	len = strcspn(uri, "?");
	if (len > 1 && uri[len - 1] == '/')
		len--;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		rlen = strlen(routes[i].path);
		if (len >= rlen && memcmp(uri + len - rlen, routes[i].path,
		    rlen) == 0)
			return &routes[i];
	}
	return NULL;
}

void
routes_dispatch(struct http_exchange *x, struct upstream *up,
    struct route_limits *limits)
{
	struct route_request rr = { .x = x, .up = up, .limits = limits };
	const struct route *route;
	const char *method, *uri;
	char err[256];

	method = http_param(x, "REQUEST_METHOD");
	/* PATH_INFO differs between lighttpd, mod_fcgid and mod_proxy_fcgi;
	   REQUEST_URI is what the client asked for everywhere. */
	if ((uri = http_param(x, "REQUEST_URI")) == NULL &&
	    (uri = http_param(x, "PATH_INFO")) == NULL)
		uri = http_param(x, "SCRIPT_NAME");
	route = find_route(uri);
	x->route = route ? route->counted : HTTP_COUNT_UNKNOWN;
	if (method && strcmp(method, "HEAD") == 0)
		x->head = 1;
	else if (method == NULL || strcmp(method, "GET") != 0) {
		http_header(x, "Allow", "GET, HEAD");
		http_error(x, 405, "only GET and HEAD are allowed");
		return;
	}
	if (route == NULL) {
		http_error(x, 404, "unknown route; known: /file_content, "
		    "/has_new_checksum, /file_tail, /events, /health, /metrics, "
		    "/contextfile/content, /contextfile/last_modified");
		return;
	}
	if (query_parse(&rr.q, http_param(x, "QUERY_STRING"), err,
	    sizeof(err)) == -1) {
		http_error(x, 400, err);
		query_free(&rr.q);
		return;
	}
	route->fn(&rr);
	query_free(&rr.q);
}
