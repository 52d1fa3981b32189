/*
 * The answers that may be held open: long-polls (/has_new_checksum and
 * /file_tail with wait=S) and the event stream (/events). Each holds its
 * worker's watcherd connection subscribed to the file while it waits and
 * closes it afterwards, which ends the subscription.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cgi/http.h"
#include "cgi/route.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/msg.h"
#include "common/policy.h"

#define WAIT_MAX_S		30
#define GENERATION_MAX		32
#define RETRY_MS		1000	/* between tries while watcherd is gone */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ends a held request: the subscribed connection and the held place. */
static void
unhold(struct route_request *rr)
{
	upstream_close(rr->up);
	route_release(rr);
}

/* has_new_checksum */

static void
answer_checksum(struct route_request *rr, uint32_t want)
{
	const char *crc;
	struct reply r;
	uint32_t have;
	int differs;

	if (route_ask(rr, "checksum", "", &r) == -1)
		return;
	crc = reply_string(&r, "checksum");
	if (crc == NULL || crc_parse(crc, &have) == -1) {
		http_error(rr->x, 500, "watcherd sent an incomplete reply");
		reply_free(&r);
		return;
	}
	differs = have != want;
	route_checksum_headers(rr, crc, 0);
	http_send(rr->x, 200, 0, (struct http_chunk[]){
	    { differs ? "true" : "false", differs ? 4 : 5 } }, 1);
	reply_free(&r);
}

/* Whether a reply or event names a checksum other than want (a null one,
   deleted or too large, counts as other). */
static int
checksum_differs(struct json_object *o, uint32_t want)
{
	struct json_object *v;
	uint32_t have;

	return !json_object_object_get_ex(o, "checksum", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    crc_parse(json_object_get_string(v), &have) == -1 || have != want;
}

void
route_has_new_checksum(struct route_request *rr)
{
	struct json_object *ev;
	long long wait = 0, deadline;
	const char *given;
	struct reply r;
	uint32_t want;
	size_t len;
	int e;

	if (route_file_args(rr, "proposal", NULL) == -1)
		return;
	if ((given = query_get(&rr->q, "checksum", &len)) == NULL || len == 0) {
		http_error(rr->x, 400, "checksum is missing");
		return;
	}
	if (len != CRC_HEX_LEN || crc_parse(given, &want) == -1) {
		http_error(rr->x, 400, "checksum must be 8 hexadecimal digits");
		return;
	}
	if (route_int_param(rr, "wait", 0, WAIT_MAX_S, &wait) == -1)
		return;
	if (wait == 0) {
		answer_checksum(rr, want);
		return;
	}
	if (route_hold(rr) == -1)
		return;
	if (route_ask(rr, "subscribe", "", &r) == -1) {
		route_release(rr);
		return;
	}
	deadline = now_ms() + wait * 1000;
	e = checksum_differs(r.obj, want);
	reply_free(&r);
	while (!e && now_ms() < deadline) {
		e = upstream_wait_event(rr->up, (int)(deadline - now_ms()), &ev);
		if (e == -1) {
			http_error(rr->x, 503, "watcherd went away; try again in "
			    "a moment");
			route_release(rr);
			return;
		}
		if (e == 1) {
			e = checksum_differs(ev, want);
			json_object_put(ev);
		}
	}
	/* The answer comes from a fresh look, as without wait. */
	unhold(rr);
	answer_checksum(rr, want);
}

/* file_tail */

static void
answer_tail(struct route_request *rr, const struct reply *r)
{
	static const char *const keys[] = { "offset", "next_offset", "size",
	    "generation", "reset", "encoding", "checksum", "mtime" };
	char head[1024 + MSG_NAME_LITERAL_MAX], name[MSG_NAME_LITERAL_MAX];
	const char *crc, *v;
	size_t i, vlen;
	int n;

	route_name_literal(rr, name);
	n = snprintf(head, sizeof(head), "{\"proposal\":%u,\"file_name\":%s",
	    rr->proposal, name);
	/* Bounded even should a reply carry values longer than any
	   watcherd writes: past the buffer, the answer is a 500. */
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]) &&
	    (size_t)n < sizeof(head); i++) {
		v = reply_json(r, keys[i], &vlen);
		n += snprintf(head + n, sizeof(head) - (size_t)n, ",\"%s\":%.*s",
		    keys[i], (int)vlen, v);
	}
	if ((size_t)n < sizeof(head))
		n += snprintf(head + n, sizeof(head) - (size_t)n, ",\"data\":");
	if (r->payload == NULL || (size_t)n >= sizeof(head)) {
		http_error(rr->x, 500, "watcherd sent an incomplete reply");
		return;
	}
	if ((crc = reply_string(r, "checksum")) != NULL)
		route_checksum_headers(rr, crc, 0);
	http_send(rr->x, 200, 0, (struct http_chunk[]){
	    { head, (size_t)n }, { r->payload, r->payload_len }, { "}", 1 } },
	    3);
}

