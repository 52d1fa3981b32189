#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/crc.h"
#include "common/http_count.h"
#include "common/log.h"
#include "common/policy.h"
#include "common/proto.h"
#include "common/status.h"
#include "common/text.h"
#include "watcherd/access/access.h"
#include "watcherd/call.h"
#include "watcherd/commands.h"
#include "watcherd/daemon.h"
#include "watcherd/hook.h"
#include "watcherd/save.h"
#include "watcherd/server.h"
#include "watcherd/subs.h"
#include "watcherd/watch/history.h"
#include "watcherd/watch/watch.h"

/* Gets the watch a file request names, replying with the error if any;
   with too_large_ok, a file over max-file-size is no error. */
static struct watch_name *
request_watch(struct call *r, int too_large_ok)
{
	struct watch_name *n;
	enum proto_error e;
	const char *why = "";

	e = watch_get(r->d->watches, &r->wait, r->proposal, r->file_name,
	    r->file_name_len, &n, &why);
	if (e == PROTO_TOO_LARGE && too_large_ok && n)
		return n;
	if (e != PROTO_OK) {
		call_error(r, e, why);
		return NULL;
	}
	return call_still_may(r, watch_name_state(n)) ? n : NULL;
}

static void
cmd_ping(struct call *r)
{
	char line[64];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_reply_ping(&m, WATCHERD_VERSION);
	client_reply(r->c, m.buf, m.len);
}

/* {"ok":true, the file's state fields, "mode":…}. */
static void
answer_state(struct call *r, struct watch_name *n)
{
	struct msg_state st = snapshot_msg_state(watch_name_state(n));
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_reply_state(&m, &st, watch_name_mode(n));
	client_reply(r->c, m.buf, m.len);
}

static void
cmd_checksum(struct call *r)
{
	struct watch_name *n;

	if ((n = request_watch(r, 0)) != NULL)
		answer_state(r, n);
}

/* Reads "format": 0 for "raw" (the default), 1 for "json"; -1 after
   replying the error. */
static int
parse_format(struct call *r)
{
	struct json_object *fmt;
	const char *format;

	if (!json_object_object_get_ex(r->obj, "format", &fmt))
		return 0;
	format = json_object_is_type(fmt, json_type_string) ?
	    json_object_get_string(fmt) : "";
	if (strcmp(format, "raw") == 0)
		return 0;
	if (strcmp(format, "json") == 0)
		return 1;
	client_reply_error(r->c, PROTO_BAD_REQUEST,
	    "format must be \"raw\" or \"json\"");
	return -1;
}

/* Reads an optional integer field into *v (left alone when absent).
   Returns 0, or -1 after replying the error. */
static int
parse_int(struct call *r, const char *key, int64_t min, int64_t max,
    int64_t *v)
{
	struct json_object *o;
	char msg[128];

	if (!json_object_object_get_ex(r->obj, key, &o))
		return 0;
	if (json_object_is_type(o, json_type_int)) {
		*v = json_object_get_int64(o);
		if (*v >= min && *v <= max)
			return 0;
	}
	snprintf(msg, sizeof(msg), "%s must be an integer from %lld to %lld",
	    key, (long long)min, (long long)max);
	client_reply_error(r->c, PROTO_BAD_REQUEST, msg);
	return -1;
}

/* Reads "version": 1 with *crc, 0 when absent, -1 after replying. */
static int
parse_version(struct call *r, uint32_t *crc)
{
	struct json_object *o;

	if (r->obj == NULL || !json_object_object_get_ex(r->obj, "version", &o))
		return 0;
	if (json_object_is_type(o, json_type_string) &&
	    json_object_get_string_len(o) == CRC_HEX_LEN &&
	    crc_parse(json_object_get_string(o), crc) == 0)
		return 1;
	client_reply_error(r->c, PROTO_BAD_REQUEST, "version must be the 8 hex "
	    "digits of a version's checksum");
	return -1;
}

/* An old version of the file, read-only: the content reply of its
   bytes. */
