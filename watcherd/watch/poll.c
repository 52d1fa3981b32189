/*
 * Polling: the files inotify cannot see (every file on a network or FUSE
 * file system, and names whose directory could not be watched) are looked
 * at every poll-interval.
 *
 * A poll costs one stat: a file is read again only when its stat changed,
 * or when its last read may have raced a write (within the timestamp
 * granularity of its last change). On the loop's own file systems the stat
 * is the loop's. On a file system that may stall, the stats of a mount's
 * files are taken in batches of POLL_BATCH by one job at a time: a round
 * of thousands of files holds one of the mount's threads and one place in
 * its queue, and requests keep the others. A file whose stat says it
 * changed is then checked as a request's file is (check_start()), which
 * reads it and tells its subscribers.
 *
 * A round that has not finished when the next poll is due is left to
 * finish; the mount's next round starts at the poll after. A stalled mount
 * is not polled; when it answers again, a round of its files starts at
 * once, so that what changed meanwhile reaches its subscribers.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "common/log.h"
#include "watcherd/watch/snapshot.h"
#include "watcherd/table.h"
#include "watcherd/watch/watch_int.h"

/* Stats per job: few enough that a job of a slow but answering mount
   (60 ms a stat) ends within the default fs-timeout, and is not taken for
   a stall. */
#define POLL_BATCH	16

/* A mount's poll round: the batches still to submit, one at a time. */
struct poll_round {
	struct watch_table	*t;
	struct poll_round	*next;
	struct mount		*mount;
	struct poll_batch	*pending, *pending_tail;
	int			 busy;		/* a batch is on the mount */
	int			 again;		/* start a round when it is back */
};

/* What a batch learns of one file. */
struct poll_entry {
	char		*key;
	size_t		 keylen;
	char		*file_name;
	int		 folder_fd;	/* a copy, or the previous entry's */
	int		 own_fd;	/* this entry closes folder_fd */
	int		 err;		/* 0, or the stat's errno */
	struct stat	 sb;
};

struct poll_batch {
	struct job		 j;
	struct poll_round	*round;
	struct poll_batch	*next;
	size_t			 n;
	struct poll_entry	 e[POLL_BATCH];
};

/*
 * On a worker: a stat per file, nothing read. The files come sorted by
 * name, and the directory of a run of files in one directory is opened
 * once: on a network file system each part of a path is a lookup on the
 * server, so a file's stat then costs it one lookup, not one per part.
 * The path is still resolved afresh at every poll.
 */
static void
batch_work(struct mount_job *mj)
{
	struct poll_batch *b = (struct poll_batch *)mj;
	struct poll_entry *e;
	const char *slash, *dir = NULL;
	size_t i, dirlen = 0;
	int dir_fd = -1, dir_err = 0, dir_of = -1;
	char path[PATH_MAX];

	for (i = 0; i < b->n; i++) {
		e = &b->e[i];
		if ((slash = strrchr(e->file_name, '/')) == NULL) {
			e->err = snapshot_stat(e->folder_fd, e->file_name,
			    &e->sb) == 0 ? 0 : errno;
			continue;
		}
		if (dir == NULL || dir_of != e->folder_fd ||
		    dirlen != (size_t)(slash - e->file_name) ||
		    memcmp(dir, e->file_name, dirlen) != 0) {
			if (dir_fd != -1)
				close(dir_fd);
			dir = e->file_name;
			dirlen = (size_t)(slash - e->file_name);
			dir_of = e->folder_fd;
			memcpy(path, dir, dirlen);	/* a name fits PATH_MAX */
			path[dirlen] = '\0';
			dir_fd = openat(dir_of, path, O_PATH | O_DIRECTORY |
			    O_CLOEXEC);
			dir_err = dir_fd == -1 ? errno : 0;
		}
		if (dir_fd == -1)
			e->err = dir_err;
		else
			e->err = snapshot_stat(dir_fd, slash + 1, &e->sb) == 0 ?
			    0 : errno;
	}
	if (dir_fd != -1)
		close(dir_fd);
}

