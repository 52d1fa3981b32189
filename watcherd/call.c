#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/policy.h"
#include "watcherd/call.h"
#include "watcherd/daemon.h"
#include "watcherd/server.h"

static void	call_resume(void *);

/* Reads "proposal" (a number, or a string of 1 to 6 digits),
   "file_name" and the optional "user" (a user name or null) of a line
   json-c read. Returns 0, or -1 with *why. */
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
	/* The string lives as long as r->obj, which the call keeps. */
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
 * copied into the call. Returns 0, or -1 for a line of any other shape,
 * which json-c reads.
 */
static int
parse_plain(const char *line, size_t len, struct call *r, char *cmd,
    size_t cmdlen)
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
	memcpy(r->file_buf, p, (size_t)(q - p));
	r->file_buf[q - p] = '\0';
	r->file_name = r->file_buf;
	r->file_name_len = (size_t)(q - p);
	return 0;
}

/* Parses a request line of any shape with json-c into r and *name (the
   command). Returns 0, or -1 after replying the error. */
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

static const struct command *
find_command(const struct command *commands, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* "unknown cmd; known: ping, checksum, ...", from the table. */
static void
reply_unknown(struct client *c, const struct command *commands, size_t n)
{
	char line[256];
	struct msg m;
	size_t i;

	msg_init(&m, line, sizeof(line));
	msg_text(&m, "unknown cmd; known: ");
	for (i = 0; i < n; i++) {
		msg_text(&m, i ? ", " : "");
		msg_text(&m, commands[i].name);
	}
	line[m.len < sizeof(line) ? m.len : sizeof(line) - 1] = '\0';
	client_reply_error(c, PROTO_BAD_REQUEST, line);
}

/*
 * Reads the line into r: its command, and the file, user and payload it
 * names. A line that names its payload but not a good file or user is
 * answered once its payload is skipped (r->bad). Returns 0, or -1 after
 * replying the error.
 */
static int
call_parse(struct call *r, const struct command *commands, size_t n,
    char *line, size_t len)
{
	char plain[16];
	const char *name;
	struct json_object *o;

	if (parse_plain(line, len, r, plain, sizeof(plain)) == 0 &&
	    (r->cmd = find_command(commands, n, plain)) != NULL &&
	    !(r->cmd->flags & CALL_NEEDS_FILE) == (r->file_name == NULL) &&
	    !(r->cmd->flags & CALL_WRITES))
		return 0;
	/* Not the plain shape, or not what the command takes: the parser
	   says what is wrong. */
	r->file_name = NULL;
	r->has_user = 0;
	r->user = NULL;
	if (parse_json(r, line, len, &name) == -1)
		return -1;
	if ((r->cmd = find_command(commands, n, name)) == NULL) {
		reply_unknown(r->c, commands, n);
		return -1;
	}
	if (r->cmd->flags & CALL_WRITES) {
		if (!json_object_object_get_ex(r->obj, "payload", &o)) {
			client_reply_error(r->c, PROTO_BAD_REQUEST, "this command "
			    "needs \"payload\": the size of the content that "
			    "follows the line");
			return -1;
		}
		if (!json_object_is_type(o, json_type_int) ||
		    json_object_get_int64(o) < 0) {
			client_reply_error(r->c, PROTO_BAD_REQUEST, "payload "
			    "must be an integer from 0 to 9223372036854775807");
			return -1;
		}
		r->payload_len = (size_t)json_object_get_int64(o);
	}
	if ((r->cmd->flags & CALL_NEEDS_FILE) &&
	    parse_file_args(r, &r->bad) == -1)
		r->file_name = NULL;
	return 0;
}

void
call_error(struct call *r, enum proto_error e, const char *detail)
{
	if (e == PROTO_PENDING)
		r->pending = 1;
	else
		client_reply_error(r->c, e, detail);
}

struct access_who
call_who(const struct call *r)
{
	return (struct access_who){ .named = r->has_user, .user = r->user,
	    .trusted = client_is_owner(r->c) };
}

int
call_may(struct call *r, int write, const struct file_id *seen)
{
	struct access_who who = call_who(r);
	char detail[POLICY_MAX_USER + POLICY_MAX_NAME + 128];
	const char *why = "";
	enum proto_error e;

	e = access_check(r->d->access, &r->wait, &r->grant, &who, r->proposal,
	    r->file_name, r->file_name_len, write, seen, detail,
	    sizeof(detail), &why);
	if (e == PROTO_OK)
		return 1;
	call_error(r, e, why);
	return 0;
}

int
call_still_may(struct call *r, const struct watch_state *st)
{
	struct file_id seen;

	if (r->grant.granted != ACCESS_ONE_FILE)
		return 1;
	file_id_of_state(st, &seen);
	if (file_id_equal(&r->grant.file, &seen, 0))
		return 1;
	if (!call_may(r, 0, &seen))
		return 0;
	if (file_id_equal(&r->grant.file, &seen, 0))
		return 1;
	client_reply_error(r->c, PROTO_UNAVAILABLE, "the file was replaced "
	    "while it was checked; try again");
	return 0;
}

void
call_set_state(struct call *r, void *state, void (*free_fn)(void *))
{
	r->state = state;
	r->state_free = free_fn;
}

/* The payload is all in (NULL: it was skipped): the call goes on. */
static void
payload_in(void *arg, char *payload)
{
	struct call *r = arg;

	r->payload = payload;
	r->payload_in = 1;
	if (payload)
		r->d->saves.held += r->payload_len;
	/* What waits from now has its full time. */
	waiter_restart(r->d->jobs, &r->wait);
	call_resume(r);
}

/*
 * Takes the call as far as it goes from the step it is at. Returns 1
 * when it waits, 0 once it is answered.
 */
static int
call_run(struct call *r)
{
	size_t held;
	int keep;

	r->pending = 0;
	switch (r->step) {
	case CALL_PAYLOAD:
		if ((r->cmd->flags & CALL_WRITES) && !r->payload_in) {
			held = server_payload_held(r->d->server) +
			    r->d->saves.held;
			/* Skipped when it is over max-file-size, or when
			   keeping it would take the content held by saves past
			   write-memory. */
			keep = r->bad == NULL &&
			    (uint64_t)r->payload_len <= r->d->cfg.max_file_size &&
			    held <= r->d->cfg.write_memory &&
			    (uint64_t)r->payload_len <=
			    r->d->cfg.write_memory - held;
			if (client_take_payload(r->c, r->payload_len, keep,
			    payload_in, r) == -1) {
				client_reply_error(r->c, PROTO_UNAVAILABLE,
				    "watcherd is out of memory");
				return 0;
			}
			return 1;
		}
		if ((r->cmd->flags & CALL_OWNER_ONLY) &&
		    !client_is_owner(r->c)) {
			client_reply_error(r->c, PROTO_FORBIDDEN, "this command "
			    "is for watcherd's own user or root");
			return 0;
		}
		if (r->bad) {
			client_reply_error(r->c, PROTO_BAD_REQUEST, r->bad);
			return 0;
		}
		log_debug("request", "cmd=%s proposal=%u user=%s",
		    r->cmd->name, r->proposal, !r->has_user ? "-" :
		    r->user ? log_str(r->user) : "null");
		if (r->cmd->precheck && r->cmd->precheck(r) == -1)
			return 0;
		r->step = CALL_ACCESS;
		/* FALLTHROUGH */
	case CALL_ACCESS:
		if ((r->cmd->flags & CALL_NEEDS_FILE) &&
		    !call_may(r, (r->cmd->flags & CALL_WRITES) != 0, NULL))
			return r->pending;
		r->step = CALL_RUN;
		/* FALLTHROUGH */
	case CALL_RUN:
		r->cmd->fn(r);
		return r->pending;
	}
	return 0;
}

static void
call_free(void *arg)
{
	struct call *r = arg;

	waiter_end(r->d->jobs, &r->wait);
	if (r->state_free && r->state)
		r->state_free(r->state);
	if (r->payload) {
		r->d->saves.held -= r->payload_len;
		free(r->payload);
	}
	json_object_put(r->obj);
	/* The job that resumed it may still walk its waiters. */
	loop_defer_free(r->d->loop, r, free);
}

/* The work the call waited for is done, or its time is up. */
static void
call_resume(void *arg)
{
	struct call *r = arg;

	if (call_run(r))
		return;
	client_request_done(r->c);
}

int
call_start(struct daemon *d, struct client *c,
    const struct command *commands, size_t n, char *line, size_t len)
{
	struct call *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		client_reply_error(c, PROTO_UNAVAILABLE,
		    "watcherd is out of memory");
		return 0;
	}
	r->d = d;
	r->c = c;
	waiter_begin(d->jobs, &r->wait, call_resume, r);
	/* Answered, or its client closed meanwhile (out of memory). */
	if (call_parse(r, commands, n, line, len) == -1 || !call_run(r) ||
	    client_gone(c)) {
		call_free(r);
		return 0;
	}
	client_set_request(c, r, call_free);
	return 1;
}
