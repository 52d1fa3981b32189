/*
 * watcherctl: the ops command line over watcherd's socket. One connection
 * per run, one request per connection (subscribe then keeps reading events),
 * except tail: its requests share one connection, and with -f a second one
 * carries the subscription whose events say when to ask again.
 * Exit status: 0 success (and an interrupted subscribe or tail -f, or a
 * tail whose reader went away), 1 failure (daemon absent or gone, error
 * reply, timeout), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "common/policy.h"
#include "common/proto.h"

#define DEFAULT_TIMEOUT_MS	5000
#define TAIL_DEFAULT_LINES	10
#define JSON_OUTPUT_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* The file a command is about. */
struct target {
	unsigned	 proposal;
	const char	*file_name;
};

/* Everything one run owns; ctl_free() releases all of it. */
struct ctl {
	const char		*socket;
	int			 json;
	int			 timeout_ms;
	struct proto_client	 client;
	struct json_object	*reply;
	char			*payload;
	size_t			 payload_len;
	int			 signal_fd;
	/* tail's options */
	int			 follow;
	long long		 lines;
	int			 has_match;
	regex_t			 match;
	char			 errstr[512];
};

static int	cmd_ping(struct ctl *, const struct target *);
static int	cmd_status(struct ctl *, const struct target *);
static int	cmd_list(struct ctl *, const struct target *);
static int	cmd_checksum(struct ctl *, const struct target *);
static int	cmd_content(struct ctl *, const struct target *);
static int	cmd_subscribe(struct ctl *, const struct target *);
static int	cmd_tail(struct ctl *, const struct target *);
static int	cmd_unwatch(struct ctl *, const struct target *);

static const struct command {
	const char	*name;
	int		 takes_target;	/* PROPOSAL FILE follow the name */
	int		 tail_options;	/* takes -f, -n, --match; not --json */
	int		 (*run)(struct ctl *, const struct target *);
} commands[] = {
	{ "ping",	0, 0, cmd_ping },
	{ "status",	0, 0, cmd_status },
	{ "list",	0, 0, cmd_list },
	{ "checksum",	1, 0, cmd_checksum },
	{ "content",	1, 0, cmd_content },
	{ "subscribe",	1, 0, cmd_subscribe },
	{ "tail",	1, 1, cmd_tail },
	{ "unwatch",	1, 0, cmd_unwatch },
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: watcherctl [--socket PATH] [--json] [--timeout MS] COMMAND [PROPOSAL FILE]\n"
	    "\n"
	    "commands:\n"
	    "  ping                     check that watcherd answers\n"
	    "  status                   print watcherd's counters\n"
	    "  list                     print every watch\n"
	    "  checksum PROPOSAL FILE   print a file's checksum, size, mtime and watch mode\n"
	    "  content PROPOSAL FILE    write a file's content to stdout\n"
	    "  subscribe PROPOSAL FILE  print a file's changes as they happen, until interrupted\n"
	    "  tail [-f] [-n LINES] [--match REGEX] PROPOSAL FILE\n"
	    "                           print a file's last lines; with -f, then what is\n"
	    "                           appended, like tail -F, until interrupted\n"
	    "  unwatch PROPOSAL FILE    end a file's watch\n"
	    "\n"
	    "options:\n"
	    "  -s, --socket PATH  watcherd's socket (default: $WATCHERD_SOCKET, else %s)\n"
	    "  -j, --json         print watcherd's replies as JSON, one object per line\n"
	    "                     (not with tail, which writes the file's bytes)\n"
	    "  -t, --timeout MS   how long to wait for an answer (default %d)\n"
	    "  -h, --help         print this help\n"
	    "\n"
	    "tail options:\n"
	    "  -f, --follow       keep printing what is appended, across truncation,\n"
	    "                     replacement and deletion of the file\n"
	    "  -n, --lines LINES  how many of the last lines to print first (default %d)\n"
	    "  --match REGEX      only the lines that match the POSIX extended REGEX\n",
	    PROTO_DEFAULT_SOCKET, DEFAULT_TIMEOUT_MS, TAIL_DEFAULT_LINES);
}

static void
ctl_init(struct ctl *ctl)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->timeout_ms = DEFAULT_TIMEOUT_MS;
	ctl->client.fd = -1;
	ctl->signal_fd = -1;
	ctl->lines = TAIL_DEFAULT_LINES;
}

static void
ctl_free(struct ctl *ctl)
{
	proto_client_close(&ctl->client);
	json_object_put(ctl->reply);
	free(ctl->payload);
	if (ctl->signal_fd != -1)
		close(ctl->signal_fd);
	if (ctl->has_match)
		regfree(&ctl->match);
	ctl->reply = NULL;
	ctl->payload = NULL;
	ctl->signal_fd = -1;
	ctl->has_match = 0;
}

/* Builds {"cmd":cmd[,"proposal":P,"file_name":F][,"format":format]}. */
static struct json_object *
request_new(const char *cmd, const struct target *t, const char *format)
{
	struct json_object *req;
	int failed = 0;

	if ((req = json_object_new_object()) == NULL)
		return NULL;
	failed |= json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (t) {
		failed |= json_object_object_add(req, "proposal",
		    json_object_new_int((int)t->proposal));
		failed |= json_object_object_add(req, "file_name",
		    json_object_new_string(t->file_name));
	}
	if (format)
		failed |= json_object_object_add(req, "format",
		    json_object_new_string(format));
	if (failed) {
		json_object_put(req);
		return NULL;
	}
	return req;
}

/* Fills errstr from a failed reply, or from a reply without "ok". */
static int
reply_check(struct ctl *ctl, struct json_object *reply)
{
	struct json_object *ok, *code, *detail;

	if (!json_object_object_get_ex(reply, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean)) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a reply without \"ok\"");
		return -1;
	}
	if (json_object_get_boolean(ok))
		return 0;
	json_object_object_get_ex(reply, "error", &code);
	if (!json_object_object_get_ex(reply, "detail", &detail))
		detail = NULL;
	snprintf(ctl->errstr, sizeof(ctl->errstr), "%s: %s",
	    json_object_is_type(code, json_type_string) ?
	    json_object_get_string(code) : "internal",
	    json_object_is_type(detail, json_type_string) ?
	    json_object_get_string(detail) : "(no detail)");
	return -1;
}

