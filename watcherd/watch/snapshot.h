/*
 * Snapshots of a file: its bytes and the stat they belong to, read beneath
 * a proposal's folder so that the two always match even while the file is
 * being written. Touches nothing but its arguments: safe on any thread
 * (workers call it for file systems that may stall).
 */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common/msg.h"
#include "common/proto.h"

/* What is known about a file's bytes. */
struct watch_state {
	int		 exists;
	int		 too_large;	/* exists, larger than max-file-size */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	struct timespec	 ctime;
	struct timespec	 btime;		/* birth; zero where unknown */
	uint32_t	 crc;		/* of exactly size bytes */
	int		 racy;		/* read so soon after the file's last
					   change that a write may still have
					   been copying bytes in */
};

/* Which file, as an access verdict is given for it. */
struct file_id {
	int		 exists;
	dev_t		 dev;
	ino_t		 ino;
	struct timespec	 ctime;		/* mode, owner and ACL changes */
};

/* The fields of st that the protocol carries (common/msg.h writes them). */
struct msg_state snapshot_msg_state(const struct watch_state *st);

/* The file a state describes. */
void	file_id_of_state(const struct watch_state *, struct file_id *);
/* 1 when a and b are the same file (both missing counts), with
   unchanged too when ctime is set. */
int	file_id_equal(const struct file_id *a, const struct file_id *b,
	    int ctime);

/* Fills st (but its crc) from the open file fd. Returns 0, or -1 with
   errno. */
int	snapshot_fstate(int fd, struct watch_state *st);

/* Whether a stat shows the file the state describes, unchanged. */
int	snapshot_matches(const struct watch_state *, const struct stat *);

/*
 * Opens file_name beneath folder_fd and reads it whole, so that the bytes
 * and *st belong together: stat before and after reading, and read again
 * when the file moved under us. On PROTO_OK *data holds st->size bytes
 * (malloc()ed, the caller frees) and *fdp the open file; on
 * PROTO_TOO_LARGE (over max_size) *st is set, *data is NULL and *fdp is
 * open. Either way the caller closes *fdp. Else an error with *why
 * (static text), nothing to free.
 */
enum proto_error snapshot_read(int folder_fd, const char *file_name,
	    size_t max_size, struct watch_state *st, char **data, int *fdp,
	    const char **why);

/*
 * Stats file_name relative to folder_fd: the hot path of every query. A
 * plain fstatat, not openat2(RESOLVE_BENEATH): its result is only compared
 * with a cached state, and a name that now resolves anywhere else has
 * another inode, so it is read again, and that goes through openat2.
 * Returns 0, or -1 with errno.
 */
int	snapshot_stat(int folder_fd, const char *file_name, struct stat *);

/*
 * Up to max bytes of the open file fd from offset on, into *out
 * (malloc()ed, the caller frees; NULL when none). Returns the bytes read,
 * or -1 with errno.
 */
ssize_t	snapshot_pread(int fd, off_t offset, size_t max, char **out);

#endif
