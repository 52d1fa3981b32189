#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "common/crc.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/policy.h"
#include "common/text.h"
#include "watcherd/cache.h"
#include "watcherd/loop.h"
#include "watcherd/table.h"
#include "watcherd/watch_int.h"

#define FILE_MASK	(IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | \
			 IN_DELETE_SELF | IN_MOVE_SELF)
#define POLL_REHASH_MAX	65536	/* a racy read of a polled file this small
				   is not trusted by queries */

struct inode_key {
	dev_t	dev;
	ino_t	ino;
};

/*
 * A check of a file on a file system that may stall, done by a worker:
 * stat it and compare with the state known (have), read it when that
 * differs or when asked (read), and read a range for a tail. The result
 * is recorded by file_finish() on the loop.
 */
struct file_job {
	struct job		 j;
	struct folder		*folder;
	char			*key;		/* the name's, in t->jobs */
	size_t			 keylen;
	char			*file_name;
	int			 folder_fd;	/* a duplicate, the job's */
	size_t			 max_size;
	struct watch_state	 have;		/* exists == 0: nothing known */
	int			 read;
	int			 create;	/* a request for a name not
						   watched yet: watch it */
	int			 want_range;
	off_t			 range_at;
	size_t			 range_max;
	/* What the worker found. */
	enum proto_error	 e;
	const char		*why;
	int			 folder_gone;
	int			 unchanged;	/* the stat matched have */
	struct watch_state	 st;
	char			*data;		/* the whole file, when read */
	int			 range_ok;
	char			*range;
	size_t			 range_len;
	off_t			 range_size;	/* the file's size then */
};

static size_t	watch_free(struct watch_table *, struct watch *);
static void	name_free(struct watch_table *, struct watch_name *);

int
stat_name(struct watch_name *n, struct stat *sb)
{
	return snapshot_stat(n->folder->fd, n->file_name, sb);
}

/* The dirty queue and the settle time. */

static void
dirty_remove(struct watch_table *t, struct watch *w)
{
	if (!w->dirty)
		return;
	if (w->dirty_prev)
		w->dirty_prev->dirty_next = w->dirty_next;
	else
		t->dirty_head = w->dirty_next;
	if (w->dirty_next)
		w->dirty_next->dirty_prev = w->dirty_prev;
	else
		t->dirty_tail = w->dirty_prev;
	w->dirty_prev = w->dirty_next = NULL;
	w->dirty = 0;
}

/* Marks w changed: it is re-read once the settle time has passed since the
   first event, so that a burst of writes is read once, whole. */
static void
mark_dirty(struct watch_table *t, struct watch *w)
{
	if (w->dirty)
		return;
	w->dirty = 1;
	w->settle_deadline = loop_now(t->loop) + t->cfg->settle_time_ms;
	w->dirty_next = NULL;
	w->dirty_prev = t->dirty_tail;
	if (t->dirty_tail)
		t->dirty_tail->dirty_next = w;
	else
		t->dirty_head = w;
	t->dirty_tail = w;
	if (!t->settle_timer.armed)
		loop_timer_arm_at(t->loop, &t->settle_timer, w->settle_deadline);
}

/*
 * Marks w changed by a save that says it is complete (the writer closed
 * the file, or renamed a finished file over the name): it is read at once,
 * after the rest of this batch of events, so that what one batch says of
 * a file is read once. Only writes still open wait for the settle time.
 */
static void
mark_saved(struct watch_table *t, struct watch *w)
{
	if (w->dirty && w->settle_deadline <= loop_now(t->loop))
		return;
	dirty_remove(t, w);
	w->dirty = 1;
	w->settle_deadline = loop_now(t->loop);
	/* No deadline is earlier: the queue stays in order. */
	w->dirty_prev = NULL;
	w->dirty_next = t->dirty_head;
	if (t->dirty_head)
		t->dirty_head->dirty_prev = w;
	else
		t->dirty_tail = w;
	t->dirty_head = w;
	loop_timer_arm_at(t->loop, &t->settle_timer, w->settle_deadline);
}

static void
settle_fire(void *arg)
{
	struct watch_table *t = arg;
	struct watch *w;

	while ((w = t->dirty_head) && w->settle_deadline <= loop_now(t->loop))
		refresh_watch(t, w);
	if ((w = t->dirty_head))
		loop_timer_arm_at(t->loop, &t->settle_timer, w->settle_deadline);
}

/* Watches: creation, names, and the end of them. */

static struct watch *
watch_new(struct watch_table *t)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->file_wd = -1;
	w->poll = t->cfg->watch_mode == WATCH_MODE_POLL;
	w->last_active = loop_now(t->loop);
	w->next = t->all;
	if (t->all)
		t->all->prev = w;
	t->all = w;
	t->count++;
	return w;
}

static void
set_file_wd(struct watch_table *t, struct watch *w, int wd)
{
	if (w->file_wd == wd)
		return;
	if (w->file_wd != -1) {
		table_del(t->by_file_wd, &w->file_wd, sizeof(w->file_wd), w);
		if (table_get(t->by_file_wd, &w->file_wd, sizeof(w->file_wd)) == NULL)
			inotify_rm_watch(t->ifd, w->file_wd);
	}
	w->file_wd = wd;
	if (wd != -1 && table_add(t->by_file_wd, &wd, sizeof(wd), w) == -1)
		w->file_wd = -1;
}

static void
set_inode_key(struct watch_table *t, struct watch *w,
    const struct watch_state *st)
{
	struct inode_key old = { w->st.dev, w->st.ino }, key = { st->dev, st->ino };

	if (w->in_inode_table && (!st->exists || memcmp(&old, &key, sizeof(key)))) {
		table_del(t->by_inode, &old, sizeof(old), w);
		w->in_inode_table = 0;
	}
	if (st->exists && !w->in_inode_table &&
	    table_add(t->by_inode, &key, sizeof(key), w) == 0)
		w->in_inode_table = 1;
}

