/*
 * The lines watcherd writes on its socket (DESIGN.md section 4): replies
 * and pushed events, each shape in one place, written with common/msg.h.
 * The server only moves the bytes.
 */
#ifndef REPLY_H
#define REPLY_H

#include "common/msg.h"
#include "common/proto.h"
#include "watcherd/watch/snapshot.h"

/* The state fields of a file: "checksum":"…","size":N,"mtime":T, with
   "checksum":null,…,"too_large":true over max-file-size, and all three
   null for a file that does not exist. */
void	reply_state(struct msg *, const struct watch_state *);
/* {"ok":true, the state fields, "mode":MODE} without the closing brace,
   for the caller's further members. */
void	reply_ok_state(struct msg *, const struct watch_state *,
	    const char *mode);
/* {"ok":false,"error":CODE,"detail":DETAIL}. */
void	reply_error(struct msg *, enum proto_error, const char *detail);
/* The same without the closing brace, for the caller's further members. */
void	reply_error_head(struct msg *, enum proto_error, const char *detail);
/* {"event":EVENT,"proposal":P,"file_name":F, the state fields (st may be
   NULL: none) and "generation":G when generation is not NULL}. */
void	reply_event(struct msg *, const char *event, unsigned proposal,
	    const char *file_name, const struct watch_state *st,
	    const char *generation);

/* {"event":EVENT,"proposal":P,"file_name":F,"error":CODE,"detail":D}: a
   subscription that ends for a reason (the user may no longer read). */
void	reply_event_error(struct msg *, const char *event, unsigned proposal,
	    const char *file_name, enum proto_error, const char *detail);

#endif
