#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/crc.h"
#include "common/io.h"
#include "common/policy.h"
#include "watcherd/watch/snapshot.h"

#define READ_ATTEMPTS	5
/* A read that starts less than RACY_MS after the file's ctime may have
   raced a write: the stat is taken when the write begins, the bytes land
   after, and nothing changes in the stat when they have. Such a state is
   read again (see state_trusted in watch.c) until a read starts later
   than that. A ctime further than RACY_FUTURE_MS ahead of our clock is
   another host's skewed clock, not a write under way. */
#define RACY_MS		100
#define RACY_FUTURE_MS	1000

static void
state_from_stat(struct watch_state *st, const struct stat *sb)
{
	memset(st, 0, sizeof(*st));
	st->exists = 1;
	st->dev = sb->st_dev;
	st->ino = sb->st_ino;
	st->size = sb->st_size;
	st->mtime = sb->st_mtim;
	st->ctime = sb->st_ctim;
}

/* Adds the birth time of the open file fd to st, where the file system
   keeps one. */
static void
state_birth(struct watch_state *st, int fd)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) == 0 &&
	    (sx.stx_mask & STATX_BTIME)) {
		st->btime.tv_sec = sx.stx_btime.tv_sec;
		st->btime.tv_nsec = sx.stx_btime.tv_nsec;
	}
}

int
snapshot_fstate(int fd, struct watch_state *st)
{
	struct stat sb;

	if (fstat(fd, &sb) == -1)
		return -1;
	state_from_stat(st, &sb);
	state_birth(st, fd);
	return 0;
}

int
snapshot_matches(const struct watch_state *st, const struct stat *sb)
{
	return st->exists && st->dev == sb->st_dev && st->ino == sb->st_ino &&
	    st->size == sb->st_size &&
	    st->mtime.tv_sec == sb->st_mtim.tv_sec &&
	    st->mtime.tv_nsec == sb->st_mtim.tv_nsec &&
	    st->ctime.tv_sec == sb->st_ctim.tv_sec &&
	    st->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

/* Whether a read that started at started may have raced a write that
   ended with the stat sb. A ctime of whole seconds is taken to come from a
   file system that keeps only seconds: a second write within the same
   second would leave the stat as it is, so the window is a second wider. */
static int
state_racy(const struct timespec *started, const struct stat *sb)
{
	long long ms = (long long)(started->tv_sec - sb->st_ctim.tv_sec) * 1000 +
	    (started->tv_nsec - sb->st_ctim.tv_nsec) / 1000000;
	long long window = sb->st_ctim.tv_nsec == 0 ? 1000 + RACY_MS : RACY_MS;

	return ms < window && ms > -RACY_FUTURE_MS;
}


/* Records a file over max_size: its stat, no bytes. */
static enum proto_error
too_large(struct watch_state *st, const struct stat *sb, int fd, int *fdp,
    const char **why)
{
	state_from_stat(st, sb);
	state_birth(st, fd);
	st->too_large = 1;
	*fdp = fd;
	*why = "file is larger than max-file-size";
	return PROTO_TOO_LARGE;
}

enum proto_error
snapshot_read(int folder_fd, const char *file_name, size_t max_size,
    struct watch_state *st, char **data, int *fdp, const char **why)
{
	struct stat before, after;
	struct timespec started;
	ssize_t len = 0;
	char *buf = NULL;
	int fd, attempt;

	*data = NULL;
	*fdp = -1;
	memset(st, 0, sizeof(*st));
	for (attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		clock_gettime(CLOCK_REALTIME, &started);
		fd = policy_open_beneath(folder_fd, file_name,
		    O_RDONLY | O_NONBLOCK | O_NOCTTY);
		if (fd == -1)
			return policy_open_error(errno, why);
		if (fstat(fd, &before) == -1)
			goto fail_errno;
		if (!S_ISREG(before.st_mode)) {
			close(fd);
			*why = "not a regular file";
			return PROTO_FORBIDDEN;
		}
		if ((size_t)before.st_size > max_size)
			return too_large(st, &before, fd, fdp, why);
		if ((buf = malloc((size_t)before.st_size + 1)) == NULL) {
			close(fd);
			*why = "watcherd is out of memory";
			return PROTO_UNAVAILABLE;
		}
		/* One byte more than the stat said: a file that grew. */
		if ((len = io_read_full(fd, buf, (size_t)before.st_size + 1)) ==
		    -1)
			goto fail_errno;
		if (fstat(fd, &after) == -1)
			goto fail_errno;
		state_from_stat(st, &before);
		if ((len == before.st_size && snapshot_matches(st, &after)) ||
		    attempt == READ_ATTEMPTS - 1)
			break;
		/* Written while we read: the bytes may mix two versions. */
		free(buf);
		buf = NULL;
		close(fd);
	}
	if ((size_t)len > max_size) {
		free(buf);
		return too_large(st, &after, fd, fdp, why);
	}
	state_from_stat(st, &after);
	state_birth(st, fd);
	st->size = len;
	st->crc = crc_buffer(buf, (size_t)len);
	st->racy = state_racy(&started, &after);
	*data = buf;
	*fdp = fd;
	return PROTO_OK;
fail_errno:
	attempt = errno;
	free(buf);
	close(fd);
	*why = "cannot read the file";
	return attempt == EACCES ? PROTO_FORBIDDEN : PROTO_INTERNAL;
}

int
snapshot_stat(int folder_fd, const char *file_name, struct stat *sb)
{
	return fstatat(folder_fd, file_name, sb, AT_NO_AUTOMOUNT);
}

ssize_t
snapshot_pread(int fd, off_t offset, size_t max, char **out)
{
	ssize_t got;

	*out = NULL;
	if (max == 0)
		return 0;
	if ((*out = malloc(max)) == NULL)
		return -1;
	do
		got = pread(fd, *out, max, offset);
	while (got == -1 && errno == EINTR);
	if (got <= 0) {
		free(*out);
		*out = NULL;
	}
	return got;
}

void
file_id_of_state(const struct watch_state *st, struct file_id *id)
{
	id->exists = st->exists;
	id->dev = st->exists ? st->dev : 0;
	id->ino = st->exists ? st->ino : 0;
	id->ctime = st->exists ? st->ctime : (struct timespec){ 0, 0 };
}

int
file_id_equal(const struct file_id *a, const struct file_id *b, int ctime)
{
	if (!a->exists || !b->exists)
		return a->exists == b->exists;
	return a->dev == b->dev && a->ino == b->ino && (!ctime ||
	    (a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec));
}

struct msg_state
snapshot_msg_state(const struct watch_state *st)
{
	return (struct msg_state){ .exists = st->exists,
	    .too_large = st->too_large, .crc = st->crc,
	    .size = (long long)st->size, .mtime = st->mtime };
}
