/*
 * GET /events: a server-sent event stream of the file's changes, held as
 * long as the client stays, its worker's watcherd connection subscribed to
 * the file. A client that reconnects with Last-Event-ID (the checksum it
 * saw last) is caught up with one "changed" event; a watcherd that goes
 * away or an operator's unwatch is bridged with "unavailable" and
 * "available" events and a fresh subscription. A user who may no longer
 * read the file gets watcherd's "forbidden" event, and the stream ends.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/fields.h"
#include "common/msg.h"
#include "common/proto.h"

#define RETRY_MS		1000	/* between tries while watcherd is gone */

/* Writes one server-sent event; id may be NULL. Returns -1 when the
   client is gone. */
static int
send_event(struct request *req, const char *name, const char *id,
    const char *data, size_t len)
{
	char head[128];
	int n;

	n = snprintf(head, sizeof(head), "event: %s\n%s%s%sdata: ", name,
	    id ? "id: " : "", id ? id : "", id ? "\n" : "");
	if (req->x->head)
		return 0;
	return http_stream_write(req->x, head, (size_t)n) == -1 ||
	    http_stream_write(req->x, data, len) == -1 ||
	    http_stream_write(req->x, "\n\n", 2) == -1 ? -1 : 0;
}

/* The checksum of a state as an id, into crc; NULL when it has none. */
static const char *
state_id(const struct msg_state *st, char *crc)
{
	if (!st->exists || st->too_large)
		return NULL;
	crc_format(st->crc, crc);
	return crc;
}

/* Sends a watcherd event line as a server-sent event, as it stands, its
   checksum as id (none for a deleted file). Remembers the id in last. */
static int
forward_event(struct request *req, const struct reply *r,
    const struct fields_event *ev, char *last)
{
	char crc[CRC_HEX_LEN + 1];
	const char *id = ev->has_state ? state_id(&ev->st, crc) : NULL;

	if (id)
		memcpy(last, id, CRC_HEX_LEN + 1);
	return send_event(req, ev->name, id, r->line, r->len);
}

/* Subscribes without answering: 0 with the reply in *state (the caller
   frees it), 1 when watcherd refused (the file is gone, ...), -1 when
   watcherd is unreachable. */
static int
subscribe_quietly(struct request *req, struct reply *state)
{
	if (request_call(req, "subscribe", state) == -1)
		return -1;
	if (reply_ok(state))
		return 0;
	reply_free(state);
	upstream_close(req->up);
	return 1;
}

/*
 * Catches a client up after a subscribe: a "changed" event with the file's
 * state when it differs from last, the checksum the client last saw; with
 * no last, the file as it is now becomes last.
 */
static int
catch_up(struct request *req, const struct reply *r, char *last)
{
	char line[MSG_LINE_MAX], word[CRC_HEX_LEN + 1];
	struct msg_state st;
	const char *crc;
	struct msg m;
	uint32_t seen;

	if (fields_state(r->line, r->len, &st) == -1)
		st = (struct msg_state){ .exists = 0 };
	crc = state_id(&st, word);
	if (last[0] == '\0' || crc_parse(last, &seen) == -1) {
		if (crc)
			memcpy(last, crc, CRC_HEX_LEN + 1);
		return 0;
	}
	if (crc && st.crc == seen)
		return 0;
	msg_init(&m, line, sizeof(line));
	msg_event_state(&m, "changed", req->proposal, req->file_name,
	    req->file_name_len, &st, NULL);
	if (crc)
		memcpy(last, crc, CRC_HEX_LEN + 1);
	return send_event(req, "changed", crc, m.buf, m.len);
}

/* The "deleted" event of a file found missing after watcherd came back. */
static int
send_deleted(struct request *req)
{
	static const struct msg_state gone = { .exists = 0 };
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_event_state(&m, "deleted", req->proposal, req->file_name,
	    req->file_name_len, &gone, NULL);
	return send_event(req, "deleted", NULL, m.buf, m.len);
}

/*
 * Subscribes again after watcherd went away or ended the subscription
 * (unwatch), trying every RETRY_MS and saying "unavailable" while watcherd
 * does not answer (then "available"), "deleted" while the file is gone;
 * heartbeats go on meanwhile. Catches the client up once subscribed.
 * Returns 0 subscribed, -1 when the client went away.
 */
static int
resubscribe(struct request *req, char *last)
{
	static const char unavailable[] = "{\"detail\":\"watcherd is not "
	    "available; retrying\"}";
	struct timespec pause = { RETRY_MS / 1000, (RETRY_MS % 1000) * 1000000L };
	struct reply state;
	long long beat = proto_now_ms() + req->limits->heartbeat_ms;
	int announced = 0, deleted = 0, first, r;

	for (first = 1;; first = 0) {
		if (!first)
			nanosleep(&pause, NULL);
		if (proto_now_ms() >= beat) {
			if (http_stream_write(req->x, ": heartbeat\n\n", 13) == -1)
				return -1;
			beat = proto_now_ms() + req->limits->heartbeat_ms;
		}
		if ((r = subscribe_quietly(req, &state)) == -1) {
			if (!announced && send_event(req, "unavailable", NULL,
			    unavailable, sizeof(unavailable) - 1) == -1)
				return -1;
			announced = 1;
			continue;
		}
		if (r == 1) {
			/* The file is gone: say so once, look again. */
			if (!deleted && send_deleted(req) == -1)
				return -1;
			deleted = 1;
			continue;
		}
		r = (announced && send_event(req, "available", NULL, "{}",
		    2) == -1) || catch_up(req, &state, last) == -1 ? -1 : 0;
		reply_free(&state);
		return r;
	}
}

void
route_events(struct request *req)
{
	static const char hello[] = "retry: 2000\n\n";
	char last[CRC_HEX_LEN + 1] = "";
	struct fields_event fe;
	struct reply r, ev;
	const char *id;
	int e;

	if (request_file_args(req, "proposal", NULL) == -1)
		return;
	/* A reconnecting EventSource sends Last-Event-ID with the URL of its
	   first connection: the header is the newer of the two. */
	if (((id = http_param(req->x, "HTTP_LAST_EVENT_ID")) != NULL ||
	    (id = query_get(&req->q, "last_event_id", NULL)) != NULL) &&
	    strlen(id) == CRC_HEX_LEN && strspn(id, "0123456789abcdef") ==
	    CRC_HEX_LEN)
		memcpy(last, id, sizeof(last));
	if (request_hold(req) == -1)
		return;
	if (request_ask(req, "subscribe", &r) == -1) {
		request_release(req);
		return;
	}
	http_stream_begin(req->x, "text/event-stream");
	if (req->x->head || http_stream_write(req->x, hello, sizeof(hello) - 1) ||
	    catch_up(req, &r, last) == -1) {
		reply_free(&r);
		request_unhold(req);
		return;
	}
	reply_free(&r);
	for (;;) {
		e = upstream_wait_event(req->up, req->limits->heartbeat_ms, &ev);
		if (e == 1) {
			/* An operator's unwatch is bridged; a user who may
			   no longer read is told, and the stream ends. */
			if (fields_event(ev.line, ev.len, &fe) == -1)
				e = 0;
			else if (strcmp(fe.name, "unwatched") == 0)
				e = resubscribe(req, last);
			else if ((e = forward_event(req, &ev, &fe, last)) == 0 &&
			    strcmp(fe.name, "forbidden") == 0)
				e = -1;
			reply_free(&ev);
		} else if (e == 0)
			e = http_stream_write(req->x, ": heartbeat\n\n", 13);
		else
			e = resubscribe(req, last);
		if (e == -1)
			break;
	}
	request_unhold(req);
}
