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

void
route_context_content(struct request *req)
{
	struct reply r;
	const char *mtime, *enc;
	char word[16];
	size_t mlen;

	if (request_file_args(req, "proposal_number", "context.py") == -1 ||
	    request_ask(req, "content", ",\"format\":\"json\"", &r) == -1)
		return;
	/* DAMNIT-web's shape, plus "encoding": a context.py that is not
	   UTF-8 comes as base64, and must say so. */
	mtime = reply_json(&r, "mtime", &mlen);
	if (reply_word(&r, "encoding", word, sizeof(word)) == 0 &&
	    strcmp(word, "base64") == 0)
		enc = ",\"encoding\":\"base64\"}";
	else
		enc = ",\"encoding\":\"utf-8\"}";
	http_send(req->x, 200, 0, (struct http_chunk[]){
	    { "{\"lastModified\":", 16 }, { mtime, mlen },
	    { ",\"fileContent\":", 15 }, { r.payload, r.payload_len },
	    { enc, strlen(enc) } }, 5);
	reply_free(&r);
}

void
route_context_last_modified(struct request *req)
{
	struct reply r;
	const char *mtime;
	size_t mlen;

	if (request_file_args(req, "proposal_number", "context.py") == -1 ||
	    request_ask(req, "checksum", "", &r) == -1)
		return;
	mtime = reply_json(&r, "mtime", &mlen);
	http_send(req->x, 200, 0, (struct http_chunk[]){
	    { "{\"lastModified\":", 16 }, { mtime, mlen }, { "}", 1 } }, 3);
	reply_free(&r);
}