static void
name_detach(struct watch_name *n)
{
	struct watch *w = n->w;
	struct watch_name **p;

	for (p = &w->names; *p; p = &(*p)->next)
		if (*p == n) {
			*p = n->next;
			break;
		}
	w->n_names--;
	w->n_subs -= n->n_subs;
	n->w = NULL;
	n->next = NULL;
}

static void
name_attach(struct watch *w, struct watch_name *n)
{
	n->w = w;
	n->next = w->names;
	w->names = n;
	w->n_names++;
	w->n_subs += n->n_subs;
}

static void
name_free(struct watch_table *t, struct watch_name *n)
{
	struct watch_subscriber *s;

	while ((s = n->subs) != NULL) {
		n->subs = s->next;
		s->prev = s->next = NULL;
		if (t->cb.dropped)
			t->cb.dropped(t->cb.arg, s);	/* s->name still n */
		else
			s->name = NULL;
	}
	dirs_unlink(t, &n->links[0]);
	dirs_unlink(t, &n->links[1]);
	table_del(t->by_name, n->key, n->keylen, n);
	free(n->file_name);
	free(n->key);
	free(n);
}

/* Ends a watch: its names (dropping their subscriptions), its inotify
   watches and its cached content. Returns the subscriptions dropped. */
static size_t
watch_free(struct watch_table *t, struct watch *w)
{
	size_t dropped = w->n_subs;
	struct watch_name *n;

	while ((n = w->names) != NULL) {
		w->names = n->next;
		name_free(t, n);
	}
	set_file_wd(t, w, -1);
	if (w->in_inode_table) {
		struct inode_key key = { w->st.dev, w->st.ino };

		table_del(t->by_inode, &key, sizeof(key), w);
	}
	cache_drop(&t->cache, &w->content);
	dirty_remove(t, w);
	if (w->prev)
		w->prev->next = w->next;
	else
		t->all = w->next;
	if (w->next)
		w->next->prev = w->prev;
	t->count--;
	free(w);
	return dropped;
}

/* What a subscriber of a name is told when its file goes from a to b. */
static const char *
state_event(const struct watch_state *a, const struct watch_state *b)
{
	if (a->exists && !b->exists)
		return "deleted";
	if (!a->exists && b->exists)
		return "created";
	if (a->exists && (a->crc != b->crc || a->too_large != b->too_large ||
	    a->size != b->size))
		return "changed";
	return NULL;
}

/* Moves a name's generation on to state st; returns 1 when it changed. */
static int
generation_update(struct watch_name *n, const struct watch_state *st)
{
	int reset = 0;

	if (!st->exists) {
		n->gen_gone = n->gen_known;
		return 0;
	}
	if (!n->gen_known) {
		n->gen_known = 1;
		n->change_mark = st->size;
	} else if (st->ino != n->gen_ino ||
	    st->btime.tv_sec != n->gen_btime.tv_sec ||
	    st->btime.tv_nsec != n->gen_btime.tv_nsec) {
		n->gen_count = 0;
		reset = 1;
	} else if (n->gen_gone || st->size < n->gen_size) {
		n->gen_count++;
		reset = 1;
	}
	n->gen_ino = st->ino;
	n->gen_btime = st->btime;
	n->gen_size = st->size;
	n->gen_gone = 0;
	return reset;
}

static void
notify(struct watch_table *t, struct watch_name *n, const char *ev,
    const struct watch_state *st)
{
	struct watch_subscriber *s, *next;

	for (s = n->subs; s; s = next) {
		next = s->next;
		t->cb.event(t->cb.arg, s, ev, st);
	}
}

/* The watch a name belongs to once its file is in state st. */
static struct watch *
choose_watch(struct watch_table *t, struct watch_name *n,
    const struct watch_state *st)
{
	struct inode_key key = { st->dev, st->ino };
	struct watch *w = n->w, *other;

	if (!st->exists)
		return w && w->n_names == 1 ? w : watch_new(t);
	if (w && w->in_inode_table && w->st.dev == st->dev &&
	    w->st.ino == st->ino)
		return w;
	other = table_get(t->by_inode, &key, sizeof(key));
	if (other && other != w)
		return other;
	return w && w->n_names == 1 ? w : watch_new(t);
}

/* Starts inotify on a watch's file (fd open), or falls back to polling. */
static void
watch_inotify(struct watch_table *t, struct watch *w, struct watch_name *n,
    int fd)
{
	char path[64];
	int wd;

	if (w->poll)
		return;
	if (fd == -1 || !w->st.exists) {
		set_file_wd(t, w, -1);
		return;
	}
	dirs_fd_path(fd, path, sizeof(path));
	if ((wd = dirs_add_inotify(t, path, FILE_MASK)) == -1 ||
	    dirs_link_name(t, n, fd) == -1) {
		if (errno == ENOSPC || errno == ENOMEM) {
			t->fallbacks++;
			log_warn("inotify_fallback", "proposal=%u file=%s "
			    "reason=%s action=poll", n->proposal,
			    log_str(n->file_name), log_str(strerror(errno)));
		}
		if (wd != -1)
			inotify_rm_watch(t->ifd, wd);
		set_file_wd(t, w, -1);
		w->poll = 1;
		return;
	}
	set_file_wd(t, w, wd);
}

/*
 * Records that the file behind n is now in state st: moves n to the watch
 * of that file (the same one, a re-keyed one after a rename-over, the one
 * of a hard link, or a new one), keeps *data in the cache (and sets it to
 * NULL) when it fits, and tells every affected subscriber. fd is the open
 * file or -1.
 */
