#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "common/log.h"
#include "watcherd/daemon.h"
#include "watcherd/reply.h"
#include "watcherd/server.h"

#define ACCEPT_BATCH	64
#define ACCEPT_PAUSE_MS	100
#define OUT_SOFT	(1u << 20)	/* stop reading requests above this */
#define OUT_EVENTS_MAX	(8u << 20)	/* a subscriber this far behind is cut */
#define OUT_KEEP	4096		/* an empty output buffer is kept up to this */
#define LISTEN_BACKLOG	SOMAXCONN	/* the kernel's cap: a burst of
					   max-clients fits on a busy host */
#define RECHECK_MS	1000		/* a user's subscriptions are checked
					   again this often */

/* A subscription; one that names its user is checked again every
   RECHECK_MS, and ends when the user may no longer read the file. */
struct client_sub {
	struct watch_subscriber	 ws;
	struct client_sub	*next;
	char			*user;		/* NULL: checked once */
	struct watch_waiter	 wait;		/* its check, while checking */
	int			 checking;
};

struct client {
	struct loop_io		 io;
	struct server		*server;
	struct client		*prev, *next;
	struct proto_reader	 in;
	char			*out;
	size_t			 out_len, out_off, out_cap;
	uid_t			 uid;
	pid_t			 pid;
	int			 closing;
	int			 paused;	/* output backlog: not reading */
	int			 eof;		/* peer done sending: close once
						   the replies are out */
	struct client_sub	*subs;
	/* The request that waits for file-system work, and what the table
	   knows of it. Nothing else is read from the client meanwhile, so
	   replies keep their order. */
	struct watch_waiter	 wait;
	char			*held;
	size_t			 held_len;
	int			 waiting;
	/* The raw bytes the held request announced (a write's content),
	   read after its line: kept in payload, or skipped when it is NULL. */
	char			*payload;
	size_t			 payload_want, payload_got;
	int			 receiving;	/* reading them now */
	int			 payload_done;
	void			*state;		/* the held request's own */
	void			(*state_free)(void *);
};

