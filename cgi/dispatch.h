/*
 * From an HTTP request to its route (DESIGN.md section 3): the table of
 * routes, matched on the last segment(s) of the request path so that any
 * mount prefix works, the method and the query string checked once for all.
 */
#ifndef DISPATCH_H
#define DISPATCH_H

struct http_exchange;
struct request_limits;
struct upstream;

/* Answers one request, asking watcherd through up, within the limits the
   process's workers share. Never fails: every problem becomes an HTTP
   status with a JSON detail. */
void	dispatch(struct http_exchange *, struct upstream *,
	    struct request_limits *);

#endif