static struct watch *
settle_name(struct watch_table *t, struct watch_name *n,
    const struct watch_state *st, char **data, int fd)
{
	struct watch *w = n->w, *target;
	struct watch_state prev_n, prev_t;
	struct watch_name *m;
	struct watch_change wc;
	const char *ev;
	int changed = 0, reset;

	if ((target = choose_watch(t, n, st)) == NULL)
		return NULL;
	prev_n = w ? w->st : *st;
	prev_t = target == w || target->n_names == 0 ? prev_n : target->st;
	if (target != w) {
		if (w) {
			name_detach(n);
			if (w->n_names == 0)
				watch_free(t, w);
		}
		name_attach(target, n);
		/* A file system that may stall is polled, off the loop,
		   whatever the watch mode: inotify could not see other
		   hosts' writes on it anyway. */
		if (n->folder->mount)
			target->poll = 1;
	}
	set_inode_key(t, target, st);
	target->st = *st;
	dirty_remove(t, target);
	if (data && *data) {
		if (cache_put(&t->cache, &target->content, *data,
		    (size_t)st->size))
			*data = NULL;
	} else
		cache_drop(&t->cache, &target->content);
	watch_inotify(t, target, n, fd);
	for (m = target->names; m; m = m->next) {
		reset = generation_update(m, st);
		ev = state_event(m == n ? &prev_n : &prev_t, st);
		if (ev == NULL)
			continue;
		changed = 1;
		if (log_enabled(LOG_LEVEL_DEBUG))
			log_debug("file_changed", "proposal=%u file=%s change=%s",
			    m->proposal, log_str(m->file_name), ev);
		notify(t, m, ev, st);
		if (t->cb.change == NULL)
			continue;
		wc = (struct watch_change){
			.proposal = m->proposal,
			.file_name = m->file_name,
			.folder = m->folder->path,
			.event = ev,
			.st = st,
			.reset = reset,
			.fd = fd,
			.mark = &m->change_mark,
		};
		if (st->exists && !st->too_large)
			wc.data = target->content ? target->content->data :
			    data ? *data : NULL;
		t->cb.change(t->cb.change_arg, &wc);
	}
	if (changed) {
		target->changes++;
		t->changes++;
	}
	return target;
}

/* Polling and trust. */

int
watch_needs_poll(const struct watch *w)
{
	const struct watch_name *n;

	if (w->poll)
		return 1;
	for (n = w->names; n; n = n->next)
		if (n->links[0].dir == NULL)
			return 1;
	return 0;
}

/*
 * Whether a query may answer from a watch's state when the file's stat
 * still matches it. Not when a change was seen and not read yet, nor, for
 * a polled small file, when it was read so soon after a change that a
 * write may have been under way: on a polled watch no event says when
 * the write ended, and another node that read the file later would
 * otherwise answer another checksum. A large file is read again at the
 * next poll instead.
 */
static int
state_trusted(const struct watch *w)
{
	return !w->dirty && !(w->st.racy && w->st.size <= POLL_REHASH_MAX &&
	    watch_needs_poll(w));
}

static struct watch_name *
name_new(struct watch_table *t, struct folder *f, unsigned proposal,
    const char *file_name, const char *key, size_t keylen)
{
	struct watch_name *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->folder = f;
	n->proposal = proposal;
	n->links[0].name = n->links[1].name = n;
	n->file_name = strdup(file_name);
	n->key = malloc(keylen);
	if (n->file_name == NULL || n->key == NULL ||
	    (memcpy(n->key, key, keylen), n->keylen = keylen,
	    table_add(t->by_name, n->key, n->keylen, n) == -1)) {
		free(n->file_name);
		free(n->key);
		free(n);
		return NULL;
	}
	return n;
}

/*
 * Watches a name asked for the first time, its file found in state st
 * (*data and fd as settle_name() takes them). Returns the name, or NULL
 * with *why (max-watches reached, or out of memory).
 */
static struct watch_name *
watch_start(struct watch_table *t, struct folder *f, const char *file_name,
    const char *key, size_t keylen, const struct watch_state *st,
    char **data, int fd, const char **why)
{
	struct inode_key ik = { st->dev, st->ino };
	struct watch_name *n;

	if (t->count >= t->cfg->max_watches &&
	    table_get(t->by_inode, &ik, sizeof(ik)) == NULL) {
		*why = "too many watched files (max-watches); try again later";
		return NULL;
	}
	if ((n = name_new(t, f, f->proposal, file_name, key, keylen)) == NULL ||
	    settle_name(t, n, st, data, fd) == NULL) {
		if (n)
			name_free(t, n);
		*why = "watcherd is out of memory";
		return NULL;
	}
	n->w->last_active = loop_now(t->loop);
	log_debug("watch_added", "proposal=%u file=%s mode=%s%s%s",
	    f->proposal, log_str(file_name), n->w->poll ? "poll" : "inotify",
	    f->mount ? " mount=" : "",
	    f->mount ? log_str(mount_point(f->mount)) : "");
	return n;
}

/* Checks off the loop, for files on a file system that may stall. */

