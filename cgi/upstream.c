#include <errno.h>

#include <json-c/json.h>

#include "cgi/upstream.h"

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
	    proto_client_read(&u->client, reply, payload, payload_len) == 0)
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
