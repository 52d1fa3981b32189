#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cgi/tally.h"

void
tally_init(struct tally *t, const char *path, int timeout_ms)
{
	int r, s;

	for (r = 0; r < HTTP_COUNT_ROUTES; r++)
		for (s = 0; s < HTTP_COUNT_STATUSES; s++)
			atomic_init(&t->n[r][s], 0);
	atomic_init(&t->pending, 0);
	t->started = 0;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	pthread_mutex_init(&t->sending, NULL);
	upstream_init(&t->up, path, timeout_ms);
}

void
tally_add(struct tally *t, enum http_count_route route, int status)
{
	int col = http_count_column(status);

	if (col == -1)
		return;
	atomic_fetch_add(&t->n[route][col], 1);
	/* Only the first answer after a take wakes the thread: the others
	   cost the increment and a load. */
	if (atomic_load(&t->pending) || atomic_exchange(&t->pending, 1) ||
	    !t->started)
		return;
	pthread_mutex_lock(&t->lock);
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
}

/* Moves the counts into *out, at most HTTP_COUNT_MAX_ADD a cell (the rest
   stays for the next flush). Returns how many cells are not zero. An
   answer counted while this runs is either in *out or pending again. */
static int
take(struct tally *t, struct http_count_table *out)
{
	unsigned long long v;
	int r, s, cells = 0;

	atomic_store(&t->pending, 0);
	for (r = 0; r < HTTP_COUNT_ROUTES; r++)
		for (s = 0; s < HTTP_COUNT_STATUSES; s++) {
			v = atomic_exchange(&t->n[r][s], 0);
			if (v > HTTP_COUNT_MAX_ADD) {
				atomic_fetch_add(&t->n[r][s],
				    v - HTTP_COUNT_MAX_ADD);
				atomic_store(&t->pending, 1);
				v = HTTP_COUNT_MAX_ADD;
			}
			out->n[r][s] = v;
			cells += v != 0;
		}
	return cells;
}

static void
give_back(struct tally *t, const struct http_count_table *from)
{
	int r, s;

	for (r = 0; r < HTTP_COUNT_ROUTES; r++)
		for (s = 0; s < HTTP_COUNT_STATUSES; s++)
			if (from->n[r][s])
				atomic_fetch_add(&t->n[r][s], from->n[r][s]);
	atomic_store(&t->pending, 1);
}

int
tally_flush(struct tally *t)
{
	static const char head[] = "{\"cmd\":\"http_count\",\"counts\":";
	char line[sizeof(head) + HTTP_COUNT_JSON_MAX + 1];
	struct http_count_table counts;
	struct json_object *reply;
	size_t len;
	int rc = 0;

	pthread_mutex_lock(&t->sending);
	if (take(t, &counts) == 0)
		goto done;
	memcpy(line, head, sizeof(head) - 1);
	len = sizeof(head) - 1;
	len += http_count_format(&counts, line + len, sizeof(line) - len - 1);
	line[len++] = '}';
	if (upstream_call(&t->up, line, len, &reply, NULL, NULL) == -1) {
		give_back(t, &counts);
		rc = -1;
		goto done;
	}
	json_object_put(reply);
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