static void
file_work(struct mount_job *mj)
{
	struct file_job *fj = (struct file_job *)mj;
	struct stat sb;
	size_t want;
	int fd = -1;

	if (!fj->read && fj->have.exists &&
	    snapshot_stat(fj->folder_fd, fj->file_name, &sb) == 0 &&
	    snapshot_matches(&fj->have, &sb)) {
		fj->unchanged = 1;
		fj->st = fj->have;
		fj->e = fj->have.too_large ? PROTO_TOO_LARGE : PROTO_OK;
		fj->why = "file is larger than max-file-size";
		if (!fj->want_range)
			return;
		fd = policy_open_beneath(fj->folder_fd, fj->file_name,
		    O_RDONLY | O_NONBLOCK | O_NOCTTY);
		if (fd == -1 || fstat(fd, &sb) == -1 ||
		    sb.st_ino != fj->have.ino || sb.st_dev != fj->have.dev)
			goto done;	/* replaced meanwhile: no range */
	} else {
		fj->why = "";
		fj->e = snapshot_read(fj->folder_fd, fj->file_name,
		    fj->max_size, &fj->st, &fj->data, &fd, &fj->why);
		if (fj->e != PROTO_OK && fj->e != PROTO_TOO_LARGE) {
			/* Only a failure asks after the folder: on a network
			   file system each stat is a round trip. */
			if (fstat(fj->folder_fd, &sb) == -1 || sb.st_nlink == 0) {
				fj->folder_gone = 1;
				fj->e = PROTO_NOT_FOUND;
				fj->why = "the proposal's DAMNIT folder is gone";
			}
			return;
		}
	}
	if (!fj->want_range)
		goto done;
	if (fj->data) {
		fj->range_size = fj->st.size;
		want = fj->range_at < fj->st.size ?
		    (size_t)(fj->st.size - fj->range_at) : 0;
		if (want > fj->range_max)
			want = fj->range_max;
		if (want > 0 && (fj->range = malloc(want)) == NULL)
			goto done;
		if (want > 0)
			memcpy(fj->range, fj->data + fj->range_at, want);
		fj->range_len = want;
		fj->range_ok = 1;
	} else if (fstat(fd, &sb) == 0) {
		ssize_t got;

		fj->range_size = sb.st_size;
		want = fj->range_at < sb.st_size ?
		    (size_t)(sb.st_size - fj->range_at) : 0;
		if (want > fj->range_max)
			want = fj->range_max;
		if ((got = snapshot_pread(fd, fj->range_at, want,
		    &fj->range)) >= 0) {
			fj->range_len = (size_t)got;
			fj->range_ok = 1;
		}
	}
done:
	if (fd != -1)
		close(fd);
}

/* Records the check's result: the name's new state (and its events), or
   the watch of a name asked for the first time. */
static void
file_finish(struct job *j)
{
	struct file_job *fj = (struct file_job *)j;
	struct watch_table *t = j->t;
	struct watch_state st;
	struct watch_name *n;

	if (table_get(t->jobs, fj->key, fj->keylen) == j)
		table_del(t->jobs, fj->key, fj->keylen, j);
	if (fj->folder_gone && fj->folder->fd != -1 && fj->folder->mount)
		folder_forget(fj->folder);
	if ((n = table_get(t->by_name, fj->key, fj->keylen)) != NULL) {
		if (n->checked_seq > j->seq)
			return;		/* a later check came back first */
		n->checked_seq = j->seq;
		n->checked_e = fj->e;
		n->checked_why = fj->why;
		if (fj->unchanged)
			return;
		if (fj->e == PROTO_OK || fj->e == PROTO_TOO_LARGE)
			st = fj->st;
		else
			memset(&st, 0, sizeof(st));
		settle_name(t, n, &st, &fj->data, -1);
		return;
	}
	if (!fj->create || (fj->e != PROTO_OK && fj->e != PROTO_TOO_LARGE))
		return;
	if ((n = watch_start(t, fj->folder, fj->file_name, fj->key, fj->keylen,
	    &fj->st, &fj->data, -1, &fj->why)) == NULL) {
		fj->e = PROTO_UNAVAILABLE;
		return;
	}
	n->checked_seq = j->seq;
	n->checked_e = fj->e;
	n->checked_why = fj->why;
}

static void
file_destroy(struct job *j)
{
	struct file_job *fj = (struct file_job *)j;

	if (fj->folder_fd != -1)
		close(fj->folder_fd);
	free(fj->key);
	free(fj->file_name);
	free(fj->data);
	free(fj->range);
	free(fj);
}

/* The check of w's request, when it is the one that just came back. */
static struct file_job *
file_result(struct watch_waiter *w, const char *key, size_t keylen)
{
	struct file_job *fj;

	if (w == NULL || w->result == NULL || w->result->kind != JOB_FILE)
		return NULL;
	fj = (struct file_job *)w->result;
	if (fj->keylen != keylen || memcmp(fj->key, key, keylen) != 0)
		return NULL;
	return fj;
}