/* Connects c (ctl->client, or another one the caller owns) to watcherd. */
static int
ctl_connect(struct ctl *ctl, struct proto_client *c)
{
	if (proto_client_connect(c, ctl->socket, ctl->timeout_ms) == 0)
		return 0;
	if (errno == ENOENT || errno == ECONNREFUSED)
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd is not running at %s (start it with: "
		    "watcherd --socket %s --data-root DIR)",
		    ctl->socket, ctl->socket);
	else
		snprintf(ctl->errstr, sizeof(ctl->errstr), "%s", c->errstr);
	return -1;
}

/*
 * Connects, sends one request and reads its reply (and payload, when
 * want_payload) into ctl. Returns 0 for an "ok":true reply, else -1 with
 * errstr set.
 */
static int
ctl_request(struct ctl *ctl, const char *cmd, const struct target *t,
    const char *format, int want_payload)
{
	struct json_object *req;
	int r;

	if ((req = request_new(cmd, t, format)) == NULL) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "out of memory");
		return -1;
	}
	if (ctl_connect(ctl, &ctl->client) == -1) {
		json_object_put(req);
		return -1;
	}
	r = proto_client_call(&ctl->client, req, &ctl->reply,
	    want_payload ? &ctl->payload : NULL, &ctl->payload_len);
	json_object_put(req);
	if (r == -1) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "%s",
		    ctl->client.errstr);
		return -1;
	}
	return reply_check(ctl, ctl->reply);
}

/* Formatting of reply values. */

/* A value as text: strings as they are, other values as JSON, "-" for
   null. The result lives in buf or in v. */
static const char *
json_text(struct json_object *v, char *buf, size_t size)
{
	if (v == NULL)
		return "-";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	snprintf(buf, size, "%s", json_object_to_json_string_ext(v,
	    JSON_OUTPUT_FLAGS));
	return buf;
}

/* A member as json_text(), "-" when absent. */
static const char *
value_text(struct json_object *obj, const char *key, char *buf, size_t size)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v))
		return "-";
	return json_text(v, buf, size);
}

/* An epoch time member as local "YYYY-MM-DD HH:MM:SS", "-" when absent. */
static const char *
time_text(struct json_object *obj, const char *key, char *buf, size_t size)
{
	struct json_object *v;
	struct tm tm;
	time_t t;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int)))
		return "-";
	t = (time_t)json_object_get_double(v);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return "-";
	return buf;
}

static void
print_json(struct json_object *obj)
{
	printf("%s\n", json_object_to_json_string_ext(obj, JSON_OUTPUT_FLAGS));
}

/* The commands. */

static int
cmd_ping(struct ctl *ctl, const struct target *t)
{
	char vbuf[64], pbuf[32];

	if (ctl_request(ctl, "ping", t, NULL, 0) == -1)
		return -1;
	if (ctl->json) {
		print_json(ctl->reply);
		return 0;
	}
	printf("watcherd %s (protocol %s) is running at %s\n",
	    value_text(ctl->reply, "version", vbuf, sizeof(vbuf)),
	    value_text(ctl->reply, "protocol", pbuf, sizeof(pbuf)),
	    ctl->socket);
	return 0;
}

static int
cmd_status(struct ctl *ctl, const struct target *t)
{
	char buf[256];
	int width = 0, n;

	if (ctl_request(ctl, "status", t, NULL, 0) == -1)
		return -1;
	if (ctl->json) {
		print_json(ctl->reply);
		return 0;
	}
	/* Every field in reply order, "ok" aside, values in one column. */
	json_object_object_foreach(ctl->reply, key, val) {
		(void)val;
		if (strcmp(key, "ok") != 0 && (n = (int)strlen(key)) > width)
			width = n;
	}
	json_object_object_foreach(ctl->reply, name, value) {
		if (strcmp(name, "ok") == 0)
			continue;
		printf("%s:%*s %s\n", name, width - (int)strlen(name), "",
		    json_text(value, buf, sizeof(buf)));
	}
	return 0;
}

enum cell_kind { CELL_TEXT, CELL_NUMBER, CELL_TIME, CELL_SECONDS };

static const struct column {
	const char	*title;
	const char	*key;
	enum cell_kind	 kind;
} list_columns[] = {
	{ "PROPOSAL",	"proposal",	CELL_TEXT },
	{ "FILE",	"file_name",	CELL_TEXT },
	{ "CHECKSUM",	"checksum",	CELL_TEXT },
	{ "SIZE",	"size",		CELL_NUMBER },
	{ "MTIME",	"mtime",	CELL_TIME },
	{ "MODE",	"mode",		CELL_TEXT },
	{ "IDLE",	"idle_s",	CELL_SECONDS },
	{ "SUBS",	"subscribers",	CELL_NUMBER },
	{ "CHANGES",	"changes",	CELL_NUMBER },
};
#define LIST_COLUMNS (sizeof(list_columns) / sizeof(list_columns[0]))

static const char *
cell_text(struct json_object *watch, const struct column *col, char *buf,
    size_t size)
{
	struct json_object *v;

	switch (col->kind) {
	case CELL_TIME:
		return time_text(watch, col->key, buf, size);
	case CELL_SECONDS:
		if (!json_object_object_get_ex(watch, col->key, &v) ||
		    !(json_object_is_type(v, json_type_double) ||
		    json_object_is_type(v, json_type_int)))
			return "-";
		snprintf(buf, size, "%.0fs", json_object_get_double(v));
		return buf;
	default:
		return value_text(watch, col->key, buf, size);
	}
}

