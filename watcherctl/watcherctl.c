/*
 * watcherctl: the ops command line over watcherd's socket. One connection
 * per run, one request per connection (subscribe then keeps reading events),
 * except tail (tail.c): its requests share one connection, and with -f a
 * second one carries the subscription whose events say when to ask again;
 * and write (write.c), which may ask for the checksum first. What the
 * commands share is in ctl.c. Exit status: 0 success (and an interrupted
 * subscribe or tail -f, a subscribe that an unwatch ended, or a tail whose
 * reader went away), 1 failure (daemon absent or gone, error reply,
 * timeout), 2 usage, 3 a write's conflict, 4 a write the validator
 * refused.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/crc.h"
#include "common/fields.h"
#include "common/msg.h"
#include "common/policy.h"
#include "common/proto.h"
#include "watcherctl/ctl.h"
#include "watcherctl/tail.h"
#include "watcherctl/write.h"

static int	cmd_ping(struct ctl *, const struct target *);
static int	cmd_status(struct ctl *, const struct target *);
static int	cmd_list(struct ctl *, const struct target *);
static int	cmd_checksum(struct ctl *, const struct target *);
static int	cmd_content(struct ctl *, const struct target *);
static int	cmd_history(struct ctl *, const struct target *);
static int	cmd_subscribe(struct ctl *, const struct target *);
static int	cmd_unwatch(struct ctl *, const struct target *);

static const struct command {
	const char	*name;
	int		 takes_target;	/* PROPOSAL FILE follow the name */
	int		 tail_options;	/* takes -f, -n, --match; not --json */
	int		 write_options;	/* takes --if */
	int		 (*run)(struct ctl *, const struct target *);
} commands[] = {
	{ "ping",	0, 0, 0, cmd_ping },
	{ "status",	0, 0, 0, cmd_status },
	{ "list",	0, 0, 0, cmd_list },
	{ "checksum",	1, 0, 0, cmd_checksum },
	{ "content",	1, 0, 0, cmd_content },
	{ "show",	1, 0, 0, cmd_content },
	{ "history",	1, 0, 0, cmd_history },
	{ "subscribe",	1, 0, 0, cmd_subscribe },
	{ "tail",	1, 1, 0, tail_command },
	{ "unwatch",	1, 0, 0, cmd_unwatch },
	{ "write",	1, 0, 1, write_command },
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
	    "  content [--version CHECKSUM] PROPOSAL FILE\n"
	    "                           write a file's content to stdout; with --version,\n"
	    "                           its kept version of that checksum (show is the same)\n"
	    "  history PROPOSAL FILE    print the kept versions of a file, newest first:\n"
	    "                           checksum, size, time, save or disk, and who saved\n"
	    "  subscribe PROPOSAL FILE  print a file's changes as they happen, until interrupted\n"
	    "                           or unwatched\n"
	    "  tail [-f] [-n LINES] [--match REGEX] PROPOSAL FILE\n"
	    "                           print a file's last lines; with -f, then what is\n"
	    "                           appended, like tail -F, until interrupted\n"
	    "  unwatch PROPOSAL FILE    end a file's watch\n"
	    "  write [--if CHECKSUM] PROPOSAL FILE < CONTENT\n"
	    "                           replace a file's content with stdin, if its checksum\n"
	    "                           is still CHECKSUM (default: the one it has now); prints\n"
	    "                           the new checksum\n"
	    "\n"
	    "options:\n"
	    "  -s, --socket PATH  watcherd's socket (default: $WATCHERD_SOCKET, else %s)\n"
	    "  -j, --json         print watcherd's replies as JSON, one object per line\n"
	    "                     (not with tail, which writes the file's bytes)\n"
	    "  -t, --timeout MS   how long to wait for an answer (default %d, for write %d)\n"
	    "  -h, --help         print this help\n"
	    "\n"
	    "tail options:\n"
	    "  -f, --follow       keep printing what is appended, across truncation,\n"
	    "                     replacement and deletion of the file\n"
	    "  -n, --lines LINES  how many of the last lines to print first (default %d)\n"
	    "  --match REGEX      only the lines that match the POSIX extended REGEX\n"
	    "\n"
	    "write options:\n"
	    "  --if CHECKSUM      write only if the file's checksum is still CHECKSUM (8 hex\n"
	    "                     digits); else exit 3 and print the checksum it has\n"
	    "\n"
	    "exit status: 0 done, 1 failure, 2 usage, 3 write's conflict, 4 write's content\n"
	    "refused by the validator (its errors on stderr as FILE:LINE:COL: message)\n",
	    PROTO_DEFAULT_SOCKET, CTL_DEFAULT_TIMEOUT_MS, WRITE_DEFAULT_TIMEOUT_MS,
	    TAIL_DEFAULT_LINES);
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
	    CTL_JSON_FLAGS));
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

