/*
 * A small epoll event loop, after redis' ae: descriptors with callbacks,
 * one-shot timers embedded in their owners, and frees deferred to the end
 * of an iteration so that a callback may close an object that another
 * event of the same batch still names.
 */
#ifndef LOOP_H
#define LOOP_H

#include <stdint.h>

struct loop;

typedef void loop_io_fn(void *arg, uint32_t events);
typedef void loop_timer_fn(void *arg);

/* A registered descriptor; embedded in (and owned by) whoever reads it. */
struct loop_io {
	int		 fd;
	uint32_t	 events;	/* EPOLLIN, EPOLLOUT */
	loop_io_fn	*fn;
	void		*arg;
};

/* A one-shot timer; embedded in its owner, armed at most once at a time. */
struct loop_timer {
	long long		 deadline;	/* loop_now() milliseconds */
	loop_timer_fn		*fn;
	void			*arg;
	struct loop_timer	*next;
	int			 armed;
};

/* Returns a new loop, or NULL with errno. */
struct loop	*loop_new(void);
/* Frees the loop (running any deferred frees); registered objects stay
   their owners'. */
void		 loop_free(struct loop *);

/* Registers io->fd for io->events. Returns 0, or -1 with errno. */
int	loop_add(struct loop *, struct loop_io *);
/* Changes the events io waits for. */
int	loop_set_events(struct loop *, struct loop_io *, uint32_t events);
/* Unregisters io; its callback is not called again. */
void	loop_remove(struct loop *, struct loop_io *);

/* Arms t to fire once, delay_ms from now (re-arming moves it). */
void	loop_timer_arm(struct loop *, struct loop_timer *, long long delay_ms);
/* Arms t for an absolute loop_now() deadline. */
void	loop_timer_arm_at(struct loop *, struct loop_timer *, long long deadline);
void	loop_timer_disarm(struct loop *, struct loop_timer *);

/* Calls fn(ptr) after the current batch of events has been dispatched. */
void	loop_defer_free(struct loop *, void *ptr, void (*fn)(void *));

/* Monotonic milliseconds, read once per iteration (and by loop_update). */
long long loop_now(struct loop *);

/* Runs until loop_stop(); returns 0, or -1 with errno when epoll fails. */
int	loop_run(struct loop *);
void	loop_stop(struct loop *);

#endif
