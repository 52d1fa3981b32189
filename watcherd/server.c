#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/msg.h"
#include "watcherd/daemon.h"
#include "watcherd/listen.h"
#include "watcherd/server.h"

#define ACCEPT_BATCH	64
#define ACCEPT_PAUSE_MS	100
#define OUT_SOFT	(1u << 20)	/* stop reading requests above this */
#define OUT_KEEP	4096		/* an empty output buffer is kept up to this */

struct client {
	struct loop_io		 io;
	struct server		*server;
	LIST_ENTRY(client)	 entry;		/* in the server's clients */
	struct proto_reader	 in;
	char			*out;
	size_t			 out_len, out_off, out_cap;
	uid_t			 uid;
	pid_t			 pid;
	int			 closing;
	int			 paused;	/* output backlog: not reading */
	int			 eof;		/* peer done sending: close once
						   the replies are out */
	void			*data;		/* the daemon's (client_data()) */
	/* The request that waits. Nothing else is read from the client
	   meanwhile, so replies keep their order. */
	void			*request;
	void			(*request_free)(void *);
	int			 waiting;
	/* The raw bytes the request announced (a write's content), read
	   after its line: kept in payload, or skipped when it is NULL, and
	   handed to payload_done(payload_arg, payload) once all in. */
	char			*payload;
	size_t			 payload_want, payload_got;
	int			 receiving;	/* reading them now */
	void			(*payload_done)(void *, char *);
	void			*payload_arg;
};

struct server {
	struct daemon		*d;
	struct server_handlers	 h;
	struct loop_io		 io;
	struct loop_timer	 accept_timer;
	LIST_HEAD(, client)	 clients;
	size_t			 n_clients;
	char			*path;		/* the socket file watcherd made,
						   removed on exit; NULL for a
						   passed socket */
	size_t			 payload_held;	/* bytes of kept payloads not
						   handed over yet */
};

static void	client_flush(struct client *);
static void	request_end(struct client *);
static void	client_process(struct client *);

/* Output. */

static int
out_reserve(struct client *c, size_t n)
{
	size_t need, cap;
	char *nout;

	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	need = c->out_len + n;
	if (need <= c->out_cap)
		return 0;
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		need = c->out_len + n;
		if (need <= c->out_cap)
			return 0;
	}
	cap = c->out_cap ? c->out_cap : 4096;
	while (cap < need)
		cap *= 2;
	if ((nout = realloc(c->out, cap)) == NULL)
		return -1;
	c->out = nout;
	c->out_cap = cap;
	return 0;
}

void
client_close(struct client *c, const char *why)
{
	struct server *s = c->server;

	if (c->closing)
		return;
	c->closing = 1;
	if (why)
		log_debug("client_closed", "pid=%d reason=%s", (int)c->pid,
		    log_str(why));
	if (s->h.closed)
		s->h.closed(s->d, c);
	request_end(c);
	loop_remove(s->d->loop, &c->io);
	close(c->io.fd);
	LIST_REMOVE(c, entry);
	s->n_clients--;
	loop_defer_free(s->d->loop, c, free);
	proto_reader_free(&c->in);
	free(c->out);
	c->out = NULL;
}

