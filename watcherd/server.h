/*
 * The listening socket and its clients: bounded per-client buffers, request
 * lines handed to the commands, replies and pushed events written without
 * ever blocking the loop, and subscriptions that end with their client.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "common/proto.h"
#include "watcherd/watch.h"

struct daemon;
struct server;
struct client;
struct watch_waiter;

/*
 * What the server does with each request line of a client: answers it
 * through the client_* functions below and returns 0, or returns 1 when
 * the request waits for file-system work through waiter (no reply yet);
 * the server then reads nothing more from that client and calls it again
 * with the same line when the waiter resumes. commands_dispatch() is the
 * daemon's.
 */
typedef int	server_dispatch_fn(struct daemon *, struct client *,
		    struct watch_waiter *, char *line, size_t len);

/*
 * Whether the user a subscription named (NULL: none was named; such a
 * subscription is not asked about) may still read n: access can be taken
 * away while a client listens. Returns PROTO_OK, PROTO_PENDING (w resumes
 * when it can be asked again), PROTO_FORBIDDEN or PROTO_UNAUTHENTICATED
 * with a detail for a person in detail (the subscription ends with a
 * "forbidden" event), or another error (it goes on; asked again later).
 * commands_recheck() is the daemon's.
 */
typedef enum proto_error server_recheck_fn(struct daemon *, struct client *,
		    const char *user, struct watch_name *n,
		    struct watch_waiter *w, char *detail, size_t detail_len);

/*
 * Takes the listening socket systemd passed (LISTEN_FDS, socket activation)
 * or else creates the socket at d->cfg.socket_path (mode 0660; a stale
 * socket of a dead daemon is replaced, a live one refused), and starts
 * accepting. Returns NULL with a message for a person in err.
 */
struct server	*server_new(struct daemon *, server_dispatch_fn *,
		    server_recheck_fn *, char *err, size_t errlen);
/* Closes every client and the socket, and removes the socket file unless
   it was passed. */
void		 server_free(struct server *);
size_t		 server_client_count(const struct server *);
/* Bytes of payloads kept by requests and not handed over yet. */
size_t		 server_payload_held(const struct server *);
/* The callbacks through which the watch table reaches subscribers. */
struct watch_callbacks server_watch_callbacks(struct server *);

/*
 * Makes the request being dispatched wait for the n raw bytes that follow
 * its line (a write's content): the server reads them, keeps them when
 * keep is set (else skips them), and dispatches the line again; then
 * client_payload() has them. The dispatch function returns 1 meanwhile.
 * Returns 0, or -1 when out of memory.
 */
int	client_take_payload(struct client *, size_t n, int keep);
/* The payload of the request being dispatched, once it is all there
   ("" when it was skipped), with *len its announced size; else NULL. */
const char *client_payload(const struct client *, size_t *len);
/* 1 when the payload is kept (not skipped, not handed over). */
int	client_payload_kept(const struct client *);
/* Hands the kept payload over to the caller, who frees it (NULL when it
   was skipped); client_payload() has "" from then on. */
char	*client_payload_take(struct client *);

/* A state the request being dispatched keeps across its dispatches (a save
   under way); free_fn frees it once the request is answered or its client
   closes. */
void	client_set_state(struct client *, void *state, void (*free_fn)(void *));
void	*client_state(const struct client *);

/* Appends a reply line (len bytes, no newline; one is added). */
void	client_reply(struct client *, const char *line, size_t len);
/* Appends {"ok":false,"error":code,"detail":detail}. */
void	client_reply_error(struct client *, enum proto_error, const char *detail);
/* Appends raw payload bytes after a reply that announced them (none: a
   no-op, data may be NULL). */
void	client_write(struct client *, const char *data, size_t len);
/* 1 when the peer runs as the daemon's user or root (SO_PEERCRED). */
int	client_is_owner(const struct client *);
/* Subscribes the client to name for user (NULL: the request named none),
   who is asked about again every second (server_recheck_fn); 0, or -1
   when memory is exhausted. A second subscription to the same name is a
   no-op. */
int	client_subscribe(struct client *, struct watch_name *,
	    const char *user);

#endif