/* Whether a tail reply is worth answering at once: new bytes, or a reset. */
static int
tail_news(const struct reply *r)
{
	struct json_object *off, *next, *reset;

	if (json_object_object_get_ex(r->obj, "reset", &reset) &&
	    json_object_get_boolean(reset))
		return 1;
	return json_object_object_get_ex(r->obj, "offset", &off) &&
	    json_object_object_get_ex(r->obj, "next_offset", &next) &&
	    json_object_get_int64(off) != json_object_get_int64(next);
}

/* Reads generation: at most GENERATION_MAX of [0-9a-f-]. Returns 0, or -1
   after answering 400. */
static int
generation_param(struct route_request *rr, const char **gen)
{
	size_t len;

	*gen = query_get(&rr->q, "generation", &len);
	if (*gen == NULL || (len > 0 && len <= GENERATION_MAX &&
	    strspn(*gen, "0123456789abcdef-") == len))
		return 0;
	http_error(rr->x, 400, "generation must be the value a previous "
	    "answer gave");
	return -1;
}

void
route_file_tail(struct route_request *rr)
{
	long long offset = 0, max = PROTO_TAIL_DEFAULT_BYTES, wait = 0, deadline = 0;
	struct json_object *ev;
	const char *gen;
	char extra[256];
	struct reply r;
	int held = 0, e;

	if (route_file_args(rr, "proposal", NULL) == -1 ||
	    route_int_param(rr, "offset", 0, 1LL << 62, &offset) == -1 ||
	    route_int_param(rr, "max_bytes", 4, PROTO_TAIL_MAX_BYTES, &max) == -1 ||
	    route_int_param(rr, "wait", 0, WAIT_MAX_S, &wait) == -1 ||
	    generation_param(rr, &gen) == -1)
		return;
	snprintf(extra, sizeof(extra), ",\"offset\":%lld,\"max_bytes\":%lld,"
	    "\"format\":\"json\"%s%s%s", offset, max,
	    gen ? ",\"generation\":\"" : "", gen ? gen : "", gen ? "\"" : "");
	if (wait > 0) {
		if (route_hold(rr) == -1)
			return;
		if (route_ask(rr, "subscribe", "", &r) == -1) {
			route_release(rr);
			return;
		}
		reply_free(&r);
		held = 1;
		deadline = now_ms() + wait * 1000;
	}
	for (;;) {
		if (route_ask(rr, "tail", extra, &r) == -1)
			goto done;
		if (!held || tail_news(&r) || now_ms() >= deadline)
			break;
		/* Events that came with the reply are in it already. */
		e = upstream_wait_event(rr->up, (int)(deadline - now_ms()), &ev);
		json_object_put(ev);
		if (e == 0)
			break;
		reply_free(&r);
		if (e == -1) {
			http_error(rr->x, 503, "watcherd went away; try again in "
			    "a moment");
			goto done;
		}
	}
	answer_tail(rr, &r);
	reply_free(&r);
done:
	if (held)
		unhold(rr);
}

