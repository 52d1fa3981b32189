/*
 * The HTTP routes (DESIGN.md section 3), one file each, named after the
 * route. Each answers its request, whatever happens: every problem becomes
 * an HTTP status with a JSON detail.
 */
#ifndef ROUTES_H
#define ROUTES_H

struct request;

/* file_content.c: the file with its checksum; If-None-Match gives 304. */
void	route_file_content(struct request *);
/* file_content_put.c: saves the body as the file, If-Match the checksum
   the edit started from. */
void	route_file_content_put(struct request *);
/* has_new_checksum.c: whether the file moved on from a checksum, at once
   or held up to wait=S seconds until it does. */
void	route_has_new_checksum(struct request *);
/* file_tail.c: the bytes from an offset on, held while there are none
   with wait=S. */
void	route_file_tail(struct request *);
/* events.c: the file's changes as a server-sent event stream. */
void	route_events(struct request *);
/* file_history.c: the versions of a file, newest first. */
void	route_file_history(struct request *);
/* health.c: watcherd's status and the handler's own. */
void	route_health(struct request *);
/* metrics.c: the Prometheus text of the counters. */
void	route_metrics(struct request *);
/* contextfile.c: DAMNIT-web's two routes for context.py. */
void	route_context_content(struct request *);
void	route_context_last_modified(struct request *);

#endif
