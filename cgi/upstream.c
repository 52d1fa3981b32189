#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cgi/upstream.h"
#include "common/crc.h"

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

/* Whether a line from watcherd is a pushed event, not a reply. */
static int
is_event(struct json_object *o)
{
	return !json_object_object_get_ex(o, "ok", NULL) &&
	    json_object_object_get_ex(o, "event", NULL);
}

static int
read_reply(struct upstream *u, struct json_object **reply, char **payload,
    size_t *payload_len)
{
	for (;;) {
		if (proto_client_read(&u->client, reply, payload,
		    payload_len) == -1)
			return -1;
		if (!is_event(*reply))
			return 0;
		u->events++;
		json_object_put(*reply);
		*reply = NULL;
	}
}

static int
call_once(struct upstream *u, const char *line, size_t len,
    struct json_object **reply, char **payload, size_t *payload_len)
{
	if (!u->connected) {
		if (proto_client_connect(&u->client, u->path, u->timeout_ms) == -1) {
			proto_client_close(&u->client);
			return -1;
		}
		u->connected = 1;
	}
	if (proto_client_send_line(&u->client, line, len) == 0 &&
	    read_reply(u, reply, payload, payload_len) == 0)
		return 0;
	upstream_close(u);
	return -1;
}

int
upstream_call(struct upstream *u, const char *line, size_t len,
    struct json_object **reply, char **payload, size_t *payload_len)
{
	int reused = u->connected;

	if (call_once(u, line, len, reply, payload, payload_len) == 0)
		return 0;
	/* A timeout is an answer; a dead kept connection is not. */
	if (!reused || errno == ETIMEDOUT)
		return -1;
	return call_once(u, line, len, reply, payload, payload_len);
}

int
upstream_wait_event(struct upstream *u, int timeout_ms,
    struct json_object **event)
{
	int r, saved;

	*event = NULL;
	if (!u->connected)
		return -1;
	u->client.timeout_ms = timeout_ms;
	r = proto_client_read(&u->client, event, NULL, NULL);
	saved = errno;
	u->client.timeout_ms = u->timeout_ms;
	if (r == 0 && is_event(*event))
		return 1;
	if (r == -1 && saved == ETIMEDOUT)
		return 0;
	json_object_put(*event);
	*event = NULL;
	upstream_close(u);
	return -1;
}

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
reply_checksum_differs(struct json_object *o, uint32_t want)
{
	struct json_object *v;
	uint32_t have;

	return !json_object_object_get_ex(o, "checksum", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    crc_parse(json_object_get_string(v), &have) == -1 || have != want;
}