static void
answer_version(struct call *r, struct watch_name *n, uint32_t crc, int json)
{
	struct history_version v;
	struct msg_state st;
	enum proto_error e;
	const char *why = "";
	char line[MSG_LINE_MAX], *data, *literal = NULL;
	size_t len;
	int is_base64;
	struct msg m;

	if ((e = watch_version(r->d->watches, &r->wait, n, crc, &v, &data,
	    &why)) != PROTO_OK) {
		call_error(r, e, why);
		return;
	}
	len = (size_t)v.size;
	is_base64 = !text_utf8_valid(data, len);
	if (json && (literal = text_content_literal(data, (size_t)v.size, &len,
	    &is_base64)) == NULL) {
		free(data);
		client_reply_error(r->c, PROTO_UNAVAILABLE,
		    "watcherd is out of memory");
		return;
	}
	st = (struct msg_state){ .exists = 1, .crc = v.crc,
	    .size = (long long)v.size, .mtime = v.time };
	msg_init(&m, line, sizeof(line));
	msg_reply_content(&m, &st, watch_name_mode(n), is_base64, len);
	client_reply(r->c, m.buf, m.len);
	client_write(r->c, json ? literal : data, len);
	free(literal);
	free(data);
}

static void
cmd_content(struct call *r)
{
	struct watch_content wc;
	struct watch_name *n;
	struct msg_state st;
	enum proto_error e;
	const char *why = "";
	char line[MSG_LINE_MAX];
	struct msg m;
	uint32_t version;
	int json, old;

	if ((json = parse_format(r)) == -1 ||
	    (old = parse_version(r, &version)) == -1)
		return;
	if (old) {
		if ((n = request_watch(r, 1)) != NULL)
			answer_version(r, n, version, json);
		return;
	}
	if ((n = request_watch(r, 0)) == NULL)
		return;
	if ((e = watch_content(r->d->watches, &r->wait, n, json, &wc,
	    &why)) != PROTO_OK) {
		call_error(r, e, why);
		return;
	}
	if (!call_still_may(r, &wc.st)) {
		watch_content_release(&wc);
		return;
	}
	st = snapshot_msg_state(&wc.st);
	msg_init(&m, line, sizeof(line));
	msg_reply_content(&m, &st, watch_name_mode(n), wc.is_base64,
	    json ? wc.literal_len : wc.len);
	client_reply(r->c, m.buf, m.len);
	if (json)
		client_write(r->c, wc.literal, wc.literal_len);
	else
		client_write(r->c, wc.data, wc.len);
	watch_content_release(&wc);
}

/*
 * The bytes of a file from an offset on, for following a log: a client
 * that names an old generation, or an offset past the end, is told to
 * reset and gets the file from 0. A chunk never ends inside a UTF-8
 * sequence; bytes that are not UTF-8 come as base64.
 */
