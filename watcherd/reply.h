/*
 * watcherd's side of common/msg.h, which writes every line of the
 * protocol: its struct watch_state as the state the protocol carries, and
 * the names its callers use, each handing straight over to the writer of
 * msg.h that writes the shape.
 */
#ifndef REPLY_H
#define REPLY_H

#include "common/msg.h"
#include "common/proto.h"
#include "watcherd/watch/snapshot.h"

/* The fields of st that the protocol carries. */
struct msg_state reply_msg_state(const struct watch_state *st);

/* msg_state(). */
void	reply_state(struct msg *, const struct watch_state *);
/* msg_reply_ok_state(): without the closing brace. */
void	reply_ok_state(struct msg *, const struct watch_state *,
	    const char *mode);
/* msg_reply_error(). */
void	reply_error(struct msg *, enum proto_error, const char *detail);
/* msg_reply_error_head(): without the closing brace. */
void	reply_error_head(struct msg *, enum proto_error, const char *detail);
/* msg_event_state(): st may be NULL, generation too. */
void	reply_event(struct msg *, const char *event, unsigned proposal,
	    const char *file_name, const struct watch_state *st,
	    const char *generation);
/* msg_event_error(). */
void	reply_event_error(struct msg *, const char *event, unsigned proposal,
	    const char *file_name, enum proto_error, const char *detail);

#endif