/* One row of the table; the last column is not padded. */
static void
print_row(const char *const cells[], const int widths[])
{
	size_t i;
	int right;

	for (i = 0; i < LIST_COLUMNS; i++) {
		right = list_columns[i].kind == CELL_NUMBER ||
		    list_columns[i].kind == CELL_SECONDS;
		if (i == LIST_COLUMNS - 1 && !right)
			printf("%s", cells[i]);
		else
			printf(right ? "%*s" : "%-*s", widths[i], cells[i]);
		printf(i == LIST_COLUMNS - 1 ? "\n" : "  ");
	}
}

static int
cmd_list(struct ctl *ctl, const struct target *t)
{
	char bufs[LIST_COLUMNS][512];
	const char *cells[LIST_COLUMNS];
	int widths[LIST_COLUMNS], n;
	struct json_object *watches, *watch;
	size_t i, row, rows;

	if (ctl_request(ctl, "list", t, NULL, 0) == -1)
		return -1;
	if (ctl->json) {
		print_json(ctl->reply);
		return 0;
	}
	if (!json_object_object_get_ex(ctl->reply, "watches", &watches) ||
	    !json_object_is_type(watches, json_type_array)) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a list reply without \"watches\"");
		return -1;
	}
	if ((rows = json_object_array_length(watches)) == 0) {
		printf("no watches\n");
		return 0;
	}
	/* Two passes: the widths first, then the rows. */
	for (i = 0; i < LIST_COLUMNS; i++) {
		cells[i] = list_columns[i].title;
		widths[i] = (int)strlen(cells[i]);
	}
	for (row = 0; row < rows; row++) {
		watch = json_object_array_get_idx(watches, row);
		for (i = 0; i < LIST_COLUMNS; i++) {
			n = (int)strlen(cell_text(watch, &list_columns[i],
			    bufs[i], sizeof(bufs[i])));
			if (n > widths[i])
				widths[i] = n;
		}
	}
	print_row(cells, widths);
	for (row = 0; row < rows; row++) {
		watch = json_object_array_get_idx(watches, row);
		for (i = 0; i < LIST_COLUMNS; i++)
			cells[i] = cell_text(watch, &list_columns[i],
			    bufs[i], sizeof(bufs[i]));
		print_row(cells, widths);
	}
	return 0;
}

static int
cmd_checksum(struct ctl *ctl, const struct target *t)
{
	char cbuf[64], sbuf[64], tbuf[64], mbuf[64];

	if (ctl_request(ctl, "checksum", t, NULL, 0) == -1)
		return -1;
	if (ctl->json) {
		print_json(ctl->reply);
		return 0;
	}
	printf("%s  %s bytes  %s  %s\n",
	    value_text(ctl->reply, "checksum", cbuf, sizeof(cbuf)),
	    value_text(ctl->reply, "size", sbuf, sizeof(sbuf)),
	    time_text(ctl->reply, "mtime", tbuf, sizeof(tbuf)),
	    value_text(ctl->reply, "mode", mbuf, sizeof(mbuf)));
	return 0;
}

/*
 * With --json, one object: the reply's fields (less "payload", which framed
 * the socket) and "content", the literal watcherd sent, inserted verbatim.
 */
static int
print_content_json(struct ctl *ctl)
{
	const char *s;
	size_t len;

	if (ctl->payload_len < 2 || ctl->payload[0] != '"' ||
	    ctl->payload[ctl->payload_len - 1] != '"') {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent content that is not a JSON string");
		return -1;
	}
	json_object_object_del(ctl->reply, "payload");
	s = json_object_to_json_string_length(ctl->reply, JSON_OUTPUT_FLAGS,
	    &len);
	/* s is "{...}": reopen it before the closing brace. */
	printf("%.*s%s\"content\":", (int)(len - 1), s,
	    json_object_object_length(ctl->reply) > 0 ? "," : "");
	fwrite(ctl->payload, 1, ctl->payload_len, stdout);
	printf("}\n");
	return 0;
}

static int
cmd_content(struct ctl *ctl, const struct target *t)
{
	if (ctl_request(ctl, "content", t, ctl->json ? "json" : "raw", 1) == -1)
		return -1;
	if (ctl->payload == NULL) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a content reply without a payload");
		return -1;
	}
	if (ctl->json)
		return print_content_json(ctl);
	fwrite(ctl->payload, 1, ctl->payload_len, stdout);
	return 0;
}

/* "<event> <proposal> <file_name> <checksum> <size>", or the line as
   received with --json; flushed so that a pipe sees it at once. */
static int
print_event(struct ctl *ctl, const char *line, struct json_object *event)
{
	char b[5][256];

	if (ctl->json)
		printf("%s\n", line);
	else
		printf("%s %s %s %s %s\n",
		    value_text(event, "event", b[0], sizeof(b[0])),
		    value_text(event, "proposal", b[1], sizeof(b[1])),
		    value_text(event, "file_name", b[2], sizeof(b[2])),
		    value_text(event, "checksum", b[3], sizeof(b[3])),
		    value_text(event, "size", b[4], sizeof(b[4])));
	if (fflush(stdout) == EOF) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "write to stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The next event a subscription's reader holds: 1 with *event (the caller
 * puts it) and *line (valid until the reader changes), 0 when it holds no
 * complete line, -1 with errstr set for a failed reply (which ends the
 * subscription) or a line that is no JSON object. Other lines are skipped.
 */
static int
event_next(struct ctl *ctl, struct proto_client *c,
    struct json_object **event, char **line)
{
	struct json_object *obj, *v;
	size_t len;
	int r;

	while ((r = proto_reader_next(&c->reader, line, &len)) != 0) {
		if (r == -1) {
			snprintf(ctl->errstr, sizeof(ctl->errstr),
			    "event line longer than %d bytes", PROTO_MAX_LINE);
			return -1;
		}
		obj = json_tokener_parse(*line);
		if (!json_object_is_type(obj, json_type_object)) {
			json_object_put(obj);
			snprintf(ctl->errstr, sizeof(ctl->errstr),
			    "watcherd sent a line that is not a JSON object");
			return -1;
		}
		if (json_object_object_get_ex(obj, "event", &v)) {
			*event = obj;
			return 1;
		}
		r = json_object_object_get_ex(obj, "ok", &v) ?
		    reply_check(ctl, obj) : 0;
		json_object_put(obj);
		if (r == -1)
			return -1;
	}
	return 0;
}

