/*
 * The versions of a file, kept beside it (DESIGN.md section 9): beneath
 * the DAMNIT folder, in <history-dir>/<the file's name, encoded>/, one
 * file per version, named by what it is:
 *
 *	<seconds>.<nanoseconds>-<checksum>-<size>-<save|disk>[-<user>]
 *
 * the time being the mtime the file had with that content (12 and 9
 * digits, so that names sort by time), the user percent-encoded. So a
 * listing says everything about every version, and two watcherds that see
 * one change (same time, same checksum) record it once. A version is
 * written to a temporary file, flushed and then linked to its name: a
 * crash leaves at most a temporary file, never a version with part of
 * its bytes, and a later record removes temporary files an hour old.
 * Each record then drops the oldest versions beyond history-keep and
 * history-max-bytes (the newest always stays).
 *
 * Touches nothing but its arguments: safe on any thread. Workers call it
 * for file systems that may stall, and with a user's credentials for a
 * save under access = unix, so that the user's version is theirs.
 */
#ifndef HISTORY_H
#define HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

#include "common/policy.h"

/* Where versions go, and how many are kept. */
struct history_bounds {
	const char	*dir;		/* history-dir, one name */
	unsigned	 keep;		/* versions of a file, at most */
	size_t		 max_bytes;	/* ... and their bytes */
};

struct history_version {
	struct timespec	 time;		/* the file's mtime with it */
	uint32_t	 crc;
	unsigned long long size;
	int		 saved;		/* 1: a save through watcherd; 0: a
					   change seen on disk */
	char		 user[POLICY_MAX_USER + 1];	/* the saver; "" */
};

/*
 * Records the v->size bytes of data as version v of file_name beneath
 * folder_fd, and first, when given, before (the bytes a save replaces, as
 * seen on disk), the history directories made as needed with the folder's
 * group and mode (and the set-group-ID bit: versions are the group's), a
 * version with the folder's read and write bits (and the owner's). A
 * version is not recorded when the newest one has the same checksum, or a
 * version of the same time and checksum is there; but a save's version
 * takes the place of a disk version of the same time and checksum
 * (another watcherd may have seen the change first). Then the oldest
 * versions past the bounds go. One listing of the directory for a save.
 * Returns how many versions were recorded (0 when they were there
 * already), or -1 with errno (EACCES: nobody may write the history here).
 */
int	history_record(int folder_fd, const char *file_name,
	    const struct history_bounds *, const struct history_version *before,
	    const char *before_data, const struct history_version *v,
	    const char *data);

/*
 * The versions of file_name beneath folder_fd, newest first, into *out
 * (malloc()ed, the caller frees; NULL when none) and *n. A file with no
 * history yet has none. Returns 0, or -1 with errno.
 */
int	history_list(int folder_fd, const char *file_name, const char *dir,
	    struct history_version **out, size_t *n);

/*
 * Reads the newest version of file_name whose checksum is crc: 0 with *v
 * and *data (malloc()ed, v->size bytes; the caller frees), or -1 with
 * errno (ENOENT: there is no such version; EFBIG: over max bytes; EIO:
 * its bytes are not the checksum its name says).
 */
int	history_read(int folder_fd, const char *file_name, const char *dir,
	    uint32_t crc, size_t max, struct history_version *v, char **data);

#endif
