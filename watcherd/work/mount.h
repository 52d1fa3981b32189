/*
 * File systems that may stall (GPFS, NFS, Lustre, FUSE, ...), one per
 * mount: their work runs on worker threads, at most MOUNT_THREADS jobs of
 * a mount at once and MOUNT_QUEUE waiting, so a mount that stops answering
 * holds a few threads and nothing piles up behind it. A job that has run
 * longer than fs-timeout marks its mount stalled: it takes no new work
 * until its jobs come back, and then it is recovered. Loop side only.
 */
#ifndef MOUNT_H
#define MOUNT_H

#include <sys/queue.h>
#include <sys/types.h>

#include "watcherd/work/pool.h"

#define MOUNT_THREADS	4
#define MOUNT_QUEUE	64
#define MOUNT_POOL_MAX	64	/* worker threads in all */

struct config;
struct loop;
struct mount;
struct mount_table;

/* A piece of file-system work; embedded in (and owned by) its caller. */
struct mount_job {
	struct pool_job	 pj;			/* the pool's */
	void		(*work)(struct mount_job *);	/* on a worker */
	void		(*done)(struct mount_job *);	/* on the loop */
	/* At mount_table_free(), for a job that never ran or whose done
	   was not called. */
	void		(*release)(struct mount_job *);
	struct mount	*mount;			/* set by mount_submit */
	long long	 started;		/* loop ms it went to a thread */
	TAILQ_ENTRY(mount_job) entry;		/* the mount's */
};

struct mount_stats {
	unsigned	 mounts;
	unsigned	 stalled;		/* mounts stalled now */
	unsigned long	 timeouts;		/* requests answered unavailable
						   for a stall */
	unsigned	 threads;		/* worker threads started */
	unsigned	 busy;			/* ... inside a job now */
};

/*
 * Returns the table of mounts: fs-timeout is read from cfg (kept by
 * reference), recovered(arg, mount) is called when a stalled mount
 * answers again. NULL with errno on failure.
 */
struct mount_table *mount_table_new(struct loop *, const struct config *,
	    void (*recovered)(void *arg, struct mount *), void *arg);
/* Frees the table. Jobs that did not run or did not come back go to
   their release function; those still on a thread are left to it (see
   pool_free()). */
void	mount_table_free(struct mount_table *);

/* The mount of the file system dev, mounted at point (a copy is kept,
   for logs), made on first use. NULL when memory is exhausted. */
struct mount *mount_get(struct mount_table *, dev_t dev, const char *point);
/* Where the work that finds proposals under the data root (the folder
   lookup) goes: a mount of its own, named after the data root. */
struct mount *mount_lookups(struct mount_table *, const char *data_root);
/* Where saves to files on local disks go: they fsync, which the loop
   must not wait for. */
struct mount *mount_local_writes(struct mount_table *);
/* Where user lookups (NSS: files, LDAP, SSSD) go: a "mount" named NSS,
   which stalls and recovers like a file system. */
struct mount *mount_users(struct mount_table *);

/*
 * Runs job->work on a worker, then job->done on the loop. Returns 0, or -1
 * when the job was not taken: errno EBUSY when the mount is stalled,
 * EAGAIN when it has MOUNT_QUEUE jobs waiting already.
 */
int	mount_submit(struct mount *, struct mount_job *);
/* 1 while the mount is stalled. */
int	mount_stalled(const struct mount *);
/* The mount point, for messages. */
const char *mount_point(const struct mount *);
/* Checks the mount's running jobs against fs-timeout now (a request just
   timed out waiting for it). */
void	mount_check(struct mount *);
/* Counts a request answered unavailable for a stall. */
void	mount_count_timeout(struct mount_table *);
void	mount_table_stats(struct mount_table *, struct mount_stats *);

#endif