/* Prints every event the reader holds. */
static int
subscribe_drain(struct ctl *ctl)
{
	struct json_object *event;
	char *line;
	int r;

	while ((r = event_next(ctl, &ctl->client, &event, &line)) == 1) {
		r = print_event(ctl, line, event);
		json_object_put(event);
		if (r == -1)
			return -1;
	}
	return r;
}

/* Reads what a subscription's socket holds into its reader, without
   waiting; a closed connection is an error. */
static int
events_fill(struct ctl *ctl, struct proto_client *c)
{
	char *space;
	size_t room;
	ssize_t n;

	if ((room = proto_reader_space(&c->reader, &space)) == 0) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "out of memory");
		return -1;
	}
	while ((n = recv(c->fd, space, room, MSG_DONTWAIT)) == -1 &&
	    errno == EINTR)
		;
	if (n > 0) {
		proto_reader_commit(&c->reader, n);
		return 0;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n == 0)
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd closed the connection");
	else
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "read from watcherd: %s", strerror(errno));
	return -1;
}

/*
 * Events arrive for ever, so the wait is our own poll over the socket and
 * a signalfd: SIGINT and SIGTERM end the run with status 0, without a
 * global flag or a race between checking it and sleeping. They are blocked
 * only from here on; before, an interrupt ends the run as it does for any
 * command.
 */
static int
signals_catch(struct ctl *ctl)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1 ||
	    (ctl->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "signalfd: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Waits until fd is readable (1) or SIGINT or SIGTERM came (0); -1 with
   errstr set when poll fails. */
static int
wait_readable(struct ctl *ctl, int fd)
{
	struct pollfd pfd[2];

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = ctl->signal_fd, .events = POLLIN };
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(ctl->errstr, sizeof(ctl->errstr), "poll: %s",
			    strerror(errno));
			return -1;
		}
		if (pfd[1].revents)
			return 0;
		if (pfd[0].revents)
			return 1;
	}
}

static int
subscribe_loop(struct ctl *ctl)
{
	int r;

	if (signals_catch(ctl) == -1)
		return -1;
	for (;;) {
		if (subscribe_drain(ctl) == -1)
			return -1;
		if ((r = wait_readable(ctl, ctl->client.fd)) <= 0)
			return r;
		if (events_fill(ctl, &ctl->client) == -1)
			return -1;
	}
}

static int
cmd_subscribe(struct ctl *ctl, const struct target *t)
{
	char cbuf[64], sbuf[64];

	if (ctl_request(ctl, "subscribe", t, NULL, 0) == -1)
		return -1;
	if (ctl->json)
		print_json(ctl->reply);
	else
		printf("subscribed %u %s %s %s\n", t->proposal, t->file_name,
		    value_text(ctl->reply, "checksum", cbuf, sizeof(cbuf)),
		    value_text(ctl->reply, "size", sbuf, sizeof(sbuf)));
	if (fflush(stdout) == EOF) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "write to stdout: %s", strerror(errno));
		return -1;
	}
	return subscribe_loop(ctl);
}

/*
 * tail: a file's last lines, then (-f) what is appended to it, over
 * watcherd's "tail" command, which serves the bytes from an offset on
 * within one generation of the file. The last lines are found by asking for
 * a window at the end of the file and doubling it until it holds enough
 * line ends, up to TAIL_MAX_WINDOW. Following, an event of a subscription
 * on a second connection that names another size or generation than the
 * ones reached is a cue to ask from the offset reached. Output goes to
 * stdout through a buffer of our own with write(2), so a reader that went
 * away (EPIPE) ends the run at once and quietly, with nothing left in
 * stdio to flush.
 */

#define TAIL_FIRST_WINDOW	(64 * 1024)	/* bytes asked for first */
#define TAIL_MAX_WINDOW		(32 * 1024 * 1024) /* the search for -n ends here */
#define TAIL_CHUNK		(1024 * 1024)	/* bytes per request, following */
#define TAIL_MIN_REQUEST	4		/* watcherd's smallest max_bytes */
#define TAIL_MAX_REQUEST	(16 * 1024 * 1024) /* and its largest */
#define TAIL_MATCH_LINE_MAX	(1024 * 1024)	/* --match holds no longer line */
#define TAIL_GENERATION_MAX	64
#define TAIL_OUT_SIZE		65536
#define TAIL_ATTEMPTS		3	/* reads of the last lines cut short by
					   a truncation before giving up */

