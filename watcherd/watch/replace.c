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
#include "common/io.h"
#include "common/log.h"
#include "common/policy.h"
#include "common/proto.h"
#include "watcherd/table.h"
#include "watcherd/work/creds.h"
#include "watcherd/watch/watch_int.h"

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
	struct job	 j;		/* j.dir_fd: the folder; j.name:
					   the file's */
	struct watch_table *t;
	uint32_t	 if_crc;
	const char	*data;		/* the new bytes, borrowed: the caller
					   keeps them until done is called */
	size_t		 len;
	size_t		 max_size;
	long long	 deadline;	/* proto_now_ms(): the request has been
					   answered unavailable by then, and
					   nothing is written after it */
	struct creds	*as;		/* the user's, under access = unix;
					   NULL: watcherd's own */
	watch_replace_fn *done;
	void		*arg;
	char		*key;
	size_t		 keylen;
	char		*user;		/* the saver, for its version; NULL */
	struct version_note versions;
	char		*old;		/* the bytes replaced, for a version */
	struct watch_state old_st;
	/* What the worker found. */
	struct watch_replace_result res;
};

/* Takes the write lock on fd, waiting up to LOCK_WAIT_MS. An open file
   description lock where the kernel has them (not lost when another
   thread closes the file), else a POSIX one. Returns 0, or -1 with errno
   (EAGAIN: still held elsewhere). */
