/*
 * What the handler tells watcherd it answered: answers counted by route and
 * HTTP status, the vocabulary of the socket command http_count. The routes
 * and statuses are a fixed set, so that no client can make watcherd keep
 * more than this one table however many names it sends.
 */
#ifndef HTTP_COUNT_H
#define HTTP_COUNT_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

/* The handler's routes, and "unknown" for a path that names none. */
enum http_count_route {
	HTTP_COUNT_FILE_CONTENT,
	HTTP_COUNT_HAS_NEW_CHECKSUM,
	HTTP_COUNT_FILE_TAIL,
	HTTP_COUNT_EVENTS,
	HTTP_COUNT_HEALTH,
	HTTP_COUNT_METRICS,
	HTTP_COUNT_CONTEXT_CONTENT,
	HTTP_COUNT_CONTEXT_LAST_MODIFIED,
	HTTP_COUNT_FILE_HISTORY,
	HTTP_COUNT_UNKNOWN,
	HTTP_COUNT_ROUTES
};

/* Every status the handler answers with. */
#define HTTP_COUNT_STATUSES	14

/* Bounds on a count: what one http_count request may add to a cell, and
   where a total stops growing. */
#define HTTP_COUNT_MAX_ADD	1000000000ULL
#define HTTP_COUNT_MAX_TOTAL	((uint64_t)INT64_MAX)

/* Bytes http_count_format() writes at most, NUL included. */
#define HTTP_COUNT_JSON_MAX	4096

struct http_count_table {
	uint64_t	n[HTTP_COUNT_ROUTES][HTTP_COUNT_STATUSES];
};

/* The label of a route ("file_content", "contextfile/content", ...). */
const char	*http_count_route_name(enum http_count_route);
/* The status of a column (200, 304, 400, ...). */
int		 http_count_status(int column);
/* The column of a status, or -1 when the handler never answers it. */
int		 http_count_column(int status);

/*
 * Reads a counts object, {"<route>":{"<status>":N,...},...}, into *t
 * (zeroed first). Every route and status must be one of the table's and
 * every N an integer from 0 to max. Returns 0, or -1 with *why (a static
 * message for a person).
 */
int	http_count_parse(struct json_object *, uint64_t max,
	    struct http_count_table *t, const char **why);
/* Adds from into to, each total stopping at HTTP_COUNT_MAX_TOTAL. */
void	http_count_add(struct http_count_table *to,
	    const struct http_count_table *from);
/* Writes t's non-zero cells as a counts object into buf (len bytes, at
   least HTTP_COUNT_JSON_MAX) with a NUL; returns its length. */
size_t	http_count_format(const struct http_count_table *t, char *buf,
	    size_t len);

#endif
