#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watcherd/watch_int.h"


static void
waiter_detach(struct watch_waiter *w)
{
	struct job *j = w->job;

	if (j == NULL)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		j->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->job = NULL;
}

enum proto_error
job_stalled(struct watch_table *t, struct watch_waiter *w, unsigned proposal,
    const char **why)
{
	if (w) {
		/* A request answered so; a poll refused is no timeout. */
		mount_count_timeout(t->mounts);
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
job_refused(struct job *j, struct watch_waiter *w, int full, const char **why)
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
	return job_stalled(j->t, w, j->proposal, why);
}

/* The deadline of a waiting request: answered unavailable, the job goes
   on (its result is still recorded when it comes). */
static void
waiter_expired(void *arg)
{
	struct watch_waiter *w = arg;
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

/* Work done outside the table records nothing in it. */
static void
outside_finish(struct job *j)
{
	(void)j;
}

static void
outside_destroy(struct job *j)
{
	free(j);
}

static const struct job_ops outside_ops = {
	.finish = outside_finish,
	.destroy = outside_destroy,
};

static void
job_done(struct mount_job *mj)
{
	struct job *j = (struct job *)mj;
	struct watch_waiter *w;

	j->ops->finish(j);
	while ((w = j->waiters) != NULL) {
		waiter_detach(w);
		loop_timer_disarm(j->t->loop, &w->timer);
		w->result = j;
		w->resume(w->arg);
		w->result = NULL;
	}
	j->ops->destroy(j);
}

struct job *
watch_job_new(struct watch_table *t, int timeout_ms, const char *late)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->timeout_ms = timeout_ms;
	j->late = late;
	j->t = t;
	j->seq = ++t->seq;
	j->ops = &outside_ops;
	return j;
}

enum proto_error
watch_job_wait(struct watch_table *t, struct job *j, struct watch_waiter *w,
    const char **why)
{
	if (w && w->timed_out) {
		*why = w->detail;
		return PROTO_UNAVAILABLE;
	}
	return job_wait(t, j, w);
}

void
watch_job_done(struct job *j)
{
	job_done(&j->mj);
}

static void
job_release(struct mount_job *mj)
{
	struct job *j = (struct job *)mj;

	while (j->waiters)
		waiter_detach(j->waiters);
	if (j->ops->abandon)
		j->ops->abandon(j);
	j->ops->destroy(j);
}

enum proto_error
job_start(struct watch_table *t, struct mount *m, struct job *j,
    struct watch_waiter *w, const char **why)
{
	enum proto_error e;

	j->t = t;
	j->seq = ++t->seq;
	j->mj.work = j->ops->work;
	j->mj.done = job_done;
	j->mj.release = job_release;
	if (mount_submit(m, &j->mj) == -1) {
		e = job_refused(j, w, errno == EAGAIN, why);
		j->ops->destroy(j);
		return e;
	}
	return PROTO_OK;
}

enum proto_error
job_wait(struct watch_table *t, struct job *j, struct watch_waiter *w)
{
	if (w == NULL)
		return PROTO_PENDING;	/* nobody waits: the result is recorded */
	waiter_detach(w);
	w->job = j;
	w->prev = NULL;
	w->next = j->waiters;
	if (j->waiters)
		j->waiters->prev = w;
	j->waiters = w;
	if (w->min_seq > j->seq)
		w->min_seq = j->seq;
	loop_timer_arm_at(t->loop, &w->timer, w->began + (j->timeout_ms ?
	    (long long)j->timeout_ms : (long long)t->cfg->fs_timeout_ms));
	return PROTO_PENDING;
}

void
watch_wait_begin(struct watch_table *t, struct watch_waiter *w,
    void (*resume)(void *), void *arg)
{
	/* On every request: set what the request needs, no more (the detail
	   is written only when it is used). */
	w->prev = w->next = NULL;
	w->job = w->result = NULL;
	w->timed_out = 0;
	w->resume = resume;
	w->arg = arg;
	w->timer = (struct loop_timer){ .fn = waiter_expired, .arg = w };
	w->began = loop_now(t->loop);
	/* Only a check submitted from now on tells about this request. */
	w->min_seq = t->seq + 1;
}

void
watch_wait_restart(struct watch_table *t, struct watch_waiter *w)
{
	w->began = loop_now(t->loop);
}

void
watch_wait_end(struct watch_table *t, struct watch_waiter *w)
{
	waiter_detach(w);
	loop_timer_disarm(t->loop, &w->timer);
	w->timed_out = 0;
}
