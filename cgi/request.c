#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/gate.h"
#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/fields.h"
#include "common/msg.h"
#include "common/policy.h"
#include "common/text.h"

struct msg_file
request_target(const struct request *req)
{
	return (struct msg_file){ .proposal = req->proposal,
	    .name = req->file_name, .len = req->file_name_len, .named = 1,
	    .user = req->user };
}

/* Sends the line m holds and reads the reply. */
static int
call_line(struct request *req, const struct msg *m, struct reply *r)
{
	if (m->full) {
		/* Names are cut to fit: never seen. */
		snprintf(req->up->client.errstr, sizeof(req->up->client.errstr),
		    "the request does not fit a line");
		return -1;
	}
	return upstream_call(req->up, m->buf, m->len, r);
}

/* Writes cmd about the request's file, or cmd alone without one. */
static void
cmd_line(const struct request *req, const char *cmd, struct msg *m)
{
	struct msg_file f = request_target(req);

	if (req->file_name)
		msg_request_file(m, cmd, &f);
	else
		msg_request(m, cmd);
}

int
request_call(struct request *req, const char *cmd, struct reply *r)
{
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	cmd_line(req, cmd, &m);
	return call_line(req, &m, r);
}

/* Answers for a call that failed (503) or was refused; 0 for a reply of
   "ok":true. */
static int
asked(struct request *req, int called, struct reply *r)
{
	if (called == -1) {
		http_error(req->x, 503, "watcherd is not available; try again "
		    "in a moment");
		return -1;
	}
	if (reply_ok(r))
		return 0;
	request_refused(req, r);
	return -1;
}

int
request_ask_line(struct request *req, const struct msg *m, struct reply *r)
{
	return asked(req, call_line(req, m, r), r);
}

int
request_ask(struct request *req, const char *cmd, struct reply *r)
{
	return asked(req, request_call(req, cmd, r), r);
}

int
request_ask_content(struct request *req, struct reply *r)
{
	struct msg_file f = request_target(req);
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_request_content(&m, &f, 1);
	return request_ask_line(req, &m, r);
}

void
request_incomplete(struct request *req, struct reply *r)
{
	http_error(req->x, 500, "watcherd sent an incomplete reply");
	if (r)
		reply_free(r);
}

void
request_refused(struct request *req, struct reply *r)
{
	struct fields_refusal ref;

	fields_refusal(r->line, r->len, &ref);
	http_error(req->x, proto_error_http_status(ref.error),
	    ref.has_detail ? ref.detail : "watcherd refused");
	reply_free(r);
}

int
request_file_args(struct request *req, const char *param, const char *file)
{
	const char *p;
	size_t len;
	char msg[128];

	if ((p = query_get(&req->q, param, &len)) == NULL || len == 0) {
		snprintf(msg, sizeof(msg), "%s is missing", param);
		http_error(req->x, 400, msg);
		return -1;
	}
	if (policy_parse_proposal(p, len, &req->proposal) == -1) {
		snprintf(msg, sizeof(msg), "%s must be a number of 1 to 6 digits",
		    param);
		http_error(req->x, 400, msg);
		return -1;
	}
	if (file) {
		req->file_name = file;
		req->file_name_len = strlen(file);
		return 0;
	}
	req->file_name = query_get(&req->q, "file_name", &req->file_name_len);
	if (req->file_name == NULL || req->file_name_len == 0) {
		http_error(req->x, 400, "file_name is missing");
		return -1;
	}
	return 0;
}

int
request_int_param(struct request *req, const char *name, long long min,
    long long max, long long *v)
{
	const char *p;
	char *end, msg[160];
	long long n;
	size_t len;

	if ((p = query_get(&req->q, name, &len)) == NULL)
		return 0;
	if (len > 0 && len <= 19 && p[0] >= '0' && p[0] <= '9') {
		n = strtoll(p, &end, 10);
		if ((size_t)(end - p) == len && n >= min && n <= max) {
			*v = n;
			return 0;
		}
	}
	snprintf(msg, sizeof(msg), "%s must be a whole number from %lld to %lld",
	    name, min, max);
	http_error(req->x, 400, msg);
	return -1;
}

void
request_file_head(const struct request *req, struct msg *m)
{
	msg_text(m, "{\"proposal\":");
	msg_uint(m, req->proposal);
	msg_text(m, ",\"file_name\":");
	msg_string(m, req->file_name, req->file_name_len > POLICY_MAX_NAME ?
	    POLICY_MAX_NAME : req->file_name_len);
}

void
request_checksum_headers(struct request *req, const char *crc, int etag)
{
	char quoted[CRC_HEX_LEN + 3];

	http_header(req->x, "X-Checksum", crc);
	if (etag) {
		quoted[0] = '"';
		memcpy(quoted + 1, crc, CRC_HEX_LEN);
		quoted[CRC_HEX_LEN + 1] = '"';
		quoted[CRC_HEX_LEN + 2] = '\0';
		http_header(req->x, "ETag", quoted);
	}
}

int
request_hold(struct request *req)
{
	if (atomic_fetch_add(&req->limits->held, 1) < req->limits->max_held) {
		if (req->limits->gate && !req->x->held)
			gate_give(req->limits->gate);
		req->x->held = 1;
		return 0;
	}
	atomic_fetch_sub(&req->limits->held, 1);
	http_error(req->x, 503, "too many clients are waiting for changes; "
	    "try again in a moment");
	return -1;
}

void
request_release(struct request *req)
{
	atomic_fetch_sub(&req->limits->held, 1);
}

void
request_unhold(struct request *req)
{
	upstream_close(req->up);
	request_release(req);
}
