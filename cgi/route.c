#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cgi/http.h"
#include "cgi/route.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/msg.h"
#include "common/policy.h"
#include "common/text.h"

void
reply_free(struct reply *r)
{
	json_object_put(r->obj);
	free(r->payload);
	memset(r, 0, sizeof(*r));
}

const char *
reply_string(const struct reply *r, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *
reply_json(const struct reply *r, const char *key, size_t *len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->obj, key, &v)) {
		*len = 4;
		return "null";
	}
	return json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, len);
}

int
route_ask(struct route_request *rr, const char *cmd, const char *extra,
    struct reply *r)
{
	char line[MSG_LINE_MAX];
	struct json_object *ok, *detail;
	const char *code;
	struct msg m;

	memset(r, 0, sizeof(*r));
	msg_init(&m, line, sizeof(line));
	if (rr->file_name) {
		msg_request_file(&m, cmd, rr->proposal, rr->file_name,
		    rr->file_name_len);
		msg_text(&m, extra);
		msg_text(&m, "}");
	} else {
		msg_text(&m, "{\"cmd\":\"");
		msg_text(&m, cmd);
		msg_text(&m, "\"}");
	}
	if (upstream_call(rr->up, m.buf, m.len, &r->obj,
	    &r->payload, &r->payload_len) == -1) {
		http_error(rr->x, 503, "watcherd is not available; try again "
		    "in a moment");
		return -1;
	}
	if (json_object_object_get_ex(r->obj, "ok", &ok) &&
	    json_object_get_boolean(ok))
		return 0;
	code = reply_string(r, "error");
	json_object_object_get_ex(r->obj, "detail", &detail);
	http_error(rr->x, proto_error_http_status(proto_error_from_code(code)),
	    detail ? json_object_get_string(detail) : "watcherd refused");
	reply_free(r);
	return -1;
}

int
route_file_args(struct route_request *rr, const char *param, const char *file)
{
	const char *p;
	size_t len;
	char msg[128];

	if ((p = query_get(&rr->q, param, &len)) == NULL || len == 0) {
		snprintf(msg, sizeof(msg), "%s is missing", param);
		http_error(rr->x, 400, msg);
		return -1;
	}
	if (policy_parse_proposal(p, len, &rr->proposal) == -1) {
		snprintf(msg, sizeof(msg), "%s must be a number of 1 to 6 digits",
		    param);
		http_error(rr->x, 400, msg);
		return -1;
	}
	if (file) {
		rr->file_name = file;
		rr->file_name_len = strlen(file);
		return 0;
	}
	rr->file_name = query_get(&rr->q, "file_name", &rr->file_name_len);
	if (rr->file_name == NULL || rr->file_name_len == 0) {
		http_error(rr->x, 400, "file_name is missing");
		return -1;
	}
	return 0;
}

int
route_int_param(struct route_request *rr, const char *name, long long min,
    long long max, long long *v)
{
	const char *p;
	char *end, msg[160];
	long long n;
	size_t len;

	if ((p = query_get(&rr->q, name, &len)) == NULL)
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
	http_error(rr->x, 400, msg);
	return -1;
}

void
route_name_literal(const struct route_request *rr, char *buf)
{
	size_t len = rr->file_name_len > POLICY_MAX_NAME ? POLICY_MAX_NAME :
	    rr->file_name_len;

	buf[text_json_escape(rr->file_name, len, buf)] = '\0';
}

void
route_checksum_headers(struct route_request *rr, const char *crc, int etag)
{
	char quoted[CRC_HEX_LEN + 3];

	http_header(rr->x, "X-Checksum", crc);
	if (etag) {
		snprintf(quoted, sizeof(quoted), "\"%s\"", crc);
		http_header(rr->x, "ETag", quoted);
	}
}

int
route_hold(struct route_request *rr)
{
	if (atomic_fetch_add(&rr->limits->held, 1) < rr->limits->max_held)
		return 0;
	atomic_fetch_sub(&rr->limits->held, 1);
	http_error(rr->x, 503, "too many clients are waiting for changes; "
	    "try again in a moment");
	return -1;
}

void
route_release(struct route_request *rr)
{
	atomic_fetch_sub(&rr->limits->held, 1);
}