/* A growable byte buffer, kept NUL-terminated (regexec may look for it). */
struct bytes {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

/* One "tail" reply. */
struct tail_chunk {
	long long	 offset;
	long long	 next_offset;
	long long	 size;
	int		 reset;
	char		 generation[TAIL_GENERATION_MAX];
	char		*data;		/* the payload, malloc()ed */
	size_t		 len;
};

enum tail_result {
	TAIL_OK,
	TAIL_FAILED,	/* errstr set */
	TAIL_GONE,	/* the file does not exist (errstr set) */
	TAIL_RESET,	/* truncated or replaced while the last lines were read */
};

/* --match's view of the line being written out. */
enum line_state {
	LINE_COLLECT,	/* held in line until its newline comes */
	LINE_PASS,	/* too long to hold, matched: printed as it comes */
	LINE_SKIP,	/* too long to hold, no match: dropped */
};

/* What one tail run owns; tail_free() releases it. */
struct tail {
	struct ctl		*ctl;
	const struct target	*t;
	struct proto_client	 events;	/* the subscription, with -f */
	char			 generation[TAIL_GENERATION_MAX]; /* "": none yet */
	long long		 next;		/* the offset to ask from */
	int			 dirty;		/* a change not asked for yet */
	struct bytes		 line;		/* --match: the line held */
	enum line_state		 line_state;
	int			 stdout_closed;
	size_t			 out_len;
	char			 out[TAIL_OUT_SIZE];
};

static int
bytes_append(struct bytes *b, const char *data, size_t n)
{
	size_t cap;
	char *p;

	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	if (b->len + n + 1 > b->cap) {
		for (cap = b->cap ? b->cap : 4096; cap < b->len + n + 1;)
			cap *= 2;
		if ((p = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static struct tail *
tail_new(struct ctl *ctl, const struct target *t)
{
	struct tail *tl;

	if ((tl = calloc(1, sizeof(*tl))) == NULL)
		return NULL;
	tl->ctl = ctl;
	tl->t = t;
	tl->events.fd = -1;
	tl->line_state = LINE_COLLECT;
	return tl;
}

static void
tail_free(struct tail *tl)
{
	proto_client_close(&tl->events);
	free(tl->line.data);
	free(tl);
}

/* Output. */

static int
write_all(struct tail *tl, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(STDOUT_FILENO, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			tl->stdout_closed = errno == EPIPE;
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "write to stdout: %s", strerror(errno));
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
out_flush(struct tail *tl)
{
	size_t len = tl->out_len;

	tl->out_len = 0;
	return write_all(tl, tl->out, len);
}

static int
out_write(struct tail *tl, const char *data, size_t len)
{
	if (len > sizeof(tl->out) - tl->out_len) {
		if (out_flush(tl) == -1)
			return -1;
		if (len > sizeof(tl->out))
			return write_all(tl, data, len);
	}
	memcpy(tl->out + tl->out_len, data, len);
	tl->out_len += len;
	return 0;
}

/* A notice on stderr, after what stdout holds, so that the two interleave
   as they happened. */
static int
tail_notice(struct tail *tl, const char *what)
{
	if (out_flush(tl) == -1)
		return -1;
	fprintf(stderr, "watcherctl: %s: %s\n", tl->t->file_name, what);
	return 0;
}

/* --match. */

/* Whether the len bytes at s (NUL-terminated somewhere after) match. */
static int
line_matches(struct tail *tl, const char *s, size_t len)
{
	regmatch_t m[1] = { { .rm_so = 0, .rm_eo = (regoff_t)len } };

	return regexec(&tl->ctl->match, s, 1, m, REG_STARTEND) == 0;
}

/* Prints a whole line (n bytes, its newline last) when it matches. */
static int
line_print_if(struct tail *tl, const char *s, size_t n)
{
	return line_matches(tl, s, n - 1) ? out_write(tl, s, n) : 0;
}

/*
 * One piece of a line, n bytes; ended when its newline is the last. A line
 * is held until its newline comes, so that it is judged whole; one longer
 * than TAIL_MATCH_LINE_MAX is judged on its start.
 */
static int
match_feed(struct tail *tl, const char *piece, size_t n, int ended)
{
	size_t take;
	int matched, r = 0;

	switch (tl->line_state) {
	case LINE_PASS:
		r = out_write(tl, piece, n);
		break;
	case LINE_SKIP:
		break;
	case LINE_COLLECT:
		if (ended && tl->line.len == 0)
			return line_print_if(tl, piece, n);
		take = n;
		if (!ended && take > TAIL_MATCH_LINE_MAX - tl->line.len)
			take = TAIL_MATCH_LINE_MAX - tl->line.len;
		if (bytes_append(&tl->line, piece, take) == -1) {
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "out of memory");
			return -1;
		}
		if (ended) {
			r = line_print_if(tl, tl->line.data, tl->line.len);
			tl->line.len = 0;
			return r;
		}
		if (tl->line.len < TAIL_MATCH_LINE_MAX)
			return 0;
		matched = line_matches(tl, tl->line.data, tl->line.len);
		if (matched && out_write(tl, tl->line.data, tl->line.len) == -1)
			return -1;
		tl->line.len = 0;
		tl->line_state = matched ? LINE_PASS : LINE_SKIP;
		return match_feed(tl, piece + take, n - take, 0);
	}
	if (ended)
		tl->line_state = LINE_COLLECT;
	return r;
}

/* Forgets the line under way: the file it came from was replaced. */
static void
match_reset(struct tail *tl)
{
	tl->line.len = 0;
	tl->line_state = LINE_COLLECT;
}

/* At the end of a run without -f: the last line, even without its
   newline, is the file's last, and judged as it is. */
static int
match_finish(struct tail *tl)
{
	int r = 0;

	if (tl->ctl->has_match && tl->line_state == LINE_COLLECT &&
	    tl->line.len > 0 && line_matches(tl, tl->line.data, tl->line.len))
		r = out_write(tl, tl->line.data, tl->line.len);
	match_reset(tl);
	return r;
}

/* Writes bytes of the file out: all of them, or with --match the lines
   that match. */
static int
tail_emit(struct tail *tl, const char *data, size_t len)
{
	const char *nl;
	size_t n;

	if (!tl->ctl->has_match)
		return out_write(tl, data, len);
	while (len > 0) {
		nl = memchr(data, '\n', len);
		n = nl ? (size_t)(nl - data) + 1 : len;
		if (match_feed(tl, data, n, nl != NULL) == -1)
			return -1;
		data += n;
		len -= n;
	}
	return 0;
}

/* The protocol. */

/* A non-negative integer member, or -1. */
static long long
reply_count(struct json_object *reply, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(reply, key, &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return -1;
	return json_object_get_int64(v);
}

/* Checks a "tail" reply against its payload (already in ch->data and
   ch->len) and fills the rest of ch. */
static int
chunk_parse(struct ctl *ctl, struct json_object *reply,
    struct tail_chunk *ch)
{
	struct json_object *gen, *reset;

	ch->offset = reply_count(reply, "offset");
	ch->next_offset = reply_count(reply, "next_offset");
	ch->size = reply_count(reply, "size");
	if (ch->offset < 0 || ch->next_offset < ch->offset || ch->size < 0 ||
	    !json_object_object_get_ex(reply, "generation", &gen) ||
	    !json_object_is_type(gen, json_type_string) ||
	    json_object_get_string_len(gen) < 1 ||
	    json_object_get_string_len(gen) >= TAIL_GENERATION_MAX ||
	    !json_object_object_get_ex(reply, "reset", &reset) ||
	    !json_object_is_type(reset, json_type_boolean) ||
	    ch->data == NULL ||
	    (long long)ch->len != ch->next_offset - ch->offset) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a tail reply that does not add up");
		return -1;
	}
	snprintf(ch->generation, sizeof(ch->generation), "%s",
	    json_object_get_string(gen));
	ch->reset = json_object_get_boolean(reset);
	return 0;
}

/* {"cmd":"tail",...,"offset":O,"max_bytes":M[,"generation":G]}, raw. */
static struct json_object *
tail_request_new(struct tail *tl, long long offset, long long max)
{
	struct json_object *req;
	int failed = 0;

	if ((req = request_new("tail", tl->t, "raw")) == NULL)
		return NULL;
	if (max < TAIL_MIN_REQUEST)
		max = TAIL_MIN_REQUEST;
	if (max > TAIL_MAX_REQUEST)
		max = TAIL_MAX_REQUEST;
	failed |= json_object_object_add(req, "offset",
	    json_object_new_int64(offset));
	failed |= json_object_object_add(req, "max_bytes",
	    json_object_new_int64(max));
	if (tl->generation[0] != '\0')
		failed |= json_object_object_add(req, "generation",
		    json_object_new_string(tl->generation));
	if (failed) {
		json_object_put(req);
		return NULL;
	}
	return req;
}

/*
 * Asks for up to max bytes (clamped to what watcherd takes) from offset
 * on, naming the generation known, if any. On TAIL_OK the caller frees
 * ch->data.
 */
static enum tail_result
tail_call(struct tail *tl, long long offset, long long max,
    struct tail_chunk *ch)
{
	struct ctl *ctl = tl->ctl;
	struct json_object *req, *reply = NULL, *code;
	enum tail_result r = TAIL_OK;

	memset(ch, 0, sizeof(*ch));
	if ((req = tail_request_new(tl, offset, max)) == NULL) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "out of memory");
		return TAIL_FAILED;
	}
	if (proto_client_call(&ctl->client, req, &reply, &ch->data,
	    &ch->len) == -1) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "%s",
		    ctl->client.errstr);
		r = TAIL_FAILED;
	} else if (reply_check(ctl, reply) == -1) {
		r = json_object_object_get_ex(reply, "error", &code) &&
		    proto_error_from_code(json_object_get_string(code)) ==
		    PROTO_NOT_FOUND ? TAIL_GONE : TAIL_FAILED;
	} else if (chunk_parse(ctl, reply, ch) == -1)
		r = TAIL_FAILED;
	json_object_put(req);
	json_object_put(reply);
	if (r != TAIL_OK) {
		free(ch->data);
		ch->data = NULL;
	}
	return r;
}

/* Takes a reply's generation and end as the ones reached. */
static void
tail_advance(struct tail *tl, const struct tail_chunk *ch)
{
	memcpy(tl->generation, ch->generation, sizeof(tl->generation));
	tl->next = ch->next_offset;
}

/* The last lines. */

/* Where the last n lines of data begin (a final line without its newline
   counts); -1 when fewer line ends precede them. */
static int
last_lines_start(const char *data, size_t len, long long n, size_t *cut)
{
	const char *nl;
	size_t end = len;

	if (n == 0) {
		*cut = len;
		return 0;
	}
	if (end > 0 && data[end - 1] == '\n')
		end--;
	while ((nl = memrchr(data, '\n', end)) != NULL) {
		end = (size_t)(nl - data);
		if (--n == 0) {
			*cut = end + 1;
			return 0;
		}
	}
	return -1;
}

/*
 * Appends the file's bytes [from, to) to buf. Sets *reached to where it
 * stopped: to, or short of it where the file ends inside a character being
 * written (watcherd never cuts one).
 */
static enum tail_result
tail_fetch(struct tail *tl, long long from, long long to, struct bytes *buf,
    long long *reached)
{
	struct tail_chunk ch;
	enum tail_result r;
	size_t take;

	*reached = from;
	while (*reached < to) {
		if ((r = tail_call(tl, *reached, to - *reached, &ch)) != TAIL_OK)
			return r;
		if (ch.reset) {
			free(ch.data);
			return TAIL_RESET;
		}
		tail_advance(tl, &ch);
		take = ch.len < (size_t)(to - *reached) ? ch.len :
		    (size_t)(to - *reached);
		if (bytes_append(buf, ch.data, take) == -1) {
			free(ch.data);
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "out of memory");
			return TAIL_FAILED;
		}
		free(ch.data);
		if (take == 0)
			break;
		*reached += (long long)take;
	}
	return TAIL_OK;
}

