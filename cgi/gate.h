/*
 * How many workers of a process answer ordinary requests at once. A
 * process has hundreds of workers so that every held request (a long-poll,
 * an event stream) has its own, but letting them all wait in accept()
 * makes ordinary requests slow: Linux hands connections to the threads
 * blocked in accept() in turn, so under load each request wakes another
 * sleeping thread, where a few busy ones would have found the next
 * connection waiting. The gate gives out a few places: a worker takes one
 * before accept() and keeps it from request to request; a request that
 * becomes held gives its place up (request_hold()), and its worker takes
 * one again once the answer is done. Workers without a place are parked,
 * the last parked called first.
 */
#ifndef GATE_H
#define GATE_H

#include <pthread.h>

struct gate_seat {
	pthread_cond_t		 wake;
	int			 called;
	struct gate_seat	*next;
};

struct gate {
	pthread_mutex_t		 lock;
	int			 free;		/* places nobody has */
	struct gate_seat	*parked;	/* the last parked first */
};

void	gate_init(struct gate *, int places);
void	gate_seat_init(struct gate_seat *);
/* Takes a place, parked on the worker's seat until one is free. */
void	gate_take(struct gate *, struct gate_seat *);
/* Gives a place back, to the worker parked last if there is one. */
void	gate_give(struct gate *);

#endif
