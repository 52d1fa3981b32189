/*
 * GET /file_content: the file's content with its checksum, size and mtime,
 * the checksum as ETag. A client that sends the ETag it has back in
 * If-None-Match gets 304 for the cost of a stat while the file is
 * unchanged. With version=C, the kept version of that checksum instead,
 * read-only (DESIGN.md section 9): its time as mtime, no ETag.
 */
#include <string.h>

#include "cgi/http.h"
#include "cgi/query.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/fields.h"
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

/* The state's checksum into crc; -1 when it has none (too large). */
static int
state_crc(const struct reply *r, struct msg_state *st, char *crc)
{
	if (fields_state(r->line, r->len, st) == -1 || !st->exists ||
	    st->too_large)
		return -1;
	crc_format(st->crc, crc);
	return 0;
}

static void	answer_content(struct request *, struct reply *, int etag);
static void	ask_version(struct request *, uint32_t crc);

void
route_file_content(struct request *req)
{
	char crc[CRC_HEX_LEN + 1];
	struct msg_state st;
	const char *inm, *version;
	struct reply r;
	uint32_t vcrc;
	size_t vlen;

	if (request_file_args(req, "proposal", NULL) == -1)
		return;
	if ((version = query_get(&req->q, "version", &vlen)) != NULL) {
		if (vlen != CRC_HEX_LEN || crc_parse(version, &vcrc) == -1) {
			http_error(req->x, 400, "version must be the 8 "
			    "hexadecimal digits of a version's checksum");
			return;
		}
		ask_version(req, vcrc);
		return;
	}
	inm = http_param(req->x, "HTTP_IF_NONE_MATCH");
	if (inm) {
		/* Revalidation: a stat and a cached checksum, no content. */
		if (request_ask(req, "checksum", &r) == -1)
			return;
		if (state_crc(&r, &st, crc) == 0 && etag_matches(inm, crc)) {
			request_checksum_headers(req, crc, 1);
			http_send(req->x, 304, 1, NULL, 0);
			reply_free(&r);
			return;
		}
		reply_free(&r);
	}
	if (request_ask_content(req, &r) == -1)
		return;
	answer_content(req, &r, 1);
}

/* The content reply r as the route's answer, the checksum as ETag when
   etag is set. Frees r. */
static void
answer_content(struct request *req, struct reply *r, int etag)
{
	char crc[CRC_HEX_LEN + 1], head[MSG_LINE_MAX], tail[256];
	struct msg_state st;
	struct msg h, t;
	int base64;

	if (state_crc(r, &st, crc) == -1 ||
	    fields_content(r->line, r->len, &st, &base64) == -1 ||
	    r->payload == NULL) {
		request_incomplete(req, r);
		return;
	}
	request_checksum_headers(req, crc, etag);
	msg_init(&h, head, sizeof(head));
	request_file_head(req, &h);
	msg_text(&h, ",\"content\":");
	msg_init(&t, tail, sizeof(tail));
	msg_text(&t, base64 ? ",\"encoding\":\"base64\"," :
	    ",\"encoding\":\"utf-8\",");
	msg_state(&t, &st);
	msg_text(&t, "}");
	if (h.full || t.full)
		request_incomplete(req, NULL);
	else
		http_send(req->x, 200, 1, (struct http_chunk[]){
		    { h.buf, h.len }, { r->payload, r->payload_len },
		    { t.buf, t.len } }, 3);
	reply_free(r);
}

/* The version of checksum crc, answered as the content is. */
static void
ask_version(struct request *req, uint32_t crc)
{
	struct msg_file f = request_target(req);
	char line[MSG_LINE_MAX];
	struct reply r;
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_request_version(&m, &f, 1, crc);
	if (request_ask_line(req, &m, &r) == -1)
		return;
	answer_content(req, &r, 0);
}