static int
lock_file(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	long long deadline = proto_now_ms() + LOCK_WAIT_MS;
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
		if (proto_now_ms() >= deadline) {
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

static int
same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Opens the directory of the open file fd and its base name, from where
   it really is, which must be beneath the folder, without following any
   link on the way (a member may swap a directory for one between two of
   our calls), and checks that the base name there still is fd. Returns
   the directory's descriptor, or -1. */
static int
open_parent(int folder_fd, int fd, char *base, size_t baselen)
{
	char rel[PATH_MAX], *slash;
	struct stat want, now;
	int path_fd, dfd;

	if (policy_path_beneath(folder_fd, fd, rel, sizeof(rel)) == -1 ||
	    *rel == '\0')
		return -1;
	slash = strrchr(rel, '/');
	if (strlen(slash ? slash + 1 : rel) >= baselen)
		return -1;
	strcpy(base, slash ? slash + 1 : rel);
	if (slash)
		*slash = '\0';
	if ((path_fd = policy_open_dir_nofollow(folder_fd, slash ? rel :
	    ".")) == -1)
		return -1;
	dfd = openat(path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(path_fd);
	if (dfd != -1 && (fstat(fd, &want) == -1 ||
	    fstatat(dfd, base, &now, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !same_inode(&want, &now))) {
		close(dfd);
		dfd = -1;
	}
	return dfd;
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
 * Puts the temporary file tmp in the place of base in dfd, only while
 * base still is the old file (stat old) that the save locked: the two are
 * exchanged in one step and the old one, now under tmp, checked and
 * removed; had a member put another file under base meanwhile, it is
 * exchanged back and the save fails with EAGAIN. Where the file system
 * cannot exchange (EINVAL), base is checked and renamed over.
 * Returns 0, or -1 with errno.
 */
static int
swap_in(int dfd, const char *tmp, const char *base, const struct stat *old)
{
	struct stat now;

	if (renameat2(dfd, tmp, dfd, base, RENAME_EXCHANGE) == 0) {
		if (fstatat(dfd, tmp, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    same_inode(&now, old)) {
			unlinkat(dfd, tmp, 0);
			return 0;
		}
		(void)renameat2(dfd, tmp, dfd, base, RENAME_EXCHANGE);
		errno = EAGAIN;
		return -1;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (fstatat(dfd, base, &now, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !same_inode(&now, old)) {
		errno = EAGAIN;
		return -1;
	}
	return renameat(dfd, tmp, dfd, base);
}

/* 1 when the file fd already belongs to old's owner and group (nothing
   to give: no CAP_CHOWN needed, and a file system without chown works). */
static int
has_owner(int fd, const struct stat *old)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_uid == old->st_uid &&
	    st.st_gid == old->st_gid;
}

/*
 * Writes the new bytes into a temporary file beside base in dfd, with the
 * old file's (fd, stat old) mode without its set-id bits and its access
 * ACL, flushed, and puts it in base's place (swap_in()) unless the
 * deadline has passed. With keep_owner (watcherd saves as itself), the
 * old owner and group are given to it, or the save fails with EPERM:
 * a file that changes hands may lock out the people who used it; a
 * user's own save (access = unix) makes a file of theirs, as their
 * editor would. Returns the new file's descriptor, or -1 with errno
 * (ETIMEDOUT: too late; the temporary file is gone then).
 */
static int
write_over(int dfd, const char *base, int fd, const struct stat *old,
    int keep_owner, const char *data, size_t len, long long deadline)
{
	char tmp[NAME_MAX + 1];
	unsigned char rnd[6];
	int tfd, saved, owner_lost = 0;

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
	if (keep_owner && !has_owner(tfd, old) &&
	    fchown(tfd, old->st_uid, old->st_gid) == -1) {
		owner_lost = 1;
		goto fail;
	}
	/* A user's own: the old group where the user is in it, as editors
	   keep it. */
	if (!keep_owner)
		(void)!fchown(tfd, (uid_t)-1, old->st_gid);
	/* The mode after the owner, as fchown may clear set-id bits; the
	   ACL after the mode: setting it sets the group bits (its mask). */
	if (io_write_full(tfd, data, len) == -1 ||
	    fchmod(tfd, old->st_mode & 01777) == -1 ||
	    copy_acl(fd, tfd) == -1 || fsync(tfd) == -1)
		goto fail;
	if (proto_now_ms() > deadline) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (swap_in(dfd, tmp, base, old) == -1)
		goto fail;
	/* The rename itself, on disk. */
	(void)fsync(dfd);
	return tfd;
fail:
	/* EOWNERDEAD: the owner could not be kept (not the directory's
	   EPERM). */
	saved = owner_lost ? EOWNERDEAD : errno;
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

/* The bytes a save is about to replace, to be kept as the version seen
   on disk when none is (a file older than its history, or changed
   unseen): read into rj->old, with their state. */
static void
read_old(struct replace_job *rj, int fd, const struct stat *sb, uint32_t crc)
{
	rj->old_st = (struct watch_state){ .exists = 1, .size = sb->st_size,
	    .mtime = sb->st_mtim, .crc = crc };
	if (rj->versions.on && snapshot_pread(fd, 0, (size_t)sb->st_size,
	    &rj->old) != (ssize_t)sb->st_size) {
		free(rj->old);
		rj->old = NULL;
	}
	if (rj->versions.on && sb->st_size == 0 && rj->old == NULL)
		rj->old = strdup("");
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

	/* Under access = unix every step is the user's own, decided by the
	   kernel: the open for writing, the new file, the rename. */
	if (rj->as && creds_enter(rj->as) == -1) {
		replace_fail(rj, PROTO_UNAVAILABLE, "watcherd may not take the "
		    "user's credentials (CAP_SETUID and CAP_SETGID)");
		return;
	}
	for (attempt = 0;; attempt++) {
		fd = policy_open_beneath(rj->j.dir_fd, rj->j.name,
		    O_RDWR | O_NOCTTY | O_NONBLOCK);
		if (fd == -1) {
			res->e = policy_open_error(errno, &res->why);
			if (errno == EACCES)
				res->why = rj->as ? "the user may not write this "
				    "file" : "watcherd may not write this file";
			goto done;
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
		nfd = policy_open_beneath(rj->j.dir_fd, rj->j.name, O_PATH);
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
			goto done;
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
	read_old(rj, fd, &sb, crc);
	if ((dfd = open_parent(rj->j.dir_fd, fd, base, sizeof(base))) == -1) {
		replace_fail(rj, PROTO_UNAVAILABLE, "the file's directory "
		    "changed while it was saved (a link on the way?); nothing "
		    "was saved");
		goto done;
	}
	if ((nfd = write_over(dfd, base, fd, &sb, rj->as == NULL, rj->data,
	    rj->len, rj->deadline)) == -1) {
		replace_fail(rj, errno == EACCES || errno == EPERM ||
		    errno == EROFS || errno == EOWNERDEAD ? PROTO_FORBIDDEN :
		    PROTO_UNAVAILABLE,
		    errno == EOWNERDEAD ? "watcherd may not keep the file's "
		    "owner and group (it would become watcherd's); nothing "
		    "was saved" :
		    errno == EAGAIN ? "the file was replaced while it was "
		    "saved; nothing was saved" :
		    errno == EACCES || errno == EPERM ? (rj->as ? "the user "
		    "may not write in the file's directory, or keep its ACL" :
		    "watcherd may not write in the file's directory, or keep "
		    "its ACL") :
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
	if (rj->as)
		creds_leave();
}

static void
replace_finish(struct job *j)
{
	struct replace_job *rj = (struct replace_job *)j;
	struct watch_name *n;

	/* Its versions are kept after the answer, off the save's path; the
	   name stays counted as saving until they are. */
	if (rj->res.e == PROTO_OK && rj->versions.on) {
		version_keep_after(rj->t, j->mj.mount, j->dir_fd, j->proposal,
		    j->name, rj->key, rj->keylen, &rj->old_st, rj->old,
		    &rj->res.st, rj->data, rj->user ? rj->user : "", rj->as, 1);
		rj->old = NULL;
	} else if ((n = table_get(rj->t->by_name, rj->key, rj->keylen)) !=
	    NULL && n->saving > 0)
		n->saving--;
	if (rj->res.e == PROTO_OK)
		refresh_key(rj->t, rj->key, rj->keylen);
	rj->done(rj->arg, &rj->res);
}

static void
replace_clear(struct job *j)
{
	struct replace_job *rj = (struct replace_job *)j;

	free(rj->key);
	free(rj->as);
	free(rj->user);
	free(rj->old);
	version_note_free(&rj->versions);
}

/* A job that will not finish (watcherd stops) still tells its caller. */
static void
replace_abandon(struct job *j)
{
	struct replace_job *rj = (struct replace_job *)j;

	replace_fail(rj, PROTO_UNAVAILABLE, "watcherd is stopping");
	rj->done(rj->arg, &rj->res);
}

static const struct job_ops replace_ops = {
	.work = replace_work,
	.finish = replace_finish,
	.clear = replace_clear,
	.abandon = replace_abandon,
	.file_system = 1,
};

enum proto_error
watch_replace(struct watch_table *t, struct waiter *w, unsigned proposal,
    const char *file_name, size_t len, uint32_t if_crc, const char *data,
    size_t data_len, const struct creds *as, const char *user,
    watch_replace_fn *done, void *arg, int *started, const char **why)
{
	char key[NAME_KEY_MAX];
	struct replace_job *rj;
	struct watch_name *n;
	struct folder *f;
	struct mount *m;
	enum proto_error e;
	size_t keylen;

	*started = 0;
	if ((e = name_key(t->cfg, w, proposal, file_name, len, key, &keylen,
	    why)) != PROTO_OK)
		return e;
	if ((e = folder_get(t->folders, proposal, w, &f, why)) != PROTO_OK)
		return e;
	if ((m = f->mount) == NULL &&
	    (m = mount_local_writes(jobs_mounts(t->jobs))) == NULL) {
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	if ((rj = calloc(1, sizeof(*rj))) == NULL ||
	    job_prepare(&rj->j, &replace_ops, proposal, f->fd, file_name) ==
	    -1) {
		free(rj);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	if ((rj->key = malloc(keylen)) == NULL ||
	    (as && (rj->as = malloc(sizeof(*as))) == NULL) ||
	    (user && (rj->user = strdup(user)) == NULL) ||
	    version_note_init(t, file_name, &rj->versions) == -1) {
		job_destroy(&rj->j);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	memcpy(rj->key, key, keylen);
	rj->keylen = keylen;
	if (as)
		*rj->as = *as;
	rj->t = t;
	/* A file system that may stall has the usual time; a local disk
	   the time a flush of a large file may take. */
	rj->j.timeout_ms = f->mount ? (int)t->cfg->fs_timeout_ms :
	    WATCH_REPLACE_TIMEOUT_MS;
	rj->deadline = proto_now_ms() + rj->j.timeout_ms;
	rj->if_crc = if_crc;
	rj->data = data;
	rj->len = data_len;
	rj->max_size = t->cfg->max_file_size;
	rj->done = done;
	rj->arg = arg;
	rj->res.e = PROTO_INTERNAL;
	rj->res.why = "the save did not run";
	if ((e = job_run(t->jobs, m, &rj->j, NULL, w, why)) != PROTO_PENDING)
		return e;
	*started = 1;
	if ((n = table_get(t->by_name, key, keylen)) != NULL)
		n->saving++;
	return e;
}
