#include <string.h>

#include "watcherd/reply.h"

struct msg_state
reply_msg_state(const struct watch_state *st)
{
	return (struct msg_state){ .exists = st->exists,
	    .too_large = st->too_large, .crc = st->crc,
	    .size = (long long)st->size, .mtime = st->mtime };
}

void
reply_state(struct msg *m, const struct watch_state *st)
{
	struct msg_state s = reply_msg_state(st);

	msg_state(m, &s);
}

void
reply_ok_state(struct msg *m, const struct watch_state *st, const char *mode)
{
	struct msg_state s = reply_msg_state(st);

	msg_reply_ok_state(m, &s, mode);
}

void
reply_error(struct msg *m, enum proto_error e, const char *detail)
{
	msg_reply_error(m, e, detail);
}

void
reply_error_head(struct msg *m, enum proto_error e, const char *detail)
{
	msg_reply_error_head(m, e, detail);
}

void
reply_event(struct msg *m, const char *event, unsigned proposal,
    const char *file_name, const struct watch_state *st,
    const char *generation)
{
	struct msg_state s;

	if (st)
		s = reply_msg_state(st);
	msg_event_state(m, event, proposal, file_name, strlen(file_name),
	    st ? &s : NULL, generation);
}

void
reply_event_error(struct msg *m, const char *event, unsigned proposal,
    const char *file_name, enum proto_error e, const char *detail)
{
	msg_event_error(m, event, proposal, file_name, strlen(file_name), e,
	    detail);
}
