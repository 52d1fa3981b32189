#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "common/crc.h"
#include "common/log.h"
#include "common/policy.h"
#include "watcherd/watch_int.h"

#define LOCK_WAIT_MS	2000	/* another saver holds the file this long */
#define LOCK_POLL_MS	10
#define OPEN_ATTEMPTS	5	/* the name replaced while we took the lock */
#define ACL_XATTR	"system.posix_acl_access"
#define ACL_MAX		(4 + 8 * 1024)	/* bytes of an ACL copied */

/*
 * A save's replacement of a file, always on a worker thread (a mount's, or
 * for a local disk the "local writes" one): it may fsync, and wait for a
 * lock another host holds. The check and the replacement hold a write lock
 * on the file, which GPFS and NFSv4 honour between hosts; a save that
 * took the lock on a file another save has meanwhile renamed over opens
 * the name again.
 */
struct replace_job {
	struct job	 j;
	int		 folder_fd;	/* a duplicate, the job's */
	char		*file_name;
	uint32_t	 if_crc;
	const char	*data;		/* the new bytes, borrowed: the caller
					   keeps them until done is called */
	size_t		 len;
	size_t		 max_size;
	long long	 deadline;	/* now_ms(): the request has been
					   answered unavailable by then, and
					   nothing is written after it */
	watch_replace_fn *done;
	void		*arg;
	char		*key;
	size_t		 keylen;
	/* What the worker found. */
	struct watch_replace_result res;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Takes the write lock on fd, waiting up to LOCK_WAIT_MS. An open file
   description lock where the kernel has them (not lost when another
   thread closes the file), else a POSIX one. Returns 0, or -1 with errno
   (EAGAIN: still held elsewhere). */
static int
lock_file(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	long long deadline = now_ms() + LOCK_WAIT_MS;
	int cmd = F_OFD_SETLK;
	struct timespec pause = { 0, LOCK_POLL_MS * 1000000L };

	for (;;) {
		if (fcntl(fd, cmd, &fl) == 0)
			return 0;
		if (errno == EINVAL && cmd == F_OFD_SETLK) {
			cmd = F_SETLK;
			continue;
		}
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -1;
		if (now_ms() >= deadline) {
			errno = EAGAIN;
			return -1;
		}
		nanosleep(&pause, NULL);
	}
}

/* The CRC-32 of the open file fd (at offset 0); -1 when it cannot be read
   or is larger than max (no client holds a checksum of it then). */
static int
crc_of(int fd, off_t size, size_t max, uint32_t *crc)
{
	size_t len;

	if (size < 0 || (unsigned long long)size > max ||
	    crc_fd(fd, crc, &len) == -1 || len > max)
		return -1;
	return 0;
}

/* Opens the directory of the open file fd and its base name, from where
   it really is, which must be beneath the folder. Returns the directory's
   descriptor, or -1. */
static int
open_parent(int folder_fd, int fd, char *base, size_t baselen)
{
	char rel[PATH_MAX], *slash;

	if (policy_path_beneath(folder_fd, fd, rel, sizeof(rel)) == -1 ||
	    *rel == '\0')
		return -1;
	slash = strrchr(rel, '/');
	if (strlen(slash ? slash + 1 : rel) >= baselen)
		return -1;
	strcpy(base, slash ? slash + 1 : rel);
	if (slash == NULL)
		return openat(folder_fd, ".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	*slash = '\0';
	return openat(folder_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Gives tfd the access ACL of the old file fd, if it has one. Returns 0,
   or -1 with errno: a save that cannot keep who may read the file does
   not happen. */
static int
copy_acl(int fd, int tfd)
{
	char buf[ACL_MAX];
	ssize_t n;

	if ((n = fgetxattr(fd, ACL_XATTR, buf, sizeof(buf))) == -1)
		return errno == ENODATA || errno == ENOTSUP ? 0 : -1;
	return fsetxattr(tfd, ACL_XATTR, buf, (size_t)n, 0);
}

/*
 * Writes the new bytes into a temporary file beside base in dfd, with the
 * old file's (fd, stat old) mode and access ACL, and owner and group
 * where watcherd may set them, flushed, and renames it over base unless
 * the deadline has passed. Returns the new file's descriptor, or -1 with
 * errno (ETIMEDOUT: too late; the temporary file is gone then).
 */
static int
write_over(int dfd, const char *base, int fd, const struct stat *old,
    const char *data, size_t len, long long deadline)
{
	char tmp[NAME_MAX + 1];
	unsigned char rnd[6];
	int tfd, saved;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	if (snprintf(tmp, sizeof(tmp), ".%.200s.save-%02x%02x%02x%02x%02x%02x",
	    base, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((tfd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	/* Owner and group as they were, where we may (root, or a group of
	   ours); the mode after, as fchown may clear set-id bits. */
	if (fchown(tfd, old->st_uid, old->st_gid) == -1)
		(void)!fchown(tfd, (uid_t)-1, old->st_gid);
	/* The ACL after the mode: setting it sets the group bits (its
	   mask). */
	if (write_all(tfd, data, len) == -1 ||
	    fchmod(tfd, old->st_mode & 07777) == -1 ||
	    copy_acl(fd, tfd) == -1 || fsync(tfd) == -1)
		goto fail;
	if (now_ms() > deadline) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (renameat(dfd, tmp, dfd, base) == -1)
		goto fail;
	/* The rename itself, on disk. */
	(void)fsync(dfd);
	return tfd;
fail:
	saved = errno;
	unlinkat(dfd, tmp, 0);
	close(tfd);
	errno = saved;
	return -1;
}

static void
replace_fail(struct replace_job *rj, enum proto_error e, const char *why)
{
	rj->res.e = e;
	rj->res.why = why;
}

static void
replace_work(struct mount_job *mj)
{
	struct replace_job *rj = (struct replace_job *)mj;
	struct watch_replace_result *res = &rj->res;
	char base[NAME_MAX + 1];
	struct stat sb, now;
	int fd = -1, dfd = -1, nfd, attempt;
	uint32_t crc;

	for (attempt = 0;; attempt++) {
		fd = policy_open_beneath(rj->folder_fd, rj->file_name,
		    O_RDWR | O_NOCTTY | O_NONBLOCK);
		if (fd == -1) {
			res->e = policy_open_error(errno, &res->why);
			if (errno == EACCES)
				res->why = "watcherd may not write this file";
			return;
		}
		if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
			replace_fail(rj, PROTO_FORBIDDEN, "not a regular file");
			goto done;
		}
		if (lock_file(fd) == -1) {
			replace_fail(rj, PROTO_UNAVAILABLE, errno == EAGAIN ?
			    "the file is being saved from elsewhere; try again" :
			    "the file cannot be locked");
			goto done;
		}
		/* Still the file behind the name, now that we hold it? */
		nfd = policy_open_beneath(rj->folder_fd, rj->file_name, O_PATH);
		if (nfd != -1 && fstat(nfd, &now) == 0 && now.st_ino ==
		    sb.st_ino && now.st_dev == sb.st_dev && sb.st_nlink > 0) {
			close(nfd);
			break;
		}
		if (nfd != -1)
			close(nfd);
		close(fd);
		fd = -1;
		if (attempt + 1 == OPEN_ATTEMPTS) {
			replace_fail(rj, PROTO_UNAVAILABLE, "the file was "
			    "replaced at every look; try again");
			return;
		}
	}
	if (fstat(fd, &sb) == -1 ||
	    crc_of(fd, sb.st_size, rj->max_size, &crc) == -1) {
		res->e = PROTO_CONFLICT;
		res->why = "the file is no longer what the edit started from";
		res->current_known = 0;
		goto done;
	}
	res->current = crc;
	res->current_known = 1;
	if (crc != rj->if_crc) {
		replace_fail(rj, PROTO_CONFLICT, "the file is no longer what "
		    "the edit started from");
		goto done;
	}
	if ((dfd = open_parent(rj->folder_fd, fd, base, sizeof(base))) == -1) {
		replace_fail(rj, PROTO_FORBIDDEN, "the file's directory cannot "
		    "be opened");
		goto done;
	}
	if ((nfd = write_over(dfd, base, fd, &sb, rj->data, rj->len,
	    rj->deadline)) == -1) {
		replace_fail(rj, errno == EACCES || errno == EPERM ||
		    errno == EROFS ? PROTO_FORBIDDEN : PROTO_UNAVAILABLE,
		    errno == EACCES || errno == EPERM ? "watcherd may not "
		    "write in the file's directory, or keep its ACL" :
		    errno == EROFS ? "the file system is read-only" :
		    errno == ENOSPC ? "the file system is full" :
		    errno == ETIMEDOUT ? "the file system took too long; "
		    "nothing was saved" : "the file could not be written");
		goto done;
	}
	if (snapshot_fstate(nfd, &res->st) == 0) {
		res->st.crc = crc_buffer(rj->data, rj->len);
		res->e = PROTO_OK;
	} else
		replace_fail(rj, PROTO_INTERNAL, "the new file cannot be "
		    "stat'ed");
	close(nfd);
done:
	if (dfd != -1)
		close(dfd);
	if (fd != -1)
		close(fd);	/* and with it the lock */
}

static void
replace_finish(struct job *j)
{
	struct replace_job *rj = (struct replace_job *)j;

	if (rj->res.e == PROTO_OK)
		name_refresh(j->t, rj->key, rj->keylen);
	rj->done(rj->arg, &rj->res);
}

static void
replace_destroy(struct job *j)
{
	struct replace_job *rj = (struct replace_job *)j;

	if (rj->folder_fd != -1)
		close(rj->folder_fd);
	free(rj->file_name);
	free(rj->key);
	free(rj);
}

/* A job that will not finish (watcherd stops) still tells its caller. */
static void
replace_abandon(struct job *j)
{
	struct replace_job *rj = (struct replace_job *)j;

	replace_fail(rj, PROTO_UNAVAILABLE, "watcherd is stopping");
	rj->done(rj->arg, &rj->res);
}

enum proto_error
watch_replace(struct watch_table *t, struct watch_waiter *w, unsigned proposal,
    const char *file_name, size_t len, uint32_t if_crc, const char *data,
    size_t data_len, watch_replace_fn *done, void *arg, int *started,
    const char **why)
{
	char key[WATCH_KEY_MAX];
	struct replace_job *rj;
	struct folder *f;
	struct mount *m;
	enum proto_error e;
	size_t keylen;

	*started = 0;
	if ((e = name_check(t, w, proposal, file_name, len, key, &keylen,
	    why)) != PROTO_OK)
		return e;
	if ((e = folder_get(t, proposal, w, &f, why)) != PROTO_OK)
		return e;
	if ((m = f->mount) == NULL &&
	    (m = mount_local_writes(t->mounts)) == NULL) {
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	if ((rj = calloc(1, sizeof(*rj))) == NULL ||
	    (rj->file_name = strdup(file_name)) == NULL ||
	    (rj->key = malloc(keylen)) == NULL ||
	    (rj->folder_fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		if (rj) {
			free(rj->file_name);
			free(rj->key);
			free(rj);
		}
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	memcpy(rj->key, key, keylen);
	rj->keylen = keylen;
	rj->j.kind = JOB_REPLACE;
	rj->j.proposal = proposal;
	rj->j.finish = replace_finish;
	rj->j.destroy = replace_destroy;
	rj->j.mj.work = replace_work;
	rj->j.abandon = replace_abandon;
	/* A file system that may stall has the usual time; a local disk
	   the time a flush of a large file may take. */
	rj->j.timeout_ms = f->mount ? (int)t->cfg->fs_timeout_ms :
	    WATCH_REPLACE_TIMEOUT_MS;
	rj->deadline = now_ms() + rj->j.timeout_ms;
	rj->if_crc = if_crc;
	rj->data = data;
	rj->len = data_len;
	rj->max_size = t->cfg->max_file_size;
	rj->done = done;
	rj->arg = arg;
	rj->res.e = PROTO_INTERNAL;
	rj->res.why = "the save did not run";
	if ((e = job_start(t, m, &rj->j, w, why)) != PROTO_OK)
		return e;
	*started = 1;
	return job_wait(t, &rj->j, w, why);
}