/* An epoch time as local "YYYY-MM-DD HH:MM:SS", "-" when it fails. */
static const char *
epoch_text(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return "-";
	return buf;
}

/* An epoch time member as epoch_text(), "-" when absent. */
static const char *
time_text(struct json_object *obj, const char *key, char *buf, size_t size)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int)))
		return "-";
	return epoch_text((time_t)json_object_get_double(v), buf, size);
}

/* A state's checksum, size and mtime as text, "-" for what it has not. */
struct state_text {
	char	checksum[CRC_HEX_LEN + 1];
	char	size[24];
	char	mtime[64];
};

static void
state_text(const struct msg_state *st, struct state_text *t)
{
	snprintf(t->checksum, sizeof(t->checksum), "-");
	snprintf(t->size, sizeof(t->size), "-");
	snprintf(t->mtime, sizeof(t->mtime), "-");
	if (!st->exists)
		return;
	if (!st->too_large)
		crc_format(st->crc, t->checksum);
	snprintf(t->size, sizeof(t->size), "%lld", st->size);
	epoch_text(st->mtime.tv_sec, t->mtime, sizeof(t->mtime));
}

/* Requests. */

/* Asks cmd, a request about no file, on ctl->client. */
static int
request(struct ctl *ctl, const char *cmd)
{
	char line[64];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_request(&m, cmd);
	return ctl_request(ctl, &m, 0);
}

/* Asks cmd, whose reply is walked as a tree: 0 with *tree (ctl owns it),
   1 once --json printed it instead, else -1. */
static int
request_tree(struct ctl *ctl, const char *cmd, struct json_object **tree)
{
	if (request(ctl, cmd) == -1)
		return -1;
	if (ctl->json)
		return ctl_print_reply(ctl) == 0 ? 1 : -1;
	return (*tree = ctl_reply_tree(ctl)) != NULL ? 0 : -1;
}

/* Asks cmd about t, on ctl->client. */
static int
request_file(struct ctl *ctl, const char *cmd, const struct target *t)
{
	struct msg_file f = ctl_file(t);
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_request_file(&m, cmd, &f);
	return ctl_request(ctl, &m, 0);
}

/* The commands. */

static int
cmd_ping(struct ctl *ctl, const struct target *t)
{
	char version[64], pbuf[24] = "-";
	long long protocol;

	(void)t;
	if (request(ctl, "ping") == -1)
		return -1;
	if (ctl->json)
		return ctl_print_reply(ctl);
	fields_ping(ctl->reply, ctl->reply_len, version, sizeof(version),
	    &protocol);
	if (protocol >= 0)
		snprintf(pbuf, sizeof(pbuf), "%lld", protocol);
	printf("watcherd %s (protocol %s) is running at %s\n",
	    version[0] ? version : "-", pbuf, ctl->socket);
	return 0;
}

