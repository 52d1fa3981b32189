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
	json_object_put(ctl->reply);
	free(ctl->payload);
	free(ctl->input);
	if (ctl->signal_fd != -1)
		close(ctl->signal_fd);
	if (ctl->has_match)
		regfree(&ctl->match);
	ctl->reply = NULL;
	ctl->payload = NULL;
	ctl->input = NULL;
	ctl->signal_fd = -1;
	ctl->has_match = 0;
}

/* Requests. */

struct json_object *
ctl_request_new(const char *cmd, const struct target *t, const char *format)
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

int
ctl_reply_check(struct ctl *ctl, struct json_object *reply)
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

int
ctl_request(struct ctl *ctl, const char *cmd, const struct target *t,
    const char *format, int want_payload)
{
	struct json_object *req;
	int r;

	if ((req = ctl_request_new(cmd, t, format)) == NULL) {
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
	return ctl_reply_check(ctl, ctl->reply);
}

/* Subscriptions. */

int
ctl_event_next(struct ctl *ctl, struct proto_client *c,
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
		    ctl_reply_check(ctl, obj) : 0;
		json_object_put(obj);
		if (r == -1)
			return -1;
	}
	return 0;
}

const char *
ctl_event_name(struct json_object *event)
{
	struct json_object *v;

	if (!json_object_object_get_ex(event, "event", &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
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
