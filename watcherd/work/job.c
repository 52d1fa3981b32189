#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watcherd/work/job.h"

struct jobs {
	struct loop		*loop;
	const struct config	*cfg;
	struct mount_table	*mounts;
	unsigned long		 seq;		/* of the newest job */
	void			(*recovered)(void *, struct mount *);
	void			*recovered_arg;
};


static void
waiter_detach(struct waiter *w)
{
	if (w->job == NULL)
		return;
	LIST_REMOVE(w, entry);
	w->job = NULL;
}

enum proto_error
job_stalled(struct jobs *js, struct waiter *w, unsigned proposal,
    const char **why)
{
	if (w) {
		/* A request answered so; a poll refused is no timeout. */
		mount_count_timeout(js->mounts);
		snprintf(w->detail, sizeof(w->detail), "the file system of "
		    "proposal %u is not responding", proposal);
		*why = w->detail;
	} else
		*why = "the file system is not responding";
	return PROTO_UNAVAILABLE;
}

/* The answer for a request whose job was refused or timed out; full: the
   mount's queue was, which is no stall. */
static enum proto_error
job_refused(struct job *j, struct waiter *w, int full, const char **why)
{
	if (!j->ops->file_system) {
		/* Not a file system's stall: fs_timeouts does not count it. */
		*why = j->late;
		return PROTO_UNAVAILABLE;
	}
	if (full && w) {
		snprintf(w->detail, sizeof(w->detail), "the file system of "
		    "proposal %u is busy: too many requests wait for it; try "
		    "again", j->proposal);
		*why = w->detail;
		return PROTO_UNAVAILABLE;
	}
	return job_stalled(j->jobs, w, j->proposal, why);
}

/* The deadline of a waiting request: answered unavailable, the job goes
   on (its result is still recorded when it comes). */
static void
waiter_expired(void *arg)
{
	struct waiter *w = arg;
	struct job *j = w->job;
	const char *why;

	if (j == NULL)
		return;
	waiter_detach(w);
	if (j->mj.mount)
		mount_check(j->mj.mount);
	job_refused(j, w, 0, &why);
	if (why != w->detail)
		snprintf(w->detail, sizeof(w->detail), "%s", why);
	w->timed_out = 1;
	w->resume(w->arg);
}

/* Work done outside records nothing, and holds nothing. */
static const struct job_ops outside_ops = { 0 };

int
job_prepare(struct job *j, const struct job_ops *ops, unsigned proposal,
    int dir_fd, const char *name)
{
	j->ops = ops;
	j->proposal = proposal;
	j->dir_fd = -1;
	if ((name && (j->name = strdup(name)) == NULL) || (dir_fd != -1 &&
	    (j->dir_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0)) == -1)) {
		free(j->name);
		j->name = NULL;
		return -1;
	}
	return 0;
}

void
job_destroy(struct job *j)
{
	if (j->dir_fd != -1)
		close(j->dir_fd);
	free(j->name);
	if (j->ops->clear)
		j->ops->clear(j);
	free(j);
}

static void
job_done(struct mount_job *mj)
{
	struct job *j = (struct job *)mj;
	struct waiter *w;

	if (j->ops->finish)
		j->ops->finish(j);
	while ((w = LIST_FIRST(&j->waiters)) != NULL) {
		waiter_detach(w);
		loop_timer_disarm(j->jobs->loop, &w->timer);
		w->result = j;
		w->resume(w->arg);
		w->result = NULL;
	}
	job_destroy(j);
}

struct job *
job_outside_new(struct jobs *js, int timeout_ms, const char *late)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	(void)job_prepare(j, &outside_ops, 0, -1, NULL);	/* holds nothing */
	j->timeout_ms = timeout_ms;
	j->late = late;
	j->jobs = js;
	j->seq = ++js->seq;
	return j;
}

enum proto_error
job_outside_wait(struct jobs *js, struct job *j, struct waiter *w,
    const char **why)
{
	if (w && w->timed_out) {
		*why = w->detail;
		return PROTO_UNAVAILABLE;
	}
	return job_wait(js, j, w);
}

