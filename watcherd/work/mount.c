#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "watcherd/loop.h"
#include "watcherd/work/mount.h"
#include "watcherd/table.h"

#define LOOKUP_DEV	((dev_t)-1)	/* the lookups' mount */
#define USERS_DEV	((dev_t)-2)	/* the user database's */
#define WRITES_DEV	((dev_t)-3)	/* saves to local disks */

struct mount {
	struct mount_table	*mt;
	struct mount		*next;		/* every mount */
	dev_t			 dev;
	char			*point;
	TAILQ_HEAD(, mount_job)	 running;	/* oldest first */
	TAILQ_HEAD(, mount_job)	 queue;
	unsigned		 n_running, n_queued;
	int			 stalled;
	long long		 stalled_at;
};

struct mount_table {
	struct loop		*loop;
	const struct config	*cfg;
	struct pool		*pool;
	struct table		*by_dev;
	struct mount		*all;
	struct loop_timer	 check_timer;
	void			(*recovered)(void *, struct mount *);
	void			*arg;
	unsigned long		 timeouts;
};

static void	start_queued(struct mount *);

static long long
check_interval(const struct mount_table *mt)
{
	long long ms = mt->cfg->fs_timeout_ms / 4;

	return ms < 10 ? 10 : ms;
}

/* Marks m stalled when its oldest running job has run over fs-timeout. */
void
mount_check(struct mount *m)
{
	struct mount_table *mt = m->mt;
	struct mount_job *oldest = TAILQ_FIRST(&m->running);
	long long now = loop_now(mt->loop);

	if (m->stalled || oldest == NULL ||
	    now - oldest->started < (long long)mt->cfg->fs_timeout_ms)
		return;
	m->stalled = 1;
	m->stalled_at = now;
	log_warn("fs_stalled", "mount=%s jobs=%u waiting=%u "
	    "reason=\"no answer for %lld ms\" action=\"answer unavailable "
	    "until it answers\"", log_str(m->point), m->n_running, m->n_queued,
	    now - oldest->started);
}

static void
check_fire(void *arg)
{
	struct mount_table *mt = arg;
	struct mount *m;
	int running = 0;

	for (m = mt->all; m; m = m->next) {
		mount_check(m);
		running |= m->n_running > 0;
	}
	if (running)
		loop_timer_arm(mt->loop, &mt->check_timer, check_interval(mt));
}

static void
pool_work(struct pool_job *pj)
{
	struct mount_job *j = (struct mount_job *)pj;

	j->work(j);
}

static void
pool_done(struct pool_job *pj)
{
	struct mount_job *j = (struct mount_job *)pj;
	struct mount *m = j->mount;
	struct mount_table *mt = m->mt;
	struct mount_job *oldest;
	long long now = loop_now(mt->loop);

	TAILQ_REMOVE(&m->running, j, entry);
	m->n_running--;
	oldest = TAILQ_FIRST(&m->running);
	if (m->stalled && (oldest == NULL || now - oldest->started <
	    (long long)mt->cfg->fs_timeout_ms)) {
		m->stalled = 0;
		log_info("fs_recovered", "mount=%s stalled_ms=%lld",
		    log_str(m->point), now - m->stalled_at);
		start_queued(m);
		j->done(j);
		if (mt->recovered)
			mt->recovered(mt->arg, m);
		return;
	}
	start_queued(m);
	j->done(j);
}

/* Hands j to a thread; 0, or -1 when the pool cannot take it. */
static int
start_job(struct mount *m, struct mount_job *j)
{
	struct mount_table *mt = m->mt;

	j->pj.work = pool_work;
	j->pj.done = pool_done;
	j->started = loop_now(mt->loop);
	if (pool_submit(mt->pool, &j->pj) == -1)
		return -1;
	TAILQ_INSERT_TAIL(&m->running, j, entry);
	m->n_running++;
	if (!mt->check_timer.armed)
		loop_timer_arm(mt->loop, &mt->check_timer, check_interval(mt));
	return 0;
}

