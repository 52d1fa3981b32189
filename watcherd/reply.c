#include <string.h>

#include "watcherd/reply.h"

void
reply_state(struct msg *m, const struct watch_state *st)
{
	if (!st->exists) {
		msg_text(m, "\"checksum\":null,\"size\":null,\"mtime\":null");
		return;
	}
	msg_text(m, "\"checksum\":");
	if (st->too_large)
		msg_text(m, "null");
	else
		msg_crc(m, st->crc);
	msg_text(m, ",\"size\":");
	msg_int(m, (long long)st->size);
	msg_text(m, ",\"mtime\":");
	msg_time(m, &st->mtime);
	if (st->too_large)
		msg_text(m, ",\"too_large\":true");
}

void
reply_ok_state(struct msg *m, const struct watch_state *st, const char *mode)
{
	msg_text(m, "{\"ok\":true,");
	reply_state(m, st);
	msg_text(m, ",\"mode\":\"");
	msg_text(m, mode);
	msg_text(m, "\"");
}

/* "error":CODE,"detail":DETAIL. */
static void
error_fields(struct msg *m, enum proto_error e, const char *detail)
{
	size_t len = strlen(detail);

	/* Details are our own short texts; the bound is only a guard. */
	if (len > 512)
		len = 512;
	msg_text(m, "\"error\":\"");
	msg_text(m, proto_error_code(e));
	msg_text(m, "\",\"detail\":");
	msg_string(m, detail, len);
}

void
reply_error_head(struct msg *m, enum proto_error e, const char *detail)
{
	msg_text(m, "{\"ok\":false,");
	error_fields(m, e, detail);
}

void
reply_error(struct msg *m, enum proto_error e, const char *detail)
{
	reply_error_head(m, e, detail);
	msg_text(m, "}");
}

void
reply_event(struct msg *m, const char *event, unsigned proposal,
    const char *file_name, const struct watch_state *st,
    const char *generation)
{
	msg_event(m, event, proposal, file_name, strlen(file_name));
	if (st) {
		msg_text(m, ",");
		reply_state(m, st);
	}
	if (generation) {
		msg_text(m, ",\"generation\":\"");
		msg_text(m, generation);
		msg_text(m, "\"");
	}
	msg_text(m, "}");
}

void
reply_event_error(struct msg *m, const char *event, unsigned proposal,
    const char *file_name, enum proto_error e, const char *detail)
{
	msg_event(m, event, proposal, file_name, strlen(file_name));
	msg_text(m, ",");
	error_fields(m, e, detail);
	msg_text(m, "}");
}
