/*
 * The run's context and its talk with watcherd: see ctl.h.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include "watcherctl/ctl.h"
#include "watcherctl/tail.h"

void
ctl_init(struct ctl *ctl)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	ctl->client.fd = -1;
	ctl->signal_fd = -1;
	ctl->lines = TAIL_DEFAULT_LINES;
}

void
ctl_free(struct ctl *ctl)
{
	proto_client_close(&ctl->client);
	free(ctl->reply);
	json_object_put(ctl->tree);
	free(ctl->payload);
	free(ctl->input);
	if (ctl->signal_fd != -1)
		close(ctl->signal_fd);
	if (ctl->has_match)
		regfree(&ctl->match);
	ctl->reply = NULL;
	ctl->tree = NULL;
	ctl->payload = NULL;
	ctl->input = NULL;
	ctl->signal_fd = -1;
	ctl->has_match = 0;
}

/* Requests. */

struct msg_file
ctl_file(const struct target *t)
{
	return (struct msg_file){ .proposal = t->proposal,
	    .name = t->file_name, .len = strlen(t->file_name), .named = 0 };
}

int
ctl_reply_check(struct ctl *ctl, const char *line, size_t len)
{
	struct fields_refusal r;
	const char *v;
	size_t n;

	if (fields_get(line, len, "ok", &v, &n) == -1) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a line that is not a JSON object");
		return -1;
	}
	switch (fields_ok(line, len)) {
	case 1:
		return 0;
	case 0:
		fields_refusal(line, len, &r);
		snprintf(ctl->errstr, sizeof(ctl->errstr), "%s: %s",
		    r.code[0] ? r.code : "internal",
		    r.has_detail ? r.detail : "(no detail)");
		return -1;
	default:
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a reply without \"ok\"");
		return -1;
	}
}

int
ctl_connect(struct ctl *ctl, struct proto_client *c)
{
	if (proto_client_connect(c, ctl->socket, ctl->timeout_ms) == 0)
		return 0;
	if (errno == ENOENT || errno == ECONNREFUSED)
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd is not running at %s (start it with: "
		    "watcherd --socket %s --data-root DIR)",
		    ctl->socket, ctl->socket);
	else if (errno == EACCES)
		snprintf(ctl->errstr, sizeof(ctl->errstr), "%s (the socket is "
		    "for watcherd's user and group: run as one of them, or "
		    "join the group)", c->errstr);
	else
		snprintf(ctl->errstr, sizeof(ctl->errstr), "%s", c->errstr);
	return -1;
}

/* Forgets the last reply. */
static void
reply_clear(struct ctl *ctl)
{
	free(ctl->reply);
	json_object_put(ctl->tree);
	free(ctl->payload);
	ctl->reply = NULL;
	ctl->reply_len = 0;
	ctl->tree = NULL;
	ctl->payload = NULL;
	ctl->payload_len = 0;
}

int
ctl_read_reply(struct ctl *ctl, struct proto_client *c, int want_payload)
{
	long long want;
	char *line;
	size_t len;

	reply_clear(ctl);
	proto_client_start(c);
	if (proto_client_read_line(c, &line, &len) == -1) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "%s", c->errstr);
		return -1;
	}
	if ((ctl->reply = strndup(line, len)) == NULL) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "out of memory");
		return -1;
	}
	ctl->reply_len = len;
	if (want_payload && fields_int(line, len, "payload", &want) == 0) {
		if (proto_client_read_payload(c, want, &ctl->payload) == -1) {
			snprintf(ctl->errstr, sizeof(ctl->errstr), "%s",
			    c->errstr);
			return -1;
		}
		ctl->payload_len = (size_t)want;
	}
	return ctl_reply_check(ctl, ctl->reply, ctl->reply_len);
}

int
ctl_call(struct ctl *ctl, struct proto_client *c, const struct msg *m,
    int want_payload)
{
	reply_clear(ctl);
	if (m->full) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "the request does not fit a line");
		return -1;
	}
	if (proto_client_send_line(c, m->buf, m->len) == -1) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "%s", c->errstr);
		return -1;
	}
	return ctl_read_reply(ctl, c, want_payload);
}

int
ctl_request(struct ctl *ctl, const struct msg *m, int want_payload)
{
	if (ctl_connect(ctl, &ctl->client) == -1)
		return -1;
	return ctl_call(ctl, &ctl->client, m, want_payload);
}

struct json_object *
ctl_reply_tree(struct ctl *ctl)
{
	if (ctl->tree == NULL && ctl->reply != NULL) {
		ctl->tree = json_tokener_parse(ctl->reply);
		if (!json_object_is_type(ctl->tree, json_type_object)) {
			json_object_put(ctl->tree);
			ctl->tree = NULL;
		}
	}
	if (ctl->tree == NULL)
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a line that is not a JSON object");
	return ctl->tree;
}

int
ctl_print_reply(struct ctl *ctl)
{
	struct json_object *tree = ctl_reply_tree(ctl);

	if (tree == NULL)
		return -1;
	printf("%s\n", json_object_to_json_string_ext(tree, CTL_JSON_FLAGS));
	return 0;
}

/* Subscriptions. */

int
ctl_event_next(struct ctl *ctl, struct proto_client *c,
    struct fields_event *ev, char **line)
{
	const char *v;
	size_t len, n;
	int r;

	while ((r = proto_reader_next(&c->reader, line, &len)) != 0) {
		if (r == -1) {
			snprintf(ctl->errstr, sizeof(ctl->errstr),
			    "event line longer than %d bytes", PROTO_MAX_LINE);
			return -1;
		}
		if (fields_event(*line, len, ev) == 0)
			return 1;
		if ((r = fields_get(*line, len, "ok", &v, &n)) != 0 &&
		    ctl_reply_check(ctl, *line, len) == -1)
			return -1;
	}
	return 0;
}

int
ctl_events_fill(struct ctl *ctl, struct proto_client *c)
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

int
ctl_signals_catch(struct ctl *ctl)
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

int
ctl_wait_readable(struct ctl *ctl, int fd)
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
