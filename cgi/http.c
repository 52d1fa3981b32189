#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "cgi/http.h"
#include "cgi/tally.h"
#include "common/msg.h"
#include "common/text.h"

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Content";
	case 428: return "Precondition Required";
	case 503: return "Service Unavailable";
	default:  return "Internal Server Error";
	}
}

const char *
http_param(const struct http_exchange *x, const char *name)
{
	return x->fcgi ? FCGX_GetParam(name, x->fcgi->envp) : getenv(name);
}

size_t
http_read_body(struct http_exchange *x, char *buf, size_t len)
{
	size_t done = 0, want;
	int n;

	if (x->fcgi == NULL)
		return fread(buf, 1, len, stdin);
	while (done < len) {
		want = len - done > INT_MAX ? INT_MAX : len - done;
		if ((n = FCGX_GetStr(buf + done, (int)want, x->fcgi->in)) <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

void
http_header(struct http_exchange *x, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	/* Whole or not at all. */
	if (x->headers_len + n + v + 4 >= sizeof(x->headers))
		return;
	memcpy(x->headers + x->headers_len, name, n);
	memcpy(x->headers + x->headers_len + n, ": ", 2);
	memcpy(x->headers + x->headers_len + n + 2, value, v);
	memcpy(x->headers + x->headers_len + n + 2 + v, "\r\n", 2);
	x->headers_len += n + v + 4;
}

static void
put(struct http_exchange *x, const char *data, size_t len)
{
	if (x->fcgi)
		FCGX_PutStr(data, (int)len, x->fcgi->out);
	else
		fwrite(data, 1, len, stdout);
}

/*
 * What every answer says to a browser (DESIGN.md section 7): it is data,
 * never a page, so it may load nothing and be framed by nobody; its
 * Content-Type is meant, not to be sniffed; and the referrer goes to this
 * site only (same-origin, as the web-server samples set for the page), so
 * that the site's own logs still see which page asked.
 */
#define HTTP_BROWSER_HEADERS \
	"Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Referrer-Policy: same-origin\r\n"

/* Writes the status line and headers; content_length < 0 leaves it out. */
static void
put_head(struct http_exchange *x, int status, const char *content_type,
    int revalidate, long long content_length)
{
	char head[512];
	struct msg m;

	if (x->tally)
		tally_add(x->tally, x->tally_slot, x->route, status);
	msg_init(&m, head, sizeof(head));
	msg_text(&m, "Status: ");
	msg_uint(&m, (unsigned)status);
	msg_text(&m, " ");
	msg_text(&m, status_text(status));
	msg_text(&m, "\r\nContent-Type: ");
	msg_text(&m, content_type);
	msg_text(&m, revalidate ? "\r\nCache-Control: no-cache\r\n" :
	    "\r\nCache-Control: no-store\r\n");
	msg_text(&m, HTTP_BROWSER_HEADERS);
	if (content_length >= 0) {
		msg_text(&m, "Content-Length: ");
		msg_uint(&m, (unsigned long long)content_length);
		msg_text(&m, "\r\n");
	}
	put(x, m.buf, m.len);
	put(x, x->headers, x->headers_len);
	put(x, "\r\n", 2);
}

void
http_send(struct http_exchange *x, int status, int revalidate,
    const struct http_chunk *chunks, size_t n)
{
	http_send_typed(x, status, "application/json", revalidate, chunks, n);
}

void
http_send_typed(struct http_exchange *x, int status, const char *content_type,
    int revalidate, const struct http_chunk *chunks, size_t n)
{
	size_t i, total = 0;
	int body = !x->head && status != 304;

	for (i = 0; i < n; i++)
		total += chunks[i].len;
	put_head(x, status, content_type, revalidate,
	    status == 304 ? -1 : (long long)total);
	for (i = 0; body && i < n; i++)
		put(x, chunks[i].data, chunks[i].len);
	if (x->fcgi == NULL)
		fflush(stdout);
}

void
http_stream_begin(struct http_exchange *x, const char *content_type)
{
	put_head(x, 200, content_type, 0, -1);
}

int
http_stream_write(struct http_exchange *x, const char *data, size_t len)
{
	if (x->fcgi)
		return FCGX_PutStr(data, (int)len, x->fcgi->out) == (int)len &&
		    FCGX_FFlush(x->fcgi->out) == 0 ? 0 : -1;
	return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ?
	    0 : -1;
}

void
http_error(struct http_exchange *x, int status, const char *detail)
{
	/* As long as watcherd's (reply_error), each byte escaped at worst
	   to six. */
	char lit[6 * 512 + 2];
	size_t dlen = strlen(detail);
	struct http_chunk c[3] = {
		{ "{\"detail\":", 10 }, { lit, 0 }, { "}", 1 },
	};

	if (dlen > (sizeof(lit) - 2) / 6)
		dlen = (sizeof(lit) - 2) / 6;
	c[1].len = text_json_escape(detail, dlen, lit);
	if (status == 503)
		http_header(x, "Retry-After", "1");
	http_send(x, status, 0, c, 3);
}