struct server {
	struct daemon		*d;
	server_dispatch_fn	*dispatch;
	server_recheck_fn	*recheck;
	struct loop_io		 io;
	struct loop_timer	 accept_timer;
	struct loop_timer	 recheck_timer;
	size_t			 n_rechecked;	/* subscriptions with a user */
	struct client		*clients;
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
static void	client_resume(void *);
static void	sub_remove(struct client *, struct client_sub *);

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

static void
client_close(struct client *c, const char *why)
{
	struct server *s = c->server;
	struct client_sub *sub;

	if (c->closing)
		return;
	c->closing = 1;
	if (why)
		log_debug("client_closed", "pid=%d reason=%s", (int)c->pid,
		    log_str(why));
	while ((sub = c->subs) != NULL) {
		watch_unsubscribe(s->d->watches, &sub->ws);
		sub_remove(c, sub);
	}
	if (c->waiting)
		watch_wait_end(s->d->watches, &c->wait);
	request_end(c);
	loop_remove(s->d->loop, &c->io);
	close(c->io.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
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
	reply_error(&m, e, detail);
	client_reply(c, m.buf, m.len);
}

int
client_is_owner(const struct client *c)
{
	return c->uid == 0 || c->uid == geteuid();
}

/* Subscriptions. */

static void
sub_free(void *arg)
{
	struct client_sub *sub = arg;

	free(sub->user);
	free(sub);
}

/* Takes sub (out of the table already) off its client, ends its check
   and frees it once the loop's current batch is done: the check that
   resumes may be what removes it. */
static void
sub_remove(struct client *c, struct client_sub *sub)
{
	struct server *s = c->server;
	struct client_sub **p;

	for (p = &c->subs; *p; p = &(*p)->next)
		if (*p == sub) {
			*p = sub->next;
			break;
		}
	if (sub->checking)
		watch_wait_end(s->d->watches, &sub->wait);
	sub->checking = 0;
	if (sub->user)
		s->n_rechecked--;
	sub->ws.name = NULL;
	loop_defer_free(s->d->loop, sub, sub_free);
}

/*
 * Asks again whether sub's user may read its file; an answer that takes
 * work resumes here. Once the user may not, the client is told with a
 * "forbidden" event (the error and its detail) and the subscription ends;
 * any other trouble (a stalled file system, a failed access command)
 * leaves it as it is until the next look.
 */
static void
sub_check(void *arg)
{
	struct client_sub *sub = arg;
	struct client *c = sub->ws.owner;
	struct server *s = c->server;
	char detail[1024], line[MSG_LINE_MAX];
	struct watch_name *n = sub->ws.name;
	enum proto_error e;
	struct msg m;

	if (c->closing || n == NULL)
		return;
	detail[0] = '\0';
	e = s->recheck(s->d, c, sub->user, n, &sub->wait, detail,
	    sizeof(detail));
	if (e == PROTO_PENDING)
		return;
	watch_wait_end(s->d->watches, &sub->wait);
	sub->checking = 0;
	if (e != PROTO_FORBIDDEN && e != PROTO_UNAUTHENTICATED)
		return;
	log_info("subscription_ended", "pid=%d user=%s proposal=%u file=%s "
	    "error=%s", (int)c->pid, log_str(sub->user),
	    watch_name_proposal(n), log_str(watch_name_file(n)),
	    proto_error_code(e));
	msg_init(&m, line, sizeof(line));
	reply_event_error(&m, "forbidden", watch_name_proposal(n),
	    watch_name_file(n), e, detail);
	watch_unsubscribe(s->d->watches, &sub->ws);
	sub_remove(c, sub);
	/* Sent from the loop, as server_dropped() does. */
	client_reply(c, m.buf, m.len);
	if (!c->closing)
		loop_set_events(s->d->loop, &c->io,
		    (c->paused ? 0 : EPOLLIN) | EPOLLOUT);
}

/* Every RECHECK_MS while a subscription names a user: each one that is
   not being checked already is checked again. */
static void
recheck_all(void *arg)
{
	struct server *s = arg;
	struct client *c, *cnext;
	struct client_sub *sub, *snext;

	for (c = s->clients; c; c = cnext) {
		cnext = c->next;
		for (sub = c->subs; sub && !c->closing; sub = snext) {
			snext = sub->next;
			if (sub->user == NULL || sub->checking)
				continue;
			sub->checking = 1;
			watch_wait_begin(s->d->watches, &sub->wait, sub_check,
			    sub);
			sub_check(sub);
		}
	}
	if (s->n_rechecked > 0)
		loop_timer_arm(s->d->loop, &s->recheck_timer, RECHECK_MS);
}

int
client_subscribe(struct client *c, struct watch_name *n, const char *user)
{
	struct server *s = c->server;
	struct client_sub *sub;

	for (sub = c->subs; sub; sub = sub->next)
		if (sub->ws.name == n)
			return 0;
	if ((sub = calloc(1, sizeof(*sub))) == NULL ||
	    (user && (sub->user = strdup(user)) == NULL)) {
		free(sub);
		return -1;
	}
	sub->ws.owner = c;
	sub->next = c->subs;
	c->subs = sub;
	watch_subscribe(s->d->watches, n, &sub->ws);
	if (user && s->n_rechecked++ == 0)
		loop_timer_arm(s->d->loop, &s->recheck_timer, RECHECK_MS);
	return 0;
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

/* Dispatches a request line; keeps it when it waits. */
static void
client_dispatch(struct client *c, char *line, size_t len)
{
	struct daemon *d = c->server->d;

	d->requests++;
	watch_wait_begin(d->watches, &c->wait, client_resume, c);
	if (c->server->dispatch(d, c, &c->wait, line, len) == 0 || c->closing) {
		/* Answered, or closed meanwhile: it waits for nothing. */
		watch_wait_end(d->watches, &c->wait);
		request_end(c);
		return;
	}
	if ((c->held = malloc(len)) == NULL) {
		watch_wait_end(d->watches, &c->wait);
		client_close(c, "out of memory");
		return;
	}
	memcpy(c->held, line, len);
	c->held_len = len;
	c->waiting = 1;
}

/* The work the held request waited for is done, or its time is up: ask
   again, then take up the requests that came after it. */
static void
client_resume(void *arg)
{
	struct client *c = arg;
	struct daemon *d = c->server->d;

	if (c->closing || !c->waiting || c->receiving)
		return;
	if (c->server->dispatch(d, c, &c->wait, c->held,
	    c->held_len) != 0 &&
	    !c->closing)
		return;
	watch_wait_end(d->watches, &c->wait);
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

/* Frees what the request held: its line, its payload, its state. */
static void
request_end(struct client *c)
{
	free(c->held);
	c->held = NULL;
	payload_drop(c);
	c->payload_done = 0;
	c->receiving = 0;
	if (c->state_free && c->state)
		c->state_free(c->state);
	c->state = NULL;
	c->state_free = NULL;
}

void
client_set_state(struct client *c, void *state, void (*free_fn)(void *))
{
	c->state = state;
	c->state_free = free_fn;
}

void *
client_state(const struct client *c)
{
	return c->state;
}

int
client_take_payload(struct client *c, size_t n, int keep)
{
	payload_drop(c);
	if (keep && (c->payload = malloc(n ? n : 1)) == NULL)
		return -1;
	if (keep)
		c->server->payload_held += n;
	c->payload_want = n;
	c->payload_got = 0;
	c->payload_done = 0;
	c->receiving = 1;
	return 0;
}

const char *
client_payload(const struct client *c, size_t *len)
{
	*len = c->payload_want;
	if (!c->payload_done)
		return NULL;
	return c->payload ? c->payload : "";
}

int
client_payload_kept(const struct client *c)
{
	return c->payload != NULL;
}

char *
client_payload_take(struct client *c)
{
	char *p = c->payload;

	if (p)
		c->server->payload_held -= c->payload_want;
	c->payload = NULL;
	return p;
}

size_t
server_payload_held(const struct server *s)
{
	return s->payload_held;
}

/* Counts n bytes of the payload in: once they are all there, the held
   request is asked again, with a fresh wait (its time starts now). */
static void
payload_got(struct client *c, size_t n)
{
	struct daemon *d = c->server->d;

	c->payload_got += n;
	if (c->payload_got < c->payload_want)
		return;
	c->receiving = 0;
	c->payload_done = 1;
	watch_wait_end(d->watches, &c->wait);
	watch_wait_begin(d->watches, &c->wait, client_resume, c);
	client_resume(c);
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

/* Events pushed to subscribers. */

static void
server_event(void *arg, struct watch_subscriber *ws, const char *ev,
    const struct watch_state *st)
{
	struct client *c = ws->owner;
	char line[MSG_LINE_MAX], gen[WATCH_GENERATION_LEN + 1];
	struct msg m;

	(void)arg;
	if (c->closing)
		return;
	if (c->out_len - c->out_off > OUT_EVENTS_MAX) {
		log_warn("subscriber_dropped", "pid=%d reason=\"not reading "
		    "its events\"", (int)c->pid);
		client_close(c, "event backlog");
		return;
	}
	watch_name_generation(ws->name, gen);
	msg_init(&m, line, sizeof(line));
	reply_event(&m, ev, watch_name_proposal(ws->name),
	    watch_name_file(ws->name), st, st->exists ? gen : NULL);
	client_reply(c, m.buf, m.len);
	client_flush(c);
}

static void
server_dropped(void *arg, struct watch_subscriber *ws)
{
	struct client *c = ws->owner;
	struct client_sub **p;
	char line[MSG_LINE_MAX];
	struct msg m;

	(void)arg;
	/* Tell the subscriber, which would otherwise wait for ever; sent
	   from the loop: a failed send here would close the client while the
	   table walks the subscriptions. */
	if (!c->closing) {
		msg_init(&m, line, sizeof(line));
		reply_event(&m, "unwatched", watch_name_proposal(ws->name),
		    watch_name_file(ws->name), NULL, NULL);
		client_reply(c, m.buf, m.len);
		loop_set_events(c->server->d->loop, &c->io,
		    (c->paused ? 0 : EPOLLIN) | EPOLLOUT);
	}
	for (p = &c->subs; *p; p = &(*p)->next)
		if (&(*p)->ws == ws) {
			sub_remove(c, *p);
			return;
		}
	ws->name = NULL;
}

struct watch_callbacks
server_watch_callbacks(struct server *s)
{
	return (struct watch_callbacks){ .event = server_event,
	    .dropped = server_dropped, .arg = s };
}

/* Accepting. */

static void
refuse(int fd, const char *detail)
{
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	reply_error(&m, PROTO_UNAVAILABLE, detail);
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
		c->next = s->clients;
		if (s->clients)
			s->clients->prev = c;
		s->clients = c;
		s->n_clients++;
	}
}

/* The socket file. */

static int
socket_is_live(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return r;
}

static int
make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* Binds path (mode 0660; a stale socket of a dead daemon is replaced, a
   live one refused) and listens. Returns the descriptor, or -1 with a
   message in err. */
static int
socket_create(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long (at most %zu "
		    "bytes): %s", sizeof(sun.sun_path) - 1, path);
		return -1;
	}
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; "
			    "remove it or choose another --socket", path);
			return -1;
		}
		if (socket_is_live(path)) {
			snprintf(err, errlen, "already running: a watcherd "
			    "answers at %s", path);
			return -1;
		}
		log_info("stale_socket_replaced", "path=%s", log_str(path));
		unlink(path);
	}
	if (make_parent(path) == -1) {
		snprintf(err, errlen, "cannot create the directory of %s: %s",
		    path, strerror(errno));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	strcpy(sun.sun_path, path);
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, 0660) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
		    strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	log_info("socket_created", "path=%s", log_str(path));
	return fd;
}

