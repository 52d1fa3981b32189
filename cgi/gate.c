#include "cgi/gate.h"

void
gate_init(struct gate *g, int places)
{
	pthread_mutex_init(&g->lock, NULL);
	g->free = places;
	g->parked = NULL;
}

void
gate_seat_init(struct gate_seat *s)
{
	pthread_cond_init(&s->wake, NULL);
	s->called = 0;
	s->next = NULL;
}

void
gate_take(struct gate *g, struct gate_seat *s)
{
	pthread_mutex_lock(&g->lock);
	if (g->free > 0)
		g->free--;
	else {
		/* gate_give() hands its place over to this seat. */
		s->called = 0;
		s->next = g->parked;
		g->parked = s;
		while (!s->called)
			pthread_cond_wait(&s->wake, &g->lock);
	}
	pthread_mutex_unlock(&g->lock);
}

void
gate_give(struct gate *g)
{
	struct gate_seat *s;

	pthread_mutex_lock(&g->lock);
	if ((s = g->parked) != NULL) {
		g->parked = s->next;
		s->called = 1;
		pthread_cond_signal(&s->wake);
	} else
		g->free++;
	pthread_mutex_unlock(&g->lock);
}
