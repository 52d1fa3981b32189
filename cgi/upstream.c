#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cgi/upstream.h"
#include "common/fields.h"

void
upstream_init(struct upstream *u, const char *path, int timeout_ms)
{
	u->connected = 0;
	u->path = path;
	u->timeout_ms = timeout_ms;
	u->client.fd = -1;
}

void
upstream_close(struct upstream *u)
{
	if (u->connected)
		proto_client_close(&u->client);
	u->connected = 0;
}

/* An empty reply: no line, no payload. */
static void
reply_clear(struct reply *r)
{
	r->line = NULL;
	r->len = 0;
	r->payload = NULL;
	r->payload_len = 0;
}

/* Whether a line from watcherd is a pushed event, not a reply. */
static int
is_event(const char *line, size_t len)
{
	const char *v;
	size_t n;

	return fields_get(line, len, "ok", &v, &n) == 0 &&
	    fields_get(line, len, "event", &v, &n) == 1;
}

/* Reads the next line into r, and its payload; events passed over unless
   want_event. Returns 0 with r filled, or -1. */
static int
read_line(struct upstream *u, struct reply *r, int want_event)
{
	const char *v;
	long long want;
	char *line;
	size_t len, vlen;
	int p;

	reply_clear(r);
	/* The events passed over and the payload count in the call's time. */
	proto_client_start(&u->client);
	do {
		if (proto_client_read_line(&u->client, &line, &len) == -1)
			return -1;
	} while (!want_event && is_event(line, len));
	if (len < sizeof(r->inline_line))
		r->line = r->inline_line;
	else if ((r->line = malloc(len + 1)) == NULL)
		return -1;
	memcpy(r->line, line, len + 1);
	r->len = len;
	/* A payload announced in a line this reader cannot read would be
	   taken for lines: the connection is given up instead. */
	if ((p = fields_get(r->line, len, "payload", &v, &vlen)) == -1 ||
	    (p == 1 && fields_int(r->line, len, "payload", &want) == -1)) {
		snprintf(u->client.errstr, sizeof(u->client.errstr),
		    "watcherd sent a line that is not a JSON object");
		reply_free(r);
		return -1;
	}
	if (p == 1) {
		if (proto_client_read_payload(&u->client, want,
		    &r->payload) == -1) {
			reply_free(r);
			return -1;
		}
		r->payload_len = (size_t)want;
	}
	return 0;
}

/* One request and its reply within timeout_ms; *whole says whether all
   of the request went out. */
static int
call_once(struct upstream *u, const char *line, size_t len,
    const char *payload, size_t payload_len, int timeout_ms,
    struct reply *r, int *whole)
{
	int sent, rc = -1;

	*whole = 0;
	if (!u->connected) {
		if (proto_client_connect(&u->client, u->path, u->timeout_ms) == -1) {
			proto_client_close(&u->client);
			return -1;
		}
		u->connected = 1;
	}
	u->client.timeout_ms = timeout_ms;
	sent = proto_client_send_payload(&u->client, line, len, payload,
	    payload_len) == 0;
	*whole = sent;
	/* A watcherd that would not take a payload may answer and close
	   before it is all sent: that answer is still the reply. */
	if (sent || (payload_len > 0 && (errno == EPIPE || errno == ECONNRESET)))
		rc = read_line(u, r, 0);
	u->client.timeout_ms = u->timeout_ms;
	if (rc == 0)
		return 0;
	upstream_close(u);
	return -1;
}

/* Calls, and once more on a fresh connection when a kept one was found
   dead: every request may be repeated, but one with a payload (a write)
   only while watcherd cannot have had all of it. A timeout is an answer. */
static int
call(struct upstream *u, const char *line, size_t len, const char *payload,
    size_t payload_len, int timeout_ms, struct reply *r)
{
	int reused = u->connected, whole;

	if (call_once(u, line, len, payload, payload_len, timeout_ms, r,
	    &whole) == 0)
		return 0;
	if (!reused || errno == ETIMEDOUT || (payload_len > 0 && whole))
		return -1;
	return call_once(u, line, len, payload, payload_len, timeout_ms, r,
	    &whole);
}

int
upstream_call(struct upstream *u, const char *line, size_t len,
    struct reply *r)
{
	return call(u, line, len, NULL, 0, u->timeout_ms, r);
}

int
upstream_call_payload(struct upstream *u, const char *line, size_t len,
    const char *payload, size_t payload_len, int timeout_ms, struct reply *r)
{
	return call(u, line, len, payload, payload_len, timeout_ms, r);
}

int
upstream_wait_event(struct upstream *u, int timeout_ms, struct reply *event)
{
	int r, saved;

	reply_clear(event);
	if (!u->connected)
		return -1;
	/* A deadline that passed while the caller computed it: no wait (a
	   negative timeout would be none at all for the client). */
	u->client.timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
	r = read_line(u, event, 1);
	saved = errno;
	u->client.timeout_ms = u->timeout_ms;
	if (r == 0 && is_event(event->line, event->len))
		return 1;
	if (r == 0)
		reply_free(event);
	if (r == -1 && saved == ETIMEDOUT)
		return 0;
	upstream_close(u);
	return -1;
}

void
reply_free(struct reply *r)
{
	if (r->line != r->inline_line)
		free(r->line);
	free(r->payload);
	reply_clear(r);
}

int
reply_ok(const struct reply *r)
{
	return r->line != NULL && fields_ok(r->line, r->len) == 1;
}

int
reply_checksum_differs(const struct reply *r, uint32_t want)
{
	struct msg_state st;

	return r->line == NULL || fields_state(r->line, r->len, &st) == -1 ||
	    !st.exists || st.too_large || st.crc != want;
}

struct json_object *
reply_parse(const struct reply *r)
{
	struct json_object *o;

	if (r->line == NULL)
		return NULL;
	o = json_tokener_parse(r->line);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
