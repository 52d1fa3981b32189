#include <string.h>

#include "cgi/dispatch.h"
#include "cgi/http.h"
#include "cgi/query.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "common/policy.h"

static const struct route {
	const char		*path;	/* the last segment(s) of the path */
	void			(*fn)(struct request *);	/* GET, HEAD */
	void			(*put)(struct request *);	/* PUT, if any */
	enum http_count_route	 counted;	/* its label in /metrics */
} routes[] = {
	{ "/file_content",	route_file_content,	route_file_content_put,
	    HTTP_COUNT_FILE_CONTENT },
	{ "/has_new_checksum",	route_has_new_checksum,	NULL,
	    HTTP_COUNT_HAS_NEW_CHECKSUM },
	{ "/file_tail",		route_file_tail,	NULL,
	    HTTP_COUNT_FILE_TAIL },
	{ "/events",		route_events,		NULL,
	    HTTP_COUNT_EVENTS },
	{ "/file_history",	route_file_history,	NULL,
	    HTTP_COUNT_FILE_HISTORY },
	{ "/health",		route_health,		NULL,
	    HTTP_COUNT_HEALTH },
	{ "/metrics",		route_metrics,		NULL,
	    HTTP_COUNT_METRICS },
	{ "/contextfile/content", route_context_content, NULL,
	    HTTP_COUNT_CONTEXT_CONTENT },
	{ "/contextfile/last_modified", route_context_last_modified, NULL,
	    HTTP_COUNT_CONTEXT_LAST_MODIFIED },
};

/* The route whose path the request path ends with (a trailing slash
   ignored), or NULL. */
static const struct route *
find_route(const char *uri)
{
	size_t len, i, rlen;

	if (uri == NULL)
		return NULL;
	len = strcspn(uri, "?");
	if (len > 1 && uri[len - 1] == '/')
		len--;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		rlen = strlen(routes[i].path);
		if (len >= rlen && memcmp(uri + len - rlen, routes[i].path,
		    rlen) == 0)
			return &routes[i];
	}
	return NULL;
}

/* 404, naming the routes of the table. */
static void
unknown_route(struct http_exchange *x)
{
	char detail[512] = "unknown route; known: ";
	size_t i, len = strlen(detail), n;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		n = strlen(routes[i].path);
		if (len + n + 3 > sizeof(detail))
			break;
		if (i > 0) {
			memcpy(detail + len, ", ", 2);
			len += 2;
		}
		memcpy(detail + len, routes[i].path, n + 1);
		len += n;
	}
	http_error(x, 404, detail);
}

/* 405, with the methods the route (or, for none, any route) takes. */
static void
method_not_allowed(struct http_exchange *x, const struct route *route)
{
	if (route && route->put) {
		http_header(x, "Allow", "GET, HEAD, PUT");
		http_error(x, 405, "only GET, HEAD and PUT are allowed");
	} else {
		http_header(x, "Allow", "GET, HEAD");
		http_error(x, 405, "only GET and HEAD are allowed");
	}
}

void
dispatch(struct http_exchange *x, struct upstream *up,
    struct request_limits *limits)
{
	struct request req = { .x = x, .up = up, .limits = limits };
	const struct route *route;
	const char *method, *uri;
	void (*fn)(struct request *);
	char err[256];

	method = http_param(x, "REQUEST_METHOD");
	/* PATH_INFO differs between lighttpd, mod_fcgid and mod_proxy_fcgi;
	   REQUEST_URI is what the client asked for everywhere. */
	if ((uri = http_param(x, "REQUEST_URI")) == NULL &&
	    (uri = http_param(x, "PATH_INFO")) == NULL)
		uri = http_param(x, "SCRIPT_NAME");
	route = find_route(uri);
	x->route = route ? route->counted : HTTP_COUNT_UNKNOWN;
	/* Who the web server says asked: told to watcherd with every request
	   about a file, and named to the page when it is a user name (any
	   other is refused by watcherd). An empty REMOTE_USER, from a web
	   server that passes the variable whether or not anybody logged in,
	   is nobody. */
	if ((req.user = http_param(x, "REMOTE_USER")) != NULL &&
	    *req.user == '\0')
		req.user = NULL;
	if (req.user && policy_valid_user(req.user, strlen(req.user)))
		http_header(x, "X-Remote-User", req.user);
	fn = route ? route->fn : NULL;
	if (method && strcmp(method, "HEAD") == 0)
		x->head = 1;
	else if (method && strcmp(method, "PUT") == 0 && route && route->put)
		fn = route->put;
	else if (method == NULL || strcmp(method, "GET") != 0) {
		method_not_allowed(x, route);
		return;
	}
	if (route == NULL) {
		unknown_route(x);
		return;
	}
	if (query_parse(&req.q, http_param(x, "QUERY_STRING"), err,
	    sizeof(err)) == -1) {
		http_error(x, 400, err);
		query_free(&req.q);
		return;
	}
	fn(&req);
	query_free(&req.q);
}