/* getsockopt of an int option; -1 when it cannot be read. */
static int
sockopt_int(int fd, int option)
{
	socklen_t len = sizeof(int);
	int v;

	if (getsockopt(fd, SOL_SOCKET, option, &v, &len) == -1)
		return -1;
	return v;
}

/*
 * Socket activation, systemd's LISTEN_FDS protocol (sd_listen_fds(3)): when
 * LISTEN_PID is this process, LISTEN_FDS descriptors from 3 on were passed.
 * watcherd takes exactly one, a listening AF_UNIX stream socket, makes it
 * non-blocking and close-on-exec (hooks get no descriptor of watcherd's),
 * and unsets the variables so that hooks do not inherit them either.
 * Returns the descriptor and its path in path; -1 when none was passed;
 * -2 with a message in err when what was passed cannot be used.
 */
static int
socket_activated(char *path, size_t pathlen, char *err, size_t errlen)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	const int fd = 3;	/* SD_LISTEN_FDS_START */
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	char *end;
	long pid, n;
	int flags;

	pid = pid_s ? strtol(pid_s, &end, 10) : 0;
	if (pid_s == NULL || *end || pid != (long)getpid()) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		return -1;
	}
	n = fds_s ? strtol(fds_s, &end, 10) : 0;
	if (fds_s == NULL || *end)
		n = -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n == 0)
		return -1;
	if (n != 1) {
		snprintf(err, errlen, "LISTEN_FDS=%s: watcherd takes exactly "
		    "one listening socket (one ListenStream= in the socket "
		    "unit)", fds_s ? fds_s : "");
		return -2;
	}
	if (sockopt_int(fd, SO_DOMAIN) != AF_UNIX ||
	    sockopt_int(fd, SO_TYPE) != SOCK_STREAM ||
	    sockopt_int(fd, SO_ACCEPTCONN) != 1 ||
	    getsockname(fd, (struct sockaddr *)&sun, &len) == -1) {
		snprintf(err, errlen, "the descriptor passed in LISTEN_FDS is "
		    "not a listening UNIX stream socket (ListenStream=/path "
		    "in the socket unit)");
		return -2;
	}
	if (len > offsetof(struct sockaddr_un, sun_path) && sun.sun_path[0])
		snprintf(path, pathlen, "%.*s",
		    (int)(len - offsetof(struct sockaddr_un, sun_path)),
		    sun.sun_path);
	else
		snprintf(path, pathlen, "(unnamed)");
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "the socket passed in LISTEN_FDS: %s",
		    strerror(errno));
		return -2;
	}
	return fd;
}

