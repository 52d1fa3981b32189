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
#include "watcherd/commands.h"
#include "watcherd/daemon.h"
#include "watcherd/hook.h"
#include "watcherd/reply.h"
#include "watcherd/save.h"
#include "watcherd/server.h"
#include "watcherd/watch.h"

/* A request line as parsed (one call of a command), as the commands see
   it; named apart from the handler's struct request (cgi/request.h). */
struct call {
	struct daemon		*d;
	struct client		*c;
	struct watch_waiter	*wait;
	int			 pending;	/* waits for file-system work:
						   no reply yet */
	struct json_object	*obj;
	unsigned		 proposal;
	const char		*file_name;
	size_t			 file_name_len;
	int			 has_user;	/* the request named its
						   user (or null) */
	const char		*user;		/* NULL: "user":null */
	char			 user_buf[POLICY_MAX_USER + 1];
};


#define NEEDS_FILE	0x1	/* proposal and file_name */
#define OWNER_ONLY	0x2	/* peer with the daemon's uid or root */
#define WRITES		0x4	/* replaces the file: access for writing */

struct command {
	const char	*name;
	void		(*fn)(struct call *);
	int		 flags;
};

static int	still_may(struct call *, const struct watch_state *);

/* Replies the error, or notes that the request waits (PROTO_PENDING). */
static void
answer_error(struct call *r, enum proto_error e, const char *why)
{
	if (e == PROTO_PENDING)
		r->pending = 1;
	else
		client_reply_error(r->c, e, why);
}

/* Gets the watch a file request names, replying with the error if any;
   with too_large_ok, a file over max-file-size is no error. */
static struct watch_name *
request_watch(struct call *r, int too_large_ok)
{
	struct watch_name *n;
	enum proto_error e;
	const char *why = "";

	e = watch_get(r->d->watches, r->wait, r->proposal, r->file_name,
	    r->file_name_len, &n, &why);
	if (e == PROTO_TOO_LARGE && too_large_ok && n)
		return n;
	if (e != PROTO_OK) {
		answer_error(r, e, why);
		return NULL;
	}
	return still_may(r, watch_name_state(n)) ? n : NULL;
}

static void
cmd_ping(struct call *r)
{
	static const char line[] = "{\"ok\":true,\"version\":\"" WATCHERD_VERSION
	    "\",\"protocol\":1}";

	client_reply(r->c, line, sizeof(line) - 1);
}

