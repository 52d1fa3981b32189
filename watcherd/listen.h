/*
 * The listening socket: the one systemd passed (LISTEN_FDS, socket
 * activation, sd_listen_fds(3)), or else a socket file watcherd makes
 * (mode 0660; a stale socket of a dead daemon is replaced, a live one
 * refused).
 */
#ifndef LISTEN_H
#define LISTEN_H

#include <stddef.h>

/*
 * Returns a listening, non-blocking, close-on-exec UNIX stream socket:
 * the one passed (*activated set; its file is the socket unit's, neither
 * replaced nor removed), or one made at path (*activated clear; the
 * caller removes the file on exit). -1 with a message for a person in err.
 */
int	listen_socket(const char *path, int *activated, char *err,
	    size_t errlen);

#endif