static void
cmd_tail(struct call *r)
{
	char line[MSG_LINE_MAX], gen[WATCH_GENERATION_LEN + 1];
	struct msg m;
	struct json_object *g;
	const struct watch_state *st;
	struct watch_name *n;
	enum proto_error e;
	const char *why = "", *data, *given = NULL;
	char *owned = NULL, *literal = NULL;
	int64_t offset = 0, max = PROTO_TAIL_DEFAULT_BYTES;
	size_t len, chunk;
	off_t size;
	int json, reset, is_base64, attempt;

	if ((json = parse_format(r)) == -1 ||
	    parse_int(r, "offset", 0, INT64_MAX, &offset) == -1 ||
	    parse_int(r, "max_bytes", 4, PROTO_TAIL_MAX_BYTES, &max) == -1)
		return;
	if (json_object_object_get_ex(r->obj, "generation", &g) &&
	    !json_object_is_type(g, json_type_null)) {
		if (!json_object_is_type(g, json_type_string)) {
			client_reply_error(r->c, PROTO_BAD_REQUEST,
			    "generation must be a string");
			return;
		}
		given = json_object_get_string(g);
	}
	for (attempt = 0;; attempt++) {
		e = watch_get(r->d->watches, &r->wait, r->proposal,
		    r->file_name, r->file_name_len, &n, &why);
		/* A log over max-file-size has no checksum, but a tail. */
		if (e != PROTO_OK && (e != PROTO_TOO_LARGE || n == NULL)) {
			call_error(r, e, why);
			return;
		}
		if (!call_still_may(r, watch_name_state(n)))
			return;
		watch_name_generation(n, gen);
		st = watch_name_state(n);
		reset = (given && strcmp(given, gen) != 0) || offset > st->size;
		if (reset)
			offset = 0;
		e = watch_read_range(r->d->watches, &r->wait, n, (off_t)offset,
		    (size_t)max, &data, &len, &size, &owned, &why);
		if (e == PROTO_OK && offset > size && attempt == 0) {
			/* Shrunk since the stat: its truncation is being
			   noticed; ask once more. */
			free(owned);
			owned = NULL;
			continue;
		}
		if (e != PROTO_UNAVAILABLE || attempt > 0)
			break;
	}
	if (e != PROTO_OK) {
		call_error(r, e, why);
		return;
	}
	if (data == NULL)
		data = "";	/* nothing past offset */
	chunk = text_utf8_boundary(data, len);
	is_base64 = !text_utf8_valid(data, chunk);
	if (is_base64)
		chunk = len;
	if (json && (literal = text_content_literal(data, chunk, &len,
	    &is_base64)) == NULL) {
		free(owned);
		client_reply_error(r->c, PROTO_UNAVAILABLE,
		    "watcherd is out of memory");
		return;
	}
	/* The size is the file's as read, which may be past the state's. */
	msg_init(&m, line, sizeof(line));
	msg_reply_tail(&m, &(struct msg_tail){ .offset = (long long)offset,
	    .next_offset = (long long)offset + (long long)chunk,
	    .size = (long long)size, .generation = gen,
	    .generation_len = strlen(gen), .reset = reset,
	    .base64 = is_base64, .has_crc = st->exists && !st->too_large,
	    .crc = st->crc, .mtime = st->mtime }, watch_name_mode(n),
	    json ? len : chunk);
	client_reply(r->c, m.buf, m.len);
	client_write(r->c, json ? literal : data, json ? len : chunk);
	free(literal);
	free(owned);
}

static void
cmd_subscribe(struct call *r)
{
	struct watch_name *n;

	if ((n = request_watch(r, 1)) == NULL)
		return;
	if (subs_add(r->d->subs, r->c, n, r->has_user ? r->user : NULL) ==
	    -1) {
		client_reply_error(r->c, PROTO_UNAVAILABLE,
		    "watcherd is out of memory");
		return;
	}
	answer_state(r, n);
}

/* Appends n bytes of s to the buffer *buf (*len used of *cap). 0, or -1
   when out of memory. */
static int
append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	char *grown;

	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		if ((grown = realloc(*buf, *cap)) == NULL)
			return -1;
		*buf = grown;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	return 0;
}

/* The versions of a file, newest first (DESIGN.md section 9): the
   history reply, their JSON array its payload. */
static void
cmd_history(struct call *r)
{
	struct history_version *list;
	struct watch_name *n;
	enum proto_error e;
	const char *why = "";
	char line[MSG_LINE_MAX], item[MSG_LINE_MAX], *out = NULL;
	size_t count, i, len = 0, cap = 0;
	int oom;
	struct msg m;

	if ((n = request_watch(r, 1)) == NULL)
		return;
	if ((e = watch_history(r->d->watches, &r->wait, n, &list, &count,
	    &why)) != PROTO_OK) {
		call_error(r, e, why);
		return;
	}
	oom = append(&out, &len, &cap, "[", 1);
	for (i = 0; i < count && !oom; i++) {
		msg_init(&m, item, sizeof(item));
		msg_version(&m, &(struct msg_version){ .crc = list[i].crc,
		    .time = list[i].time, .size = list[i].size,
		    .saved = list[i].saved,
		    .user = list[i].user[0] ? list[i].user : NULL });
		oom = (i > 0 && append(&out, &len, &cap, ",", 1) == -1) ||
		    append(&out, &len, &cap, m.buf, m.len) == -1;
	}
	free(list);
	if (oom || append(&out, &len, &cap, "]", 1) == -1) {
		free(out);
		client_reply_error(r->c, PROTO_UNAVAILABLE,
		    "watcherd is out of memory");
		return;
	}
	msg_init(&m, line, sizeof(line));
	msg_reply_history(&m, watch_history_kept(r->d->watches,
	    watch_name_file(n)), count, len);
	client_reply(r->c, m.buf, m.len);
	client_write(r->c, out, len);
	free(out);
}

