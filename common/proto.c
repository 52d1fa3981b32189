#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <json-c/json.h>

#include "common/proto.h"

static const struct {
	const char	*code;
	int		 status;
} proto_errors[] = {
	[PROTO_OK] =		{ "ok",			200 },
	[PROTO_BAD_REQUEST] =	{ "bad_request",	400 },
	[PROTO_FORBIDDEN] =	{ "forbidden",		403 },
	[PROTO_NOT_FOUND] =	{ "not_found",		404 },
	[PROTO_TOO_LARGE] =	{ "too_large",		413 },
	[PROTO_UNAVAILABLE] =	{ "unavailable",	503 },
	[PROTO_INTERNAL] =	{ "internal",		500 },
	[PROTO_UNAUTHENTICATED] = { "unauthenticated", 401 },
	[PROTO_CONFLICT] =	{ "conflict",		412 },
	[PROTO_INVALID] =	{ "invalid",		422 },
};

const char *
proto_error_code(enum proto_error e)
{
	if ((size_t)e >= sizeof(proto_errors) / sizeof(proto_errors[0]))
		e = PROTO_INTERNAL;
	return proto_errors[e].code;
}

enum proto_error
proto_error_from_code(const char *code)
{
	size_t i;

	for (i = 0; code && i < sizeof(proto_errors) / sizeof(proto_errors[0]); i++)
		if (strcmp(code, proto_errors[i].code) == 0)
			return i;
	return PROTO_INTERNAL;
}

int
proto_error_http_status(enum proto_error e)
{
	if ((size_t)e >= sizeof(proto_errors) / sizeof(proto_errors[0]))
		e = PROTO_INTERNAL;
	return proto_errors[e].status;
}

const char *
proto_default_socket(void)
{
	const char *env = getenv("WATCHERD_SOCKET");

	return env && *env ? env : PROTO_DEFAULT_SOCKET;
}

/* The reader. */

#define READER_MIN	4096
#define READER_MAX	(PROTO_MAX_LINE + 1)

void
proto_reader_init(struct proto_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void
proto_reader_free(struct proto_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

size_t
proto_reader_space(struct proto_reader *r, char **space)
{
	size_t want;
	char *nbuf;

	if (r->start > 0 && (r->start == r->len || r->len == r->cap)) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
	}
	if (r->len == r->cap) {
		/* Full at the limit with no newline held: one overlong line,
		   dropped here; proto_reader_next() still owes its -1 unless
		   the line is already being skipped. Complete lines that were
		   not taken yet are never dropped: the buffer grows. */
		if (r->cap >= READER_MAX &&
		    memchr(r->buf + r->start, '\n', r->len - r->start) == NULL) {
			if (!r->discarding)
				r->discarding = 2;
			r->len = r->start = 0;
		} else {
			want = r->cap ? r->cap * 2 : READER_MIN;
			if (want > READER_MAX && r->cap < READER_MAX)
				want = READER_MAX;
			if ((nbuf = realloc(r->buf, want)) == NULL)
				return 0;
			r->buf = nbuf;
			r->cap = want;
		}
	}
	*space = r->buf + r->len;
	return r->cap - r->len;
}

void
proto_reader_commit(struct proto_reader *r, size_t n)
{
	r->len += n;
}

int
proto_reader_next(struct proto_reader *r, char **line, size_t *len)
{
	char *nl;
	size_t n;

	if (r->discarding == 2) {
		r->discarding = 1;
		return -1;
	}
	for (;;) {
		n = r->len - r->start;
		nl = n ? memchr(r->buf + r->start, '\n', n) : NULL;
		if (nl == NULL) {
			if (r->discarding) {
				r->len = r->start = 0;
				return 0;
			}
			if (n > PROTO_MAX_LINE) {
				r->discarding = 1;
				r->len = r->start = 0;
				return -1;
			}
			return 0;
		}
		if (r->discarding) {
			/* The overlong line was reported already. */
			r->discarding = 0;
			r->start = nl + 1 - r->buf;
			continue;
		}
		*nl = '\0';
		*line = r->buf + r->start;
		*len = nl - (r->buf + r->start);
		r->start = nl + 1 - r->buf;
		if (*len > PROTO_MAX_LINE)
			return -1;
		return 1;
	}
}

size_t
proto_reader_take(struct proto_reader *r, char *dst, size_t n)
{
	size_t have = r->len - r->start;

	if (n > have)
		n = have;
	if (n == 0)
		return 0;
	memcpy(dst, r->buf + r->start, n);
	r->start += n;
	return n;
}

/* The blocking client. */

long long
proto_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes. */
static int
client_wait(struct proto_client *c, short events, long long deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	long long left;
	int r;

	for (;;) {
		left = c->timeout_ms < 0 ? -1 : deadline - proto_now_ms();
		if (c->timeout_ms >= 0 && left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == 0) {
			snprintf(c->errstr, sizeof(c->errstr),
			    "watcherd did not answer within %d ms", c->timeout_ms);
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR) {
			snprintf(c->errstr, sizeof(c->errstr), "poll: %s",
			    strerror(errno));
			return -1;
		}
	}
}

int
proto_client_connect(struct proto_client *c, const char *path, int timeout_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int saved;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = timeout_ms;
	proto_reader_init(&c->reader);
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(c->errstr, sizeof(c->errstr),
		    "socket path too long: %s", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		snprintf(c->errstr, sizeof(c->errstr), "socket: %s",
		    strerror(errno));
		return -1;
	}
	/* A UNIX connect does not block on a listening peer whose backlog
	   has room; when it is full, EAGAIN (the socket is non-blocking:
	   a blocking one would wait for ever) is the honest answer. */
	while (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		saved = errno;
		snprintf(c->errstr, sizeof(c->errstr),
		    "cannot connect to watcherd at %s: %s", path, strerror(saved));
		close(c->fd);
		c->fd = -1;
		errno = saved;
		return -1;
	}
	/* From now on the socket blocks, each read for at most the timeout
	   (client_recv()); sends say MSG_DONTWAIT themselves. */
	if (timeout_ms > 0) {
		struct timeval tv = { timeout_ms / 1000,
		    (timeout_ms % 1000) * 1000 };

		if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv)) == 0 && fcntl(c->fd, F_SETFL, 0) == 0)
			c->recv_timeout_ms = timeout_ms;
	}
	return 0;
}

