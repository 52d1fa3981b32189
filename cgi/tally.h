/*
 * The answers of one handler process, counted by route and status and
 * handed over to watcherd (the socket command http_count), which keeps the
 * totals of every process: lighttpd runs several, and a plain CGI process
 * lives for one request. Each worker counts in a slot of its own (its own
 * cache lines, a plain increment: no other thread writes them); a thread
 * of the tally's sends what was counted at most once per
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

/* One worker's counts, only ever growing; written by that worker only. */
struct tally_slot {
	_Alignas(64) atomic_ullong n[HTTP_COUNT_ROUTES][HTTP_COUNT_STATUSES];
};

struct tally {
	struct tally_slot *slots;
	int		 n_slots;
	unsigned long long sent[HTTP_COUNT_ROUTES][HTTP_COUNT_STATUSES];
					/* what watcherd has of the slots'
					   sums; under sending */
	atomic_int	 pending;	/* counted since the last take */
	int		 started;	/* the sending thread runs */
	pthread_t	 thread;
	pthread_mutex_t	 lock;		/* with wake: the thread's sleep */
	pthread_cond_t	 wake;
	pthread_mutex_t	 sending;	/* one flush at a time, over up */
	struct upstream	 up;
};

/* Prepares an empty tally of n_slots slots (one per worker) that sends
   over its own connection to the socket at path. Returns 0, or -1 when
   memory is exhausted. */
int	tally_init(struct tally *, int n_slots, const char *path,
	    int timeout_ms);
/* Starts the thread that sends the counts. Returns 0, or -1 (then only
   tally_flush() sends them). */
int	tally_start(struct tally *);
/* Counts one answer in slot (the calling worker's, 0 to n_slots - 1); a
   status the handler never answers is not counted. One thread per slot. */
void	tally_add(struct tally *, int slot, enum http_count_route, int status);
/*
 * Sends what was counted and not sent yet, now. Returns 0, or -1 when
 * watcherd could not be reached; the counts are then kept for the next
 * try (a reply that came too late may mean they arrived: they are sent
 * again, counted twice rather than lost). A watcherd that refuses them
 * (one without http_count) drops them.
 */
int	tally_flush(struct tally *);
/* Frees a tally whose thread was never started (a plain CGI process's);
   what was not flushed is lost. */
void	tally_free(struct tally *);

#endif
