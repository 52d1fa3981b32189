/*
 * Watches and the names that share them (watch_int.h): a name's file found
 * in a new state (settle_name(): events to its subscribers, the generation,
 * the content cache, which watch it belongs to, inotify or polling), the
 * dirty queue that the settle time drains, and subscribers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "common/crc.h"
#include "common/log.h"
#include "watcherd/table.h"
#include "watcherd/watch/watch_int.h"

#define FILE_MASK	(IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | \
			 IN_DELETE_SELF | IN_MOVE_SELF)
#define POLL_REHASH_MAX	65536	/* a racy read of a polled file this small
				   is not trusted by queries */

struct inode_key {
	dev_t	dev;
	ino_t	ino;
};

int
stat_name(struct watch_name *n, struct stat *sb)
{
	return snapshot_stat(n->folder->fd, n->file_name, sb);
}

/* The dirty queue and the settle time. */

void
dirty_remove(struct watch_table *t, struct watch *w)
{
	if (!w->dirty)
		return;
	TAILQ_REMOVE(&t->dirty_queue, w, dirty_entry);
	w->dirty = 0;
}

/* Marks w changed: it is re-read once the settle time has passed since the
   first event, so that a burst of writes is read once, whole. */
void
mark_dirty(struct watch_table *t, struct watch *w)
{
	if (w->dirty)
		return;
	w->dirty = 1;
	w->settle_deadline = loop_now(t->loop) + t->cfg->settle_time_ms;
	TAILQ_INSERT_TAIL(&t->dirty_queue, w, dirty_entry);
	if (!t->settle_timer.armed)
		loop_timer_arm_at(t->loop, &t->settle_timer, w->settle_deadline);
}

/*
 * Marks w changed by a save that says it is complete (the writer closed
 * the file, or renamed a finished file over the name): it is read at once,
 * after the rest of this batch of events, so that what one batch says of
 * a file is read once. Only writes still open wait for the settle time.
 */
void
mark_saved(struct watch_table *t, struct watch *w)
{
	if (w->dirty && w->settle_deadline <= loop_now(t->loop))
		return;
	dirty_remove(t, w);
	w->dirty = 1;
	w->settle_deadline = loop_now(t->loop);
	/* No deadline is earlier: the queue stays in order. */
	TAILQ_INSERT_HEAD(&t->dirty_queue, w, dirty_entry);
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
	LIST_INSERT_HEAD(&t->watches, w, entry);
	t->count++;
	return w;
}

void
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

	while ((s = LIST_FIRST(&n->subs)) != NULL) {
		LIST_REMOVE(s, entry);
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
size_t
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
	LIST_REMOVE(w, entry);
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

	for (s = LIST_FIRST(&n->subs); s; s = next) {
		next = LIST_NEXT(s, entry);
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
struct watch *
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
int
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
struct watch_name *
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

void
watch_subscribe(struct watch_table *t, struct watch_name *n,
    struct watch_subscriber *s)
{
	s->name = n;
	LIST_INSERT_HEAD(&n->subs, s, entry);
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
	LIST_REMOVE(s, entry);
	n->n_subs--;
	n->w->n_subs--;
	n->w->last_active = loop_now(t->loop);
	s->name = NULL;
}

size_t
watch_unwatch(struct watch_table *t, struct watch_name *n)
{
	log_info("watch_removed", "proposal=%u file=%s by=unwatch",
	    n->proposal, log_str(n->file_name));
	return watch_free(t, n->w);
}

