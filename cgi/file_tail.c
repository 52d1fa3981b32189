/*
 * GET /file_tail: the bytes of a growing file (a log) from an offset on,
 * with the generation that tells a client when the file was truncated or
 * replaced. With wait=S a request that finds no new bytes is held, its
 * worker's connection subscribed to the file, until some come or S
 * seconds pass.
 */
#include <string.h>

#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/fields.h"
#include "common/msg.h"
#include "common/proto.h"

#define GENERATION_MAX		32

static void
answer_tail(struct request *req, const struct reply *r)
{
	char head[MSG_LINE_MAX], crc[CRC_HEX_LEN + 1];
	struct msg_tail t;
	struct msg m;

	if (fields_tail(r->line, r->len, &t) == -1 || r->payload == NULL) {
		request_incomplete(req, NULL);
		return;
	}
	msg_init(&m, head, sizeof(head));
	request_file_head(req, &m);
	msg_text(&m, ",");
	msg_tail_fields(&m, &t);
	msg_text(&m, ",\"data\":");
	if (m.full) {
		request_incomplete(req, NULL);
		return;
	}
	if (t.has_crc) {
		crc_format(t.crc, crc);
		request_checksum_headers(req, crc, 0);
	}
	http_send(req->x, 200, 0, (struct http_chunk[]){
	    { m.buf, m.len }, { r->payload, r->payload_len }, { "}", 1 } }, 3);
}

/* Whether a tail reply is worth answering at once: new bytes, or a reset
   (or a reply that does not read as one, answered as such). */
static int
tail_news(const struct reply *r)
{
	struct msg_tail t;

	return fields_tail(r->line, r->len, &t) == -1 || t.reset ||
	    t.offset != t.next_offset;
}

/* Reads generation: at most GENERATION_MAX of [0-9a-f-]. Returns 0, or -1
   after answering 400. */
static int
generation_param(struct request *req, const char **gen)
{
	size_t len;

	*gen = query_get(&req->q, "generation", &len);
	if (*gen == NULL || (len > 0 && len <= GENERATION_MAX &&
	    strspn(*gen, "0123456789abcdef-") == len))
		return 0;
	http_error(req->x, 400, "generation must be the value a previous "
	    "answer gave");
	return -1;
}

void
route_file_tail(struct request *req)
{
	long long offset = 0, max = PROTO_TAIL_DEFAULT_BYTES, wait = 0, deadline = 0;
	struct msg_file f;
	struct reply r, ev;
	const char *gen;
	char line[MSG_LINE_MAX];
	struct msg m;
	int held = 0, e;

	if (request_file_args(req, "proposal", NULL) == -1 ||
	    request_int_param(req, "offset", 0, 1LL << 62, &offset) == -1 ||
	    request_int_param(req, "max_bytes", 4, PROTO_TAIL_MAX_BYTES, &max) == -1 ||
	    request_int_param(req, "wait", 0, REQUEST_WAIT_MAX_S, &wait) == -1 ||
	    generation_param(req, &gen) == -1)
		return;
	f = request_target(req);
	msg_init(&m, line, sizeof(line));
	msg_request_tail(&m, &f, offset, max, 1, gen);
	if (wait > 0) {
		if (request_hold(req) == -1)
			return;
		if (request_ask(req, "subscribe", &r) == -1) {
			request_release(req);
			return;
		}
		reply_free(&r);
		held = 1;
		deadline = proto_now_ms() + wait * 1000;
	}
	for (;;) {
		if (request_ask_line(req, &m, &r) == -1)
			goto done;
		if (!held || tail_news(&r) || proto_now_ms() >= deadline)
			break;
		/* Events that came with the reply are in it already. */
		e = upstream_wait_event(req->up, (int)(deadline - proto_now_ms()),
		    &ev);
		if (e == 1)
			reply_free(&ev);
		if (e == 0)
			break;
		reply_free(&r);
		if (e == -1) {
			http_error(req->x, 503, "watcherd went away; try again in "
			    "a moment");
			goto done;
		}
	}
	answer_tail(req, &r);
	reply_free(&r);
done:
	if (held)
		request_unhold(req);
}
