/*
 * GET /file_tail: the bytes of a growing file (a log) from an offset on,
 * with the generation that tells a client when the file was truncated or
 * replaced. With wait=S a request that finds no new bytes is held, its
 * worker's connection subscribed to the file, until some come or S
 * seconds pass.
 */
#include <stdio.h>
#include <string.h>

#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/msg.h"
#include "common/proto.h"

#define GENERATION_MAX		32

static void
answer_tail(struct request *req, const struct reply *r)
{
	static const char *const keys[] = { "offset", "next_offset", "size",
	    "generation", "reset", "encoding", "checksum", "mtime" };
	char head[MSG_LINE_MAX], crc[CRC_HEX_LEN + 1];
	struct msg m;
	size_t i;

	msg_init(&m, head, sizeof(head));
	request_file_head(req, &m);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		reply_put(r, keys[i], &m);
	msg_text(&m, ",\"data\":");
	/* Bounded even should a reply carry values longer than any
	   watcherd writes: past the buffer, the answer is a 500. */
	if (r->payload == NULL || m.full) {
		http_error(req->x, 500, "watcherd sent an incomplete reply");
		return;
	}
	if (reply_word(r, "checksum", crc, sizeof(crc)) == 0)
		request_checksum_headers(req, crc, 0);
	http_send(req->x, 200, 0, (struct http_chunk[]){
	    { m.buf, m.len }, { r->payload, r->payload_len }, { "}", 1 } }, 3);
}

/* Whether a tail reply is worth answering at once: new bytes, or a reset. */
static int
tail_news(const struct reply *r)
{
	long long off, next;

	return reply_true(r, "reset") ||
	    (reply_int(r, "offset", &off) == 0 &&
	    reply_int(r, "next_offset", &next) == 0 && off != next);
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
	struct reply r, ev;
	const char *gen;
	char extra[256];
	int held = 0, e;

	if (request_file_args(req, "proposal", NULL) == -1 ||
	    request_int_param(req, "offset", 0, 1LL << 62, &offset) == -1 ||
	    request_int_param(req, "max_bytes", 4, PROTO_TAIL_MAX_BYTES, &max) == -1 ||
	    request_int_param(req, "wait", 0, REQUEST_WAIT_MAX_S, &wait) == -1 ||
	    generation_param(req, &gen) == -1)
		return;
	snprintf(extra, sizeof(extra), ",\"offset\":%lld,\"max_bytes\":%lld,"
	    "\"format\":\"json\"%s%s%s", offset, max,
	    gen ? ",\"generation\":\"" : "", gen ? gen : "", gen ? "\"" : "");
	if (wait > 0) {
		if (request_hold(req) == -1)
			return;
		if (request_ask(req, "subscribe", "", &r) == -1) {
			request_release(req);
			return;
		}
		reply_free(&r);
		held = 1;
		deadline = proto_now_ms() + wait * 1000;
	}
	for (;;) {
		if (request_ask(req, "tail", extra, &r) == -1)
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