static int
cmd_status(struct ctl *ctl, const struct target *t)
{
	struct json_object *status;
	char buf[256];
	int width = 0, n;

	(void)t;
	if ((n = request_tree(ctl, "status", &status)) != 0)
		return n == 1 ? 0 : -1;
	/* Every field in reply order, "ok" aside, values in one column. */
	json_object_object_foreach(status, key, val) {
		(void)val;
		if (strcmp(key, "ok") != 0 && (n = (int)strlen(key)) > width)
			width = n;
	}
	json_object_object_foreach(status, name, value) {
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
	struct json_object *list, *watches, *watch;
	size_t i, row, rows;

	(void)t;
	if ((n = request_tree(ctl, "list", &list)) != 0)
		return n == 1 ? 0 : -1;
	if (!json_object_object_get_ex(list, "watches", &watches) ||
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
	struct state_text text;
	struct msg_state st;
	char mode[16];

	if (request_file(ctl, "checksum", t) == -1)
		return -1;
	if (ctl->json)
		return ctl_print_reply(ctl);
	if (fields_reply_state(ctl->reply, ctl->reply_len, &st, mode,
	    sizeof(mode)) == -1)
		st.exists = 0;
	state_text(&st, &text);
	printf("%s  %s bytes  %s  %s\n", text.checksum, text.size, text.mtime,
	    mode[0] ? mode : "-");
	return 0;
}

/*
 * With --json, one object: the reply's fields (less "payload", which framed
 * the socket) and key, the JSON value watcherd sent as the payload (a
 * string opened by open: '"'; an array: '['), inserted verbatim.
 */
static int
print_payload_json(struct ctl *ctl, const char *key, char open, char close)
{
	struct json_object *reply;
	const char *s;
	size_t len;

	if ((reply = ctl_reply_tree(ctl)) == NULL)
		return -1;
	if (ctl->payload_len < 2 || ctl->payload[0] != open ||
	    ctl->payload[ctl->payload_len - 1] != close) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a payload that is not the JSON %s",
		    open == '"' ? "string" : "array");
		return -1;
	}
	json_object_object_del(reply, "payload");
	s = json_object_to_json_string_length(reply, CTL_JSON_FLAGS, &len);
	/* s is "{...}": reopen it before the closing brace. */
	printf("%.*s%s\"%s\":", (int)(len - 1), s,
	    json_object_object_length(reply) > 0 ? "," : "", key);
	fwrite(ctl->payload, 1, ctl->payload_len, stdout);
	printf("}\n");
	return 0;
}

static int
cmd_content(struct ctl *ctl, const struct target *t)
{
	struct msg_file f = ctl_file(t);
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	if (ctl->has_version)
		msg_request_version(&m, &f, ctl->json, ctl->version);
	else
		msg_request_content(&m, &f, ctl->json);
	if (ctl_request(ctl, &m, 1) == -1)
		return -1;
	if (ctl->payload == NULL) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a content reply without a payload");
		return -1;
	}
	if (ctl->json)
		return print_payload_json(ctl, "content", '"', '"');
	fwrite(ctl->payload, 1, ctl->payload_len, stdout);
	return 0;
}

/* One line per version, newest first: "<checksum>  <size> bytes  <time>
   <save|disk>  <user|->". */
static int
cmd_history(struct ctl *ctl, const struct target *t)
{
	struct msg_file f = ctl_file(t);
	struct json_object *list, *v;
	char crc[32], size[32], time[32], source[32], user[512];
	char line[MSG_LINE_MAX];
	struct msg m;
	size_t i, n;

	msg_init(&m, line, sizeof(line));
	msg_request_file(&m, "history", &f);
	if (ctl_request(ctl, &m, 1) == -1)
		return -1;
	if (ctl->payload == NULL) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a history reply without its versions");
		return -1;
	}
	if (ctl->json)
		return print_payload_json(ctl, "versions", '[', ']');
	if ((list = json_tokener_parse(ctl->payload)) == NULL ||
	    !json_object_is_type(list, json_type_array)) {
		json_object_put(list);
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent versions that are not a JSON array");
		return -1;
	}
	if ((n = json_object_array_length(list)) == 0)
		printf("no versions\n");
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(list, i);
		printf("%s  %s bytes  %s  %s  %s\n",
		    value_text(v, "checksum", crc, sizeof(crc)),
		    value_text(v, "size", size, sizeof(size)),
		    time_text(v, "time", time, sizeof(time)),
		    value_text(v, "source", source, sizeof(source)),
		    value_text(v, "user", user, sizeof(user)));
	}
	json_object_put(list);
	return 0;
}

/* "<event> <proposal> <file_name> <checksum> <size>", or the line as
   received with --json; flushed so that a pipe sees it at once. */
