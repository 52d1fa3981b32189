/*
 * The answers of one handler process, counted by route and status and
 * handed over to watcherd (the socket command http_count), which keeps the
 * totals of every process: lighttpd runs several, and a plain CGI process
 * lives for one request. Counting an answer is an atomic increment; a
 * thread of its own sends what was counted at most once per
 * TALLY_INTERVAL_MS, so no request waits for watcherd on its account and
 * a count reaches watcherd within about that long, whatever its worker
 * does next (waits in a long-poll, or nothing).
 */
#ifndef TALLY_H
#define TALLY_H

#include <pthread.h>
#include <stdatomic.h>

#include "cgi/upstream.h"
#include "common/http_count.h"

#define TALLY_INTERVAL_MS	1000

struct tally {
	atomic_ullong	 n[HTTP_COUNT_ROUTES][HTTP_COUNT_STATUSES];
	atomic_int	 pending;	/* counted since the last take */
	int		 started;	/* the sending thread runs */
	pthread_t	 thread;
	pthread_mutex_t	 lock;		/* with wake: the thread's sleep */
	pthread_cond_t	 wake;
	pthread_mutex_t	 sending;	/* one flush at a time, over up */
	struct upstream	 up;
};

/* Prepares an empty tally that sends over its own connection to the
   socket at path. */
void	tally_init(struct tally *, const char *path, int timeout_ms);
/* Starts the thread that sends the counts. Returns 0, or -1 (then only
   tally_flush() sends them). */
int	tally_start(struct tally *);
/* Counts one answer; a status the handler never answers is not counted.
   Safe from any thread. */
void	tally_add(struct tally *, enum http_count_route, int status);
/*
 * Sends what was counted and not sent yet, now. Returns 0, or -1 when
 * watcherd could not be reached; the counts are then kept for the next
 * try (a reply that came too late may mean they arrived: they are sent
 * again, counted twice rather than lost). A watcherd that refuses them
 * (one without http_count) drops them.
 */
int	tally_flush(struct tally *);

#endif
