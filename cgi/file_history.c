/*
 * GET /file_history: the versions of a file (DESIGN.md section 9), newest
 * first, each with its checksum, time, size, user (null for a change seen
 * on disk) and source. watcherd checks it as reading the file is; a file
 * whose versions are not kept has none ("kept": false).
 */
#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/fields.h"
#include "common/msg.h"

void
route_file_history(struct request *req)
{
	char head[MSG_LINE_MAX];
	long long count;
	struct reply r;
	struct msg h;
	int kept;

	if (request_file_args(req, "proposal", NULL) == -1 ||
	    request_ask(req, "history", &r) == -1)
		return;
	if (fields_history(r.line, r.len, &kept, &count) == -1 ||
	    r.payload == NULL) {
		request_incomplete(req, &r);
		return;
	}
	msg_init(&h, head, sizeof(head));
	request_file_head(req, &h);
	msg_text(&h, kept ? ",\"kept\":true,\"versions\":" :
	    ",\"kept\":false,\"versions\":");
	if (h.full)
		request_incomplete(req, NULL);
	else
		http_send(req->x, 200, 0, (struct http_chunk[]){
		    { h.buf, h.len }, { r.payload, r.payload_len },
		    { "}", 1 } }, 3);
	reply_free(&r);
}
