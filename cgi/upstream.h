/*
 * The handler's connection to watcherd: kept open across requests,
 * reconnected transparently when watcherd restarted, every call bounded by
 * a timeout so that a request never hangs. Replies are kept as the lines
 * watcherd wrote, for common/fields.h to read, shape by shape, without a
 * JSON tree.
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
};

/* A reply or an event of watcherd, with the payload it announced. */
struct reply {
	char	*line;		/* NUL-terminated; inline_line when it fits */
	size_t	 len;
	char	*payload;	/* malloc()ed; NULL when none was announced */
	size_t	 payload_len;
	char	 inline_line[512];
};

/* Prepares a connection to the socket at path (not connected yet). */
void	upstream_init(struct upstream *, const char *path, int timeout_ms);
void	upstream_close(struct upstream *);
/*
 * Sends one request line and reads its reply into *r, and the payload the
 * reply announces (reply_free() frees both). A kept connection found dead
 * is reconnected and the request sent once more: every request of the
 * protocol may be repeated. Event lines that arrive first (on a subscribed
 * connection) are passed over: the caller asks again after such an event
 * anyway. Returns 0, or -1 when watcherd cannot be reached or does not
 * answer in time (a message in u->client.errstr).
 */
int	upstream_call(struct upstream *, const char *line, size_t len,
	    struct reply *r);
/*
 * The same for a request whose line announced "payload":payload_len (a
 * write): the line, then the payload's bytes, and the reply, all within
 * timeout_ms instead of the connection's own bound. It is sent once more
 * on a fresh connection only when a kept one failed before all of it went
 * out: watcherd may have acted on a whole request. A reply that watcherd
 * wrote before it closed the connection on an unfinished payload counts.
 */
int	upstream_call_payload(struct upstream *, const char *line, size_t len,
	    const char *payload, size_t payload_len, int timeout_ms,
	    struct reply *r);
/*
 * On a subscribed connection: waits up to timeout_ms (0 or less: only
 * takes what is there) for the next event line. Returns 1 with *event (reply_free() it), 0 when the time passed,
 * -1 when the connection failed (it is closed then).
 */
int	upstream_wait_event(struct upstream *, int timeout_ms,
	    struct reply *event);

void	reply_free(struct reply *);
/* Whether the reply says "ok":true. */
int	reply_ok(const struct reply *);
/* Whether a reply or event names a checksum other than want (a null one,
   deleted or too large, counts as other). */
int	reply_checksum_differs(const struct reply *, uint32_t want);
/* The reply as a JSON tree, for the few answers that walk one (status,
   counts, an error's detail); NULL when it is not an object. The caller
   puts it. */
struct json_object *reply_parse(const struct reply *);

#endif
