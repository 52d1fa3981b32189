#include <stdio.h>
#include <string.h>

#include "watcherd/watch_int.h"

#define JOB_ROUNDS_MAX	4	/* waits of one request */

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
	mount_check(j->mj.mount);
	job_stalled(j->t, w, j->proposal, &why);
	w->timed_out = 1;
	w->resume(w->arg);
}

static void
job_done(struct mount_job *mj)
{
	struct job *j = (struct job *)mj;
	struct watch_waiter *w;

	j->finish(j);
	while ((w = j->waiters) != NULL) {
		waiter_detach(w);
		loop_timer_disarm(j->t->loop, &w->timer);
		w->result = j;
		w->resume(w->arg);
		w->result = NULL;
	}
	j->destroy(j);
}

static void
job_release(struct mount_job *mj)
{
	struct job *j = (struct job *)mj;

	while (j->waiters)
		waiter_detach(j->waiters);
	j->destroy(j);
}

enum proto_error
job_start(struct watch_table *t, struct mount *m, struct job *j,
    struct watch_waiter *w, const char **why)
{
	j->t = t;
	j->seq = ++t->seq;
	j->mj.done = job_done;
	j->mj.release = job_release;
	if (mount_submit(m, &j->mj) == -1) {
		j->destroy(j);
		return job_stalled(t, w, j->proposal, why);
	}
	return PROTO_OK;
}

enum proto_error
job_wait(struct watch_table *t, struct job *j, struct watch_waiter *w,
    const char **why)
{
	if (w == NULL)
		return PROTO_PENDING;	/* nobody waits: the result is recorded */
	if (++w->rounds > JOB_ROUNDS_MAX) {
		*why = "the file changed at every look; try again";
		return PROTO_UNAVAILABLE;
	}
	waiter_detach(w);
	w->job = j;
	w->prev = NULL;
	w->next = j->waiters;
	if (j->waiters)
		j->waiters->prev = w;
	j->waiters = w;
	if (w->min_seq > j->seq)
		w->min_seq = j->seq;
	loop_timer_arm_at(t->loop, &w->timer,
	    w->began + (long long)t->cfg->fs_timeout_ms);
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
	w->rounds = 0;
	w->timed_out = 0;
	w->resume = resume;
	w->arg = arg;
	w->timer = (struct loop_timer){ .fn = waiter_expired, .arg = w };
	w->began = loop_now(t->loop);
	/* Only a check submitted from now on tells about this request. */
	w->min_seq = t->seq + 1;
}

void
watch_wait_end(struct watch_table *t, struct watch_waiter *w)
{
	waiter_detach(w);
	loop_timer_disarm(t->loop, &w->timer);
	w->timed_out = 0;
	w->rounds = 0;
}
