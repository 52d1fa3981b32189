/* The commands of the socket protocol (DESIGN.md section 4). */
#ifndef COMMANDS_H
#define COMMANDS_H

#include <stddef.h>

struct daemon;
struct client;
struct watch_waiter;

/*
 * Parses one request line and writes its reply to the client. Never fails:
 * bad input gets an error reply. Returns 1 when the request waits for
 * file-system work instead (no reply yet): the caller dispatches the same
 * line with the same waiter again when the waiter resumes; else 0.
 */
int	commands_dispatch(struct daemon *, struct client *,
	    struct watch_waiter *, char *line, size_t len);

#endif
