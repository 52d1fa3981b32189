/*
 * Subscriptions: the clients that listen to a file's changes, the events
 * pushed to them (DESIGN.md section 4), and the second look at their
 * access: a subscription that names its user is asked about again every
 * second, and ends with a "forbidden" event once the user may no longer
 * read the file (a stalled file system or a failing access command leaves
 * it as it is until the next look). A client too far behind its events is
 * cut.
 */
#ifndef SUBS_H
#define SUBS_H

#include "watcherd/watch/watch.h"
#include "watcherd/work/job.h"

struct client;
struct daemon;
struct subs;

/* The subscriptions of d's clients; NULL when out of memory. */
struct subs	*subs_new(struct daemon *);
/* Call once every client is gone. */
void		 subs_free(struct subs *);
/* The callbacks through which the watch table reaches subscribers. */
struct watch_callbacks subs_watch_callbacks(struct subs *);
/* Subscribes c to n for user (NULL: the request named none; such a
   subscription is not asked about again). A second subscription of c to
   the same name is a no-op. Returns 0, or -1 when out of memory. */
int		 subs_add(struct subs *, struct client *, struct watch_name *,
		    const char *user);
/* The client is closing: its subscriptions end. */
void		 subs_client_closed(struct subs *, struct client *);

#endif
