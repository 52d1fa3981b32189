/*
 * stallfs: a FUSE file system for testing watcherd against a file system
 * that stops answering, like a stalled GPFS or NFS mount. It mirrors a
 * backing directory and can be frozen: while frozen, every operation blocks
 * until thawed, so a stat(), open() or read() through the mount hangs the
 * way it does on a server that has gone away.
 *
 *   stallfs BACKING_DIR MOUNTPOINT [-f] [fuse options]
 *
 *   SIGUSR1  freeze: operations that arrive from now on wait
 *   SIGUSR2  thaw: every waiting operation goes on
 *   SIGWINCH report what was asked of it so far, on stderr:
 *            "stallfs: getattr=N open=N read=N read_bytes=N"
 *
 * Each change of state is reported on stderr as "stallfs: frozen" or
 * "stallfs: thawed". The report is how a benchmark sees the load that a
 * program puts on a shared file system (a stat per poll, or a read). It always runs in the foreground (-f is implied) and
 * multithreaded (-s is refused), and the kernel is told to cache nothing
 * (attributes, names, missing names, file pages), so every access by the
 * program under test reaches stallfs and is stalled by a freeze. The mount
 * is the mounter's alone: without -o allow_other, other users get EACCES.
 *
 * A frozen operation whose caller gets a signal fails with EINTR, so that
 * `timeout` and kill work on a stalled caller; a hard NFS mount would let
 * only a fatal signal through. A caller queued in the kernel behind a
 * frozen one cannot be killed until that one ends: with libfuse before
 * 3.17, which never asks for parallel directory operations, that is any
 * lookup of a name not looked up before, or readdir, in the same directory.
 * SIGTERM, SIGINT or SIGHUP unmount and exit with 0, even while frozen: the
 * operations still waiting then fail (EIO, or ECONNABORTED when the kernel
 * retries them after the unmount).
 */
/* 3.12 for fuse_loop_cfg_set_max_threads(). */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <fuse.h>
#include <fuse_lowlevel.h>

/* How often an operation waiting on a freeze looks whether its caller was
   interrupted or the file system is being unmounted: both are flags that
   libfuse sets, nobody signals them. */
#define STALL_POLL_MS		50

/* Worker threads, unless -o max_threads says otherwise: see stall_serve(). */
#define STALL_MAX_THREADS	"100"

struct stallfs {
	int		 backing_fd;	/* O_PATH, the root of every path */
	pthread_mutex_t	 lock;
	pthread_cond_t	 thawed;	/* broadcast when frozen turns false */
	bool		 frozen;
	/* What callers asked for, for SIGWINCH's report. */
	atomic_ulong	 getattrs;
	atomic_ulong	 opens;
	atomic_ulong	 reads;
	atomic_ulong	 read_bytes;
};

static struct stallfs *
stallfs_get(void)
{
	return fuse_get_context()->private_data;
}

/* The path relative to the backing directory: FUSE paths start with '/'. */
static const char *
relative(const char *path)
{
	while (*path == '/')
		path++;
	return *path == '\0' ? "." : path;
}

/*
 * Waits while the file system is frozen. Returns 0 once thawed, or the
 * error the operation answers without being done: -EINTR when its caller
 * got a signal (the kernel keeps a caller whose request stallfs has read
 * waiting, even on SIGKILL, until the answer), -EIO when the file system
 * is being unmounted (libfuse joins its workers before unmounting).
 */