/* Puts front before what buf holds. */
static int
bytes_prepend(struct bytes *buf, struct bytes *front)
{
	if (bytes_append(front, buf->data, buf->len) == -1)
		return -1;
	free(buf->data);
	*buf = *front;
	memset(front, 0, sizeof(*front));
	return 0;
}

/*
 * Reads the end of the file into buf, widening the window until it holds
 * the last ctl->lines lines, and sets *cut where they begin. A window of
 * TAIL_MAX_WINDOW that still holds too few begins at its first whole line.
 * Sets tl->next to the end of what was read.
 */
static enum tail_result
tail_last_lines(struct tail *tl, struct bytes *buf, size_t *cut)
{
	struct tail_chunk probe;
	struct bytes front = { NULL, 0, 0 };
	long long start, end, from, window = TAIL_FIRST_WINDOW, reached;
	enum tail_result r;
	const char *nl;

	if ((r = tail_call(tl, 0, TAIL_FIRST_WINDOW, &probe)) != TAIL_OK)
		return r;
	tail_advance(tl, &probe);
	if (probe.next_offset == probe.size) {
		/* All of it at once: the common small log. */
		r = bytes_append(buf, probe.data, probe.len) == -1 ?
		    TAIL_FAILED : TAIL_OK;
		free(probe.data);
		if (r == TAIL_FAILED)
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "out of memory");
		else if (last_lines_start(buf->data, buf->len, tl->ctl->lines,
		    cut) == -1)
			*cut = 0;
		return r;
	}
	free(probe.data);
	start = end = probe.size;
	for (;;) {
		from = end > window ? end - window : 0;
		if ((r = tail_fetch(tl, from, start, &front, &reached)) !=
		    TAIL_OK)
			break;
		if (start == end)
			end = reached;
		else if (reached != start) {
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "watcherd sent less of the file than it has");
			r = TAIL_FAILED;
			break;
		}
		if (bytes_prepend(buf, &front) == -1) {
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "out of memory");
			r = TAIL_FAILED;
			break;
		}
		start = from;
		if (last_lines_start(buf->data, buf->len, tl->ctl->lines,
		    cut) == 0)
			break;
		if (start == 0 || window >= TAIL_MAX_WINDOW) {
			nl = start == 0 ? NULL : memchr(buf->data, '\n',
			    buf->len);
			*cut = nl ? (size_t)(nl - buf->data) + 1 : 0;
			break;
		}
		window *= 2;
	}
	free(front.data);
	tl->next = end;
	return r;
}

