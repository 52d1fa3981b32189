/*
 * The HTTP routes (DESIGN.md section 3), a table matched on the last
 * segment(s) of the request path so that any mount prefix works.
 */
#ifndef ROUTES_H
#define ROUTES_H

struct http_exchange;
struct route_limits;
struct upstream;

/* Answers one request, asking watcherd through up, within the limits the
   process's workers share. Never fails: every problem becomes an HTTP
   status with a JSON detail. */
void	routes_dispatch(struct http_exchange *, struct upstream *,
	    struct route_limits *);

#endif
