#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/http_count.h"

static const char *const route_names[HTTP_COUNT_ROUTES] = {
	[HTTP_COUNT_FILE_CONTENT]		= "file_content",
	[HTTP_COUNT_HAS_NEW_CHECKSUM]		= "has_new_checksum",
	[HTTP_COUNT_FILE_TAIL]			= "file_tail",
	[HTTP_COUNT_EVENTS]			= "events",
	[HTTP_COUNT_HEALTH]			= "health",
	[HTTP_COUNT_METRICS]			= "metrics",
	[HTTP_COUNT_CONTEXT_CONTENT]		= "contextfile/content",
	[HTTP_COUNT_CONTEXT_LAST_MODIFIED]	= "contextfile/last_modified",
	[HTTP_COUNT_FILE_HISTORY]		= "file_history",
	[HTTP_COUNT_UNKNOWN]			= "unknown",
};

static const int statuses[HTTP_COUNT_STATUSES] = {
	200, 304, 400, 401, 403, 404, 405, 411, 412, 413, 422, 428, 500, 503,
};

const char *
http_count_route_name(enum http_count_route route)
{
	return route_names[route];
}

int
http_count_status(int column)
{
	return statuses[column];
}

int
http_count_column(int status)
{
	int i;

	for (i = 0; i < HTTP_COUNT_STATUSES; i++)
		if (statuses[i] == status)
			return i;
	return -1;
}

static int
route_index(const char *name)
{
	int i;

	for (i = 0; i < HTTP_COUNT_ROUTES; i++)
		if (strcmp(route_names[i], name) == 0)
			return i;
	return -1;
}

/* The column of a status key: exactly the three digits of a known one. */
static int
status_index(const char *key)
{
	char want[8];
	int i;

	for (i = 0; i < HTTP_COUNT_STATUSES; i++) {
		snprintf(want, sizeof(want), "%d", statuses[i]);
		if (strcmp(want, key) == 0)
			return i;
	}
	return -1;
}

int
http_count_parse(struct json_object *counts, uint64_t max,
    struct http_count_table *t, const char **why)
{
	int64_t v;
	int r, s;

	memset(t, 0, sizeof(*t));
	if (!json_object_is_type(counts, json_type_object)) {
		*why = "counts must be an object of routes";
		return -1;
	}
	json_object_object_foreach(counts, route, by_status) {
		if ((r = route_index(route)) == -1) {
			*why = "counts names an unknown route (known: "
			    "file_content, has_new_checksum, file_tail, events, "
			    "health, metrics, contextfile/content, "
			    "contextfile/last_modified, file_history, unknown)";
			return -1;
		}
		if (!json_object_is_type(by_status, json_type_object)) {
			*why = "each route of counts must be an object of statuses";
			return -1;
		}
		json_object_object_foreach(by_status, status, n) {
			if ((s = status_index(status)) == -1) {
				*why = "counts names a status the handler never "
				    "answers (known: 200, 304, 400, 401, 403, 404, 405, "
				    "411, 412, 413, 422, 428, 500, 503)";
				return -1;
			}
			if (!json_object_is_type(n, json_type_int) ||
			    (v = json_object_get_int64(n)) < 0 ||
			    (uint64_t)v > max) {
				*why = "each count must be a whole number from 0 "
				    "to 1000000000";
				return -1;
			}
			t->n[r][s] = (uint64_t)v;
		}
	}
	return 0;
}

void
http_count_add(struct http_count_table *to, const struct http_count_table *from)
{
	int r, s;

	for (r = 0; r < HTTP_COUNT_ROUTES; r++)
		for (s = 0; s < HTTP_COUNT_STATUSES; s++) {
			if (from->n[r][s] > HTTP_COUNT_MAX_TOTAL - to->n[r][s])
				to->n[r][s] = HTTP_COUNT_MAX_TOTAL;
			else
				to->n[r][s] += from->n[r][s];
		}
}

size_t
http_count_format(const struct http_count_table *t, char *buf, size_t len)
{
	size_t n = 0;
	int r, s, first_route = 1, first;

	n += (size_t)snprintf(buf + n, len - n, "{");
	for (r = 0; r < HTTP_COUNT_ROUTES; r++) {
		first = 1;
		for (s = 0; s < HTTP_COUNT_STATUSES; s++) {
			if (t->n[r][s] == 0)
				continue;
			if (first)
				n += (size_t)snprintf(buf + n, len - n,
				    "%s\"%s\":{", first_route ? "" : ",",
				    route_names[r]);
			n += (size_t)snprintf(buf + n, len - n, "%s\"%d\":%llu",
			    first ? "" : ",", statuses[s],
			    (unsigned long long)t->n[r][s]);
			first = first_route = 0;
		}
		if (!first)
			n += (size_t)snprintf(buf + n, len - n, "}");
	}
	n += (size_t)snprintf(buf + n, len - n, "}");
	return n;
}