void
proto_client_close(struct proto_client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	proto_reader_free(&c->reader);
}

/* Sends the n_iov pieces of iov, in order, within the client's timeout. */
static int
client_send(struct proto_client *c, struct iovec *iov, size_t n_iov)
{
	long long deadline = proto_now_ms() + c->timeout_ms;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n_iov };
	ssize_t n;

	if (c->fd == -1) {
		snprintf(c->errstr, sizeof(c->errstr), "not connected");
		errno = ENOTCONN;
		return -1;
	}
	while (msg.msg_iovlen > 0) {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (client_wait(c, POLLOUT, deadline) == -1)
					return -1;
				continue;
			}
			snprintf(c->errstr, sizeof(c->errstr),
			    "write to watcherd: %s", strerror(errno));
			return -1;
		}
		while (msg.msg_iovlen > 0 && (size_t)n >= msg.msg_iov[0].iov_len) {
			n -= msg.msg_iov[0].iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen > 0) {
			msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + n;
			msg.msg_iov[0].iov_len -= n;
		}
	}
	return 0;
}

int
proto_client_send_line(struct proto_client *c, const char *line, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)line, .iov_len = len },
		{ .iov_base = "\n", .iov_len = 1 },
	};

	return client_send(c, iov, 2);
}

int
proto_client_send_payload(struct proto_client *c, const char *line,
    size_t len, const char *payload, size_t payload_len)
{
	struct iovec iov[3] = {
		{ .iov_base = (void *)line, .iov_len = len },
		{ .iov_base = "\n", .iov_len = 1 },
		{ .iov_base = (void *)payload, .iov_len = payload_len },
	};

	return client_send(c, iov, payload_len > 0 ? 3 : 2);
}

