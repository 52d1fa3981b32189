#include <string.h>

#include "common/crc.h"
#include "common/http_count.h"
#include "common/msg.h"
#include "common/text.h"

void
msg_init(struct msg *m, char *buf, size_t cap)
{
	m->buf = buf;
	m->len = 0;
	m->cap = cap;
	m->full = 0;
}

void
msg_raw(struct msg *m, const char *s, size_t len)
{
	if (len > m->cap - m->len) {
		len = m->cap - m->len;
		m->full = 1;
	}
	memcpy(m->buf + m->len, s, len);
	m->len += len;
}

void
msg_text(struct msg *m, const char *s)
{
	msg_raw(m, s, strlen(s));
}

void
msg_uint(struct msg *m, unsigned long long v)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	msg_raw(m, digits + sizeof(digits) - n, n);
}

void
msg_int(struct msg *m, long long v)
{
	if (v < 0) {
		msg_raw(m, "-", 1);
		msg_uint(m, 0ULL - (unsigned long long)v);
	} else
		msg_uint(m, (unsigned long long)v);
}

void
msg_string(struct msg *m, const char *s, size_t len)
{
	size_t need = text_json_len(s, len);

	if (need > m->cap - m->len) {
		m->full = 1;
		return;
	}
	m->len += text_json_escape(s, len, m->buf + m->len);
}

void
msg_crc(struct msg *m, uint32_t crc)
{
	char hex[CRC_HEX_LEN + 3];

	hex[0] = '"';
	crc_format(crc, hex + 1);
	hex[CRC_HEX_LEN + 1] = '"';
	msg_raw(m, hex, CRC_HEX_LEN + 2);
}

void
msg_time(struct msg *m, const struct timespec *t)
{
	char frac[7];
	long us = t->tv_nsec / 1000;
	int i;

	msg_int(m, (long long)t->tv_sec);
	frac[0] = '.';
	for (i = 6; i > 0; i--) {
		frac[i] = (char)('0' + us % 10);
		us /= 10;
	}
	msg_raw(m, frac, sizeof(frac));
}

/* {"KEY":"VALUE","proposal":P,"file_name":NAME: the head of a request or
   an event about a file. */
static void
file_head(struct msg *m, const char *key, const char *value,
    unsigned proposal, const char *file_name, size_t len)
{
	msg_text(m, "{\"");
	msg_text(m, key);
	msg_text(m, "\":\"");
	msg_text(m, value);
	msg_text(m, "\",\"proposal\":");
	msg_uint(m, proposal);
	msg_text(m, ",\"file_name\":");
	msg_string(m, file_name, len);
}

/* The head of a request about a file, up to its user: the name cut one
   byte past the longest, so that watcherd still says why it refuses it,
   and a user name likewise. */
static void
request_head(struct msg *m, const char *cmd, const struct msg_file *f)
{
	size_t len = f->len, ulen;

	if (len > POLICY_MAX_NAME + 1)
		len = POLICY_MAX_NAME + 1;
	file_head(m, "cmd", cmd, f->proposal, f->name, len);
	if (!f->named)
		return;
	msg_text(m, ",\"user\":");
	if (f->user == NULL) {
		msg_text(m, "null");
		return;
	}
	if ((ulen = strlen(f->user)) > POLICY_MAX_USER + 1)
		ulen = POLICY_MAX_USER + 1;
	msg_string(m, f->user, ulen);
}

/* ,"format":"json" or "raw". */
static void
request_format(struct msg *m, int json)
{
	msg_text(m, json ? ",\"format\":\"json\"" : ",\"format\":\"raw\"");
}

void
msg_request(struct msg *m, const char *cmd)
{
	msg_text(m, "{\"cmd\":\"");
	msg_text(m, cmd);
	msg_text(m, "\"}");
}

void
msg_request_file(struct msg *m, const char *cmd, const struct msg_file *f)
{
	request_head(m, cmd, f);
	msg_text(m, "}");
}

void
msg_request_content(struct msg *m, const struct msg_file *f, int json)
{
	request_head(m, "content", f);
	request_format(m, json);
	msg_text(m, "}");
}

void
msg_request_version(struct msg *m, const struct msg_file *f, int json,
    uint32_t crc)
{
	request_head(m, "content", f);
	request_format(m, json);
	msg_text(m, ",\"version\":");
	msg_crc(m, crc);
	msg_text(m, "}");
}

