/*
 * Worker threads for file-system work that may block for a long time (a
 * stat on a stalled GPFS or NFS mount), after libuv's threadpool and
 * Samba's pthreadpool: a job goes in with everything it needs, a worker
 * runs its work function, and the loop gets it back through an eventfd and
 * runs its done function. Workers touch nothing but their job; only the
 * loop changes shared state. A job that never returns costs its thread,
 * never the loop.
 */
#ifndef POOL_H
#define POOL_H

struct loop;
struct pool;

struct pool_job {
	/* On a worker thread: reads the job's inputs, fills its outputs. */
	void		(*work)(struct pool_job *);
	/* On the loop, once work has returned. The job is the caller's
	   again. */
	void		(*done)(struct pool_job *);
	struct pool_job	*next;		/* the pool's */
};

/*
 * Returns a pool that starts threads on demand, at most max_threads, and
 * hands finished jobs back through loop. NULL with errno on failure.
 */
struct pool	*pool_new(struct loop *, unsigned max_threads);
/*
 * Stops the threads and frees the pool. Jobs not started, and jobs
 * finished but not handed back yet, go to release (when not NULL), on this
 * thread; a job still on a worker (a file system that does not answer)
 * goes to release on that worker when it returns, if ever before the
 * process ends.
 */
void		 pool_free(struct pool *, void (*release)(struct pool_job *));
/*
 * Queues job for the next free thread, starting one when all are busy and
 * fewer than max_threads run. Returns 0, or -1 with errno when no thread
 * could be started and none is idle (the job is not queued then).
 */
int		 pool_submit(struct pool *, struct pool_job *);
/* Threads started, and how many of them are inside a job now. */
void		 pool_counts(struct pool *, unsigned *threads, unsigned *busy);

#endif