void
job_outside_done(struct job *j)
{
	job_done(&j->mj);
}

static void
job_release(struct mount_job *mj)
{
	struct job *j = (struct job *)mj;

	while (!LIST_EMPTY(&j->waiters))
		waiter_detach(LIST_FIRST(&j->waiters));
	if (j->ops->abandon)
		j->ops->abandon(j);
	job_destroy(j);
}

enum proto_error
job_start(struct jobs *js, struct mount *m, struct job *j,
    struct waiter *w, const char **why)
{
	enum proto_error e;

	j->jobs = js;
	j->seq = ++js->seq;
	j->mj.work = j->ops->work;
	j->mj.done = job_done;
	j->mj.release = job_release;
	if (mount_submit(m, &j->mj) == -1) {
		e = job_refused(j, w, errno == EAGAIN, why);
		job_destroy(j);
		return e;
	}
	return PROTO_OK;
}

enum proto_error
job_wait(struct jobs *js, struct job *j, struct waiter *w)
{
	if (w == NULL)
		return PROTO_PENDING;	/* nobody waits: the result is recorded */
	waiter_detach(w);
	w->job = j;
	LIST_INSERT_HEAD(&j->waiters, w, entry);
	if (w->min_seq > j->seq)
		w->min_seq = j->seq;
	loop_timer_arm_at(js->loop, &w->timer, w->began + (j->timeout_ms ?
	    (long long)j->timeout_ms : (long long)js->cfg->fs_timeout_ms));
	return PROTO_PENDING;
}

enum proto_error
job_run(struct jobs *js, struct mount *m, struct job *j, struct job **slot,
    struct waiter *w, const char **why)
{
	enum proto_error e;

	if ((e = job_start(js, m, j, w, why)) != PROTO_OK)
		return e;
	if (slot)
		*slot = j;
	return job_wait(js, j, w);
}

struct job *
job_result(const struct waiter *w, const struct job_ops *ops)
{
	return w && w->result && w->result->ops == ops ? w->result : NULL;
}

void
waiter_begin(struct jobs *js, struct waiter *w,
    void (*resume)(void *), void *arg)
{
	/* On every request: set what the request needs, no more (the detail
	   is written only when it is used). */
	w->job = w->result = NULL;
	w->timed_out = 0;
	w->resume = resume;
	w->arg = arg;
	w->timer = (struct loop_timer){ .fn = waiter_expired, .arg = w };
	w->began = loop_now(js->loop);
	/* Only a check submitted from now on tells about this request. */
	w->min_seq = js->seq + 1;
}

void
waiter_restart(struct jobs *js, struct waiter *w)
{
	w->began = loop_now(js->loop);
}

void
waiter_end(struct jobs *js, struct waiter *w)
{
	waiter_detach(w);
	loop_timer_disarm(js->loop, &w->timer);
	w->timed_out = 0;
}

/* A mount answers again: whoever asked is told. */
static void
mount_recovered(void *arg, struct mount *m)
{
	struct jobs *js = arg;

	if (js->recovered)
		js->recovered(js->recovered_arg, m);
}

struct jobs *
jobs_new(struct loop *loop, const struct config *cfg)
{
	struct jobs *js;

	if ((js = calloc(1, sizeof(*js))) == NULL)
		return NULL;
	js->loop = loop;
	js->cfg = cfg;
	if ((js->mounts = mount_table_new(loop, cfg, mount_recovered, js)) ==
	    NULL) {
		free(js);
		return NULL;
	}
	return js;
}

void
jobs_free(struct jobs *js)
{
	if (js == NULL)
		return;
	mount_table_free(js->mounts);
	free(js);
}

void
jobs_on_recovered(struct jobs *js, void (*fn)(void *, struct mount *),
    void *arg)
{
	js->recovered = fn;
	js->recovered_arg = arg;
}

struct mount_table *
jobs_mounts(struct jobs *js)
{
	return js->mounts;
}

struct loop *
jobs_loop(const struct jobs *js)
{
	return js->loop;
}
