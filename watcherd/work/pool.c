#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "watcherd/loop.h"
#include "watcherd/work/pool.h"

#define POOL_STACK_SIZE	(256u << 10)	/* a job needs little: no recursion */

struct pool {
	pthread_mutex_t	 lock;
	pthread_cond_t	 wake;
	struct pool_job	*queue, *queue_tail;	/* waiting for a thread */
	struct pool_job	*finished;		/* for the loop, newest first */
	unsigned	 max_threads;
	unsigned	 threads;		/* running */
	unsigned	 idle;
	int		 stopping;
	int		 orphaned;	/* freed by its last thread */
	void		(*release)(struct pool_job *);	/* once stopping */
	int		 efd;
	struct loop	*loop;
	struct loop_io	 io;
	pthread_t	*ids;
};

static void
pool_destroy(struct pool *p)
{
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	if (p->efd != -1)
		close(p->efd);
	free(p->ids);
	free(p);
}

static void *
pool_thread(void *arg)
{
	struct pool *p = arg;
	struct pool_job *job;
	uint64_t one = 1;
	int signal_loop, last;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->queue == NULL && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->wake, &p->lock);
			p->idle--;
		}
		if (p->stopping)
			break;
		job = p->queue;
		if ((p->queue = job->next) == NULL)
			p->queue_tail = NULL;
		pthread_mutex_unlock(&p->lock);

		job->work(job);

		pthread_mutex_lock(&p->lock);
		if (p->stopping) {
			/* Nobody takes it back any more. */
			pthread_mutex_unlock(&p->lock);
			if (p->release)
				p->release(job);
			pthread_mutex_lock(&p->lock);
			break;
		}
		signal_loop = p->finished == NULL;
		job->next = p->finished;
		p->finished = job;
		/* One wake-up for a batch: the loop takes the whole list. */
		if (signal_loop)
			(void)!write(p->efd, &one, sizeof(one));
	}
	p->threads--;
	last = p->orphaned && p->threads == 0;
	pthread_mutex_unlock(&p->lock);
	if (last)
		pool_destroy(p);
	return NULL;
}

/* The loop's side: every finished job's done function. */
static void
pool_readable(void *arg, uint32_t events)
{
	struct pool *p = arg;
	struct pool_job *list, *job, *prev = NULL;
	uint64_t n;

	(void)events;
	(void)!read(p->efd, &n, sizeof(n));
	pthread_mutex_lock(&p->lock);
	list = p->finished;
	p->finished = NULL;
	pthread_mutex_unlock(&p->lock);
	/* Oldest first. */
	while (list) {
		job = list;
		list = job->next;
		job->next = prev;
		prev = job;
	}
	while ((job = prev) != NULL) {
		prev = job->next;
		job->next = NULL;
		job->done(job);
	}
}

struct pool *
pool_new(struct loop *loop, unsigned max_threads)
{
	struct pool *p;

	if (max_threads == 0)
		max_threads = 1;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->efd = -1;
	if ((p->ids = calloc(max_threads, sizeof(*p->ids))) == NULL) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->max_threads = max_threads;
	p->loop = loop;
	if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	p->io = (struct loop_io){ .fd = p->efd, .events = EPOLLIN,
	    .fn = pool_readable, .arg = p };
	if (loop_add(loop, &p->io) == -1)
		goto fail;
	return p;
fail:
	pool_destroy(p);
	return NULL;
}

static void
release_list(struct pool_job *list, void (*release)(struct pool_job *))
{
	struct pool_job *job;

	while ((job = list) != NULL) {
		list = job->next;
		if (release)
			release(job);
	}
}

void
pool_free(struct pool *p, void (*release)(struct pool_job *))
{
	struct pool_job *queued, *finished;
	unsigned i, started;
	int busy;

	if (p == NULL)
		return;
	loop_remove(p->loop, &p->io);
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	p->release = release;
	pthread_cond_broadcast(&p->wake);
	queued = p->queue;
	finished = p->finished;
	p->queue = p->queue_tail = p->finished = NULL;
	started = p->threads;
	busy = p->threads > p->idle;
	if (busy) {
		/* Some thread is inside a file system that does not answer:
		   it frees the pool when it gets out, if ever. Detached
		   under the lock, before the last of them can free p. */
		p->orphaned = 1;
		for (i = 0; i < started; i++)
			pthread_detach(p->ids[i]);
	}
	pthread_mutex_unlock(&p->lock);
	release_list(queued, release);
	release_list(finished, release);
	if (busy)
		return;
	for (i = 0; i < started; i++)
		pthread_join(p->ids[i], NULL);
	pool_destroy(p);
}

int
pool_submit(struct pool *p, struct pool_job *job)
{
	pthread_attr_t attr;
	int r = 0;

	job->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->idle == 0 && p->threads < p->max_threads) {
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, POOL_STACK_SIZE);
		if (pthread_create(&p->ids[p->threads], &attr, pool_thread,
		    p) == 0)
			p->threads++;
		else if (p->threads == 0)
			r = -1;
		pthread_attr_destroy(&attr);
	}
	if (r == 0) {
		if (p->queue_tail)
			p->queue_tail->next = job;
		else
			p->queue = job;
		p->queue_tail = job;
		pthread_cond_signal(&p->wake);
	} else
		errno = EAGAIN;
	pthread_mutex_unlock(&p->lock);
	return r;
}

void
pool_counts(struct pool *p, unsigned *threads, unsigned *busy)
{
	pthread_mutex_lock(&p->lock);
	*threads = p->threads;
	*busy = p->threads - p->idle;
	pthread_mutex_unlock(&p->lock);
}
