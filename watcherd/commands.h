/* The commands of the socket protocol (DESIGN.md section 4). */
#ifndef COMMANDS_H
#define COMMANDS_H

#include <stddef.h>

struct daemon;
struct client;

/* Parses one request line and writes its reply to the client. Never fails:
   bad input gets an error reply. */
void	commands_dispatch(struct daemon *, struct client *, char *line,
	    size_t len);

#endif