/* events */

/* Writes one server-sent event; id may be NULL. Returns -1 when the
   client is gone. */
static int
send_event(struct route_request *rr, const char *name, const char *id,
    const char *data, size_t len)
{
	char head[128];
	int n;

	n = snprintf(head, sizeof(head), "event: %s\n%s%s%sdata: ", name,
	    id ? "id: " : "", id ? id : "", id ? "\n" : "");
	if (rr->x->head)
		return 0;
	return http_stream_write(rr->x, head, (size_t)n) == -1 ||
	    http_stream_write(rr->x, data, len) == -1 ||
	    http_stream_write(rr->x, "\n\n", 2) == -1 ? -1 : 0;
}

/* Sends a watcherd event line as a server-sent event, its checksum as id
   (none for a deleted file). Remembers the id in last. */
static int
forward_event(struct route_request *rr, struct json_object *ev, char *last)
{
	struct json_object *name, *crc;
	const char *data, *id = NULL;
	size_t len;

	if (!json_object_object_get_ex(ev, "event", &name) ||
	    !json_object_is_type(name, json_type_string))
		return 0;
	if (json_object_object_get_ex(ev, "checksum", &crc) &&
	    json_object_is_type(crc, json_type_string) &&
	    json_object_get_string_len(crc) == CRC_HEX_LEN) {
		id = json_object_get_string(crc);
		memcpy(last, id, CRC_HEX_LEN + 1);
	}
	data = json_object_to_json_string_length(ev, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	return send_event(rr, json_object_get_string(name), id, data, len);
}

/* Subscribes without answering: 0 with the reply's object in *state (the
   caller puts it), 1 when watcherd refused (the file is gone, ...), -1
   when watcherd is unreachable. */
static int
subscribe_quietly(struct route_request *rr, struct json_object **state)
{
	char line[MSG_LINE_MAX];
	struct json_object *ok;
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_request_file(&m, "subscribe", rr->proposal, rr->file_name,
	    rr->file_name_len);
	msg_text(&m, "}");
	*state = NULL;
	if (upstream_call(rr->up, m.buf, m.len, state, NULL, NULL) == -1)
		return -1;
	if (json_object_object_get_ex(*state, "ok", &ok) &&
	    json_object_get_boolean(ok))
		return 0;
	json_object_put(*state);
	*state = NULL;
	upstream_close(rr->up);
	return 1;
}

/* Catches a client up after a subscribe: a "changed" event when the file
   differs from last, the checksum it last saw; with no last, the file as
   it is now becomes last. */
static int
catch_up(struct route_request *rr, struct json_object *state, char *last)
{
	const char *crc = NULL;
	struct json_object *v;
	uint32_t seen;

	if (json_object_object_get_ex(state, "checksum", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) == CRC_HEX_LEN)
		crc = json_object_get_string(v);
	if (last[0] == '\0' || crc_parse(last, &seen) == -1) {
		if (crc)
			memcpy(last, crc, CRC_HEX_LEN + 1);
		return 0;
	}
	if (!checksum_differs(state, seen))
		return 0;
	json_object_object_del(state, "ok");
	json_object_object_del(state, "mode");
	json_object_object_add(state, "event", json_object_new_string("changed"));
	json_object_object_add(state, "proposal",
	    json_object_new_int64(rr->proposal));
	json_object_object_add(state, "file_name",
	    json_object_new_string_len(rr->file_name, (int)rr->file_name_len));
	return forward_event(rr, state, last);
}

/* The "deleted" event of a file found missing after watcherd came back. */
static int
send_deleted(struct route_request *rr)
{
	char data[256 + MSG_NAME_LITERAL_MAX], name[MSG_NAME_LITERAL_MAX];
	int n;

	route_name_literal(rr, name);
	n = snprintf(data, sizeof(data), "{\"event\":\"deleted\",\"proposal\":%u,"
	    "\"file_name\":%s,\"checksum\":null,\"size\":null,\"mtime\":null}",
	    rr->proposal, name);
	return send_event(rr, "deleted", NULL, data, (size_t)n);
}

/*
 * Subscribes again after watcherd went away or ended the subscription
 * (unwatch), trying every RETRY_MS and saying "unavailable" while watcherd
 * does not answer (then "available"), "deleted" while the file is gone;
 * heartbeats go on meanwhile. Catches the client up once subscribed.
 * Returns 0 subscribed, -1 when the client went away.
 */
static int
resubscribe(struct route_request *rr, char *last)
{
	static const char unavailable[] = "{\"detail\":\"watcherd is not "
	    "available; retrying\"}";
	struct timespec pause = { RETRY_MS / 1000, (RETRY_MS % 1000) * 1000000L };
	struct json_object *state;
	long long beat = now_ms() + rr->limits->heartbeat_ms;
	int announced = 0, deleted = 0, first, r;

	for (first = 1;; first = 0) {
		if (!first)
			nanosleep(&pause, NULL);
		if (now_ms() >= beat) {
			if (http_stream_write(rr->x, ": heartbeat\n\n", 13) == -1)
				return -1;
			beat = now_ms() + rr->limits->heartbeat_ms;
		}
		if ((r = subscribe_quietly(rr, &state)) == -1) {
			if (!announced && send_event(rr, "unavailable", NULL,
			    unavailable, sizeof(unavailable) - 1) == -1)
				return -1;
			announced = 1;
			continue;
		}
		if (r == 1) {
			/* The file is gone: say so once, look again. */
			if (!deleted && send_deleted(rr) == -1)
				return -1;
			deleted = 1;
			continue;
		}
		r = (announced && send_event(rr, "available", NULL, "{}",
		    2) == -1) || catch_up(rr, state, last) == -1 ? -1 : 0;
		json_object_put(state);
		return r;
	}
}

/* Whether watcherd ended the subscription (an operator's unwatch). */
static int
is_unwatched(struct json_object *ev)
{
	struct json_object *name;

	return json_object_object_get_ex(ev, "event", &name) &&
	    strcmp(json_object_get_string(name), "unwatched") == 0;
}

void
route_events(struct route_request *rr)
{
	static const char hello[] = "retry: 2000\n\n";
	char last[CRC_HEX_LEN + 1] = "";
	struct json_object *ev;
	struct reply r;
	const char *id;
	int e;

	if (route_file_args(rr, "proposal", NULL) == -1)
		return;
	/* A reconnecting EventSource sends Last-Event-ID with the URL of its
	   first connection: the header is the newer of the two. */
	if (((id = http_param(rr->x, "HTTP_LAST_EVENT_ID")) != NULL ||
	    (id = query_get(&rr->q, "last_event_id", NULL)) != NULL) &&
	    strlen(id) == CRC_HEX_LEN && strspn(id, "0123456789abcdef") ==
	    CRC_HEX_LEN)
		memcpy(last, id, sizeof(last));
	if (route_hold(rr) == -1)
		return;
	if (route_ask(rr, "subscribe", "", &r) == -1) {
		route_release(rr);
		return;
	}
	http_stream_begin(rr->x, "text/event-stream");
	if (rr->x->head || http_stream_write(rr->x, hello, sizeof(hello) - 1) ||
	    catch_up(rr, r.obj, last) == -1) {
		reply_free(&r);
		unhold(rr);
		return;
	}
	reply_free(&r);
	for (;;) {
		e = upstream_wait_event(rr->up, rr->limits->heartbeat_ms, &ev);
		if (e == 1 && is_unwatched(ev))
			e = resubscribe(rr, last);
		else if (e == 1)
			e = forward_event(rr, ev, last);
		else if (e == 0)
			e = http_stream_write(rr->x, ": heartbeat\n\n", 13);
		else
			e = resubscribe(rr, last);
		json_object_put(ev);
		if (e == -1)
			break;
	}
	unhold(rr);
}