/* {"ok":true, the file's state fields, "mode":…}. */
static void
answer_state(struct call *r, struct watch_name *n)
{
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	reply_ok_state(&m, watch_name_state(n), watch_name_mode(n));
	msg_text(&m, "}");
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

static void
cmd_content(struct call *r)
{
	struct watch_content wc;
	struct watch_name *n;
	enum proto_error e;
	const char *why = "";
	char line[MSG_LINE_MAX];
	struct msg m;
	int json;

	if ((json = parse_format(r)) == -1)
		return;
	if ((n = request_watch(r, 0)) == NULL)
		return;
	if ((e = watch_content(r->d->watches, r->wait, n, json, &wc,
	    &why)) != PROTO_OK) {
		answer_error(r, e, why);
		return;
	}
	if (!still_may(r, &wc.st)) {
		watch_content_release(&wc);
		return;
	}
	msg_init(&m, line, sizeof(line));
	reply_ok_state(&m, &wc.st, watch_name_mode(n));
	msg_text(&m, wc.is_base64 ? ",\"encoding\":\"base64\",\"payload\":" :
	    ",\"encoding\":\"utf-8\",\"payload\":");
	msg_uint(&m, json ? wc.literal_len : wc.len);
	msg_text(&m, "}");
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
		e = watch_get(r->d->watches, r->wait, r->proposal,
		    r->file_name, r->file_name_len, &n, &why);
		/* A log over max-file-size has no checksum, but a tail. */
		if (e != PROTO_OK && (e != PROTO_TOO_LARGE || n == NULL)) {
			answer_error(r, e, why);
			return;
		}
		if (!still_may(r, watch_name_state(n)))
			return;
		watch_name_generation(n, gen);
		st = watch_name_state(n);
		reset = (given && strcmp(given, gen) != 0) || offset > st->size;
		if (reset)
			offset = 0;
		e = watch_read_range(r->d->watches, r->wait, n, (off_t)offset,
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
		answer_error(r, e, why);
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
	msg_text(&m, "{\"ok\":true,\"offset\":");
	msg_int(&m, (long long)offset);
	msg_text(&m, ",\"next_offset\":");
	msg_int(&m, (long long)offset + (long long)chunk);
	msg_text(&m, ",\"size\":");
	msg_int(&m, (long long)size);
	msg_text(&m, ",\"generation\":\"");
	msg_text(&m, gen);
	msg_text(&m, reset ? "\",\"reset\":true" : "\",\"reset\":false");
	msg_text(&m, is_base64 ? ",\"encoding\":\"base64\"" :
	    ",\"encoding\":\"utf-8\"");
	msg_text(&m, ",\"checksum\":");
	if (st->exists && !st->too_large)
		msg_crc(&m, st->crc);
	else
		msg_text(&m, "null");
	msg_text(&m, ",\"mtime\":");
	msg_time(&m, &st->mtime);
	msg_text(&m, ",\"mode\":\"");
	msg_text(&m, watch_name_mode(n));
	msg_text(&m, "\",\"payload\":");
	msg_uint(&m, json ? len : chunk);
	msg_text(&m, "}");
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
	if (client_subscribe(r->c, n, r->has_user ? r->user : NULL) == -1) {
		client_reply_error(r->c, PROTO_UNAVAILABLE,
		    "watcherd is out of memory");
		return;
	}
	answer_state(r, n);
}

static void
cmd_unwatch(struct call *r)
{
	struct watch_name *n;
	char line[128];
	size_t dropped;
	int len;

	if ((n = request_watch(r, 1)) == NULL)
		return;
	dropped = watch_unwatch(r->d->watches, n);
	len = snprintf(line, sizeof(line), "{\"ok\":true,"
	    "\"subscribers_dropped\":%zu}", dropped);
	client_reply(r->c, line, (size_t)len);
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
 * The payload a request announces ("payload":N), read before the request
 * is taken any further (skipped when it is over max-file-size, or when
 * keeping it would take the content held by saves past write-memory).
 * Returns 0 once it is there; else 1, after replying the error or noting
 * that the request waits for it.
 */
static int
take_payload(struct call *r)
{
	int64_t announced = -1;
	size_t len, held;

	if (client_payload(r->c, &len) != NULL)
		return 0;
	if (r->obj && parse_int(r, "payload", 0, INT64_MAX, &announced) ==
	    -1)
		return 1;
	if (announced < 0) {
		client_reply_error(r->c, PROTO_BAD_REQUEST, "this command needs "
		    "\"payload\": the size of the content that follows the line");
		return 1;
	}
	held = server_payload_held(r->d->server) + r->d->saves.held;
	if (client_take_payload(r->c, (size_t)announced,
	    (uint64_t)announced <= r->d->cfg.max_file_size &&
	    held <= r->d->cfg.write_memory &&
	    (uint64_t)announced <= r->d->cfg.write_memory - held) == -1) {
		client_reply_error(r->c, PROTO_UNAVAILABLE,
		    "watcherd is out of memory");
		return 1;
	}
	r->pending = 1;
	return 1;
}

/*
 * A save (DESIGN.md section 8): its payload is there (take_payload()),
 * the access check passed; then the checks that need no file (write on,
 * write-allow), then the save itself, over as many dispatches as it
 * waits.
 */
static int	may(struct call *, int write);

/* Refuses a save before it starts: logged, as every save is. */
static void
refuse_write(struct call *r, enum proto_error e, const char *detail)
{
	log_info("file_not_written", "user=%s proposal=%u file=%s error=%s "
	    "detail=%s", log_str(r->user), r->proposal,
	    log_str(r->file_name), proto_error_code(e), log_str(detail));
	client_reply_error(r->c, e, detail);
}

static void
cmd_write(struct call *r)
{
	struct access_who who;
	struct save *s = client_state(r->c);
	struct json_object *o;
	enum proto_error e;
	uint32_t if_crc;
	size_t len;
	struct msg m;
	char *line;

	if (s == NULL) {
		(void)client_payload(r->c, &len);
		if (len > r->d->cfg.max_file_size) {
			refuse_write(r, PROTO_TOO_LARGE, "the new content is "
			    "larger than max-file-size");
			return;
		}
		if (!client_payload_kept(r->c)) {
			refuse_write(r, PROTO_UNAVAILABLE, "too many saves are "
			    "under way (write-memory); try again");
			return;
		}
		if (!json_object_object_get_ex(r->obj, "if_checksum", &o) ||
		    !json_object_is_type(o, json_type_string) ||
		    crc_parse(json_object_get_string(o), &if_crc) == -1 ||
		    json_object_get_string_len(o) != CRC_HEX_LEN) {
			client_reply_error(r->c, PROTO_BAD_REQUEST, "write needs "
			    "\"if_checksum\": the 8 hex digits of the checksum "
			    "the edit started from");
			return;
		}
		if (!r->d->cfg.write) {
			refuse_write(r, PROTO_FORBIDDEN, "saving files is off on "
			    "this server (write = off)");
			return;
		}
		if (!policy_allowed(r->d->cfg.write_allow,
		    r->d->cfg.n_write_allow, r->file_name)) {
			refuse_write(r, PROTO_FORBIDDEN, "file_name is not one "
			    "of the files that may be saved (write-allow)");
			return;
		}
		/* Who may, once it is known that anybody might. */
		if (!may(r, 1))
			return;
		who = (struct access_who){ .named = r->has_user,
		    .user = r->user, .trusted = client_is_owner(r->c) };
		if ((s = save_new(r->d, r->proposal, r->file_name, r->user,
		    access_save_as(r->d->access, &who), if_crc,
		    client_payload_take(r->c), len)) == NULL) {
			client_reply_error(r->c, PROTO_UNAVAILABLE,
			    "watcherd is out of memory");
			return;
		}
		client_set_state(r->c, s, save_release);
	}
	if ((e = save_step(s, r->wait)) == PROTO_PENDING) {
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
	int len;

	if (json_object_object_get_ex(r->obj, "counts", &counts)) {
		if (http_count_parse(counts, HTTP_COUNT_MAX_ADD, &add,
		    &why) == -1) {
			client_reply_error(r->c, PROTO_BAD_REQUEST, why);
			return;
		}
		http_count_add(&r->d->http_counts, &add);
	}
	len = snprintf(line, sizeof(line), "{\"ok\":true,\"counts\":");
	len += (int)http_count_format(&r->d->http_counts, line + len,
	    sizeof(line) - (size_t)len);
	len += snprintf(line + len, sizeof(line) - (size_t)len, "}");
	client_reply(r->c, line, (size_t)len);
}

static const struct command commands[] = {
	{ "ping",	cmd_ping,	0 },
	{ "checksum",	cmd_checksum,	NEEDS_FILE },
	{ "content",	cmd_content,	NEEDS_FILE },
	{ "tail",	cmd_tail,	NEEDS_FILE },
	{ "subscribe",	cmd_subscribe,	NEEDS_FILE },
	{ "unwatch",	cmd_unwatch,	NEEDS_FILE | OWNER_ONLY },
	{ "list",	cmd_list,	0 },
	{ "status",	cmd_status,	0 },
	{ "http_count",	cmd_http_count,	0 },
	{ "write",	cmd_write,	NEEDS_FILE | WRITES },
};

/* Reads "proposal" (a number, or a string of 1 to 6 digits),
   "file_name" and the optional "user" (a user name or null). Returns 0, or
   -1 with *why. */
static int
parse_file_args(struct call *r, const char **why)
{
	struct json_object *p, *f, *u;
	int64_t v;

	if (!json_object_object_get_ex(r->obj, "proposal", &p)) {
		*why = "proposal is missing";
		return -1;
	}
	if (json_object_is_type(p, json_type_int)) {
		v = json_object_get_int64(p);
		if (v < 0 || v > POLICY_MAX_PROPOSAL) {
			*why = "proposal must be a number of 1 to 6 digits";
			return -1;
		}
		r->proposal = (unsigned)v;
	} else if (!json_object_is_type(p, json_type_string) ||
	    policy_parse_proposal(json_object_get_string(p),
	    (size_t)json_object_get_string_len(p), &r->proposal) == -1) {
		*why = "proposal must be a number of 1 to 6 digits";
		return -1;
	}
	if (!json_object_object_get_ex(r->obj, "file_name", &f)) {
		*why = "file_name is missing";
		return -1;
	}
	if (!json_object_is_type(f, json_type_string)) {
		*why = "file_name must be a string";
		return -1;
	}
	r->file_name = json_object_get_string(f);
	r->file_name_len = (size_t)json_object_get_string_len(f);
	if (!json_object_object_get_ex(r->obj, "user", &u))
		return 0;
	r->has_user = 1;
	if (json_object_is_type(u, json_type_null))
		return 0;
	if (!json_object_is_type(u, json_type_string) ||
	    !policy_valid_user(json_object_get_string(u),
	    (size_t)json_object_get_string_len(u))) {
		*why = "user must be a user name (1 to 256 printable bytes, no "
		    "space, quote or backslash) or null";
		return -1;
	}
	r->user = json_object_get_string(u);
	return 0;
}

/* Reads the optional "user" member of the plain shape at p: nothing,
   ,"user":null or ,"user":"NAME" (a valid user name), then the closing
   brace at end - 1. Returns 0, or -1 for anything else. */
static int
parse_plain_user(const char *p, const char *end, struct call *r)
{
	static const char null_user[] = ",\"user\":null}", named[] = ",\"user\":\"";
	const char *q;

	if (end - p == 1 && *p == '}')
		return 0;
	if ((size_t)(end - p) == sizeof(null_user) - 1 &&
	    memcmp(p, null_user, sizeof(null_user) - 1) == 0) {
		r->has_user = 1;
		return 0;
	}
	if ((size_t)(end - p) < sizeof(named) - 1 ||
	    memcmp(p, named, sizeof(named) - 1) != 0)
		return -1;
	p += sizeof(named) - 1;
	if ((q = memchr(p, '"', (size_t)(end - p))) == NULL || end - q != 2 ||
	    q[1] != '}' || !policy_valid_user(p, (size_t)(q - p)))
		return -1;
	memcpy(r->user_buf, p, (size_t)(q - p));
	r->user_buf[q - p] = '\0';
	r->user = r->user_buf;
	r->has_user = 1;
	return 0;
}

/*
 * The requests the handler sends for most answers, exactly as
 * msg_request_file() writes them, {"cmd":"C","proposal":N,"file_name":"F"}
 * with a name of printable ASCII without escapes and an optional
 * "user":"U" or "user":null, and {"cmd":"C"}: read without a JSON parser.
 * r->obj stays NULL (every other optional member is absent); the name is
 * copied into file (POLICY_MAX_NAME + 2 bytes). Returns 0, or -1 for a line
 * of any other shape, which json-c reads.
 */
static int
parse_plain(const char *line, size_t len, struct call *r, char *cmd,
    size_t cmdlen, char *file)
{
	static const char head[] = "{\"cmd\":\"", prop[] = ",\"proposal\":",
	    name[] = ",\"file_name\":\"";
	const char *p = line, *end = line + len, *q;
	unsigned long v = 0;

	if (len < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1) != 0)
		return -1;
	p += sizeof(head) - 1;
	for (q = p; q < end && ((*q >= 'a' && *q <= 'z') || *q == '_'); q++)
		;
	if (q == p || (size_t)(q - p) >= cmdlen || end - q < 2 || *q != '"')
		return -1;
	memcpy(cmd, p, (size_t)(q - p));
	cmd[q - p] = '\0';
	p = q + 1;
	if (end - p == 1 && *p == '}')
		return 0;
	if ((size_t)(end - p) < sizeof(prop) - 1 ||
	    memcmp(p, prop, sizeof(prop) - 1) != 0)
		return -1;
	p += sizeof(prop) - 1;
	for (q = p; q < end && *q >= '0' && *q <= '9' && q - p < 7; q++)
		v = v * 10 + (unsigned long)(*q - '0');
	if (q == p || (q - p > 1 && *p == '0') || v > POLICY_MAX_PROPOSAL)
		return -1;
	r->proposal = (unsigned)v;
	p = q;
	if ((size_t)(end - p) < sizeof(name) - 1 ||
	    memcmp(p, name, sizeof(name) - 1) != 0)
		return -1;
	p += sizeof(name) - 1;
	for (q = p; q < end && *q >= 0x20 && *q < 0x7f && *q != '"' &&
	    *q != '\\'; q++)
		;
	if ((size_t)(q - p) > POLICY_MAX_NAME + 1 || q >= end || *q != '"' ||
	    parse_plain_user(q + 1, end, r) == -1)
		return -1;
	memcpy(file, p, (size_t)(q - p));
	file[q - p] = '\0';
	r->file_name = file;
	r->file_name_len = (size_t)(q - p);
	return 0;
}

/* Parses a request line of any shape into r and *name (the command).
   Returns 0, or -1 after replying the error. */
static int
parse_json(struct call *r, char *line, size_t len, const char **name)
{
	struct json_tokener *tok = r->d->tokener;
	struct json_object *cmd;

	json_tokener_reset(tok);
	r->obj = json_tokener_parse_ex(tok, line, (int)len);
	if (r->obj == NULL || json_tokener_get_parse_end(tok) != len) {
		client_reply_error(r->c, PROTO_BAD_REQUEST,
		    "request is not valid JSON (one object per line)");
		return -1;
	}
	if (!json_object_is_type(r->obj, json_type_object)) {
		client_reply_error(r->c, PROTO_BAD_REQUEST,
		    "request must be a JSON object");
		return -1;
	}
	if (!json_object_object_get_ex(r->obj, "cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_string)) {
		client_reply_error(r->c, PROTO_BAD_REQUEST,
		    "request has no \"cmd\" string");
		return -1;
	}
	*name = json_object_get_string(cmd);
	return 0;
}

/* Whether the request's user may read its file, or with write replace it;
   else replies the error (or notes that the request waits). seen: the
   file the name was found to lead to, or NULL. */
static int
may_file(struct call *r, int write, const struct file_id *seen)
{
	struct access_who who = { .named = r->has_user, .user = r->user,
	    .trusted = client_is_owner(r->c) };
	char detail[POLICY_MAX_USER + POLICY_MAX_NAME + 128];
	const char *why = "";
	enum proto_error e;

	e = access_check(r->d->access, r->wait, &who, r->proposal,
	    r->file_name, r->file_name_len, write, seen, detail,
	    sizeof(detail), &why);
	if (e == PROTO_OK)
		return 1;
	answer_error(r, e, why);
	return 0;
}

static int
may(struct call *r, int write)
{
	return may_file(r, write, NULL);
}

/*
 * Under access = unix a verdict is for one file: whether st, the file
 * about to be served, is the one the request was let through for. A name
 * that now leads to another file is checked afresh. Returns 1, or 0
 * after replying the error (or noting that the request waits).
 */
static int
still_may(struct call *r, const struct watch_state *st)
{
	struct file_id seen;

	if (r->wait == NULL || r->wait->granted != 2)
		return 1;
	file_id_of_state(st, &seen);
	if (file_id_equal(&r->wait->granted_file, &seen, 0))
		return 1;
	if (!may_file(r, 0, &seen))
		return 0;
	if (file_id_equal(&r->wait->granted_file, &seen, 0))
		return 1;
	client_reply_error(r->c, PROTO_UNAVAILABLE, "the file was replaced "
	    "while it was checked; try again");
	return 0;
}

enum proto_error
commands_recheck(struct daemon *d, struct client *c, const char *user,
    struct watch_name *n, struct watch_waiter *w, char *detail,
    size_t detail_len)
{
	struct access_who who = { .named = 1, .user = user,
	    .trusted = client_is_owner(c) };
	const char *file = watch_name_file(n), *why = "";
	struct file_id seen;
	enum proto_error e;

	file_id_of_state(watch_name_state(n), &seen);
	e = access_check(d->access, w, &who, watch_name_proposal(n), file,
	    strlen(file), 0, &seen, detail, detail_len, &why);
	if (e != PROTO_OK && e != PROTO_PENDING && why != detail)
		snprintf(detail, detail_len, "%s", why);
	return e;
}

static const struct command *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* "unknown cmd; known: ping, checksum, ...", from the table. */
static void
reply_unknown(struct client *c)
{
	char line[256];
	struct msg m;
	size_t i;

	msg_init(&m, line, sizeof(line));
	msg_text(&m, "unknown cmd; known: ");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		msg_text(&m, i ? ", " : "");
		msg_text(&m, commands[i].name);
	}
	line[m.len < sizeof(line) ? m.len : sizeof(line) - 1] = '\0';
	client_reply_error(c, PROTO_BAD_REQUEST, line);
}

int
commands_dispatch(struct daemon *d, struct client *c, struct watch_waiter *w,
    char *line, size_t len)
{
	struct call r = { .d = d, .c = c, .wait = w };
	char plain[16], file[POLICY_MAX_NAME + 2];
	const struct command *cmd = NULL;
	const char *name, *why;

	if (parse_plain(line, len, &r, plain, sizeof(plain), file) == 0 &&
	    (cmd = find_command(plain)) != NULL &&
	    !(cmd->flags & NEEDS_FILE) == (r.file_name == NULL))
		name = plain;
	else {
		/* Not the plain shape, or not what the command takes: the
		   parser says what is wrong. */
		r.file_name = NULL;
		r.has_user = 0;
		r.user = NULL;
		if (parse_json(&r, line, len, &name) == -1)
			goto done;
		if ((cmd = find_command(name)) == NULL) {
			reply_unknown(c);
			goto done;
		}
	}
	/* A payload is read before anything is answered: an error replied
	   before it would leave its bytes to be taken for requests. */
	if ((cmd->flags & WRITES) && take_payload(&r))
		goto done;
	if ((cmd->flags & OWNER_ONLY) && !client_is_owner(c)) {
		client_reply_error(c, PROTO_FORBIDDEN, "this command is for "
		    "watcherd's own user or root");
		goto done;
	}
	if (r.obj && (cmd->flags & NEEDS_FILE) &&
	    parse_file_args(&r, &why) == -1) {
		client_reply_error(c, PROTO_BAD_REQUEST, why);
		goto done;
	}
	log_debug("request", "cmd=%s proposal=%u user=%s", name, r.proposal,
	    !r.has_user ? "-" : r.user ? log_str(r.user) : "null");
	/* A save is checked once it is known to be one that might be let
	   through (cmd_write). */
	if ((cmd->flags & NEEDS_FILE) && !(cmd->flags & WRITES) && !may(&r, 0))
		goto done;
	cmd->fn(&r);
done:
	json_object_put(r.obj);
	return r.pending;
}