static void
batch_clear(struct job *j)
{
	struct poll_batch *b = (struct poll_batch *)j;
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (b->e[i].own_fd)
			close(b->e[i].folder_fd);
		free(b->e[i].key);
		free(b->e[i].file_name);
	}
}


/* Whether what a batch saw of a watched file says nothing new. */
static int
entry_unchanged(const struct poll_entry *e, const struct watch *w)
{
	if (e->err != 0)
		return !w->st.exists && (e->err == ENOENT || e->err == ENOTDIR);
	return w->st.exists && !w->st.racy && snapshot_matches(&w->st, &e->sb);
}

static void	round_next(struct watch_table *, struct poll_round *);
static void	round_fill(struct watch_table *, struct poll_round *);

/* On the loop: each file whose stat changed is checked (and read). */
static void
batch_finish(struct job *j)
{
	struct poll_batch *b = (struct poll_batch *)j;
	struct watch_table *t = ((struct poll_batch *)j)->round->t;
	struct poll_round *r = b->round;
	struct watch_name *n;
	const char *why;
	size_t i;

	for (i = 0; i < b->n; i++) {
		struct poll_entry *e = &b->e[i];
		struct check c;

		n = table_get(t->by_name, e->key, e->keylen);
		if (n == NULL || n->folder->fd == -1 ||
		    entry_unchanged(e, n->w))
			continue;
		c = (struct check){ .have = &n->w->st, .read = n->w->st.racy };
		check_start(t, NULL, n->folder, n->proposal, n->file_name,
		    n->key, n->keylen, &c, &why);
	}
	r->busy = 0;
	if (r->again) {
		r->again = 0;
		round_fill(t, r);
	}
	round_next(t, r);
}

static const struct job_ops batch_ops = {
	.work = batch_work,
	.finish = batch_finish,
	.clear = batch_clear,
	.file_system = 1,
};

/* Drops the batches not submitted yet. */
static void
round_drop(struct poll_round *r)
{
	struct poll_batch *b;

	while ((b = r->pending) != NULL) {
		r->pending = b->next;
		job_destroy(&b->j);
	}
	r->pending_tail = NULL;
}

/* Submits the round's next batch, unless one is on the mount. */
static void
round_next(struct watch_table *t, struct poll_round *r)
{
	struct poll_batch *b;
	const char *why;

	if (r->busy || (b = r->pending) == NULL)
		return;
	r->pending = b->next;
	if (r->pending == NULL)
		r->pending_tail = NULL;
	b->next = NULL;
	if (job_start(t->jobs, r->mount, &b->j, NULL, &why) != PROTO_OK) {
		/* Stalled (the recovery polls it again) or full: this round
		   ends here. */
		round_drop(r);
		return;
	}
	r->busy = 1;
}

static struct poll_round *
round_get(struct watch_table *t, struct mount *m)
{
	struct poll_round *r;

	for (r = t->poll_rounds; r; r = r->next)
		if (r->mount == m)
			return r;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->t = t;
	r->mount = m;
	r->next = t->poll_rounds;
	t->poll_rounds = r;
	return r;
}

/* Adds n's file to r's last batch (a new one when it is full). Returns 0,
   or -1 when out of memory. */