void
msg_request_tail(struct msg *m, const struct msg_file *f, long long offset,
    long long max_bytes, int json, const char *generation)
{
	request_head(m, "tail", f);
	msg_text(m, ",\"offset\":");
	msg_int(m, offset);
	msg_text(m, ",\"max_bytes\":");
	msg_int(m, max_bytes);
	request_format(m, json);
	if (generation) {
		msg_text(m, ",\"generation\":");
		msg_string(m, generation, strlen(generation));
	}
	msg_text(m, "}");
}

void
msg_request_write(struct msg *m, const struct msg_file *f,
    uint32_t if_checksum, unsigned long long payload_len)
{
	request_head(m, "write", f);
	msg_text(m, ",\"if_checksum\":");
	msg_crc(m, if_checksum);
	msg_text(m, ",\"payload\":");
	msg_uint(m, payload_len);
	msg_text(m, "}");
}

/* ,"counts":{…}}: the end of both http_count lines. */
static void
counts_tail(struct msg *m, const struct http_count_table *t)
{
	char counts[HTTP_COUNT_JSON_MAX];

	msg_text(m, ",\"counts\":");
	msg_raw(m, counts, http_count_format(t, counts, sizeof(counts)));
	msg_text(m, "}");
}

void
msg_request_http_count(struct msg *m, const struct http_count_table *t)
{
	msg_text(m, "{\"cmd\":\"http_count\"");
	counts_tail(m, t);
}

void
msg_state(struct msg *m, const struct msg_state *st)
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
	msg_int(m, st->size);
	msg_text(m, ",\"mtime\":");
	msg_time(m, &st->mtime);
	if (st->too_large)
		msg_text(m, ",\"too_large\":true");
}

/* ,"mode":"MODE". */
static void
mode_field(struct msg *m, const char *mode)
{
	msg_text(m, ",\"mode\":\"");
	msg_text(m, mode);
	msg_text(m, "\"");
}

void
msg_reply_ok_state(struct msg *m, const struct msg_state *st,
    const char *mode)
{
	msg_text(m, "{\"ok\":true,");
	msg_state(m, st);
	mode_field(m, mode);
}

void
msg_reply_state(struct msg *m, const struct msg_state *st, const char *mode)
{
	msg_reply_ok_state(m, st, mode);
	msg_text(m, "}");
}

/* ,"encoding":"utf-8" or "base64". */
static void
encoding_field(struct msg *m, int base64)
{
	msg_text(m, base64 ? ",\"encoding\":\"base64\"" :
	    ",\"encoding\":\"utf-8\"");
}

/* ,"payload":N}: the end of a reply that raw bytes follow. */
static void
payload_tail(struct msg *m, unsigned long long len)
{
	msg_text(m, ",\"payload\":");
	msg_uint(m, len);
	msg_text(m, "}");
}

void
msg_reply_content(struct msg *m, const struct msg_state *st,
    const char *mode, int base64, unsigned long long payload_len)
{
	msg_reply_ok_state(m, st, mode);
	encoding_field(m, base64);
	payload_tail(m, payload_len);
}

void
msg_tail_fields(struct msg *m, const struct msg_tail *t)
{
	msg_text(m, "\"offset\":");
	msg_int(m, t->offset);
	msg_text(m, ",\"next_offset\":");
	msg_int(m, t->next_offset);
	msg_text(m, ",\"size\":");
	msg_int(m, t->size);
	msg_text(m, ",\"generation\":\"");
	msg_raw(m, t->generation, t->generation_len);
	msg_text(m, t->reset ? "\",\"reset\":true" : "\",\"reset\":false");
	encoding_field(m, t->base64);
	msg_text(m, ",\"checksum\":");
	if (t->has_crc)
		msg_crc(m, t->crc);
	else
		msg_text(m, "null");
	msg_text(m, ",\"mtime\":");
	msg_time(m, &t->mtime);
}

void
msg_reply_tail(struct msg *m, const struct msg_tail *t, const char *mode,
    unsigned long long payload_len)
{
	msg_text(m, "{\"ok\":true,");
	msg_tail_fields(m, t);
	mode_field(m, mode);
	payload_tail(m, payload_len);
}

void
msg_reply_ping(struct msg *m, const char *version)
{
	msg_text(m, "{\"ok\":true,\"version\":\"");
	msg_text(m, version);
	msg_text(m, "\",\"protocol\":");
	msg_uint(m, PROTO_VERSION);
	msg_text(m, "}");
}