static int
stall_gate(void)
{
	struct stallfs *fs = stallfs_get();
	struct fuse_session *se = fuse_get_session(fuse_get_context()->fuse);
	struct timespec deadline;
	int rc = 0;

	pthread_mutex_lock(&fs->lock);
	while (fs->frozen) {
		if (fuse_interrupted()) {
			rc = -EINTR;
			break;
		}
		if (fuse_session_exited(se)) {
			rc = -EIO;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += STALL_POLL_MS * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&fs->thawed, &fs->lock, &deadline);
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static void
stall_set(struct stallfs *fs, bool frozen)
{
	pthread_mutex_lock(&fs->lock);
	fs->frozen = frozen;
	if (!frozen)
		pthread_cond_broadcast(&fs->thawed);
	pthread_mutex_unlock(&fs->lock);
	fprintf(stderr, "stallfs: %s\n", frozen ? "frozen" : "thawed");
}

static void
stall_report(struct stallfs *fs)
{
	fprintf(stderr, "stallfs: getattr=%lu open=%lu read=%lu "
	    "read_bytes=%lu\n", atomic_load(&fs->getattrs),
	    atomic_load(&fs->opens), atomic_load(&fs->reads),
	    atomic_load(&fs->read_bytes));
}

/*
 * The thread that turns SIGUSR1 and SIGUSR2 into freezes and thaws, and
 * SIGWINCH into a report. Every other thread blocks them, so sigwait()
 * here takes them outside any signal handler and may lock and print.
 */
static void *
stall_signal_thread(void *arg)
{
	struct stallfs *fs = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGWINCH);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGWINCH)
			stall_report(fs);
		else
			stall_set(fs, sig == SIGUSR1);
	}
	return NULL;
}

static void *
stall_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	return stallfs_get();
}

/* The answer to the kernel for a call that returns -1 and sets errno when
   it fails: 0, or the error negated. */
static int
answer(int rc)
{
	return rc == -1 ? -errno : 0;
}

/* The answer to the kernel for a read or write that returned N: the count
   of bytes, or the error negated. */
static int
answer_count(ssize_t n)
{
	return n == -1 ? -errno : (int)n;
}

/* The backing directory, for the *at() calls. */
static int
backing(void)
{
	return stallfs_get()->backing_fd;
}

/* Opens PATH below the backing directory; returns the descriptor, or the
   error negated. */
static int
open_backing(const char *path, int flags, mode_t mode)
{
	int fd;

	fd = openat(backing(), relative(path), flags | O_CLOEXEC, mode);
	return fd == -1 ? -errno : fd;
}

/* Closes FD, opened for one call that returned RC, and answers for it. */
static int
close_answer(int fd, int rc)
{
	int saved = errno;

	close(fd);
	return rc == -1 ? -saved : 0;
}

/* Keeps FD, from open_backing(), as the kernel's open file FI. */
static int
keep_open(struct fuse_file_info *fi, int fd)
{
	if (fd < 0)
		return fd;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int
stall_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	atomic_fetch_add(&stallfs_get()->getattrs, 1);
	if (fi != NULL)
		return answer(fstat((int)fi->fh, st));
	return answer(fstatat(backing(), relative(path), st,
	    AT_SYMLINK_NOFOLLOW));
}

static int
stall_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	if (size == 0)
		return -EINVAL;
	n = readlinkat(backing(), relative(path), buf, size - 1);
	if (n == -1)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int
stall_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
    off_t offset, struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd, rc;

	(void)offset;
	(void)fi;
	(void)flags;
	if ((rc = stall_gate()) != 0)
		return rc;
	if ((fd = open_backing(path, O_RDONLY | O_DIRECTORY, 0)) < 0)
		return fd;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while ((de = readdir(dir)) != NULL) {
		memset(&st, 0, sizeof(st));
		st.st_ino = de->d_ino;
		st.st_mode = (mode_t)DTTOIF(de->d_type);
		if (filler(buf, de->d_name, &st, 0, 0) != 0)
			break;
	}
	closedir(dir);
	return 0;
}

static int
stall_open(const char *path, struct fuse_file_info *fi)
{
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	atomic_fetch_add(&stallfs_get()->opens, 1);
	return keep_open(fi, open_backing(path, fi->flags, 0));
}

static int
stall_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	return keep_open(fi, open_backing(path, fi->flags | O_CREAT, mode));
}

static int
stall_read(const char *path, char *buf, size_t size, off_t offset,
    struct fuse_file_info *fi)
{
	int rc;

