#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "cgi/http.h"
#include "common/text.h"

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 503: return "Service Unavailable";
	default:  return "Internal Server Error";
	}
}

const char *
http_param(const struct http_exchange *x, const char *name)
{
	return x->fcgi ? FCGX_GetParam(name, x->fcgi->envp) : getenv(name);
}

void
http_header(struct http_exchange *x, const char *name, const char *value)
{
	int n;

	n = snprintf(x->headers + x->headers_len,
	    sizeof(x->headers) - x->headers_len, "%s: %s\r\n", name, value);
	if (n > 0 && (size_t)n < sizeof(x->headers) - x->headers_len)
		x->headers_len += (size_t)n;
	else
		x->headers[x->headers_len] = '\0';
}

static void
put(struct http_exchange *x, const char *data, size_t len)
{
	if (x->fcgi)
		FCGX_PutStr(data, (int)len, x->fcgi->out);
	else
		fwrite(data, 1, len, stdout);
}

void
http_send(struct http_exchange *x, int status, int revalidate,
    const struct http_chunk *chunks, size_t n)
{
	char head[512];
	size_t i, total = 0;
	int len, body = !x->head && status != 304;

	for (i = 0; i < n; i++)
		total += chunks[i].len;
	len = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: %s\r\n", status, status_text(status),
	    revalidate ? "no-cache" : "no-store");
	if (status != 304)
		len += snprintf(head + len, sizeof(head) - len,
		    "Content-Length: %zu\r\n", total);
	put(x, head, (size_t)len);
	put(x, x->headers, x->headers_len);
	put(x, "\r\n", 2);
	for (i = 0; body && i < n; i++)
		put(x, chunks[i].data, chunks[i].len);
	if (x->fcgi == NULL)
		fflush(stdout);
}

void
http_error(struct http_exchange *x, int status, const char *detail)
{
	char lit[1024];
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