static void
cmd_unwatch(struct call *r)
{
	struct watch_name *n;
	char line[64];
	struct msg m;

	if ((n = request_watch(r, 1)) == NULL)
		return;
	msg_init(&m, line, sizeof(line));
	msg_reply_unwatch(&m, watch_unwatch(r->d->watches, n));
	client_reply(r->c, m.buf, m.len);
}

static void
list_row(void *arg, const struct watch_info *wi)
{
	struct json_object *arr = arg, *o = json_object_new_object();
	char crc[CRC_HEX_LEN + 1], mtime[32];
	struct msg m;

	json_object_object_add(o, "proposal", json_object_new_int64(wi->proposal));
	json_object_object_add(o, "file_name", json_object_new_string(wi->file_name));
	if (wi->st->exists && !wi->st->too_large) {
		crc_format(wi->st->crc, crc);
		json_object_object_add(o, "checksum", json_object_new_string(crc));
	} else
		json_object_object_add(o, "checksum", NULL);
	if (wi->st->exists) {
		json_object_object_add(o, "size", json_object_new_int64(wi->st->size));
		msg_init(&m, mtime, sizeof(mtime) - 1);
		msg_time(&m, &wi->st->mtime);
		mtime[m.len] = '\0';
		json_object_object_add(o, "mtime",
		    json_object_new_double_s(0, mtime));
	} else {
		json_object_object_add(o, "size", NULL);
		json_object_object_add(o, "mtime", NULL);
	}
	json_object_object_add(o, "mode", json_object_new_string(wi->mode));
	json_object_object_add(o, "idle_s", json_object_new_int64(wi->idle_ms / 1000));
	json_object_object_add(o, "subscribers", json_object_new_int64(wi->subscribers));
	json_object_object_add(o, "changes", json_object_new_int64((int64_t)wi->changes));
	json_object_object_add(o, "names", json_object_new_int64((int64_t)wi->n_names));
	json_object_array_add(arr, o);
}

static void
reply_object(struct call *r, struct json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	client_reply(r->c, s, len);
}

static void
cmd_list(struct call *r)
{
	struct access_who who = { .trusted = client_is_owner(r->c) };
	struct json_object *o, *arr;

	if (!access_may_list(r->d->access, &who)) {
		client_reply_error(r->c, PROTO_FORBIDDEN, "the list of watches "
		    "is for watcherd's own user or root (access is not open)");
		return;
	}
	o = json_object_new_object();

	arr = json_object_new_array();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	watch_table_list(r->d->watches, list_row, arr);
	json_object_object_add(o, "watches", arr);
	reply_object(r, o);
	json_object_put(o);
}

