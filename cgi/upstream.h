/*
 * The handler's connection to watcherd: kept open across requests,
 * reconnected transparently when watcherd restarted, every call bounded by
 * a timeout so that a request never hangs.
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

struct json_object;

struct upstream {
	struct proto_client	 client;
	int			 connected;
	const char		*path;
	int			 timeout_ms;
	unsigned		 events;	/* event lines passed over by
						   upstream_call() */
};

/* Prepares a connection to the socket at path (not connected yet). */
void	upstream_init(struct upstream *, const char *path, int timeout_ms);
void	upstream_close(struct upstream *);
/*
 * Sends one request line and reads its reply (and payload, when payload is
 * not NULL; the caller frees it and puts the reply). A kept connection
 * found dead is reconnected and the request sent once more: every request
 * of the protocol may be repeated. Returns 0, or -1 when watcherd cannot
 * be reached or does not answer in time (a message in u->client.errstr).
 */
int	upstream_call(struct upstream *, const char *line, size_t len,
	    struct json_object **reply, char **payload, size_t *payload_len);
/*
 * On a subscribed connection: waits up to timeout_ms for the next event
 * line. Returns 1 with *event (the caller puts it), 0 when the time passed,
 * -1 when the connection failed (it is closed then). Event lines that
 * arrive while upstream_call() waits for a reply are counted in u->events
 * and passed over: the caller asks again after such an event anyway.
 */
int	upstream_wait_event(struct upstream *, int timeout_ms,
	    struct json_object **event);

/* A reply of watcherd, with the payload it announced. */
struct reply {
	struct json_object	*obj;
	char			*payload;
	size_t			 payload_len;
};

void	reply_free(struct reply *);
/* The reply's string value for key, or NULL (absent, null, not a string). */
const char *reply_string(const struct reply *, const char *key);
/* The reply's value for key as JSON text ("null" when absent). */
const char *reply_json(const struct reply *, const char *key, size_t *len);

/* Whether a reply or event names a checksum other than want (a null one,
   deleted or too large, counts as other). */
int	reply_checksum_differs(struct json_object *, uint32_t want);

#endif
