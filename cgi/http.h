/*
 * One HTTP exchange as FastCGI or plain CGI hands it over: its parameters
 * and the one function that writes every answer's status line, headers
 * and body.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include "common/http_count.h"

struct FCGX_Request;
struct tally;

struct http_exchange {
	struct FCGX_Request	*fcgi;		/* NULL: plain CGI, stdio */
	int			 head;		/* HEAD: headers only */
	int			 held;		/* the answer was held: its
						   worker gave its gate place
						   up (request_hold()) */
	char			 headers[1024];	/* extra header lines */
	size_t			 headers_len;
	struct tally		*tally;		/* counts the answer, if set */
	int			 tally_slot;	/* ... in the worker's slot */
	enum http_count_route	 route;		/* ... under this route */
};

/* A request parameter (REQUEST_METHOD, QUERY_STRING, HTTP_IF_NONE_MATCH...),
   or NULL. */
const char *http_param(const struct http_exchange *, const char *name);
/* Reads up to len bytes of the request body (FastCGI's input stream, or
   stdin as plain CGI) into buf. Returns how many: fewer than len only
   when the body ended (or the web server went away). */
size_t	http_read_body(struct http_exchange *, char *buf, size_t len);
/* Adds "Name: value\r\n" to the answer's headers (dropped when full). */
void	http_header(struct http_exchange *, const char *name, const char *value);

/* A piece of a body, written in order. */
struct http_chunk {
	const char	*data;
	size_t		 len;
};

/*
 * Writes the answer: status, Content-Type application/json, Cache-Control
 * (no-cache when revalidate, else no-store), the browser headers
 * (Content-Security-Policy, X-Content-Type-Options, Referrer-Policy),
 * Content-Length, the extra headers, then the chunks unless the request is
 * HEAD or the status is 304.
 * Every answer, streamed ones too, is counted in the exchange's tally.
 */
void	http_send(struct http_exchange *, int status, int revalidate,
	    const struct http_chunk *chunks, size_t n);
/* The same with another Content-Type. */
void	http_send_typed(struct http_exchange *, int status,
	    const char *content_type, int revalidate,
	    const struct http_chunk *chunks, size_t n);
/*
 * Starts a streamed answer: 200 with content_type, Cache-Control: no-store,
 * the browser headers and the extra headers, no Content-Length. Then
 * http_stream_write().
 */
void	http_stream_begin(struct http_exchange *, const char *content_type);
/* Writes a piece of a streamed answer and pushes it out now. Returns 0, or
   -1 when the client (or the web server) is gone. */
int	http_stream_write(struct http_exchange *, const char *data, size_t len);
/* An error answer: {"detail":"<detail>"}; 503 adds Retry-After. */
void	http_error(struct http_exchange *, int status, const char *detail);

#endif
