#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cgi/http.h"
#include "cgi/query.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/policy.h"
#include "common/text.h"

/* One request as the route handlers see it. */
struct route_request {
	struct http_exchange	*x;
	struct upstream		*up;
	struct query		 q;
	unsigned		 proposal;
	const char		*file_name;
	size_t			 file_name_len;
};

/* A reply of watcherd, with the payload it announced. */
struct reply {
	struct json_object	*obj;
	char			*payload;
	size_t			 payload_len;
};

static void
reply_free(struct reply *r)
{
	json_object_put(r->obj);
	free(r->payload);
	memset(r, 0, sizeof(*r));
}

static const char *
reply_string(const struct reply *r, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The reply's value as JSON text, exactly as watcherd wrote it. */
static const char *
reply_json(const struct reply *r, const char *key, size_t *len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->obj, key, &v)) {
		*len = 4;
		return "null";
	}
	return json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, len);
}

/*
 * Asks watcherd for cmd about the request's file. Returns 0 with the reply,
 * or -1 after answering the error (503 when watcherd is unreachable, the
 * mapped status of a failed reply).
 */
static int
ask(struct route_request *rr, const char *cmd, const char *extra,
    struct reply *r)
{
	char line[2048], name[(POLICY_MAX_NAME + 1) * 6 + 3];
	struct json_object *ok, *detail;
	const char *code;
	size_t flen = rr->file_name_len;
	int n;

	memset(r, 0, sizeof(*r));
	if (rr->file_name) {
		if (flen > POLICY_MAX_NAME + 1)
			flen = POLICY_MAX_NAME + 1;	/* watcherd says why */
		name[text_json_escape(rr->file_name, flen, name)] = '\0';
		n = snprintf(line, sizeof(line), "{\"cmd\":\"%s\",\"proposal\":%u,"
		    "\"file_name\":%s%s}", cmd, rr->proposal, name, extra);
	} else
		n = snprintf(line, sizeof(line), "{\"cmd\":\"%s\"}", cmd);
	if (upstream_call(rr->up, line, (size_t)n, &r->obj,
	    &r->payload, &r->payload_len) == -1) {
		http_error(rr->x, 503, "watcherd is not available; try again "
		    "in a moment");
		return -1;
	}
	if (json_object_object_get_ex(r->obj, "ok", &ok) &&
	    json_object_get_boolean(ok))
		return 0;
	code = reply_string(r, "error");
	json_object_object_get_ex(r->obj, "detail", &detail);
	http_error(rr->x, proto_error_http_status(proto_error_from_code(code)),
	    detail ? json_object_get_string(detail) : "watcherd refused");
	reply_free(r);
	return -1;
}

/* Reads the proposal from param and, when file_name is set, file_name.
   Returns 0, or -1 after answering 400. */
static int
file_args(struct route_request *rr, const char *param, const char *file)
{
	const char *p;
	size_t len;
	char msg[128];

	if ((p = query_get(&rr->q, param, &len)) == NULL || len == 0) {
		snprintf(msg, sizeof(msg), "%s is missing", param);
		http_error(rr->x, 400, msg);
		return -1;
	}
	if (policy_parse_proposal(p, len, &rr->proposal) == -1) {
		snprintf(msg, sizeof(msg), "%s must be a number of 1 to 6 digits",
		    param);
		http_error(rr->x, 400, msg);
		return -1;
	}
	if (file) {
		rr->file_name = file;
		rr->file_name_len = strlen(file);
		return 0;
	}
	rr->file_name = query_get(&rr->q, "file_name", &rr->file_name_len);
	if (rr->file_name == NULL || rr->file_name_len == 0) {
		http_error(rr->x, 400, "file_name is missing");
		return -1;
	}
	return 0;
}

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
set_checksum_headers(struct route_request *rr, const char *crc, int etag)
{
	char quoted[CRC_HEX_LEN + 3];

	http_header(rr->x, "X-Checksum", crc);
	if (etag) {
		snprintf(quoted, sizeof(quoted), "\"%s\"", crc);
		http_header(rr->x, "ETag", quoted);
	}
}