/* Prints the last lines; a truncation while they are read starts over. */
static int
tail_start(struct tail *tl)
{
	struct bytes buf = { NULL, 0, 0 };
	enum tail_result r = TAIL_RESET;
	size_t cut = 0;
	int attempt;

	for (attempt = 0; attempt < TAIL_ATTEMPTS && r == TAIL_RESET;
	    attempt++) {
		buf.len = 0;
		tl->generation[0] = '\0';
		r = tail_last_lines(tl, &buf, &cut);
	}
	if (r == TAIL_RESET)
		snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
		    "%s: truncated or replaced each time it was read; "
		    "try again", tl->t->file_name);
	else if (r == TAIL_OK && tail_emit(tl, buf.data + cut,
	    buf.len - cut) == -1)
		r = TAIL_FAILED;
	free(buf.data);
	return r == TAIL_OK ? 0 : -1;
}

/* Following. */

/* Whether two generations are of the same file: watcherd makes them
   "<inode>-<truncations>". */
static int
same_file(const char *a, const char *b)
{
	const char *da = strrchr(a, '-'), *db = strrchr(b, '-');

	if (da == NULL || db == NULL)
		return 1;
	return da - a == db - b && memcmp(a, b, (size_t)(da - a)) == 0;
}

/*
 * Asks from the offset reached until the end of the file (a big append
 * comes in chunks), or until watcherd holds a character back that is
 * being written. A file gone meanwhile is waited for: its "deleted" event
 * is on its way.
 */
static int
tail_catch_up(struct tail *tl)
{
	struct tail_chunk ch;
	enum tail_result r;
	int more;

	do {
		if ((r = tail_call(tl, tl->next, TAIL_CHUNK, &ch)) == TAIL_GONE)
			return 0;
		if (r != TAIL_OK)
			return -1;
		if (ch.reset) {
			match_reset(tl);
			if (tail_notice(tl, same_file(tl->generation,
			    ch.generation) ? "file truncated" :
			    "has been replaced; following new file") == -1) {
				free(ch.data);
				return -1;
			}
		}
		tail_advance(tl, &ch);
		more = ch.len > 0 && ch.next_offset < ch.size;
		r = tail_emit(tl, ch.data, ch.len) == -1 ? TAIL_FAILED : TAIL_OK;
		free(ch.data);
		if (r != TAIL_OK)
			return -1;
	} while (more);
	return 0;
}

/* Whether an event may bring bytes not asked for yet: not when it names
   the generation we have and the size we reached. */
static int
event_is_news(const struct tail *tl, struct json_object *event)
{
	struct json_object *gen;

	if (reply_count(event, "size") != tl->next ||
	    !json_object_object_get_ex(event, "generation", &gen) ||
	    !json_object_is_type(gen, json_type_string))
		return 1;
	return strcmp(json_object_get_string(gen), tl->generation) != 0;
}

/* Takes every event the subscription holds: a "changed" with news is
   noted, to be asked for once; "deleted" and "created" are told at once. */
static int
tail_events(struct tail *tl)
{
	struct json_object *event, *v;
	const char *name;
	char *line;
	int r;

	while ((r = event_next(tl->ctl, &tl->events, &event, &line)) == 1) {
		name = json_object_object_get_ex(event, "event", &v) &&
		    json_object_is_type(v, json_type_string) ?
		    json_object_get_string(v) : "";
		r = 0;
		if (strcmp(name, "changed") == 0)
			tl->dirty |= event_is_news(tl, event);
		else if (strcmp(name, "deleted") == 0) {
			tl->dirty = 0;
			r = tail_notice(tl, "has been deleted; following the name");
		} else if (strcmp(name, "created") == 0) {
			/* A new file: all of it, whatever generation (and
			   nothing to ask for while it is empty). */
			tl->next = 0;
			tl->generation[0] = '\0';
			tl->dirty = reply_count(event, "size") != 0;
			match_reset(tl);
			r = tail_notice(tl, "has appeared; following new file");
		}
		json_object_put(event);
		if (r == -1)
			return -1;
	}
	return r;
}

/* Subscribes on a connection of its own, before the last lines are read,
   so that no change after them goes unseen. */
static int
tail_subscribe(struct tail *tl)
{
	struct ctl *ctl = tl->ctl;
	struct json_object *req, *reply = NULL;
	int r;

	if ((req = request_new("subscribe", tl->t, NULL)) == NULL) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "out of memory");
		return -1;
	}
	if ((r = ctl_connect(ctl, &tl->events)) == 0 &&
	    (r = proto_client_call(&tl->events, req, &reply, NULL,
	    NULL)) == -1)
		snprintf(ctl->errstr, sizeof(ctl->errstr), "%s",
		    tl->events.errstr);
	if (r == 0)
		r = reply_check(ctl, reply);
	json_object_put(req);
	json_object_put(reply);
	return r;
}

