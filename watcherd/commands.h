/* The commands of the socket protocol (DESIGN.md section 4). */
#ifndef COMMANDS_H
#define COMMANDS_H

#include <stddef.h>

#include "common/proto.h"

struct daemon;
struct client;
struct watch_name;
struct watch_waiter;

/*
 * Parses one request line and writes its reply to the client. Never fails:
 * bad input gets an error reply. Returns 1 when the request waits for
 * file-system work instead (no reply yet): the caller dispatches the same
 * line with the same waiter again when the waiter resumes; else 0.
 */
int	commands_dispatch(struct daemon *, struct client *,
	    struct watch_waiter *, char *line, size_t len);

/* The server's server_recheck_fn: whether user may still read the file
   of a subscription, asked as a request about it would be. */
enum proto_error commands_recheck(struct daemon *, struct client *,
	    const char *user, struct watch_name *, struct watch_waiter *,
	    char *detail, size_t detail_len);

#endif
