/*
 * GET /has_new_checksum: whether the file's checksum differs from the one
 * the client has. With wait=S the request is held, its worker's watcherd
 * connection subscribed to the file, until the file changes or S seconds
 * pass; the answer always comes from a fresh look.
 */
#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/fields.h"
#include "common/proto.h"

static void
answer_checksum(struct request *req, uint32_t want)
{
	char crc[CRC_HEX_LEN + 1];
	struct msg_state st;
	struct reply r;
	int differs;

	if (request_ask(req, "checksum", &r) == -1)
		return;
	if (fields_state(r.line, r.len, &st) == -1 || !st.exists ||
	    st.too_large) {
		request_incomplete(req, &r);
		return;
	}
	differs = st.crc != want;
	crc_format(st.crc, crc);
	request_checksum_headers(req, crc, 0);
	http_send(req->x, 200, 0, (struct http_chunk[]){
	    { differs ? "true" : "false", differs ? 4 : 5 } }, 1);
	reply_free(&r);
}

void
route_has_new_checksum(struct request *req)
{
	long long wait = 0, deadline;
	struct reply r, ev;
	const char *given;
	uint32_t want;
	size_t len;
	int e;

	if (request_file_args(req, "proposal", NULL) == -1)
		return;
	if ((given = query_get(&req->q, "checksum", &len)) == NULL || len == 0) {
		http_error(req->x, 400, "checksum is missing");
		return;
	}
	if (len != CRC_HEX_LEN || crc_parse(given, &want) == -1) {
		http_error(req->x, 400, "checksum must be 8 hexadecimal digits");
		return;
	}
	if (request_int_param(req, "wait", 0, REQUEST_WAIT_MAX_S, &wait) == -1)
		return;
	if (wait == 0) {
		answer_checksum(req, want);
		return;
	}
	if (request_hold(req) == -1)
		return;
	if (request_ask(req, "subscribe", &r) == -1) {
		request_release(req);
		return;
	}
	deadline = proto_now_ms() + wait * 1000;
	e = reply_checksum_differs(&r, want);
	reply_free(&r);
	while (!e && proto_now_ms() < deadline) {
		e = upstream_wait_event(req->up, (int)(deadline - proto_now_ms()), &ev);
		if (e == -1) {
			http_error(req->x, 503, "watcherd went away; try again in "
			    "a moment");
			request_release(req);
			return;
		}
		if (e == 1) {
			e = reply_checksum_differs(&ev, want);
			reply_free(&ev);
		}
	}
	/* The answer comes from a fresh look, as without wait. */
	request_unhold(req);
	answer_checksum(req, want);
}
