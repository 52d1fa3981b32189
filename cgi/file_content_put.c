/*
 * PUT /file_content: saves a file (DESIGN.md section 8). The body is the
 * new content, If-Match the checksum the edit started from. What the
 * handler can judge alone, the condition and the length, it judges before
 * it reads a byte; it reads the whole body before it asks watcherd, so
 * that a body cut short never reaches the file; then watcherd checks,
 * validates and replaces the file in one step and says how that went.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/fields.h"
#include "common/msg.h"

/* Digits of a Content-Length: up to 999,999,999,999,999,999 bytes. */
#define LENGTH_DIGITS_MAX	18

/*
 * The checksum an If-Match names, quoted ("0e6fd9b8", the ETag) or bare,
 * spaces around it ignored. Returns 0 with *crc; 1 for "*", which names
 * no content in particular; -1 for anything else: a weak tag, a list,
 * something that is no checksum.
 */
static int
if_match_parse(const char *s, uint32_t *crc)
{
	char hex[CRC_HEX_LEN + 1];
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 1 && s[0] == '*')
		return 1;
	if (n == CRC_HEX_LEN + 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	if (n != CRC_HEX_LEN)
		return -1;
	memcpy(hex, s, n);
	hex[n] = '\0';
	return crc_parse(hex, crc);
}

/* Reads the If-Match the save is conditional on into *crc. Returns 0, or
   -1 after answering 428 (none, or "*") or 400. */
static int
condition(struct request *req, uint32_t *crc)
{
	const char *h = http_param(req->x, "HTTP_IF_MATCH");

	switch (h ? if_match_parse(h, crc) : 1) {
	case 0:
		return 0;
	case 1:
		http_error(req->x, 428, "a save needs If-Match: \"<checksum>\", "
		    "the checksum of the content the edit started from (the "
		    "ETag of GET /file_content), so that it never overwrites "
		    "a change it has not seen");
		return -1;
	default:
		http_error(req->x, 400, "If-Match must be one checksum of 8 "
		    "hexadecimal digits, as the ETag of GET /file_content "
		    "gives it: \"0e6fd9b8\"");
		return -1;
	}
}

/* Reads CONTENT_LENGTH into *len. Returns 0, or -1 after answering 411
   (none), 400 (no number) or 413 (over the handler's bound). */
static int
body_length(struct request *req, size_t *len)
{
	const char *s = http_param(req->x, "CONTENT_LENGTH");
	unsigned long long n = 0;
	size_t i;

	if (s == NULL || *s == '\0') {
		http_error(req->x, 411, "a save needs Content-Length");
		return -1;
	}
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i == LENGTH_DIGITS_MAX) {
			http_error(req->x, 400, "Content-Length must be a whole "
			    "number of bytes");
			return -1;
		}
		n = n * 10 + (unsigned)(s[i] - '0');
	}
	if (n > req->limits->max_body) {
		http_error(req->x, 413, "the new content is larger than this "
		    "server takes (FILEHANDLER_MAX_BODY)");
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* Findings as they stand, "[]" when there are none. */
static struct http_chunk
findings(const struct msg_json *j)
{
	return j->text ? (struct http_chunk){ j->text, j->len } :
	    (struct http_chunk){ "[]", 2 };
}

/* 200: where the file stands now, its checksum the new ETag, and what the
   validator warned of. */
static void
saved(struct request *req, const struct reply *r)
{
	char crc[CRC_HEX_LEN + 1], head[MSG_LINE_MAX];
	struct msg_write w;
	struct msg h;

	if (fields_write(r->line, r->len, &w) == -1 || !w.st.exists ||
	    w.st.too_large) {
		request_incomplete(req, NULL);
		return;
	}
	crc_format(w.st.crc, crc);
	request_checksum_headers(req, crc, 1);
	msg_init(&h, head, sizeof(head));
	request_file_head(req, &h);
	msg_text(&h, ",");
	msg_state(&h, &w.st);
	msg_text(&h, ",\"warnings\":");
	if (h.full) {
		request_incomplete(req, NULL);
		return;
	}
	http_send(req->x, 200, 0, (struct http_chunk[]){ { h.buf, h.len },
	    findings(&w.warnings), { "}", 1 } }, 3);
}

/* {"detail":D, D watcherd's detail or dflt, into m. */
static void
detail_head(const struct reply *r, const char *dflt, struct msg *m)
{
	struct fields_refusal ref;

	fields_refusal(r->line, r->len, &ref);
	msg_text(m, "{\"detail\":");
	if (ref.has_detail)
		msg_string(m, ref.detail, strlen(ref.detail));
	else
		msg_string(m, dflt, strlen(dflt));
}

/* 412: the file moved on; the client learns to what. */
static void
conflict(struct request *req, const struct reply *r,
    const struct msg_write *w)
{
	char crc[CRC_HEX_LEN + 1], body[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, body, sizeof(body));
	detail_head(r, "the file changed since the edit started", &m);
	msg_text(&m, ",\"checksum\":");
	if (w->has_current) {
		crc_format(w->current, crc);
		http_header(req->x, "X-Checksum", crc);
		msg_crc(&m, w->current);
	} else
		msg_text(&m, "null");
	msg_text(&m, "}");
	http_send(req->x, 412, 0, (struct http_chunk[]){ { m.buf, m.len } },
	    1);
}

/* 422: the validator refused; its errors and warnings by line. */
static void
invalid(struct request *req, const struct reply *r,
    const struct msg_write *w)
{
	char head[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, head, sizeof(head));
	detail_head(r, "the validator refused the content", &m);
	msg_text(&m, ",\"errors\":");
	http_send(req->x, 422, 0, (struct http_chunk[]){ { m.buf, m.len },
	    findings(&w->errors), { ",\"warnings\":", 12 },
	    findings(&w->warnings), { "}", 1 } }, 5);
}

void
route_file_content_put(struct request *req)
{
	char line[MSG_LINE_MAX], *body = NULL;
	struct msg_write w;
	struct msg_file f;
	struct msg m;
	struct reply r;
	uint32_t crc;
	size_t len;

	if (request_file_args(req, "proposal", NULL) == -1 ||
	    condition(req, &crc) == -1 || body_length(req, &len) == -1)
		return;
	if ((body = malloc(len > 0 ? len : 1)) == NULL) {
		http_error(req->x, 503, "out of memory for the new content; try "
		    "again in a moment");
		return;
	}
	if (http_read_body(req->x, body, len) != len) {
		http_error(req->x, 400, "the request body ended early: fewer "
		    "bytes than Content-Length; nothing was saved");
		goto done;
	}
	f = request_target(req);
	msg_init(&m, line, sizeof(line));
	msg_request_write(&m, &f, crc, len);
	if (m.full) {
		http_error(req->x, 500, "the write request does not fit a line");
		goto done;
	}
	/* Past a timeout watcherd may yet save; a client that tries again
	   with the same If-Match cannot save twice. */
	if (upstream_call_payload(req->up, m.buf, m.len, body, len,
	    req->limits->write_timeout_ms, &r) == -1) {
		http_error(req->x, 503, "watcherd did not answer, so whether "
		    "the file was saved is not known; try again in a moment");
		goto done;
	}
	if (reply_ok(&r))
		saved(req, &r);
	else if (fields_write(r.line, r.len, &w) == -1 ||
	    (w.error != PROTO_CONFLICT && w.error != PROTO_INVALID)) {
		request_refused(req, &r);
		goto done;
	} else if (w.error == PROTO_CONFLICT)
		conflict(req, &r, &w);
	else
		invalid(req, &r, &w);
	reply_free(&r);
done:
	free(body);
}