	(void)path;
	if ((rc = stall_gate()) != 0)
		return rc;
	rc = answer_count(pread((int)fi->fh, buf, size, offset));
	if (rc >= 0) {
		atomic_fetch_add(&stallfs_get()->reads, 1);
		atomic_fetch_add(&stallfs_get()->read_bytes, (unsigned long)rc);
	}
	return rc;
}

static int
stall_write(const char *path, const char *buf, size_t size, off_t offset,
    struct fuse_file_info *fi)
{
	int rc;

	(void)path;
	if ((rc = stall_gate()) != 0)
		return rc;
	return answer_count(pwrite((int)fi->fh, buf, size, offset));
}

/* Never gated: the kernel sends it after close() has returned, so a
   stalled release would stall nobody and only hold a worker thread. */
static int
stall_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int
stall_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	int rc;

	(void)path;
	if ((rc = stall_gate()) != 0)
		return rc;
	return answer(datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh));
}

static int
stall_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int fd, rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	if (fi != NULL)
		return answer(ftruncate((int)fi->fh, size));
	if ((fd = open_backing(path, O_WRONLY | O_NOFOLLOW, 0)) < 0)
		return fd;
	return close_answer(fd, ftruncate(fd, size));
}

static int
stall_unlink(const char *path)
{
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	return answer(unlinkat(backing(), relative(path), 0));
}

static int
stall_mkdir(const char *path, mode_t mode)
{
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	return answer(mkdirat(backing(), relative(path), mode));
}

static int
stall_rmdir(const char *path)
{
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	return answer(unlinkat(backing(), relative(path), AT_REMOVEDIR));
}

static int
stall_rename(const char *from, const char *to, unsigned int flags)
{
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	return answer(renameat2(backing(), relative(from), backing(),
	    relative(to), flags));
}

static int
stall_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	if (fi != NULL)
		return answer(fchmod((int)fi->fh, mode));
	return answer(fchmodat(backing(), relative(path), mode, 0));
}

static int
stall_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	if (fi != NULL)
		return answer(fchown((int)fi->fh, uid, gid));
	return answer(fchownat(backing(), relative(path), uid, gid,
	    AT_SYMLINK_NOFOLLOW));
}

static int
stall_utimens(const char *path, const struct timespec tv[2],
    struct fuse_file_info *fi)
{
	int rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	if (fi != NULL)
		return answer(futimens((int)fi->fh, tv));
	return answer(utimensat(backing(), relative(path), tv,
	    AT_SYMLINK_NOFOLLOW));
}

static int
stall_statfs(const char *path, struct statvfs *sv)
{
	int fd, rc;

	if ((rc = stall_gate()) != 0)
		return rc;
	if ((fd = open_backing(path, O_PATH, 0)) < 0)
		return fd;
	return close_answer(fd, fstatvfs(fd, sv));
}

static const struct fuse_operations stall_operations = {
	.init		= stall_init,
	.getattr	= stall_getattr,
	.readlink	= stall_readlink,
	.readdir	= stall_readdir,
	.open		= stall_open,
	.create		= stall_create,
	.read		= stall_read,
	.write		= stall_write,
	.release	= stall_release,
	.fsync		= stall_fsync,
	.truncate	= stall_truncate,
	.unlink		= stall_unlink,
	.mkdir		= stall_mkdir,
	.rmdir		= stall_rmdir,
	.rename		= stall_rename,
	.chmod		= stall_chmod,
	.chown		= stall_chown,
	.utimens	= stall_utimens,
	.statfs		= stall_statfs,
};

static const char usage_text[] =
    "usage: stallfs BACKING_DIR MOUNTPOINT [-f] [fuse options]\n"
    "  SIGUSR1 freezes every operation, SIGUSR2 thaws them\n";

static void
usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

/*
 * Mounts, serves until unmounted or stopped by a signal, unmounts; returns
 * the exit status. Each frozen operation holds a worker thread, and the
 * signal of its caller only reaches it through another, free worker: hence
 * room for STALL_MAX_THREADS of them (libfuse's default is 10, and its
 * fuse_main() in 3.14 has no way to raise it).
 */