static int
round_add(struct poll_round *r, struct watch_name *n)
{
	struct poll_batch *b = r->pending_tail;
	struct poll_entry *e, *prev;

	if (b == NULL || b->n == POLL_BATCH) {
		if ((b = calloc(1, sizeof(*b))) == NULL ||
		    job_prepare(&b->j, &batch_ops, 0, -1, NULL) == -1) {
			free(b);
			return -1;
		}
		b->round = r;
		if (r->pending_tail)
			r->pending_tail->next = b;
		else
			r->pending = b;
		r->pending_tail = b;
	}
	e = &b->e[b->n];
	prev = b->n > 0 ? &b->e[b->n - 1] : NULL;
	if ((e->key = malloc(n->keylen)) == NULL ||
	    (e->file_name = strdup(n->file_name)) == NULL) {
		free(e->key);
		e->key = NULL;
		return -1;
	}
	memcpy(e->key, n->key, n->keylen);
	e->keylen = n->keylen;
	/* Files of one folder tend to come together: they share its copy. */
	if (prev && n->folder->proposal == b->j.proposal)
		e->folder_fd = prev->folder_fd;
	else if ((e->folder_fd = fcntl(n->folder->fd, F_DUPFD_CLOEXEC,
	    0)) == -1) {
		free(e->key);
		free(e->file_name);
		e->key = e->file_name = NULL;
		return -1;
	} else
		e->own_fd = 1;
	b->j.proposal = n->folder->proposal;
	b->n++;
	return 0;
}

static int
compare_keys(const void *a, const void *b)
{
	const struct watch_name *x = *(struct watch_name *const *)a;
	const struct watch_name *y = *(struct watch_name *const *)b;
	int c = memcmp(x->key, y->key, x->keylen < y->keylen ? x->keylen :
	    y->keylen);

	return c != 0 ? c : (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

/* Fills r with every polled file of its mount, by name (so that the
   files of a folder, and of a directory, come together). */
static void
round_fill(struct watch_table *t, struct poll_round *r)
{
	struct watch_name *n, **names;
	struct watch *w;
	size_t i, count = 0;

	round_drop(r);
	if ((names = calloc(t->count ? t->count : 1, sizeof(*names))) == NULL)
		goto nomem;
	for (w = LIST_FIRST(&t->watches); w && count < t->count;
	    w = LIST_NEXT(w, entry))
		if (watch_needs_poll(w) && (n = w->names) != NULL &&
		    n->folder->mount == r->mount && n->folder->fd != -1)
			names[count++] = n;
	qsort(names, count, sizeof(*names), compare_keys);
	for (i = 0; i < count; i++)
		if (round_add(r, names[i]) == -1)
			break;
	free(names);
	if (i == count)
		return;
nomem:
	log_warn("poll_skipped", "mount=%s reason=\"out of memory\"",
	    log_str(mount_point(r->mount)));
}

/* Starts a round of m's files now: a stalled mount answers again. */
void
poll_mount(struct watch_table *t, struct mount *m)
{
	struct poll_round *r = round_get(t, m);

	if (r == NULL)
		return;
	if (r->busy) {
		r->again = 1;
		return;
	}
	round_fill(t, r);
	round_next(t, r);
}

void
poll_fire(void *arg)
{
	struct watch_table *t = arg;
	struct watch *w, *next;
	struct watch_name *n;
	struct poll_round *r;
	struct stat sb;

	for (w = LIST_FIRST(&t->watches); w; w = next) {
		next = LIST_NEXT(w, entry);
		if (!watch_needs_poll(w) || (n = w->names) == NULL)
			continue;
		if (n->folder->mount) {
			/* The first file of a mount not polled yet starts
			   its round, of all its files. */
			if (n->folder->fd == -1 ||
			    mount_stalled(n->folder->mount) ||
			    (r = round_get(t, n->folder->mount)) == NULL ||
			    r->busy || r->pending != NULL)
				continue;
			round_fill(t, r);
			round_next(t, r);
		} else if (w->st.exists && w->st.racy)
			refresh_watch(t, w);
		else if (n->folder->fd == -1 || (stat_name(n, &sb) == 0 ?
		    !snapshot_matches(&w->st, &sb) : w->st.exists))
			refresh_watch(t, w);
	}
	loop_timer_arm(t->loop, &t->poll_timer, t->cfg->poll_interval_ms);
}

void
poll_free_all(struct watch_table *t)
{
	struct poll_round *r;

	while ((r = t->poll_rounds) != NULL) {
		t->poll_rounds = r->next;
		round_drop(r);
		free(r);
	}
}