static void
start_queued(struct mount *m)
{
	struct mount_job *j;

	while (!m->stalled && m->n_running < MOUNT_THREADS &&
	    (j = TAILQ_FIRST(&m->queue)) != NULL) {
		TAILQ_REMOVE(&m->queue, j, entry);
		m->n_queued--;
		if (start_job(m, j) == -1) {
			TAILQ_INSERT_TAIL(&m->queue, j, entry);
			m->n_queued++;
			return;
		}
	}
}

int
mount_submit(struct mount *m, struct mount_job *j)
{
	j->mount = m;
	if (m->stalled || m->n_queued >= MOUNT_QUEUE) {
		errno = m->stalled ? EBUSY : EAGAIN;
		return -1;
	}
	if (m->n_running < MOUNT_THREADS && TAILQ_EMPTY(&m->queue) &&
	    start_job(m, j) == 0)
		return 0;
	TAILQ_INSERT_TAIL(&m->queue, j, entry);
	m->n_queued++;
	return 0;
}

struct mount_table *
mount_table_new(struct loop *loop, const struct config *cfg,
    void (*recovered)(void *, struct mount *), void *arg)
{
	struct mount_table *mt = calloc(1, sizeof(*mt));

	if (mt == NULL)
		return NULL;
	mt->loop = loop;
	mt->cfg = cfg;
	mt->recovered = recovered;
	mt->arg = arg;
	mt->check_timer = (struct loop_timer){ .fn = check_fire, .arg = mt };
	if ((mt->by_dev = table_new()) == NULL ||
	    (mt->pool = pool_new(loop, MOUNT_POOL_MAX)) == NULL) {
		mount_table_free(mt);
		return NULL;
	}
	return mt;
}

static void
release_job(struct pool_job *pj)
{
	struct mount_job *j = (struct mount_job *)pj;

	j->release(j);
}

void
mount_table_free(struct mount_table *mt)
{
	struct mount_job *j;
	struct mount *m;

	if (mt == NULL)
		return;
	loop_timer_disarm(mt->loop, &mt->check_timer);
	pool_free(mt->pool, release_job);
	while ((m = mt->all) != NULL) {
		mt->all = m->next;
		while ((j = TAILQ_FIRST(&m->queue)) != NULL) {
			TAILQ_REMOVE(&m->queue, j, entry);
			j->release(j);
		}
		free(m->point);
		free(m);
	}
	table_free(mt->by_dev);
	free(mt);
}

struct mount *
mount_get(struct mount_table *mt, dev_t dev, const char *point)
{
	struct mount *m = table_get(mt->by_dev, &dev, sizeof(dev));

	if (m)
		return m;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->point = strdup(point)) == NULL ||
	    table_add(mt->by_dev, &dev, sizeof(dev), m) == -1) {
		if (m)
			free(m->point);
		free(m);
		return NULL;
	}
	m->mt = mt;
	m->dev = dev;
	TAILQ_INIT(&m->running);
	TAILQ_INIT(&m->queue);
	m->next = mt->all;
	mt->all = m;
	return m;
}

struct mount *
mount_lookups(struct mount_table *mt, const char *data_root)
{
	struct mount *m = mount_get(mt, LOOKUP_DEV, data_root);
	char *point;

	/* The data root may have changed with a reload. */
	if (m && strcmp(m->point, data_root) != 0 &&
	    (point = strdup(data_root)) != NULL) {
		free(m->point);
		m->point = point;
	}
	return m;
}

struct mount *
mount_local_writes(struct mount_table *mt)
{
	return mount_get(mt, WRITES_DEV, "local writes");
}

struct mount *
mount_users(struct mount_table *mt)
{
	return mount_get(mt, USERS_DEV, "NSS");
}

int
mount_stalled(const struct mount *m)
{
	return m->stalled;
}

const char *
mount_point(const struct mount *m)
{
	return m->point;
}

void
mount_count_timeout(struct mount_table *mt)
{
	mt->timeouts++;
}

void
mount_table_stats(struct mount_table *mt, struct mount_stats *s)
{
	struct mount *m;

	memset(s, 0, sizeof(*s));
	for (m = mt->all; m; m = m->next) {
		s->mounts++;
		s->stalled += m->stalled != 0;
	}
	s->timeouts = mt->timeouts;
	pool_counts(mt->pool, &s->threads, &s->busy);
}
