/*
 * One request as the route handlers see it, and what they share: asking
 * watcherd about the request's file, reading its replies, and the bound on
 * requests held open (long-polls and event streams).
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdatomic.h>
#include <stddef.h>

#include "cgi/query.h"

struct http_exchange;
struct json_object;
struct upstream;

/* What every worker of a handler process shares. */
struct route_limits {
	int	threads;	/* workers of the process (1 as CGI) */
	int	max_held;	/* requests held open at once; beyond, 503 */
	atomic_int held;	/* held now */
	int	heartbeat_ms;	/* between comments on an event stream */
};

struct route_request {
	struct http_exchange	*x;
	struct upstream		*up;
	struct route_limits	*limits;
	struct query		 q;
	unsigned		 proposal;
	const char		*file_name;
	size_t			 file_name_len;
};

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

/*
 * Asks watcherd for cmd about the request's file (none when file_name is
 * NULL), extra JSON members appended (",\"k\":v" or ""). Returns 0 with the
 * reply, or -1 after answering the error (503 when watcherd is unreachable,
 * the mapped status of a failed reply).
 */
int	route_ask(struct route_request *, const char *cmd, const char *extra,
	    struct reply *);
/* Reads the proposal from query parameter param and, unless file is set,
   file_name. Returns 0, or -1 after answering 400. */
int	route_file_args(struct route_request *, const char *param,
	    const char *file);
/* Reads an optional integer parameter into *v (left alone when absent).
   Returns 0, or -1 after answering 400 naming the parameter and range. */
int	route_int_param(struct route_request *, const char *name,
	    long long min, long long max, long long *v);
/* The file name as a JSON string literal into buf (MSG_NAME_LITERAL_MAX
   bytes). */
void	route_name_literal(const struct route_request *, char *buf);
/* Sets X-Checksum (and ETag when etag) to crc. */
void	route_checksum_headers(struct route_request *, const char *crc,
	    int etag);

/* Takes a place for a held request. Returns 0, or -1 after answering 503
   when max_held are held already. route_release() gives it back. */
int	route_hold(struct route_request *);
void	route_release(struct route_request *);

/* The answers that may be held open (push.c). */
void	route_has_new_checksum(struct route_request *);
void	route_file_tail(struct route_request *);
void	route_events(struct route_request *);
/* The Prometheus text of the counters (metrics.c). */
void	route_metrics(struct route_request *);

#endif