enum proto_error
check_start(struct watch_table *t, struct watch_waiter *w, struct folder *f,
    unsigned proposal, const char *file_name, const char *key, size_t keylen,
    const struct check *c, const char **why)
{
	struct file_job *fj = table_get(t->jobs, key, keylen), *old = fj;
	enum proto_error e;

	if (fj && w == NULL)
		return PROTO_PENDING;
	if (mount_stalled(f->mount))
		return job_stalled(t, w, proposal, why);
	if (fj && fj->j.mj.started == 0 && (!c->read || fj->read) &&
	    (!c->create || fj->create) && !c->want_range && !fj->want_range)
		return job_wait(t, &fj->j, w, why);
	if ((fj = calloc(1, sizeof(*fj))) == NULL ||
	    (fj->key = malloc(keylen)) == NULL ||
	    (fj->file_name = strdup(file_name)) == NULL ||
	    (fj->folder_fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		if (fj) {
			fj->folder_fd = -1;
			file_destroy(&fj->j);
		}
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	memcpy(fj->key, key, keylen);
	fj->keylen = keylen;
	fj->j.kind = JOB_FILE;
	fj->j.proposal = proposal;
	fj->j.finish = file_finish;
	fj->j.destroy = file_destroy;
	fj->j.mj.work = file_work;
	fj->folder = f;
	fj->max_size = t->cfg->max_file_size;
	if (c->have)
		fj->have = *c->have;
	fj->read = c->read;
	fj->create = c->create;
	fj->want_range = c->want_range;
	fj->range_at = c->range_at;
	fj->range_max = c->range_max;
	if ((e = job_start(t, f->mount, &fj->j, w, why)) != PROTO_OK)
		return e;
	if (old)
		table_del(t->jobs, key, keylen, old);
	if (table_add(t->jobs, key, keylen, fj) == -1)
		log_warn("job_untracked", "proposal=%u file=%s reason=\"out of "
		    "memory\"", proposal, log_str(file_name));
	return w ? job_wait(t, &fj->j, w, why) : PROTO_PENDING;
}

/* Checks an existing name's file off the loop: the answer when a check
   done since the request arrived says it, else PROTO_PENDING. */
static enum proto_error
check_name(struct watch_table *t, struct watch_waiter *w, struct watch_name *n,
    const char **why)
{
	struct check c = { .have = &n->w->st, .read = !state_trusted(n->w) };

	if (w && n->checked_seq >= w->min_seq) {
		*why = n->checked_why;
		return n->checked_e;
	}
	return check_start(t, w, n->folder, n->proposal, n->file_name, n->key,
	    n->keylen, &c, why);
}

/* A stalled mount answers again: its files are polled now, so that what
   changed meanwhile reaches their subscribers, and the proposals not found
   are looked up again when next asked. */
static void
mount_recovered(void *arg, struct mount *m)
{
	struct watch_table *t = arg;
	struct folder *f;

	for (f = t->folder_list; f; f = f->next)
		if (f->fd == -1)
			f->checked = LLONG_MIN / 2;
	poll_mount(t, m);
}

/*
 * Reads the file behind n again and records what it found; on a file
 * system that may stall, starts a check that records it when it comes
 * back (PROTO_PENDING).
 */
static enum proto_error
refresh_name(struct watch_table *t, struct watch_name *n, const char **why)
{
	struct watch_state st;
	struct folder *f;
	enum proto_error e;
	char *data = NULL;
	int fd = -1;

	e = folder_get(t, n->proposal, NULL, &f, why);
	if (e == PROTO_OK && f->mount) {
		struct check c = { .have = &n->w->st, .read = 1 };

		return check_start(t, NULL, f, n->proposal, n->file_name,
		    n->key, n->keylen, &c, why);
	}
	if (e == PROTO_PENDING)
		return e;	/* the folder is looked for again */
	if (e != PROTO_OK) {
		e = PROTO_NOT_FOUND;
		*why = "the proposal's DAMNIT folder is gone";
	} else
		e = snapshot_read(f->fd, n->file_name, t->cfg->max_file_size,
		    &st, &data, &fd, why);
	if (e != PROTO_OK && e != PROTO_TOO_LARGE)
		memset(&st, 0, sizeof(st));
	settle_name(t, n, &st, &data, fd);
	free(data);
	if (fd != -1)
		close(fd);
	return e;
}

void
name_refresh(struct watch_table *t, const char *key, size_t keylen)
{
	struct watch_name *n = table_get(t->by_name, key, keylen);
	const char *why;

	if (n)
		refresh_name(t, n, &why);
}

void
refresh_watch(struct watch_table *t, struct watch *w)
{
	struct watch_name *few[8], **names = few, *n;
	size_t i, count = 0, max = sizeof(few) / sizeof(few[0]);
	const char *why;

	dirty_remove(t, w);
	/* Refreshing a name may move it to another watch, or free w: take
	   the list first. Most watches have one name; out of memory, the
	   first few are still refreshed. */
	if (w->n_names > max &&
	    (names = calloc(w->n_names, sizeof(*names))) != NULL)
		max = w->n_names;
	else
		names = few;
	for (n = w->names; n && count < max; n = n->next)
		names[count++] = n;
	for (i = 0; i < count; i++)
		refresh_name(t, names[i], &why);
	if (names != few)
		free(names);
}

/* inotify events. */

static void
mark_all_dirty(struct watch_table *t)
{
	struct watch *w;

	for (w = t->all; w; w = w->next)
		mark_dirty(t, w);
}

static void
name_dir_gone(struct watch_table *t, struct watch_name *n)
{
	mark_dirty(t, n->w);
}

static void
handle_event(struct watch_table *t, const struct inotify_event *ev)
{
	struct watch_name *found[64];
	struct watch *w;
	struct dir *d;
	size_t n, i;

	if (ev->mask & IN_Q_OVERFLOW) {
		t->overflows++;
		log_warn("inotify_overflow", "watches=%zu action=recheck_all",
		    t->count);
		mark_all_dirty(t);
		return;
	}
	if ((w = table_get(t->by_file_wd, &ev->wd, sizeof(ev->wd))) != NULL) {
		if (ev->mask & IN_IGNORED)
			set_file_wd(t, w, -1);
		if (ev->mask & IN_CLOSE_WRITE)
			mark_saved(t, w);
		else
			mark_dirty(t, w);
		return;
	}
	if ((d = dirs_find(t, ev->wd)) == NULL)
		return;
	if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
		if (ev->mask & IN_IGNORED)
			/* The kernel ended the directory's watch (it was
			   removed): its names are polled until their
			   directory can be watched again. */
			dirs_gone(t, d, name_dir_gone);
		else {
			struct dir_link *l;

			for (l = d->links; l; l = l->next)
				mark_dirty(t, l->name->w);
		}
		return;
	}
	if (ev->len == 0)
		return;
	n = dirs_entry_names(t, ev->wd, ev->name, strnlen(ev->name, ev->len),
	    found, sizeof(found) / sizeof(found[0]));
	if (n > sizeof(found) / sizeof(found[0])) {
		/* More names on one entry than we hold: re-check them all. */
		mark_all_dirty(t);
		return;
	}
	for (i = 0; i < n; i++)
		if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
			mark_saved(t, found[i]->w);
		else
			mark_dirty(t, found[i]->w);
}

static void
inotify_readable(void *arg, uint32_t events)
{
	struct watch_table *t = arg;
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t len;
	char *p;

	(void)events;
	for (;;) {
		len = read(t->ifd, buf, sizeof(buf));
		if (len <= 0)
			return;
		for (p = buf; p < buf + len; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			handle_event(t, ev);
		}
	}
}

static void
idle_fire(void *arg)
{
	struct watch_table *t = arg;
	long long limit = (long long)t->cfg->idle_timeout_s * 1000;
	struct watch *w, *next;

	for (w = t->all; w; w = next) {
		next = w->next;
		if (w->n_subs == 0 && loop_now(t->loop) - w->last_active >= limit) {
			log_debug("watch_expired", "proposal=%u file=%s",
			    w->names ? w->names->proposal : 0,
			    log_str(w->names ? w->names->file_name : NULL));
			watch_free(t, w);
		}
	}
	loop_timer_arm(t->loop, &t->idle_timer, limit < 4000 ? limit / 4 + 1 : 1000);
}

/* The table. */

struct watch_table *
watch_table_new(struct loop *loop, const struct config *cfg,
    struct watch_callbacks cb)
{
	struct watch_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->loop = loop;
	t->cfg = cfg;
	t->cb = cb;
	t->ifd = -1;
	t->fault_enospc = getenv("WATCHERD_FAULT_INOTIFY_ENOSPC") != NULL;
	cache_init(&t->cache, cfg->cache_size);
	t->by_name = table_new();
	t->by_inode = table_new();
	t->by_file_wd = table_new();
	t->by_dir_wd = table_new();
	t->by_entry = table_new();
	t->folders = table_new();
	t->jobs = table_new();
	t->mounts = mount_table_new(loop, cfg, mount_recovered, t);
	t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (!t->by_name || !t->by_inode || !t->by_file_wd || !t->by_dir_wd ||
	    !t->by_entry || !t->folders || !t->jobs || !t->mounts ||
	    t->ifd == -1)
		goto fail;
	t->io = (struct loop_io){ .fd = t->ifd, .events = EPOLLIN,
	    .fn = inotify_readable, .arg = t };
	if (loop_add(loop, &t->io) == -1)
		goto fail;
	t->settle_timer = (struct loop_timer){ .fn = settle_fire, .arg = t };
	t->poll_timer = (struct loop_timer){ .fn = poll_fire, .arg = t };
	t->idle_timer = (struct loop_timer){ .fn = idle_fire, .arg = t };
	loop_timer_arm(loop, &t->poll_timer, cfg->poll_interval_ms);
	loop_timer_arm(loop, &t->idle_timer, 1000);
	return t;
fail:
	watch_table_free(t);
	return NULL;
}

void
watch_table_free(struct watch_table *t)
{
	if (t == NULL)
		return;
	/* First the jobs: those that never ran, or ran and were not taken
	   back, are freed; those still on a thread are left to it. */
	mount_table_free(t->mounts);
	poll_free_all(t);
	while (t->all)
		watch_free(t, t->all);
	if (t->loop) {
		loop_timer_disarm(t->loop, &t->settle_timer);
		loop_timer_disarm(t->loop, &t->poll_timer);
		loop_timer_disarm(t->loop, &t->idle_timer);
		if (t->io.fn)
			loop_remove(t->loop, &t->io);
	}
	folder_free_all(t);
	cache_clear(&t->cache);
	if (t->ifd != -1)
		close(t->ifd);
	table_free(t->by_name);
	table_free(t->by_inode);
	table_free(t->by_file_wd);
	table_free(t->by_dir_wd);
	table_free(t->by_entry);
	table_free(t->folders);
	table_free(t->jobs);
	free(t);
}

void
watch_table_reconfigure(struct watch_table *t)
{
	struct folder *f;

	cache_set_limit(&t->cache, t->cfg->cache_size);
	loop_timer_arm(t->loop, &t->poll_timer, t->cfg->poll_interval_ms);
	loop_timer_arm(t->loop, &t->idle_timer, 1000);
	/* The data root may have changed: what was not found is looked for
	   again when next asked. */
	for (f = t->folder_list; f; f = f->next)
		f->checked = LLONG_MIN / 2;
}

/* The first request for a name on a file system that may stall: its
   check creates the watch, or says why not. */
static enum proto_error
get_remote_new(struct watch_table *t, struct watch_waiter *w, struct folder *f,
    unsigned proposal, const char *file_name, const char *key, size_t keylen,
    const char **why)
{
	struct check c = { .read = 1, .create = 1 };
	struct file_job *fj;

	if ((fj = file_result(w, key, keylen)) != NULL && fj->create) {
		/* Checked for this request and not watched: an error. */
		*why = fj->why;
		return fj->e == PROTO_OK || fj->e == PROTO_TOO_LARGE ?
		    PROTO_NOT_FOUND : fj->e;
	}
	return check_start(t, w, f, proposal, file_name, key, keylen, &c, why);
}

enum proto_error
name_check(struct watch_table *t, struct watch_waiter *w, unsigned proposal,
    const char *file_name, size_t len, char *key, size_t *keylen,
    const char **why)
{
	enum proto_error e;
	struct msg m;

	if ((e = policy_check_name(file_name, len, why)) != PROTO_OK)
		return e;
	if (!policy_allowed(t->cfg->allow, t->cfg->n_allow, file_name)) {
		*why = "file_name is not one of the files that may be served";
		return PROTO_FORBIDDEN;
	}
	if (w && w->timed_out) {
		*why = w->detail;
		return PROTO_UNAVAILABLE;
	}
	/* "P/name": policy_check_name() bounded the name. */
	msg_init(&m, key, WATCH_KEY_MAX);
	msg_uint(&m, proposal);
	msg_raw(&m, "/", 1);
	msg_raw(&m, file_name, len);
	*keylen = m.len;
	return PROTO_OK;
}

enum proto_error
watch_get(struct watch_table *t, struct watch_waiter *wt, unsigned proposal,
    const char *file_name, size_t len, struct watch_name **out,
    const char **why)
{
	struct watch_state st;
	struct watch_name *n;
	struct folder *f;
	struct stat sb;
	enum proto_error e;
	char key[WATCH_KEY_MAX], *data;
	size_t keylen;
	int fd;

	*out = NULL;
	if ((e = name_check(t, wt, proposal, file_name, len, key, &keylen,
	    why)) != PROTO_OK)
		return e;
	if ((n = table_get(t->by_name, key, keylen)) != NULL) {
		f = n->folder;
		n->w->last_active = loop_now(t->loop);
		if (f->mount == NULL && f->fd != -1 && state_trusted(n->w) &&
		    stat_name(n, &sb) == 0 && snapshot_matches(&n->w->st, &sb)) {
			*out = n;
			if (n->w->st.too_large) {
				*why = "file is larger than max-file-size";
				return PROTO_TOO_LARGE;
			}
			return PROTO_OK;
		}
		e = folder_get(t, proposal, wt, &f, why);
		if (e == PROTO_PENDING || e == PROTO_UNAVAILABLE)
			return e;
		if (e == PROTO_OK && f->mount) {
			e = check_name(t, wt, n, why);
			if (e == PROTO_PENDING || e == PROTO_UNAVAILABLE)
				return e;
		} else
			e = refresh_name(t, n, why);
		if ((e == PROTO_NOT_FOUND || e == PROTO_FORBIDDEN) && n->w &&
		    n->w->n_subs == 0 && n->w->n_names == 1 &&
		    (t->cb.wants == NULL ||
		    !t->cb.wants(t->cb.change_arg, n->file_name))) {
			/* Gone or unreadable, and nobody waits for it to come
			   back: no longer watched, as if never asked for
			   (choose_watch has left such a name alone on its
			   watch). */
			log_debug("watch_ended", "proposal=%u file=%s reason=%s",
			    proposal, log_str(n->file_name), log_str(*why));
			watch_free(t, n->w);
			return e;
		}
		if (n->w)
			n->w->last_active = loop_now(t->loop);
		*out = n;
		return e;
	}
	if ((e = folder_get(t, proposal, wt, &f, why)) != PROTO_OK)
		return e;
	if (f->mount)
		return get_remote_new(t, wt, f, proposal, file_name, key,
		    keylen, why);
	/* A file over max-file-size is watched too: its size and a tail
	   of it can still be served. */
	e = snapshot_read(f->fd, file_name, t->cfg->max_file_size, &st, &data,
	    &fd, why);
	if (e != PROTO_OK && e != PROTO_TOO_LARGE) {
		if (fd != -1)
			close(fd);
		return e;
	}
	n = watch_start(t, f, file_name, key, keylen, &st, &data, fd, why);
	free(data);
	close(fd);
	if (n == NULL)
		return PROTO_UNAVAILABLE;
	*out = n;
	return e;
}

const struct watch_state *
watch_name_state(const struct watch_name *n)
{
	return &n->w->st;
}

const char *
watch_name_mode(const struct watch_name *n)
{
	return n->w->poll ? "poll" : "inotify";
}

unsigned
watch_name_proposal(const struct watch_name *n)
{
	return n->proposal;
}

const char *
watch_name_file(const struct watch_name *n)
{
	return n->file_name;
}

void
watch_name_generation(const struct watch_name *n, char *buf)
{
	uint64_t file[3] = { n->gen_ino, (uint64_t)n->gen_btime.tv_sec,
	    (uint64_t)n->gen_btime.tv_nsec };

	snprintf(buf, WATCH_GENERATION_LEN + 1, "%08x-%x",
	    (unsigned)crc_buffer(file, sizeof(file)), n->gen_count);
}

/* A range of a file on a file system that may stall: from the check that
   just came back for this request, or from a new one. */
static enum proto_error
read_range_remote(struct watch_table *t, struct watch_waiter *w,
    struct watch_name *n, off_t offset, size_t max, const char **data,
    size_t *len, off_t *size, const char **why)
{
	struct check c = { .have = &n->w->st, .want_range = 1,
	    .range_at = offset, .range_max = max };
	struct file_job *fj = file_result(w, n->key, n->keylen);

	if (fj && fj->range_ok && fj->range_at == offset &&
	    fj->range_max == max && fj->st.ino == n->w->st.ino &&
	    fj->st.dev == n->w->st.dev) {
		*data = fj->range;
		*len = fj->range_len;
		*size = fj->range_size;
		return PROTO_OK;
	}
	if (fj && fj->want_range && !fj->range_ok) {
		*why = "the file was replaced while it was read; ask again";
		return PROTO_UNAVAILABLE;
	}
	return check_start(t, w, n->folder, n->proposal, n->file_name, n->key,
	    n->keylen, &c, why);
}

enum proto_error
watch_read_range(struct watch_table *t, struct watch_waiter *w,
    struct watch_name *n, off_t offset, size_t max, const char **data,
    size_t *len, off_t *size, char **owned, const char **why)
{
	struct cache_entry *ce = n->w->content;
	struct stat sb;
	ssize_t got;
	size_t want;
	int fd;

	*data = *owned = NULL;
	*len = 0;
	if (ce && n->w->st.exists && !n->w->st.too_large) {
		/* watch_get() just compared the stat: the cache is current. */
		cache_touch(&t->cache, ce);
		*size = (off_t)ce->len;
		if (offset < *size) {
			*data = ce->data + offset;
			*len = (size_t)(*size - offset) < max ?
			    (size_t)(*size - offset) : max;
		}
		return PROTO_OK;
	}
	if (n->folder->mount)
		return read_range_remote(t, w, n, offset, max, data, len, size,
		    why);
	fd = policy_open_beneath(n->folder->fd, n->file_name,
	    O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return policy_open_error(errno, why);
	if (fstat(fd, &sb) == -1 || sb.st_ino != n->w->st.ino ||
	    sb.st_dev != n->w->st.dev) {
		close(fd);
		mark_dirty(t, n->w);
		*why = "the file was replaced while it was read; ask again";
		return PROTO_UNAVAILABLE;
	}
	*size = sb.st_size;
	want = offset < sb.st_size ? (size_t)(sb.st_size - offset) : 0;
	if (want > max)
		want = max;
	got = snapshot_pread(fd, offset, want, owned);
	close(fd);
	if (got == -1) {
		*why = "cannot read the file";
		return errno == EACCES ? PROTO_FORBIDDEN : PROTO_INTERNAL;
	}
	*data = *owned;
	*len = (size_t)got;
	return PROTO_OK;
}

/* The content of a name whose file is not in the cache, read now or, on a
   file system that may stall, by the check that came back for it. The
   bytes are owned (*owned) or the check's (valid during the resume). */
static enum proto_error
content_uncached(struct watch_table *t, struct watch_waiter *w,
    struct watch_name *n, struct watch_state *st, const char **data,
    char **owned, const char **why)
{
	struct check c = { .have = &n->w->st, .read = 1 };
	struct file_job *fj;
	enum proto_error e;
	int fd = -1;

	*owned = NULL;
	if (n->folder->mount) {
		fj = file_result(w, n->key, n->keylen);
		if (fj && fj->data && fj->st.ino == n->w->st.ino &&
		    fj->st.size == n->w->st.size && fj->st.crc == n->w->st.crc) {
			*st = fj->st;
			*data = fj->data;
			return PROTO_OK;
		}
		return check_start(t, w, n->folder, n->proposal, n->file_name,
		    n->key, n->keylen, &c, why);
	}
	e = snapshot_read(n->folder->fd, n->file_name, t->cfg->max_file_size,
	    st, owned, &fd, why);
	if (e != PROTO_OK && e != PROTO_TOO_LARGE)
		memset(st, 0, sizeof(*st));
	settle_name(t, n, st, owned, fd);
	if (fd != -1)
		close(fd);
	if (e != PROTO_OK) {
		free(*owned);
		*owned = NULL;
		return e;
	}
	*data = *owned;
	return PROTO_OK;
}

enum proto_error
watch_content(struct watch_table *t, struct watch_waiter *w,
    struct watch_name *n, int literal, struct watch_content *out,
    const char **why)
{
	struct watch_state st;
	struct cache_entry *ce;
	enum proto_error e;
	const char *data = NULL;
	char *owned = NULL;

	memset(out, 0, sizeof(*out));
	if ((ce = n->w->content) == NULL) {
		/* Not cached: read it now, and keep it if it fits. */
		e = content_uncached(t, w, n, &st, &data, &owned, why);
		if (e != PROTO_OK)
			return e;
		if ((ce = n->w->content) == NULL) {
			out->st = st;
			out->data = data;
			out->owned_data = owned;
			out->len = (size_t)st.size;
			if (literal) {
				out->owned_literal = text_content_literal(data,
				    out->len, &out->literal_len, &out->is_base64);
				if ((out->literal = out->owned_literal) == NULL)
					goto nomem;
			} else
				out->is_base64 = !text_utf8_valid(data, out->len);
			return PROTO_OK;
		}
		free(owned);
	}
	cache_touch(&t->cache, ce);
	out->st = n->w->st;
	out->data = ce->data;
	out->len = ce->len;
	if (literal) {
		if ((out->literal = cache_literal(&t->cache, ce)) == NULL)
			goto nomem;
		out->literal_len = ce->literal_len;
		out->is_base64 = ce->is_base64;
		/* Making the literal may have evicted others, never ce. */
	} else
		out->is_base64 = !text_utf8_valid(ce->data, ce->len);
	return PROTO_OK;
nomem:
	watch_content_release(out);
	*why = "watcherd is out of memory";
	return PROTO_UNAVAILABLE;
}

void
watch_content_release(struct watch_content *c)
{
	free(c->owned_data);
	free(c->owned_literal);
	memset(c, 0, sizeof(*c));
}

void
watch_subscribe(struct watch_table *t, struct watch_name *n,
    struct watch_subscriber *s)
{
	s->name = n;
	s->prev = NULL;
	s->next = n->subs;
	if (n->subs)
		n->subs->prev = s;
	n->subs = s;
	n->n_subs++;
	n->w->n_subs++;
	n->w->last_active = loop_now(t->loop);
}

void
watch_unsubscribe(struct watch_table *t, struct watch_subscriber *s)
{
	struct watch_name *n = s->name;

	if (n == NULL)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		n->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	n->n_subs--;
	n->w->n_subs--;
	n->w->last_active = loop_now(t->loop);
	s->name = NULL;
	s->prev = s->next = NULL;
}

size_t
watch_unwatch(struct watch_table *t, struct watch_name *n)
{
	log_info("watch_removed", "proposal=%u file=%s by=unwatch",
	    n->proposal, log_str(n->file_name));
	return watch_free(t, n->w);
}

void
watch_table_list(struct watch_table *t,
    void (*fn)(void *arg, const struct watch_info *), void *arg)
{
	struct watch_info info;
	struct watch *w;

	for (w = t->all; w; w = w->next) {
		if (w->names == NULL)
			continue;
		info = (struct watch_info){
			.proposal = w->names->proposal,
			.file_name = w->names->file_name,
			.mode = w->poll ? "poll" : "inotify",
			.st = &w->st,
			.idle_ms = loop_now(t->loop) - w->last_active,
			.subscribers = w->n_subs,
			.changes = w->changes,
			.n_names = w->n_names,
		};
		fn(arg, &info);
	}
}

void
watch_table_stats(struct watch_table *t, struct watch_stats *s)
{
	struct mount_stats ms;
	struct cache_entry *e;
	struct watch *w;

	memset(s, 0, sizeof(*s));
	s->watches = t->count;
	for (w = t->all; w; w = w->next) {
		if (w->poll)
			s->poll_watches++;
		else
			s->inotify_watches++;
	}
	s->directories = t->n_dirs;
	s->changes = t->changes;
	s->inotify_overflows = t->overflows;
	s->inotify_fallbacks = t->fallbacks;
	s->cache_bytes = t->cache.used;
	for (e = t->cache.head; e; e = e->next)
		s->cache_entries++;
	mount_table_stats(t->mounts, &ms);
	s->fs_stalled = ms.stalled;
	s->fs_timeouts = ms.timeouts;
	s->fs_threads = ms.threads;
	s->fs_busy = ms.busy;
}