/* The values of status_fields, in v. */
static void
status_values(const struct daemon *d, long long v[STATUS_COUNTERS])
{
	struct access_stats as;
	struct watch_stats ws;
	struct hook_stats hs;

	watch_table_stats(d->watches, &ws);
	hooks_stats(d->hooks, &hs);
	access_stats(d->access, &as);
	v[STATUS_PROTOCOL] = PROTO_VERSION;
	v[STATUS_UPTIME_S] = (loop_now(d->loop) - d->started_ms) / 1000;
	v[STATUS_REQUESTS] = d->requests;
	v[STATUS_CLIENTS] = server_client_count(d->server);
	v[STATUS_MAX_CLIENTS] = d->cfg.max_clients;
	v[STATUS_WATCHES] = ws.watches;
	v[STATUS_INOTIFY_WATCHES] = ws.inotify_watches;
	v[STATUS_POLL_WATCHES] = ws.poll_watches;
	v[STATUS_MAX_WATCHES] = d->cfg.max_watches;
	v[STATUS_DIRECTORIES] = ws.directories;
	v[STATUS_CHANGES] = ws.changes;
	v[STATUS_INOTIFY_OVERFLOWS] = ws.inotify_overflows;
	v[STATUS_INOTIFY_FALLBACKS] = ws.inotify_fallbacks;
	v[STATUS_CACHE_BYTES] = ws.cache_bytes;
	v[STATUS_CACHE_ENTRIES] = ws.cache_entries;
	v[STATUS_CACHE_LIMIT] = d->cfg.cache_size;
	v[STATUS_HOOKS_RUN] = hs.run;
	v[STATUS_HOOKS_FAILED] = hs.failed;
	v[STATUS_HOOKS_KILLED] = hs.killed;
	v[STATUS_HOOKS_DROPPED] = hs.dropped;
	v[STATUS_HOOKS_RUNNING] = hs.running;
	v[STATUS_HOOKS_QUEUED] = hs.queued;
	v[STATUS_FS_STALLED] = ws.fs_stalled;
	v[STATUS_FS_TIMEOUTS] = ws.fs_timeouts;
	v[STATUS_FS_TIMEOUT_MS] = d->cfg.fs_timeout_ms;
	v[STATUS_FS_THREADS] = ws.fs_threads;
	v[STATUS_FS_THREADS_BUSY] = ws.fs_busy;
	v[STATUS_WRITES] = d->saves.writes;
	v[STATUS_WRITE_CONFLICTS] = d->saves.conflicts;
	v[STATUS_WRITE_INVALID] = d->saves.invalid;
	v[STATUS_WRITE_HELD_BYTES] = server_payload_held(d->server) +
	    d->saves.held;
	v[STATUS_ACCESS_DENIED] = as.denied;
	v[STATUS_ACCESS_UNAUTHENTICATED] = as.unauthenticated;
	v[STATUS_ACCESS_COMMAND_RUNS] = as.command_runs;
	v[STATUS_ACCESS_COMMAND_FAILURES] = as.command_failures;
	v[STATUS_ACCESS_COMMAND_CACHED] = as.command_cached;
	v[STATUS_HISTORY_VERSIONS] = ws.history_versions;
	v[STATUS_HISTORY_SKIPPED] = ws.history_skipped;
}

static void
cmd_status(struct call *r)
{
	struct json_object *o = json_object_new_object();
	long long v[STATUS_COUNTERS] = { 0 };	/* a counter missed is 0 */
	size_t i;

	status_values(r->d, v);
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "version",
	    json_object_new_string(WATCHERD_VERSION));
	for (i = 0; i < STATUS_COUNTERS; i++)
		json_object_object_add(o, status_fields[i].key,
		    json_object_new_int64(v[i]));
	json_object_object_add(o, "write", json_object_new_boolean(
	    r->d->cfg.write));
	json_object_object_add(o, "access",
	    json_object_new_string(config_access_name(r->d->cfg.access)));
	json_object_object_add(o, "watch_mode", json_object_new_string(
	    config_watch_mode_name(r->d->cfg.watch_mode)));
	reply_object(r, o);
	json_object_put(o);
}

/*
 * A save (DESIGN.md section 8): its payload is there, and before access is
 * asked, the checks that need no file (its size, write on, write-allow,
 * the checksum it starts from); then the save itself, over as many steps
 * as it waits.
 */

/* Refuses a save before it starts: logged, as every save is. */
static int
refuse_write(struct call *r, enum proto_error e, const char *detail)
{
	log_info("file_not_written", "user=%s proposal=%u file=%s error=%s "
	    "detail=%s", log_str(r->user), r->proposal,
	    log_str(r->file_name), proto_error_code(e), log_str(detail));
	client_reply_error(r->c, e, detail);
	return -1;
}

