#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgi/tally.h"
#include "common/msg.h"

int
tally_init(struct tally *t, int n_slots, const char *path, int timeout_ms)
{
	int i, r, c;

	memset(t->sent, 0, sizeof(t->sent));
	t->n_slots = n_slots;
	if ((t->slots = aligned_alloc(_Alignof(struct tally_slot),
	    (size_t)n_slots * sizeof(*t->slots))) == NULL)
		return -1;
	for (i = 0; i < n_slots; i++)
		for (r = 0; r < HTTP_COUNT_ROUTES; r++)
			for (c = 0; c < HTTP_COUNT_STATUSES; c++)
				atomic_init(&t->slots[i].n[r][c], 0);
	atomic_init(&t->pending, 0);
	t->started = 0;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	pthread_mutex_init(&t->sending, NULL);
	upstream_init(&t->up, path, timeout_ms);
	return 0;
}

void
tally_add(struct tally *t, int slot, enum http_count_route route, int status)
{
	atomic_ullong *cell;
	int col = http_count_column(status);

	if (col == -1)
		return;
	/* The slot's own thread is its only writer: a load and a store,
	   no locked instruction, no line shared with another worker. */
	cell = &t->slots[slot].n[route][col];
	atomic_store_explicit(cell, atomic_load_explicit(cell,
	    memory_order_relaxed) + 1, memory_order_relaxed);
	/* Only the first answer after a take wakes the thread: the others
	   cost a load. */
	if (atomic_load_explicit(&t->pending, memory_order_relaxed) ||
	    atomic_exchange(&t->pending, 1) || !t->started)
		return;
	pthread_mutex_lock(&t->lock);
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
}

/* What the slots counted beyond what was sent, at most HTTP_COUNT_MAX_ADD
   a cell (the rest goes with the next flush), into *out. Returns how many
   cells are not zero. An answer counted while this runs is either in *out
   or pending again. Under t->sending. */
static int
take(struct tally *t, struct http_count_table *out)
{
	unsigned long long total, v;
	int i, r, c, cells = 0;

	atomic_store(&t->pending, 0);
	for (r = 0; r < HTTP_COUNT_ROUTES; r++)
		for (c = 0; c < HTTP_COUNT_STATUSES; c++) {
			total = 0;
			for (i = 0; i < t->n_slots; i++)
				total += atomic_load_explicit(
				    &t->slots[i].n[r][c], memory_order_relaxed);
			v = total - t->sent[r][c];
			if (v > HTTP_COUNT_MAX_ADD) {
				v = HTTP_COUNT_MAX_ADD;
				atomic_store(&t->pending, 1);
			}
			out->n[r][c] = v;
			cells += v != 0;
		}
	return cells;
}

/* watcherd has them: they count as sent. Under t->sending. */
static void
mark_sent(struct tally *t, const struct http_count_table *done)
{
	int r, c;

	for (r = 0; r < HTTP_COUNT_ROUTES; r++)
		for (c = 0; c < HTTP_COUNT_STATUSES; c++)
			t->sent[r][c] += done->n[r][c];
}

int
tally_flush(struct tally *t)
{
	char line[HTTP_COUNT_JSON_MAX + 64];
	struct http_count_table counts;
	struct reply reply;
	struct msg m;
	int rc = 0;

	pthread_mutex_lock(&t->sending);
	if (take(t, &counts) == 0)
		goto done;
	msg_init(&m, line, sizeof(line));
	msg_request_http_count(&m, &counts);
	if (m.full || upstream_call(&t->up, m.buf, m.len, &reply) == -1) {
		/* Not sent: still counted beyond sent, for the next try. */
		atomic_store(&t->pending, 1);
		rc = -1;
		goto done;
	}
	mark_sent(t, &counts);
	reply_free(&reply);
done:
	pthread_mutex_unlock(&t->sending);
	return rc;
}

static void *
tally_run(void *arg)
{
	struct tally *t = arg;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		pthread_mutex_lock(&t->lock);
		while (!atomic_load(&t->pending))
			pthread_cond_wait(&t->wake, &t->lock);
		pthread_mutex_unlock(&t->lock);
		/* At most one flush per interval: answers counted meanwhile
		   go with it. */
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
		    NULL) == EINTR)
			;
		tally_flush(t);
		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_sec += TALLY_INTERVAL_MS / 1000;
		next.tv_nsec += (TALLY_INTERVAL_MS % 1000) * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
	}
	return NULL;
}

int
tally_start(struct tally *t)
{
	pthread_attr_t attr;
	int rc;

	t->started = 1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = pthread_create(&t->thread, &attr, tally_run, t);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		t->started = 0;
	return rc == 0 ? 0 : -1;
}

void
tally_free(struct tally *t)
{
	upstream_close(&t->up);
	pthread_mutex_destroy(&t->sending);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	t->slots = NULL;
}