static int
print_event(struct ctl *ctl, const char *line, const struct fields_event *ev)
{
	static const struct msg_state none = { .exists = 0 };
	struct state_text text;

	state_text(ev->has_state ? &ev->st : &none, &text);
	if (ctl->json)
		printf("%s\n", line);
	else
		printf("%s %u %s %s %s\n", ev->name, ev->proposal,
		    ev->file_name, text.checksum, text.size);
	if (fflush(stdout) == EOF) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "write to stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Prints every event the reader holds; 1 once watcherd said that the
   subscription is over: an operator's unwatch ended it, and no event
   follows. */
static int
subscribe_drain(struct ctl *ctl)
{
	struct fields_event ev;
	char *line;
	int r, over;

	while ((r = ctl_event_next(ctl, &ctl->client, &ev, &line)) == 1) {
		r = print_event(ctl, line, &ev);
		over = strcmp(ev.name, "unwatched") == 0;
		if (r == -1)
			return -1;
		if (over)
			return 1;
	}
	return r;
}

static int
subscribe_loop(struct ctl *ctl)
{
	int r;

	if (ctl_signals_catch(ctl) == -1)
		return -1;
	for (;;) {
		if ((r = subscribe_drain(ctl)) != 0)
			return r == 1 ? 0 : -1;
		if ((r = ctl_wait_readable(ctl, ctl->client.fd)) <= 0)
			return r;
		if (ctl_events_fill(ctl, &ctl->client) == -1)
			return -1;
	}
}

static int
cmd_subscribe(struct ctl *ctl, const struct target *t)
{
	struct state_text text;
	struct msg_state st;
	char mode[16];

	if (request_file(ctl, "subscribe", t) == -1)
		return -1;
	if (fields_reply_state(ctl->reply, ctl->reply_len, &st, mode,
	    sizeof(mode)) == -1)
		st.exists = 0;
	state_text(&st, &text);
	if (ctl->json) {
		if (ctl_print_reply(ctl) == -1)
			return -1;
	} else
		printf("subscribed %u %s %s %s\n", t->proposal, t->file_name,
		    text.checksum, text.size);
	if (fflush(stdout) == EOF) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "write to stdout: %s", strerror(errno));
		return -1;
	}
	return subscribe_loop(ctl);
}

static int
cmd_unwatch(struct ctl *ctl, const struct target *t)
{
	if (request_file(ctl, "unwatch", t) == -1)
		return -1;
	if (ctl->json)
		return ctl_print_reply(ctl);
	printf("unwatched %u %s\n", t->proposal, t->file_name);
	return 0;
}

/* Start-up. */

/* A whole decimal number of an option, from min to INT_MAX; 0, or -1. */
static int
parse_number(const char *s, long min, long long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > INT_MAX)
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
	enum { OPT_MATCH = 256, OPT_IF, OPT_VERSION };
	static const struct option options[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "follow",	no_argument,		NULL, 'f' },
		{ "lines",	required_argument,	NULL, 'n' },
		{ "match",	required_argument,	NULL, OPT_MATCH },
		{ "if",		required_argument,	NULL, OPT_IF },
		{ "version",	required_argument,	NULL, OPT_VERSION },
		{ NULL,		0,			NULL, 0 },
	};
	const struct command *cmd;
	struct target target, *tp = NULL;
	struct ctl ctl;
	const char *match = NULL;
	long long number;
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
			/* tail's -n: 0 or more lines. */
			if (parse_number(optarg, 0, &ctl.lines) == -1) {
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
		case OPT_VERSION:
			if (crc_parse(optarg, &ctl.version) == -1) {
				fprintf(stderr, "watcherctl: --version wants a "
				    "checksum of 8 hexadecimal digits, not "
				    "'%s'\n", optarg);
				return 2;
			}
			ctl.has_version = 1;
			break;
		case OPT_IF:
			if (crc_parse(optarg, &ctl.if_checksum) == -1) {
				fprintf(stderr, "watcherctl: --if wants a "
				    "checksum of 8 hexadecimal digits, not "
				    "'%s'\n", optarg);
				return 2;
			}
			ctl.has_if = 1;
			break;
		case 's':
			ctl.socket = optarg;
			break;
		case 'j':
			ctl.json = 1;
			break;
		case 't':
			if (parse_number(optarg, 1, &number) == -1) {
				fprintf(stderr, "watcherctl: --timeout wants "
				    "a positive number of milliseconds, not "
				    "'%s'\n", optarg);
				return 2;
			}
			ctl.timeout_ms = (int)number;
			ctl.timeout_set = 1;
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
	if (ctl.has_if && !cmd->write_options) {
		fprintf(stderr, "watcherctl: --if goes with write only\n");
		usage(stderr);
		return 2;
	}
	if (ctl.has_version && cmd->run != cmd_content) {
		fprintf(stderr, "watcherctl: --version goes with content "
		    "(show) only\n");
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
		status = ctl.exit_status ? ctl.exit_status : 1;
	} else if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "watcherctl: write to stdout: %s\n",
		    strerror(errno));
		status = 1;
	}
	ctl_free(&ctl);
	return status;
}