int
proto_client_send(struct proto_client *c, struct json_object *request)
{
	size_t len;
	const char *s = json_object_to_json_string_length(request,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	return proto_client_send_line(c, s, len);
}

/*
 * Receives up to room bytes into space once some arrive; returns the
 * count, or -1 on error, timeout or EOF. A reply is rarely there before
 * it is asked for: while at least the socket's own read timeout is left,
 * one blocking recv() waits (no poll() first); the rest of a deadline is
 * waited for with poll().
 */
static ssize_t
client_recv(struct proto_client *c, char *space, size_t room,
    long long deadline)
{
	ssize_t n;

	for (;;) {
		if (c->recv_timeout_ms > 0 && (c->timeout_ms < 0 ||
		    deadline - proto_now_ms() >= c->recv_timeout_ms))
			n = recv(c->fd, space, room, 0);
		else if (client_wait(c, POLLIN, deadline) == -1)
			return -1;
		else
			n = recv(c->fd, space, room, MSG_DONTWAIT);
		if (n > 0)
			return n;
		if (n == 0) {
			snprintf(c->errstr, sizeof(c->errstr),
			    "watcherd closed the connection");
			errno = ECONNRESET;
			return -1;
		}
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			continue;
		snprintf(c->errstr, sizeof(c->errstr),
		    "read from watcherd: %s", strerror(errno));
		return -1;
	}
}

/* Reads more bytes into the reader; -1 on error, timeout or EOF. */
static int
client_fill(struct proto_client *c, long long deadline)
{
	char *space;
	size_t room;
	ssize_t n;

	if ((room = proto_reader_space(&c->reader, &space)) == 0) {
		snprintf(c->errstr, sizeof(c->errstr), "out of memory");
		return -1;
	}
	if ((n = client_recv(c, space, room, deadline)) == -1)
		return -1;
	proto_reader_commit(&c->reader, (size_t)n);
	return 0;
}

void
proto_client_start(struct proto_client *c)
{
	c->deadline = proto_now_ms() + c->timeout_ms;
}

int
proto_client_read_line(struct proto_client *c, char **line, size_t *len)
{
	int r;

	if (c->fd == -1) {
		snprintf(c->errstr, sizeof(c->errstr), "not connected");
		return -1;
	}
	while ((r = proto_reader_next(&c->reader, line, len)) == 0)
		if (client_fill(c, c->deadline) == -1)
			return -1;
	if (r == -1) {
		snprintf(c->errstr, sizeof(c->errstr),
		    "reply line longer than %d bytes", PROTO_MAX_LINE);
		return -1;
	}
	return 0;
}

int
proto_client_read_payload(struct proto_client *c, long long want,
    char **payload)
{
	size_t got;
	ssize_t n;
	char *buf;

	*payload = NULL;
	if (want < 0 || want > PROTO_MAX_PAYLOAD) {
		snprintf(c->errstr, sizeof(c->errstr),
		    "watcherd announced a payload of a bad size");
		return -1;
	}
	if ((buf = malloc((size_t)want + 1)) == NULL) {
		snprintf(c->errstr, sizeof(c->errstr), "out of memory");
		return -1;
	}
	/* What the reader holds, then the rest straight into place. */
	got = proto_reader_take(&c->reader, buf, (size_t)want);
	while (got < (size_t)want) {
		if ((n = client_recv(c, buf + got, (size_t)want - got,
		    c->deadline)) == -1) {
			free(buf);
			return -1;
		}
		got += (size_t)n;
	}
	buf[want] = '\0';
	*payload = buf;
	return 0;
}

int
proto_client_read(struct proto_client *c, struct json_object **reply,
    char **payload, size_t *payload_len)
{
	struct json_object *obj, *plen;
	char *line;
	size_t len;

	*reply = NULL;
	if (payload)
		*payload = NULL;
	if (payload_len)
		*payload_len = 0;
	proto_client_start(c);
	if (proto_client_read_line(c, &line, &len) == -1)
		return -1;
	obj = json_tokener_parse(line);
	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		snprintf(c->errstr, sizeof(c->errstr),
		    "watcherd sent a line that is not a JSON object");
		return -1;
	}
	if (payload && json_object_object_get_ex(obj, "payload", &plen)) {
		if (proto_client_read_payload(c, json_object_get_int64(plen),
		    payload) == -1) {
			json_object_put(obj);
			return -1;
		}
		if (payload_len)
			*payload_len = (size_t)json_object_get_int64(plen);
	}
	*reply = obj;
	return 0;
}

int
proto_client_call(struct proto_client *c, struct json_object *request,
    struct json_object **reply, char **payload, size_t *payload_len)
{
	if (proto_client_send(c, request) == -1)
		return -1;
	return proto_client_read(c, reply, payload, payload_len);
}
