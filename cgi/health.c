/*
 * GET /health: watcherd's status, and this handler process's workers and
 * held requests. Never cached.
 */
#include <stdio.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"

void
route_health(struct request *req)
{
	struct json_object *status;
	struct reply r;
	char handler[160];
	size_t len;
	const char *s;
	int n;

	if (request_ask(req, "status", &r) == -1)
		return;
	if ((status = reply_parse(&r)) == NULL) {
		request_incomplete(req, &r);
		return;
	}
	json_object_object_del(status, "ok");
	s = json_object_to_json_string_length(status, JSON_C_TO_STRING_PLAIN,
	    &len);
	n = snprintf(handler, sizeof(handler), ",\"handler\":{\"pid\":%ld,"
	    "\"threads\":%d,\"held\":%d,\"max_held\":%d}}", (long)getpid(),
	    req->limits->threads, atomic_load(&req->limits->held),
	    req->limits->max_held);
	http_send(req->x, 200, 0, (struct http_chunk[]){
	    { "{\"status\":\"ok\",\"watcherd\":", 26 }, { s, len },
	    { handler, (size_t)n } }, 3);
	json_object_put(status);
	reply_free(&r);
}
