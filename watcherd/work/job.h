/*
 * Work off the loop, the entry of its room (watcherd/work/): jobs, and
 * the requests that wait for them. A job is one piece of work of a kind
 * (a table of operations: a folder's lookup, a file's check, a poll
 * batch, a replacement, an account's lookup, the kernel's verdict),
 * run by a worker of the mount it concerns (mount.h: per file system
 * bounds and stall detection; pool.h: the threads). Back on the loop the
 * kind records its result (finish), then every waiter resumes, with
 * w->result set to the job during the resume, and asks again: the result
 * is where the kind recorded it. A waiter waits no longer than fs-timeout
 * (or its job's own timeout) from its start, however many jobs it waits
 * for; then it resumes with timed_out set and a detail for a person.
 *
 * Work not done by a worker (a site's access command, a validator) is
 * waited for the same way: job_outside_new(), job_outside_wait(),
 * job_outside_done().
 */
#ifndef JOB_H
#define JOB_H

#include <sys/queue.h>

#include "common/config.h"
#include "common/proto.h"
#include "watcherd/loop.h"
#include "watcherd/work/mount.h"

struct job;
struct jobs;

/* A request that may wait; embedded in its owner, who calls
   waiter_begin() when the request arrives and waiter_end() once it is
   answered. The fields are the room's; detail and result may be read. */
struct waiter {
	LIST_ENTRY(waiter)	 entry;		/* on the job waited for */
	struct job		*job;		/* waited for, or NULL */
	struct job		*result;	/* the job done, during resume */
	unsigned long		 min_seq;	/* older checks are stale */
	long long		 began;
	struct loop_timer	 timer;
	void			(*resume)(void *arg);
	void			*arg;
	int			 timed_out;
	char			 detail[96];
};

/* What a kind of job does. */
struct job_ops {
	/* On a worker (none for work outside). */
	void		(*work)(struct mount_job *);
	/* On the loop when the work is done, before the waiters resume:
	   records the result. Optional. */
	void		(*finish)(struct job *);
	/* Frees what the job holds of its kind's (it was finished, or never
	   ran); job_destroy() then frees the job. Optional. */
	void		(*clear)(struct job *);
	/* Optional: before clear, for a job that will not finish. */
	void		(*abandon)(struct job *);
	/* 1: the work is the file system's, so that a job refused or late
	   is a stalled (or busy) file system; 0: it is not, and the
	   request is told the job's own late detail. */
	int		 file_system;
};

/* A piece of work and the requests that wait for it; embedded first in
   the job of each kind, set up with job_prepare() (and the optional
   timeout_ms and late). */
struct job {
	struct mount_job	 mj;
	const struct job_ops	*ops;
	struct jobs		*jobs;
	unsigned long		 seq;		/* order of submission */
	unsigned		 proposal;
	LIST_HEAD(, waiter)	 waiters;
	int			 timeout_ms;	/* a request waits this long;
						   0: fs-timeout */
	const char		*late;		/* not the file system's: the
						   detail for a request that
						   waited so long */
	int			 dir_fd;	/* the directory the work is
						   beneath, a duplicate: the
						   job's; -1: none */
	char			*name;		/* what it works on (a file's,
						   a user's name), the job's */
};

/*
 * Sets up the job j of a kind (zeroed by the caller): its operations, its
 * proposal, a duplicate of dir_fd (-1: none) and a copy of name (NULL:
 * none), both freed with it. Returns 0, or -1 when out of memory (then it
 * holds nothing, and the caller frees its kind's struct).
 */
int	job_prepare(struct job *, const struct job_ops *, unsigned proposal,
	    int dir_fd, const char *name);
/* Frees j, started or not: what job_prepare() took, what its kind holds
   (clear), and j itself. */
void	job_destroy(struct job *);

/* The room of cfg (kept by reference), its mounts and workers. NULL
   when out of memory. */
struct jobs	*jobs_new(struct loop *, const struct config *);
/* Stops the workers; the jobs not done are released. */
void		 jobs_free(struct jobs *);
/* Calls fn(arg, m) when mount m answers again after a stall. */
void		 jobs_on_recovered(struct jobs *,
		    void (*fn)(void *arg, struct mount *), void *arg);
struct mount_table *jobs_mounts(struct jobs *);
struct loop	*jobs_loop(const struct jobs *);

/*
 * Runs j on mount m (j->seq is set). Returns PROTO_OK, or
 * PROTO_UNAVAILABLE with *why (in w, when given) when the mount is
 * stalled (the refusal counted) or its queue full: j was destroyed then.
 */
enum proto_error job_start(struct jobs *, struct mount *, struct job *,
	    struct waiter *, const char **why);
/* Makes w wait for j. Returns PROTO_PENDING (also without a waiter: the
   result is recorded for whoever asks next). */
enum proto_error job_wait(struct jobs *, struct job *, struct waiter *);
/*
 * job_start(), then records j in *slot (the owner's pointer to its work
 * under way, which the kind's finish clears; NULL: none) and makes w wait
 * for it. Returns PROTO_PENDING, or the refusal with *why (j destroyed).
 */
enum proto_error job_run(struct jobs *, struct mount *, struct job *,
	    struct job **slot, struct waiter *, const char **why);
/* The job of kind ops that w is resumed by (during the resume), or
   NULL: what the request asked for, answered, however old. */
struct job	*job_result(const struct waiter *, const struct job_ops *ops);
/* The answer for a request about proposal on a stalled file system
   (detail in w), counted. */
enum proto_error job_stalled(struct jobs *, struct waiter *,
	    unsigned proposal, const char **why);

/* Work outside, late after timeout_ms (0: fs-timeout) with the detail
   late. NULL when out of memory. */
struct job	*job_outside_new(struct jobs *, int timeout_ms,
		    const char *late);
/* Makes w wait for it: PROTO_PENDING, or PROTO_UNAVAILABLE with *why
   once w has waited too long. */
enum proto_error job_outside_wait(struct jobs *, struct job *,
	    struct waiter *, const char **why);
/* It is over: its waiters resume, and it is freed. */
void		 job_outside_done(struct job *);

/* Starts a request: resume(arg) is how it is taken up again. */
void	waiter_begin(struct jobs *, struct waiter *,
	    void (*resume)(void *arg), void *arg);
/* Ends it: it waits for nothing any more. */
void	waiter_end(struct jobs *, struct waiter *);
/* The request begins a new stage (a save's replacement, a payload read):
   what it waits for from now has its full time, counted from now. */
void	waiter_restart(struct jobs *, struct waiter *);

#endif