static void
route_file_content(struct route_request *rr)
{
	char head[1024], name[POLICY_MAX_NAME * 6 + 3], tail[256];
	const char *crc, *inm, *enc;
	size_t mlen;
	const char *mtime;
	struct reply r;
	int n;

	if (file_args(rr, "proposal", NULL) == -1)
		return;
	inm = http_param(rr->x, "HTTP_IF_NONE_MATCH");
	if (inm) {
		/* Revalidation: a stat and a cached checksum, no content. */
		if (ask(rr, "checksum", "", &r) == -1)
			return;
		crc = reply_string(&r, "checksum");
		if (crc && etag_matches(inm, crc)) {
			set_checksum_headers(rr, crc, 1);
			http_send(rr->x, 304, 1, NULL, 0);
			reply_free(&r);
			return;
		}
		reply_free(&r);
	}
	if (ask(rr, "content", ",\"format\":\"json\"", &r) == -1)
		return;
	crc = reply_string(&r, "checksum");
	enc = reply_string(&r, "encoding");
	if (crc == NULL || enc == NULL || r.payload == NULL) {
		http_error(rr->x, 500, "watcherd sent an incomplete reply");
		reply_free(&r);
		return;
	}
	set_checksum_headers(rr, crc, 1);
	name[text_json_escape(rr->file_name, rr->file_name_len > POLICY_MAX_NAME ?
	    POLICY_MAX_NAME : rr->file_name_len, name)] = '\0';
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
route_has_new_checksum(struct route_request *rr)
{
	const char *given, *crc;
	uint32_t want, have;
	struct reply r;
	size_t len;
	int differs;

	if (file_args(rr, "proposal", NULL) == -1)
		return;
	if ((given = query_get(&rr->q, "checksum", &len)) == NULL || len == 0) {
		http_error(rr->x, 400, "checksum is missing");
		return;
	}
	if (len != CRC_HEX_LEN || crc_parse(given, &want) == -1) {
		http_error(rr->x, 400, "checksum must be 8 hexadecimal digits");
		return;
	}
	if (ask(rr, "checksum", "", &r) == -1)
		return;
	crc = reply_string(&r, "checksum");
	if (crc == NULL || crc_parse(crc, &have) == -1) {
		http_error(rr->x, 500, "watcherd sent an incomplete reply");
		reply_free(&r);
		return;
	}
	differs = have != want;
	set_checksum_headers(rr, crc, 0);
	http_send(rr->x, 200, 0, (struct http_chunk[]){
	    { differs ? "true" : "false", differs ? 4 : 5 } }, 1);
	reply_free(&r);
}

static void
route_health(struct route_request *rr)
{
	struct reply r;
	size_t len;
	const char *s;

	if (ask(rr, "status", "", &r) == -1)
		return;
	json_object_object_del(r.obj, "ok");
	s = json_object_to_json_string_length(r.obj, JSON_C_TO_STRING_PLAIN, &len);
	http_send(rr->x, 200, 0, (struct http_chunk[]){
	    { "{\"status\":\"ok\",\"watcherd\":", 26 }, { s, len }, { "}", 1 } },
	    3);
	reply_free(&r);
}

static void
route_context_content(struct route_request *rr)
{
	struct reply r;
	const char *mtime, *enc;
	size_t mlen;

	if (file_args(rr, "proposal_number", "context.py") == -1 ||
	    ask(rr, "content", ",\"format\":\"json\"", &r) == -1)
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

	if (file_args(rr, "proposal_number", "context.py") == -1 ||
	    ask(rr, "checksum", "", &r) == -1)
		return;
	mtime = reply_json(&r, "mtime", &mlen);
	http_send(rr->x, 200, 0, (struct http_chunk[]){
	    { "{\"lastModified\":", 16 }, { mtime, mlen }, { "}", 1 } }, 3);
	reply_free(&r);
}

static const struct route {
	const char	*path;		/* the last segment(s) of the path */
	void		(*fn)(struct route_request *);
} routes[] = {
	{ "/file_content",		route_file_content },
	{ "/has_new_checksum",		route_has_new_checksum },
	{ "/health",			route_health },
	{ "/contextfile/content",	route_context_content },
	{ "/contextfile/last_modified",	route_context_last_modified },
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
routes_dispatch(struct http_exchange *x, struct upstream *up)
{
	struct route_request rr = { .x = x, .up = up };
	const struct route *route;
	const char *method, *uri;
	char err[256];

	method = http_param(x, "REQUEST_METHOD");
	/* PATH_INFO differs between lighttpd, mod_fcgid and mod_proxy_fcgi;
	   REQUEST_URI is what the client asked for everywhere. */
	if ((uri = http_param(x, "REQUEST_URI")) == NULL &&
	    (uri = http_param(x, "PATH_INFO")) == NULL)
		uri = http_param(x, "SCRIPT_NAME");
	if (method && strcmp(method, "HEAD") == 0)
		x->head = 1;
	else if (method == NULL || strcmp(method, "GET") != 0) {
		http_header(x, "Allow", "GET, HEAD");
		http_error(x, 405, "only GET and HEAD are allowed");
		return;
	}
	if ((route = find_route(uri)) == NULL) {
		http_error(x, 404, "unknown route; known: /file_content, "
		    "/has_new_checksum, /health, /contextfile/content, "
		    "/contextfile/last_modified");
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