/* The subscription came first, so every change after the last lines were
   read has an event on its way. */
static int
tail_follow(struct tail *tl)
{
	int r;

	for (;;) {
		if (tail_events(tl) == -1)
			return -1;
		if (tl->dirty && tail_catch_up(tl) == -1)
			return -1;
		tl->dirty = 0;
		if (out_flush(tl) == -1)
			return -1;
		if ((r = wait_readable(tl->ctl, tl->events.fd)) <= 0)
			return r;
		if (events_fill(tl->ctl, &tl->events) == -1)
			return -1;
	}
}

static int
tail_run(struct tail *tl)
{
	struct ctl *ctl = tl->ctl;

	if (ctl_connect(ctl, &ctl->client) == -1)
		return -1;
	if (ctl->follow && (signals_catch(ctl) == -1 ||
	    tail_subscribe(tl) == -1))
		return -1;
	if (tail_start(tl) == -1)
		return -1;
	if (!ctl->follow)
		return match_finish(tl);
	return tail_follow(tl);
}

static int
cmd_tail(struct ctl *ctl, const struct target *t)
{
	struct tail *tl;
	int r;

	if ((tl = tail_new(ctl, t)) == NULL) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "out of memory");
		return -1;
	}
	/* A closed stdout shows as EPIPE, and ends the run quietly. */
	signal(SIGPIPE, SIG_IGN);
	r = tail_run(tl);
	if (r == 0)
		r = out_flush(tl);
	if (tl->stdout_closed)
		r = 0;
	tail_free(tl);
	return r;
}

static int
cmd_unwatch(struct ctl *ctl, const struct target *t)
{
	if (ctl_request(ctl, "unwatch", t, NULL, 0) == -1)
		return -1;
	if (ctl->json)
		print_json(ctl->reply);
	else
		printf("unwatched %u %s\n", t->proposal, t->file_name);
	return 0;
}

/* Start-up. */

static int
parse_timeout(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < 1 || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

/* tail's -n: 0 or more lines. */
static int
parse_lines(const char *s, long long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < 0 || v > INT_MAX)
		return -1;
	*out = v;
	return 0;
}

/* Compiles --match into ctl; 0, or -1 after saying what is wrong. */
static int
compile_match(struct ctl *ctl, const char *regex)
{
	char msg[256];
	int e;

	if ((e = regcomp(&ctl->match, regex, REG_EXTENDED)) != 0) {
		regerror(e, &ctl->match, msg, sizeof(msg));
		fprintf(stderr, "watcherctl: --match '%s': %s\n", regex, msg);
		return -1;
	}
	ctl->has_match = 1;
	return 0;
}

static const struct command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
main(int argc, char *argv[])
{
	enum { OPT_MATCH = 256 };
	static const struct option options[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "follow",	no_argument,		NULL, 'f' },
		{ "lines",	required_argument,	NULL, 'n' },
		{ "match",	required_argument,	NULL, OPT_MATCH },
		{ NULL,		0,			NULL, 0 },
	};
	const struct command *cmd;
	struct target target, *tp = NULL;
	struct ctl ctl;
	const char *match = NULL;
	int ch, status, tail_options = 0;

	ctl_init(&ctl);
	while ((ch = getopt_long(argc, argv, "s:jt:hfn:", options,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			ctl.follow = 1;
			tail_options = 1;
			break;
		case 'n':
			if (parse_lines(optarg, &ctl.lines) == -1) {
				fprintf(stderr, "watcherctl: --lines wants a "
				    "number of lines (0 or more), not '%s'\n",
				    optarg);
				return 2;
			}
			tail_options = 1;
			break;
		case OPT_MATCH:
			match = optarg;
			tail_options = 1;
			break;
		case 's':
			ctl.socket = optarg;
			break;
		case 'j':
			ctl.json = 1;
			break;
		case 't':
			if (parse_timeout(optarg, &ctl.timeout_ms) == -1) {
				fprintf(stderr, "watcherctl: --timeout wants "
				    "a positive number of milliseconds, not "
				    "'%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fprintf(stderr, "watcherctl: no command given\n");
		usage(stderr);
		return 2;
	}
	if ((cmd = command_find(argv[0])) == NULL) {
		fprintf(stderr, "watcherctl: unknown command '%s'\n", argv[0]);
		usage(stderr);
		return 2;
	}
	if (tail_options && !cmd->tail_options) {
		fprintf(stderr, "watcherctl: -f, -n and --match go with tail "
		    "only\n");
		usage(stderr);
		return 2;
	}
	if (ctl.json && cmd->tail_options) {
		fprintf(stderr, "watcherctl: %s writes the file's bytes; "
		    "--json does not go with it\n", cmd->name);
		return 2;
	}
	if (argc != (cmd->takes_target ? 3 : 1)) {
		fprintf(stderr, "watcherctl: %s takes %s\n", cmd->name,
		    cmd->takes_target ? "PROPOSAL FILE" : "no arguments");
		usage(stderr);
		return 2;
	}
	if (cmd->takes_target) {
		if (policy_parse_proposal(argv[1], strlen(argv[1]),
		    &target.proposal) == -1) {
			fprintf(stderr, "watcherctl: '%s' is not a proposal "
			    "number (1 to 6 digits)\n", argv[1]);
			return 2;
		}
		target.file_name = argv[2];
		tp = &target;
	}
	if (match && compile_match(&ctl, match) == -1)
		return 2;
	if (ctl.socket == NULL)
		ctl.socket = proto_default_socket();

	status = 0;
	if (cmd->run(&ctl, tp) == -1) {
		fflush(stdout);
		fprintf(stderr, "watcherctl: %s\n", ctl.errstr);
		status = 1;
	} else if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "watcherctl: write to stdout: %s\n",
		    strerror(errno));
		status = 1;
	}
	ctl_free(&ctl);
	return status;
}
