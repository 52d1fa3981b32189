/* The commands of the socket protocol (DESIGN.md section 4). */
#ifndef COMMANDS_H
#define COMMANDS_H

#include <stddef.h>

struct daemon;
struct client;

/*
 * The server's handler of a request line: parses it into a call (call.h)
 * over the table of commands and runs it. Never fails: bad input gets an
 * error reply. Returns 1 when the call waits (no reply yet; it answers on
 * its own later), else 0.
 */
int	commands_dispatch(struct daemon *, struct client *, char *line,
	    size_t len);

#endif
