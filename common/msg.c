#include <string.h>

#include "common/crc.h"
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

/* {"cmd":CMD,"proposal":P,"file_name":NAME, the name cut one byte past
   the longest, so that watcherd still says why it refuses it. */
static void
request_head(struct msg *m, const char *cmd, unsigned proposal,
    const char *file_name, size_t len)
{
	if (len > POLICY_MAX_NAME + 1)
		len = POLICY_MAX_NAME + 1;
	file_head(m, "cmd", cmd, proposal, file_name, len);
}

/* ,"user":USER or null, a name cut likewise. */
static void
request_user(struct msg *m, const char *user)
{
	size_t ulen;

	msg_text(m, ",\"user\":");
	if (user == NULL) {
		msg_text(m, "null");
		return;
	}
	if ((ulen = strlen(user)) > POLICY_MAX_USER + 1)
		ulen = POLICY_MAX_USER + 1;
	msg_string(m, user, ulen);
}

void
msg_request_file(struct msg *m, const char *cmd, unsigned proposal,
    const char *file_name, size_t len, const char *user)
{
	request_head(m, cmd, proposal, file_name, len);
	request_user(m, user);
}

void
msg_request_write(struct msg *m, unsigned proposal, const char *file_name,
    size_t len, int named, const char *user, uint32_t if_checksum,
    unsigned long long payload_len)
{
	request_head(m, "write", proposal, file_name, len);
	if (named)
		request_user(m, user);
	msg_text(m, ",\"if_checksum\":");
	msg_crc(m, if_checksum);
	msg_text(m, ",\"payload\":");
	msg_uint(m, payload_len);
	msg_text(m, "}");
}

void
msg_event(struct msg *m, const char *event, unsigned proposal,
    const char *file_name, size_t len)
{
	if (len > POLICY_MAX_NAME)
		len = POLICY_MAX_NAME;
	file_head(m, "event", event, proposal, file_name, len);
}
