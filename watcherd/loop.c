#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "common/proto.h"
#include "watcherd/loop.h"

#define LOOP_BATCH 256

struct deferred {
	void		*ptr;
	void		(*fn)(void *);
	struct deferred	*next;
};

struct loop {
	int			 epfd;
	int			 stop;
	long long		 now;
	struct loop_timer	*timers;	/* sorted by deadline */
	struct deferred		*deferred;
};

static void
loop_update(struct loop *l)
{
	l->now = proto_now_ms();
}

long long
loop_now(struct loop *l)
{
	return l->now;
}

struct loop *
loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(l);
		return NULL;
	}
	loop_update(l);
	return l;
}

static void
run_deferred(struct loop *l)
{
	struct deferred *d;

	while ((d = l->deferred) != NULL) {
		l->deferred = d->next;
		d->fn(d->ptr);
		free(d);
	}
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	run_deferred(l);
	close(l->epfd);
	free(l);
}

int
loop_add(struct loop *l, struct loop_io *io)
{
	struct epoll_event ev = { .events = io->events, .data.ptr = io };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev);
}

int
loop_set_events(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (io->events == events)
		return 0;
	io->events = events;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void
loop_remove(struct loop *l, struct loop_io *io)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->fn = NULL;
}

void
loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
	struct loop_timer **p;

	if (!t->armed)
		return;
	for (p = &l->timers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	t->armed = 0;
}

void
loop_timer_arm_at(struct loop *l, struct loop_timer *t, long long deadline)
{
	struct loop_timer **p;

	loop_timer_disarm(l, t);
	t->deadline = deadline;
	for (p = &l->timers; *p && (*p)->deadline <= deadline; p = &(*p)->next)
		;
	t->next = *p;
	*p = t;
	t->armed = 1;
}

void
loop_timer_arm(struct loop *l, struct loop_timer *t, long long delay_ms)
{
	loop_timer_arm_at(l, t, l->now + delay_ms);
}

void
loop_defer_free(struct loop *l, void *ptr, void (*fn)(void *))
{
	struct deferred *d = malloc(sizeof(*d));

	if (d == NULL) {
		/* Freeing now is the lesser evil than leaking for ever. */
		fn(ptr);
		return;
	}
	d->ptr = ptr;
	d->fn = fn;
	d->next = l->deferred;
	l->deferred = d;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

static void
run_timers(struct loop *l)
{
	struct loop_timer *t;

	loop_update(l);
	while ((t = l->timers) != NULL && t->deadline <= l->now) {
		l->timers = t->next;
		t->armed = 0;
		t->fn(t->arg);
	}
}

int
loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_BATCH];
	struct loop_io *io;
	long long wait;
	int n, i;

	l->stop = 0;
	while (!l->stop) {
		wait = -1;
		if (l->timers) {
			wait = l->timers->deadline - l->now;
			if (wait < 0)
				wait = 0;
		}
		n = epoll_wait(l->epfd, evs, LOOP_BATCH, (int)wait);
		if (n == -1 && errno != EINTR)
			return -1;
		loop_update(l);
		for (i = 0; i < n && !l->stop; i++) {
			io = evs[i].data.ptr;
			/* A callback earlier in the batch may have removed io;
			   its memory is still ours until run_deferred. */
			if (io->fn)
				io->fn(io->arg, evs[i].events);
		}
		run_timers(l);
		run_deferred(l);
	}
	return 0;
}