void
client_write(struct client *c, const char *data, size_t len)
{
	if (c->closing || len == 0)
		return;
	if (out_reserve(c, len) == -1) {
		client_close(c, "out of memory");
		return;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

void
client_reply(struct client *c, const char *line, size_t len)
{
	if (c->closing)
		return;
	if (out_reserve(c, len + 1) == -1) {
		client_close(c, "out of memory");
		return;
	}
	memcpy(c->out + c->out_len, line, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
}

void
client_reply_error(struct client *c, enum proto_error e, const char *detail)
{
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_reply_error(&m, e, detail);
	client_reply(c, m.buf, m.len);
}

int
client_is_owner(const struct client *c)
{
	return c->uid == 0 || c->uid == geteuid();
}

int
client_gone(const struct client *c)
{
	return c->closing;
}

pid_t
client_pid(const struct client *c)
{
	return c->pid;
}

void *
client_data(const struct client *c)
{
	return c->data;
}

void
client_set_data(struct client *c, void *data)
{
	c->data = data;
}

size_t
client_backlog(const struct client *c)
{
	return c->out_len - c->out_off;
}

void
client_push(struct client *c, const char *line, size_t len)
{
	client_reply(c, line, len);
	client_flush(c);
}

void
client_wake(struct client *c)
{
	if (!c->closing)
		loop_set_events(c->server->d->loop, &c->io,
		    (c->paused ? 0 : EPOLLIN) | EPOLLOUT);
}

/* Writes what the socket takes now; waits for EPOLLOUT for the rest. */
static void
client_flush(struct client *c)
{
	ssize_t n;

	while (!c->closing && c->out_off < c->out_len) {
		n = send(c->io.fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			client_close(c, strerror(errno));
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->closing)
		return;
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		/* A content reply grew it: give it back, or every kept
		   connection (one per handler worker) would hold the largest
		   file it was ever sent. */
		if (c->out_cap > OUT_KEEP) {
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
		if (c->eof && !c->waiting) {
			client_close(c, "peer closed");
			return;
		}
	}
	c->paused = c->out_len - c->out_off > OUT_SOFT;
	loop_set_events(c->server->d->loop, &c->io,
	    (c->paused || (c->waiting && !c->receiving) ? 0 : EPOLLIN) |
	    (c->out_off < c->out_len ? EPOLLOUT : 0));
}

/* Hands a request line over; the client waits while the request does. */
static void
client_dispatch(struct client *c, char *line, size_t len)
{
	struct server *s = c->server;

	s->d->requests++;
	if (s->h.request(s->d, c, line, len) != 0 && !c->closing)
		c->waiting = 1;
}

void
client_set_request(struct client *c, void *request, void (*free_fn)(void *))
{
	c->request = request;
	c->request_free = free_fn;
}

void
client_request_done(struct client *c)
{
	if (c->closing)
		return;
	request_end(c);
	c->waiting = 0;
	client_process(c);
}

/* Frees a kept payload that was not handed over. */
static void
payload_drop(struct client *c)
{
	if (c->payload == NULL)
		return;
	c->server->payload_held -= c->payload_want;
	free(c->payload);
	c->payload = NULL;
}

/* Frees what the request held: its payload not handed over, and the
   request itself. */
static void
request_end(struct client *c)
{
	void *request = c->request;

	payload_drop(c);
	c->receiving = 0;
	c->request = NULL;
	if (request && c->request_free)
		c->request_free(request);
}

int
client_take_payload(struct client *c, size_t n, int keep,
    void (*done)(void *arg, char *payload), void *arg)
{
	payload_drop(c);
	if (keep && (c->payload = malloc(n ? n : 1)) == NULL)
		return -1;
	if (keep)
		c->server->payload_held += n;
	c->payload_want = n;
	c->payload_got = 0;
	c->payload_done = done;
	c->payload_arg = arg;
	c->receiving = 1;
	return 0;
}

size_t
server_payload_held(const struct server *s)
{
	return s->payload_held;
}

/* Counts n bytes of the payload in: once they are all there, they are
   handed to the request, which goes on. */
static void
payload_got(struct client *c, size_t n)
{
	char *payload = c->payload;

	c->payload_got += n;
	if (c->payload_got < c->payload_want)
		return;
	c->receiving = 0;
	c->payload = NULL;
	if (payload)
		c->server->payload_held -= c->payload_want;
	c->payload_done(c->payload_arg, payload);
}

/* Where the payload's next bytes go: its buffer, or scratch when it is
   skipped. */
static char *
payload_space(struct client *c, char *scratch, size_t scratch_len,
    size_t *room)
{
	size_t left = c->payload_want - c->payload_got;

	if (c->payload) {
		*room = left;
		return c->payload + c->payload_got;
	}
	*room = left < scratch_len ? left : scratch_len;
	return scratch;
}

/* Runs every complete request held, while the output backlog allows. */
static void
client_process(struct client *c)
{
	char *line, scratch[4096], *dst;
	size_t len, room;
	int r;

	while (!c->closing) {
		/* A payload's first bytes may have come with its line. */
		if (c->receiving) {
			dst = payload_space(c, scratch, sizeof(scratch), &room);
			if ((len = proto_reader_take(&c->in, dst, room)) == 0 &&
			    room > 0)
				break;
			payload_got(c, len);
			continue;
		}
		if (c->waiting || c->out_len - c->out_off > OUT_SOFT)
			break;
		r = proto_reader_next(&c->in, &line, &len);
		if (r == 0)
			break;
		if (r == -1) {
			client_reply_error(c, PROTO_BAD_REQUEST,
			    "request line longer than 65536 bytes");
			continue;
		}
		if (len == 0)
			continue;
		client_dispatch(c, line, len);
	}
	client_flush(c);
}

/* Reads the payload straight from the socket, without the line reader.
   Returns -1 when the client is gone or waits for more. */
static int
payload_read(struct client *c)
{
	char scratch[65536], *dst;
	size_t room;
	ssize_t n;

	dst = payload_space(c, scratch, sizeof(scratch), &room);
	n = recv(c->io.fd, dst, room, MSG_DONTWAIT);
	if (n == 0) {
		client_close(c, "peer closed before the end of its payload");
		return -1;
	}
	if (n == -1) {
		if (errno == EINTR)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			client_close(c, strerror(errno));
		return -1;
	}
	payload_got(c, (size_t)n);
	client_flush(c);
	return 0;
}

static void
client_readable(struct client *c)
{
	char *space;
	size_t room;
	ssize_t n;
	int rounds;

	/* A few reads per wake-up, so that one busy client cannot starve
	   the others. */
	for (rounds = 0; rounds < 4 && !c->closing && !c->paused &&
	    (!c->waiting || c->receiving) && !c->eof; rounds++) {
		if (c->receiving) {
			if (payload_read(c) == -1)
				return;
			continue;
		}
		if ((room = proto_reader_space(&c->in, &space)) == 0) {
			client_close(c, "out of memory");
			return;
		}
		n = recv(c->io.fd, space, room, MSG_DONTWAIT);
		if (n == 0) {
			/* A half-close still gets every reply it asked for. */
			c->eof = 1;
			client_process(c);
			return;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_close(c, strerror(errno));
			break;
		}
		proto_reader_commit(&c->in, (size_t)n);
		client_process(c);
		/* A short read emptied the socket: what comes next wakes
		   the loop again (level-triggered), no recv() to learn EAGAIN. */
		if ((size_t)n < room)
			break;
	}
}

static void
client_event(void *arg, uint32_t events)
{
	struct client *c = arg;

	if (c->closing)
		return;
	if (events & EPOLLOUT) {
		client_flush(c);
		/* Drained below the backlog: take up held requests. */
		if (!c->paused)
			client_process(c);
	}
	if ((events & (EPOLLHUP | EPOLLERR)) && c->eof) {
		client_close(c, "peer gone");
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_readable(c);
}

/* Accepting. */

static void
refuse(int fd, const char *detail)
{
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_reply_error(&m, PROTO_UNAVAILABLE, detail);
	msg_text(&m, "\n");
	(void)!send(fd, m.buf, m.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void
accept_resume(void *arg)
{
	struct server *s = arg;

	loop_set_events(s->d->loop, &s->io, EPOLLIN);
}

static void
server_accept(void *arg, uint32_t events)
{
	struct server *s = arg;
	struct ucred cred;
	socklen_t clen;
	struct client *c;
	int fd, i;

	(void)events;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(s->io.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: pause accepting rather
				   than spin on a listening socket that stays
				   readable. */
				log_warn("accept_paused", "reason=%s",
				    log_str(strerror(errno)));
				loop_set_events(s->d->loop, &s->io, 0);
				loop_timer_arm(s->d->loop, &s->accept_timer,
				    ACCEPT_PAUSE_MS);
			}
			return;
		}
		if (s->n_clients >= s->d->cfg.max_clients) {
			refuse(fd, "too many clients (max-clients); try again later");
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			refuse(fd, "watcherd is out of memory");
			continue;
		}
		clen = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
			c->uid = cred.uid;
			c->pid = cred.pid;
		} else
			c->uid = (uid_t)-1;
		c->server = s;
		proto_reader_init(&c->in);
		c->io = (struct loop_io){ .fd = fd, .events = EPOLLIN,
		    .fn = client_event, .arg = c };
		if (loop_add(s->d->loop, &c->io) == -1) {
			free(c);
			refuse(fd, "watcherd cannot take more clients");
			continue;
		}
		LIST_INSERT_HEAD(&s->clients, c, entry);
		s->n_clients++;
	}
}

struct server *
server_new(struct daemon *d, const struct server_handlers *h, char *err,
    size_t errlen)
{
	struct server *s;
	int fd, activated;

	if ((fd = listen_socket(d->cfg.socket_path, &activated, err,
	    errlen)) == -1)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (!activated && (s->path = strdup(d->cfg.socket_path)) == NULL)) {
		snprintf(err, errlen, "out of memory");
		free(s);
		if (!activated)
			unlink(d->cfg.socket_path);
		close(fd);
		return NULL;
	}
	s->d = d;
	s->h = *h;
	s->io = (struct loop_io){ .fd = fd, .events = EPOLLIN,
	    .fn = server_accept, .arg = s };
	s->accept_timer = (struct loop_timer){ .fn = accept_resume, .arg = s };
	if (loop_add(d->loop, &s->io) == -1) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		server_free(s);
		return NULL;
	}
	return s;
}

void
server_free(struct server *s)
{
	if (s == NULL)
		return;
	while (!LIST_EMPTY(&s->clients))
		client_close(LIST_FIRST(&s->clients), NULL);
	loop_timer_disarm(s->d->loop, &s->accept_timer);
	if (s->io.fn)
		loop_remove(s->d->loop, &s->io);
	close(s->io.fd);
	if (s->path)
		unlink(s->path);
	free(s->path);
	free(s);
}

size_t
server_client_count(const struct server *s)
{
	return s->n_clients;
}