void
msg_reply_unwatch(struct msg *m, unsigned long long dropped)
{
	msg_text(m, "{\"ok\":true,\"subscribers_dropped\":");
	msg_uint(m, dropped);
	msg_text(m, "}");
}

void
msg_version(struct msg *m, const struct msg_version *v)
{
	msg_text(m, "{\"checksum\":");
	msg_crc(m, v->crc);
	msg_text(m, ",\"time\":");
	msg_time(m, &v->time);
	msg_text(m, ",\"size\":");
	msg_uint(m, v->size);
	msg_text(m, ",\"user\":");
	if (v->user)
		msg_string(m, v->user, strlen(v->user));
	else
		msg_text(m, "null");
	msg_text(m, v->saved ? ",\"source\":\"save\"}" :
	    ",\"source\":\"disk\"}");
}

void
msg_reply_history(struct msg *m, int kept, size_t count,
    unsigned long long payload_len)
{
	msg_text(m, kept ? "{\"ok\":true,\"kept\":true,\"count\":" :
	    "{\"ok\":true,\"kept\":false,\"count\":");
	msg_uint(m, count);
	payload_tail(m, payload_len);
}

void
msg_reply_http_count(struct msg *m, const struct http_count_table *t)
{
	msg_text(m, "{\"ok\":true");
	counts_tail(m, t);
}

/* "error":CODE,"detail":DETAIL. */
static void
error_fields(struct msg *m, enum proto_error e, const char *detail)
{
	size_t len = strlen(detail);

	if (len > MSG_DETAIL_MAX)
		len = MSG_DETAIL_MAX;
	msg_text(m, "\"error\":\"");
	msg_text(m, proto_error_code(e));
	msg_text(m, "\",\"detail\":");
	msg_string(m, detail, len);
}

void
msg_reply_error_head(struct msg *m, enum proto_error e, const char *detail)
{
	msg_text(m, "{\"ok\":false,");
	error_fields(m, e, detail);
}

void
msg_reply_error(struct msg *m, enum proto_error e, const char *detail)
{
	msg_reply_error_head(m, e, detail);
	msg_text(m, "}");
}

/* ,"KEY": and the JSON text, "[]" when there is none. */
static void
findings(struct msg *m, const char *key, const struct msg_json *j)
{
	msg_text(m, ",\"");
	msg_text(m, key);
	msg_text(m, "\":");
	if (j->text)
		msg_raw(m, j->text, j->len);
	else
		msg_text(m, "[]");
}

void
msg_reply_write(struct msg *m, const struct msg_write *w)
{
	if (w->error == PROTO_OK) {
		msg_text(m, "{\"ok\":true,");
		msg_state(m, &w->st);
		findings(m, "warnings", &w->warnings);
		msg_text(m, "}");
		return;
	}
	msg_reply_error_head(m, w->error, w->detail ? w->detail : "");
	if (w->error == PROTO_CONFLICT) {
		msg_text(m, ",\"checksum\":");
		if (w->has_current)
			msg_crc(m, w->current);
		else
			msg_text(m, "null");
	} else if (w->error == PROTO_INVALID) {
		findings(m, "errors", &w->errors);
		findings(m, "warnings", &w->warnings);
	}
	msg_text(m, "}");
}

/* The head of an event, the name cut at the longest. */
static void
event_head(struct msg *m, const char *event, unsigned proposal,
    const char *file_name, size_t len)
{
	if (len > POLICY_MAX_NAME)
		len = POLICY_MAX_NAME;
	file_head(m, "event", event, proposal, file_name, len);
}

void
msg_event_state(struct msg *m, const char *event, unsigned proposal,
    const char *file_name, size_t len, const struct msg_state *st,
    const char *generation)
{
	event_head(m, event, proposal, file_name, len);
	if (st) {
		msg_text(m, ",");
		msg_state(m, st);
	}
	if (generation) {
		msg_text(m, ",\"generation\":\"");
		msg_text(m, generation);
		msg_text(m, "\"");
	}
	msg_text(m, "}");
}

void
msg_event_error(struct msg *m, const char *event, unsigned proposal,
    const char *file_name, size_t len, enum proto_error e,
    const char *detail)
{
	event_head(m, event, proposal, file_name, len);
	msg_text(m, ",");
	error_fields(m, e, detail);
	msg_text(m, "}");
}