struct server *
server_new(struct daemon *d, server_dispatch_fn *dispatch,
    server_recheck_fn *recheck, char *err, size_t errlen)
{
	char passed[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	struct server *s;
	int fd, activated;

	if ((fd = socket_activated(passed, sizeof(passed), err, errlen)) == -2)
		return NULL;
	activated = fd >= 0;
	if (activated) {
		/* The socket file is the socket unit's: watcherd neither
		   replaces it nor removes it on exit. */
		log_info("socket_activated", "path=%s fd=%d", log_str(passed),
		    fd);
		if (strcmp(passed, d->cfg.socket_path) != 0)
			log_warn("socket_mismatch", "path=%s socket=%s "
			    "reason=\"the socket unit listens elsewhere than "
			    "the configured socket, where clients look\"",
			    log_str(passed), log_str(d->cfg.socket_path));
	} else if ((fd = socket_create(d->cfg.socket_path, err, errlen)) == -1)
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
	s->dispatch = dispatch;
	s->recheck = recheck;
	s->recheck_timer = (struct loop_timer){ .fn = recheck_all, .arg = s };
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
	while (s->clients)
		client_close(s->clients, NULL);
	loop_timer_disarm(s->d->loop, &s->accept_timer);
	loop_timer_disarm(s->d->loop, &s->recheck_timer);
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