static int
precheck_write(struct call *r)
{
	struct json_object *o;

	if (r->payload_len > r->d->cfg.max_file_size)
		return refuse_write(r, PROTO_TOO_LARGE, "the new content is "
		    "larger than max-file-size");
	if (r->payload == NULL)
		return refuse_write(r, PROTO_UNAVAILABLE, "too many saves are "
		    "under way (write-memory); try again");
	if (!json_object_object_get_ex(r->obj, "if_checksum", &o) ||
	    !json_object_is_type(o, json_type_string) ||
	    crc_parse(json_object_get_string(o), &r->if_crc) == -1 ||
	    json_object_get_string_len(o) != CRC_HEX_LEN) {
		client_reply_error(r->c, PROTO_BAD_REQUEST, "write needs "
		    "\"if_checksum\": the 8 hex digits of the checksum the "
		    "edit started from");
		return -1;
	}
	if (!r->d->cfg.write)
		return refuse_write(r, PROTO_FORBIDDEN, "saving files is off on "
		    "this server (write = off)");
	if (!policy_allowed(r->d->cfg.write_allow, r->d->cfg.n_write_allow,
	    r->file_name))
		return refuse_write(r, PROTO_FORBIDDEN, "file_name is not one "
		    "of the files that may be saved (write-allow)");
	return 0;
}

static void
cmd_write(struct call *r)
{
	struct access_who who = call_who(r);
	struct save *s = r->state;
	size_t len;
	struct msg m;
	char *line;

	if (s == NULL) {
		s = save_new(r->d, r->proposal, r->file_name, r->user,
		    access_save_as(r->d->access, &who), r->if_crc, r->payload,
		    r->payload_len);
		r->payload = NULL;	/* the save's, counted alike */
		if (s == NULL) {
			client_reply_error(r->c, PROTO_UNAVAILABLE,
			    "watcherd is out of memory");
			return;
		}
		call_set_state(r, s, save_release);
	}
	if (save_step(s, &r->wait) == PROTO_PENDING) {
		r->pending = 1;
		return;
	}
	len = save_reply_size(s);
	if ((line = malloc(len)) == NULL) {
		client_reply_error(r->c, PROTO_UNAVAILABLE,
		    "watcherd is out of memory");
		return;
	}
	msg_init(&m, line, len);
	save_reply(s, &m);
	client_reply(r->c, m.buf, m.len);
	free(line);
}

/*
 * The handler's processes add what they answered, and /metrics reads the
 * totals: any peer may, as it only moves counters, and the table is
 * fixed, so no request can make it grow.
 */
static void
cmd_http_count(struct call *r)
{
	char line[HTTP_COUNT_JSON_MAX + 32];
	struct http_count_table add;
	struct json_object *counts;
	const char *why;
	struct msg m;

	if (json_object_object_get_ex(r->obj, "counts", &counts)) {
		if (http_count_parse(counts, HTTP_COUNT_MAX_ADD, &add,
		    &why) == -1) {
			client_reply_error(r->c, PROTO_BAD_REQUEST, why);
			return;
		}
		http_count_add(&r->d->http_counts, &add);
	}
	msg_init(&m, line, sizeof(line));
	msg_reply_http_count(&m, &r->d->http_counts);
	client_reply(r->c, m.buf, m.len);
}

static const struct command commands[] = {
	{ "ping",	0,				NULL,	cmd_ping },
	{ "checksum",	CALL_NEEDS_FILE,		NULL,	cmd_checksum },
	{ "content",	CALL_NEEDS_FILE,		NULL,	cmd_content },
	{ "tail",	CALL_NEEDS_FILE,		NULL,	cmd_tail },
	{ "subscribe",	CALL_NEEDS_FILE,		NULL,	cmd_subscribe },
	{ "history",	CALL_NEEDS_FILE,		NULL,	cmd_history },
	{ "unwatch",	CALL_NEEDS_FILE | CALL_OWNER_ONLY, NULL, cmd_unwatch },
	{ "list",	0,				NULL,	cmd_list },
	{ "status",	0,				NULL,	cmd_status },
	{ "http_count",	0,				NULL,	cmd_http_count },
	{ "write",	CALL_NEEDS_FILE | CALL_WRITES,	precheck_write,
	    cmd_write },
};

int
commands_dispatch(struct daemon *d, struct client *c, char *line, size_t len)
{
	return call_start(d, c, commands, sizeof(commands) / sizeof(commands[0]),
	    line, len);
}