static int
stall_serve(struct fuse_args *args, struct stallfs *fs)
{
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *config;
	struct fuse *fuse = NULL;
	int rc = 1;

	if (fuse_parse_cmdline(args, &opts) != 0)
		return 2;
	if (opts.show_help) {
		fputs(usage_text, stdout);
		fuse_cmdline_help();
		fuse_lib_help(args);
		rc = 0;
		goto done;
	}
	if (opts.show_version) {
		fuse_lowlevel_version();
		rc = 0;
		goto done;
	}
	if (opts.mountpoint == NULL)
		usage();
	if (opts.singlethread) {
		fprintf(stderr, "stallfs: -s: a frozen operation would stop "
		    "the only thread\n");
		goto done;
	}
	fuse = fuse_new(args, &stall_operations, sizeof(stall_operations), fs);
	if (fuse == NULL)
		goto done;
	if (fuse_mount(fuse, opts.mountpoint) != 0)
		goto done;
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto unmount;
	if ((config = fuse_loop_cfg_create()) == NULL)
		goto handlers;
	fuse_loop_cfg_set_clone_fd(config, (unsigned int)opts.clone_fd);
	fuse_loop_cfg_set_max_threads(config, opts.max_threads);
	if (opts.max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(config, opts.max_idle_threads);
	/* A positive result is the signal that stopped the loop. */
	rc = fuse_loop_mt(fuse, config) < 0;
	fuse_loop_cfg_destroy(config);
handlers:
	fuse_remove_signal_handlers(fuse_get_session(fuse));
unmount:
	fuse_unmount(fuse);
done:
	if (fuse != NULL)
		fuse_destroy(fuse);
	free(opts.mountpoint);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct stallfs fs;
	pthread_condattr_t condattr;
	pthread_t signal_thread;
	sigset_t all, usr;
	int i, rc;

	if (argc < 3 || argv[1][0] == '-')
		usage();
	memset(&fs, 0, sizeof(fs));
	fs.backing_fd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs.backing_fd == -1) {
		fprintf(stderr, "stallfs: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	pthread_mutex_init(&fs.lock, NULL);
	pthread_condattr_init(&condattr);
	pthread_condattr_setclock(&condattr, CLOCK_MONOTONIC);
	pthread_cond_init(&fs.thawed, &condattr);
	pthread_condattr_destroy(&condattr);

	/*
	 * The signal thread blocks everything, so that libfuse's SIGTERM
	 * handler runs in a thread of its loop and wakes it; the loop's
	 * threads, created later, inherit the block of SIGUSR1, SIGUSR2 and
	 * SIGWINCH.
	 */
	sigfillset(&all);
	sigemptyset(&usr);
	sigaddset(&usr, SIGUSR1);
	sigaddset(&usr, SIGUSR2);
	sigaddset(&usr, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if ((rc = pthread_create(&signal_thread, NULL, stall_signal_thread,
	    &fs)) != 0) {
		fprintf(stderr, "stallfs: pthread_create: %s\n", strerror(rc));
		return 1;
	}
	pthread_sigmask(SIG_SETMASK, &usr, NULL);

	/* The mount point and the options go to libfuse, after a default
	   that the options may override. */
	if (fuse_opt_add_arg(&args, argv[0]) == -1 ||
	    fuse_opt_add_arg(&args, "-omax_threads=" STALL_MAX_THREADS) == -1)
		goto nomem;
	for (i = 2; i < argc; i++)
		if (fuse_opt_add_arg(&args, argv[i]) == -1)
			goto nomem;
	rc = stall_serve(&args, &fs);

	pthread_cancel(signal_thread);
	pthread_join(signal_thread, NULL);
	fuse_opt_free_args(&args);
	close(fs.backing_fd);
	pthread_cond_destroy(&fs.thawed);
	pthread_mutex_destroy(&fs.lock);
	return rc;

nomem:
	fprintf(stderr, "stallfs: out of memory\n");
	return 1;
}
