/*
 * Reading and writing a descriptor through to what was asked for: read(2)
 * or write(2) again after a signal (EINTR) or a short count, until the
 * bytes are in or out, or the file ends. For regular files and pipes read from blocking descriptors; the
 * sockets have their own bounded calls (proto.h).
 */
#ifndef IO_H
#define IO_H

#include <stddef.h>
#include <sys/types.h>

/* Reads up to n bytes of fd into buf. Returns how many were read (fewer
   than n only at end of file), or -1 with errno. */
ssize_t	io_read_full(int fd, void *buf, size_t n);
/* Writes the n bytes of buf to fd. Returns 0, or -1 with errno. */
int	io_write_full(int fd, const void *buf, size_t n);

#endif
