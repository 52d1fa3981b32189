/*
 * GET /file_content: the file's content with its checksum, size and mtime,
 * the checksum as ETag. A client that sends the ETag it has back in
 * If-None-Match gets 304 for the cost of a stat while the file is
 * unchanged.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/msg.h"

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

void
route_file_content(struct request *req)
{
	char head[1024], name[MSG_NAME_LITERAL_MAX], tail[256];
	const char *crc, *inm, *enc;
	size_t mlen;
	const char *mtime;
	struct reply r;
	int n;

	if (request_file_args(req, "proposal", NULL) == -1)
		return;
	inm = http_param(req->x, "HTTP_IF_NONE_MATCH");
	if (inm) {
		/* Revalidation: a stat and a cached checksum, no content. */
		if (request_ask(req, "checksum", "", &r) == -1)
			return;
		crc = reply_string(&r, "checksum");
		if (crc && etag_matches(inm, crc)) {
			request_checksum_headers(req, crc, 1);
			http_send(req->x, 304, 1, NULL, 0);
			reply_free(&r);
			return;
		}
		reply_free(&r);
	}
	if (request_ask(req, "content", ",\"format\":\"json\"", &r) == -1)
		return;
	crc = reply_string(&r, "checksum");
	enc = reply_string(&r, "encoding");
	if (crc == NULL || enc == NULL || r.payload == NULL) {
		http_error(req->x, 500, "watcherd sent an incomplete reply");
		reply_free(&r);
		return;
	}
	request_checksum_headers(req, crc, 1);
	request_name_literal(req, name);
	n = snprintf(head, sizeof(head), "{\"proposal\":%u,\"file_name\":%s,"
	    "\"content\":", req->proposal, name);
	mtime = reply_json(&r, "mtime", &mlen);
	snprintf(tail, sizeof(tail), ",\"encoding\":\"%s\",\"checksum\":\"%s\","
	    "\"size\":%lld,\"mtime\":%.*s}", enc, crc,
	    (long long)json_object_get_int64(json_object_object_get(r.obj, "size")),
	    (int)mlen, mtime);
	http_send(req->x, 200, 1, (struct http_chunk[]){
	    { head, (size_t)n }, { r.payload, r.payload_len },
	    { tail, strlen(tail) } }, 3);
	reply_free(&r);
}
