/*
 * DAMNIT-web's routes for a proposal's context.py, in its shapes:
 * GET /contextfile/content?proposal_number=P and
 * GET /contextfile/last_modified?proposal_number=P.
 */
#include <string.h>

#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/fields.h"
#include "common/msg.h"

/* The mtime of a state into t: the time, or null. */
static void
put_mtime(const struct msg_state *st, struct msg *t)
{
	if (st->exists)
		msg_time(t, &st->mtime);
	else
		msg_text(t, "null");
}

void
route_context_content(struct request *req)
{
	struct msg_state st;
	char mtime[64];
	struct reply r;
	struct msg t;
	const char *enc;
	int base64;

	if (request_file_args(req, "proposal_number", "context.py") == -1 ||
	    request_ask_content(req, &r) == -1)
		return;
	if (fields_content(r.line, r.len, &st, &base64) == -1 ||
	    r.payload == NULL) {
		request_incomplete(req, &r);
		return;
	}
	msg_init(&t, mtime, sizeof(mtime));
	put_mtime(&st, &t);
	/* DAMNIT-web's shape, plus "encoding": a context.py that is not
	   UTF-8 comes as base64, and must say so. */
	enc = base64 ? ",\"encoding\":\"base64\"}" : ",\"encoding\":\"utf-8\"}";
	http_send(req->x, 200, 0, (struct http_chunk[]){
	    { "{\"lastModified\":", 16 }, { t.buf, t.len },
	    { ",\"fileContent\":", 15 }, { r.payload, r.payload_len },
	    { enc, strlen(enc) } }, 5);
	reply_free(&r);
}

void
route_context_last_modified(struct request *req)
{
	struct msg_state st;
	char mtime[64];
	struct reply r;
	struct msg t;

	if (request_file_args(req, "proposal_number", "context.py") == -1 ||
	    request_ask(req, "checksum", &r) == -1)
		return;
	if (fields_state(r.line, r.len, &st) == -1) {
		request_incomplete(req, &r);
		return;
	}
	msg_init(&t, mtime, sizeof(mtime));
	put_mtime(&st, &t);
	http_send(req->x, 200, 0, (struct http_chunk[]){
	    { "{\"lastModified\":", 16 }, { t.buf, t.len }, { "}", 1 } }, 3);
	reply_free(&r);
}
