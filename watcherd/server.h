/*
 * The listening socket and its clients: bytes framed into request lines
 * and handed to the daemon, one request of a client at a time, replies
 * and pushed lines written without ever blocking the loop, bounded
 * per-client buffers. What a request means, and what a client subscribed
 * to, are the daemon's (call.h, subs.h).
 */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "common/proto.h"

struct daemon;
struct server;
struct client;

/* What the server hands to the daemon. */
struct server_handlers {
	/*
	 * A request line of a client: answered through the client_*
	 * functions below, returning 0; or 1 when the request waits (its
	 * object set with client_set_request()): the server then reads
	 * nothing more from that client until client_request_done().
	 */
	int	(*request)(struct daemon *, struct client *, char *line,
		    size_t len);
	/* The client is closing: what the daemon attached to it
	   (client_set_data()) is to go. Optional. */
	void	(*closed)(struct daemon *, struct client *);
};

/*
 * Takes the listening socket systemd passed (LISTEN_FDS, socket activation)
 * or else creates the socket at d->cfg.socket_path (mode 0660; a stale
 * socket of a dead daemon is replaced, a live one refused), and starts
 * accepting. Returns NULL with a message for a person in err.
 */
struct server	*server_new(struct daemon *, const struct server_handlers *,
		    char *err, size_t errlen);
/* Closes every client and the socket, and removes the socket file unless
   it was passed. */
void		 server_free(struct server *);
size_t		 server_client_count(const struct server *);
/* Bytes of payloads being read for requests, not handed over yet. */
size_t		 server_payload_held(const struct server *);

/* The request that waits: freed with free_fn once it is done or its
   client closes. */
void	client_set_request(struct client *, void *request,
	    void (*free_fn)(void *));
/* The request that waited has answered: it is freed, and the client's
   next requests are taken up. */
void	client_request_done(struct client *);

/*
 * Makes the request that waits take the n raw bytes that follow its line
 * (a write's content): the server reads them, keeps them when keep is set
 * (else skips them), and then calls done(arg, payload) with the payload
 * (malloc()ed, the callee's; NULL when skipped). Returns 0, or -1 when
 * out of memory.
 */
int	client_take_payload(struct client *, size_t n, int keep,
	    void (*done)(void *arg, char *payload), void *arg);

/* Appends a reply line (len bytes, no newline; one is added). */
void	client_reply(struct client *, const char *line, size_t len);
/* Appends {"ok":false,"error":code,"detail":detail}. */
void	client_reply_error(struct client *, enum proto_error, const char *detail);
/* Appends raw payload bytes after a reply that announced them (none: a
   no-op, data may be NULL). */
void	client_write(struct client *, const char *data, size_t len);
/* Appends a line and sends what the socket takes now. */
void	client_push(struct client *, const char *line, size_t len);
/* Sends what is appended from the loop's next turn: for a line appended
   while a caller walks a list that a failed send would change. */
void	client_wake(struct client *);
/* Bytes appended and not sent yet. */
size_t	client_backlog(const struct client *);
/* Closes the client (why: logged; NULL: not). Its memory stays valid
   until the loop's current batch is done. */
void	client_close(struct client *, const char *why);
/* 1 once the client is closing: nothing more is sent. */
int	client_gone(const struct client *);

/* 1 when the peer runs as the daemon's user or root (SO_PEERCRED). */
int	client_is_owner(const struct client *);
pid_t	client_pid(const struct client *);
/* The daemon's own data of a client, NULL until set. */
void	*client_data(const struct client *);
void	client_set_data(struct client *, void *);

#endif
