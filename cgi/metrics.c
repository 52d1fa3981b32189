/*
 * GET /metrics: watcherd's counters and the answers of the handler (of
 * every process, as watcherd keeps them: see tally.h) in the Prometheus
 * text format, version 0.0.4. When watcherd does not answer, the answer is
 * still a 200 with watcherd_up 0, so that an alert can fire on it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/http_count.h"
#include "common/msg.h"
#include "common/status.h"

#define METRICS_MAX	32768	/* bytes of the text; it is far less */

static const char content_type[] = "text/plain; version=0.0.4; charset=utf-8";

/* The text being written; once full, it stays full and the answer is a
   500 (the bound is far above what the fixed set of metrics needs). */
struct text {
	char	*buf;
	size_t	 len;
	int	 full;
};

static void put(struct text *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void
put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, METRICS_MAX - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= METRICS_MAX - t->len)
		t->full = 1;
	else
		t->len += (size_t)n;
}

static void
put_family(struct text *t, const char *name, const char *type,
    const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format quotes it: \\, \" and \n escaped. */
static void
put_label_value(struct text *t, const char *v)
{
	put(t, "\"");
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			put(t, "\\%c", *v);
		else if (*v == '\n')
			put(t, "\\n");
		else
			put(t, "%c", *v);
	}
	put(t, "\"");
}

/* Asks watcherd cmd, a request about no file, without answering for it:
   0 with the reply of "ok":true in *reply (the caller puts it), else -1. */
static int
ask(struct request *req, const char *cmd, struct json_object **reply)
{
	char line[64];
	struct reply r;
	struct msg m;

	*reply = NULL;
	msg_init(&m, line, sizeof(line));
	msg_request(&m, cmd);
	if (upstream_call(req->up, m.buf, m.len, &r) == -1)
		return -1;
	if (reply_ok(&r))
		*reply = reply_parse(&r);
	reply_free(&r);
	return *reply ? 0 : -1;
}

static void
put_status(struct text *t, struct json_object *status)
{
	const struct status_field *f;
	struct json_object *v;
	const char *last = "";
	size_t i;

	put_family(t, "watcherd_info", "gauge", "watcherd's version and watch "
	    "mode, as labels.");
	put(t, "watcherd_info{version=");
	put_label_value(t, json_object_object_get_ex(status, "version", &v) ?
	    json_object_get_string(v) : "");
	put(t, ",watch_mode=");
	put_label_value(t, json_object_object_get_ex(status, "watch_mode", &v) ?
	    json_object_get_string(v) : "");
	put(t, "} 1\n");
	for (i = 0; i < STATUS_COUNTERS; i++) {
		f = &status_fields[i];
		if (f->metric == NULL ||
		    !json_object_object_get_ex(status, f->key, &v) ||
		    !json_object_is_type(v, json_type_int))
			continue;
		if (strcmp(last, f->metric) != 0)
			put_family(t, f->metric, f->type, f->help);
		last = f->metric;
		put(t, "%s%s %lld\n", f->metric, f->labels,
		    (long long)json_object_get_int64(v));
	}
}

/* Every route and status of the fixed set, so that a rate starts from
   0 rather than from the first answer of its kind. */
static void
put_requests(struct text *t, const struct http_count_table *counts)
{
	int r, s;

	put_family(t, "filehandler_requests_total", "counter", "Answers of "
	    "the HTTP handler, all its processes, by route and status.");
	for (r = 0; r < HTTP_COUNT_ROUTES; r++)
		for (s = 0; s < HTTP_COUNT_STATUSES; s++)
			put(t, "filehandler_requests_total{route=\"%s\","
			    "status=\"%d\"} %llu\n", http_count_route_name(r),
			    http_count_status(s),
			    (unsigned long long)counts->n[r][s]);
}

void
route_metrics(struct request *req)
{
	struct json_object *status = NULL, *reply = NULL, *counts;
	struct http_count_table table;
	struct text t = { 0 };
	const char *why;
	int up;

	if ((t.buf = malloc(METRICS_MAX)) == NULL) {
		http_error(req->x, 503, "the handler is out of memory");
		return;
	}
	up = ask(req, "status", &status) == 0;
	put_family(&t, "watcherd_up", "gauge", "1 when watcherd answered, "
	    "else 0 (and no other metric).");
	put(&t, "watcherd_up %d\n", up);
	if (up) {
		put_status(&t, status);
		/* A watcherd without http_count has no request counts. */
		if (ask(req, "http_count", &reply) == 0 &&
		    json_object_object_get_ex(reply, "counts", &counts) &&
		    http_count_parse(counts, HTTP_COUNT_MAX_TOTAL, &table,
		    &why) == 0)
			put_requests(&t, &table);
	}
	if (t.full)
		http_error(req->x, 500, "the metrics do not fit their buffer");
	else
		http_send_typed(req->x, 200, content_type, 0,
		    (struct http_chunk[]){ { t.buf, t.len } }, 1);
	json_object_put(status);
	json_object_put(reply);
	free(t.buf);
}
