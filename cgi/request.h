/*
 * One request as the routes see it, and what they share: reading the
 * file's parameters, asking watcherd about the file, and the bound on
 * requests held open (long-polls and event streams).
 */
#ifndef REQUEST_H
#define REQUEST_H

#include <stdatomic.h>
#include <stddef.h>

#include "cgi/query.h"
#include "common/msg.h"

struct gate;
struct http_exchange;
struct reply;
struct upstream;

/* What every worker of a handler process shares. */
struct request_limits {
	int	threads;	/* workers of the process (1 as CGI) */
	int	max_held;	/* requests held open at once; beyond, 503 */
	atomic_int held;	/* held now */
	int	heartbeat_ms;	/* between comments on an event stream */
	size_t	max_body;	/* bytes of a PUT body; beyond, 413 */
	int	write_timeout_ms;	/* a write's bound on watcherd's answer */
	struct gate *gate;	/* the places of ordinary answers (NULL as
				   CGI) */
};

struct request {
	struct http_exchange	*x;
	struct upstream		*up;
	struct request_limits	*limits;
	struct query		 q;
	unsigned		 proposal;
	const char		*file_name;
	size_t			 file_name_len;
	const char		*user;		/* REMOTE_USER; NULL when unset
						   or empty: nobody */
};

/* The request's file and user, as common/msg.h's requests take them. */
struct msg_file request_target(const struct request *);
/* Sends cmd about the request's file (msg_request_file(); msg_request()
   when file_name is NULL) and reads the reply, whatever it says. Returns
   0, or -1 when watcherd is unreachable; answers nothing. */
int	request_call(struct request *, const char *cmd, struct reply *);
/* The same, answering for what went wrong: returns 0 with a reply of
   "ok":true, or -1 after answering the error (503 when watcherd is
   unreachable, the mapped status of a refusal). */
int	request_ask(struct request *, const char *cmd, struct reply *);
/* request_ask() of the line m holds, written with common/msg.h. */
int	request_ask_line(struct request *, const struct msg *, struct reply *);
/* request_ask() of the content request, format json. */
int	request_ask_content(struct request *, struct reply *);
/* Answers 500: watcherd's reply r (freed; NULL: none) did not hold what
   its shape promises, or the answer made of it did not fit. */
void	request_incomplete(struct request *, struct reply *r);
/* Answers a reply that is not "ok":true: the status its error code maps
   to (proto_error_http_status()) with watcherd's detail. Frees it. */
void	request_refused(struct request *, struct reply *);
/* Reads the proposal from query parameter param and, unless file is set,
   file_name. Returns 0, or -1 after answering 400. */
int	request_file_args(struct request *, const char *param,
	    const char *file);
/* Reads an optional integer parameter into *v (left alone when absent).
   Returns 0, or -1 after answering 400 naming the parameter and range. */
int	request_int_param(struct request *, const char *name,
	    long long min, long long max, long long *v);
/* Starts an answer about the request's file: {"proposal":P,"file_name":
   NAME, the name cut at POLICY_MAX_NAME bytes (watcherd refuses a longer
   one anyway). */
void	request_file_head(const struct request *, struct msg *);
/* Sets X-Checksum (and ETag when etag) to crc. */
void	request_checksum_headers(struct request *, const char *crc,
	    int etag);

/* The longest wait=S a long-poll may ask for. */
#define REQUEST_WAIT_MAX_S	30

/* Takes a place for a held request, and gives the worker's place among
   those answering ordinary requests up meanwhile (cgi/gate.h). Returns 0,
   or -1 after answering 503 when max_held are held already.
   request_release() gives the held place back. */
int	request_hold(struct request *);
void	request_release(struct request *);
/* Ends a held request: closes its connection, subscribed while it was
   held, and gives the place back. */
void	request_unhold(struct request *);

#endif
