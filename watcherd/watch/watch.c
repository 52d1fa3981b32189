/*
 * The watch table (watch.h): inotify's events, the settle, poll and idle
 * timers, and the requests: a name's state, content and ranges, answered
 * from the table or after a check off the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/inotify.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/text.h"
#include "watcherd/table.h"
#include "watcherd/watch/watch_int.h"

/* The settle timer's: reads the watches whose settle time has passed. */
static void
settle_fire(void *arg)
{
	struct watch_table *t = arg;
	struct watch *w;

	while ((w = TAILQ_FIRST(&t->dirty_queue)) &&
	    w->settle_deadline <= loop_now(t->loop))
		refresh_watch(t, w);
	if ((w = TAILQ_FIRST(&t->dirty_queue)))
		loop_timer_arm_at(t->loop, &t->settle_timer, w->settle_deadline);
}

/* A stalled mount answers again: its files are polled now, so that what
   changed meanwhile reaches their subscribers, and the proposals not found
   are looked up again when next asked. */
static void
mount_recovered(void *arg, struct mount *m)
{
	struct watch_table *t = arg;

	folders_retry(t->folders);
	poll_mount(t, m);
}

/* inotify events. */

static void
mark_all_dirty(struct watch_table *t)
{
	struct watch *w;

	LIST_FOREACH(w, &t->watches, entry)
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

			LIST_FOREACH(l, &d->links, entry)
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

	for (w = LIST_FIRST(&t->watches); w; w = next) {
		next = LIST_NEXT(w, entry);
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
    struct watch_callbacks cb, struct jobs *jobs, struct folders *folders)
{
	struct watch_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->loop = loop;
	t->cfg = cfg;
	t->cb = cb;
	t->jobs = jobs;
	t->folders = folders;
	t->ifd = -1;
	TAILQ_INIT(&t->dirty_queue);
	t->fault_enospc = getenv("WATCHERD_FAULT_INOTIFY_ENOSPC") != NULL;
	cache_init(&t->cache, cfg->cache_size);
	t->by_name = table_new();
	t->by_inode = table_new();
	t->by_file_wd = table_new();
	t->by_dir_wd = table_new();
	t->by_entry = table_new();
	t->checks = table_new();
	t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (!t->by_name || !t->by_inode || !t->by_file_wd || !t->by_dir_wd ||
	    !t->by_entry || !t->checks || t->ifd == -1)
		goto fail;
	jobs_on_recovered(jobs, mount_recovered, t);
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
	poll_free_all(t);
	while (!LIST_EMPTY(&t->watches))
		watch_free(t, LIST_FIRST(&t->watches));
	if (t->loop) {
		loop_timer_disarm(t->loop, &t->settle_timer);
		loop_timer_disarm(t->loop, &t->poll_timer);
		loop_timer_disarm(t->loop, &t->idle_timer);
		if (t->io.fn)
			loop_remove(t->loop, &t->io);
	}
	cache_clear(&t->cache);
	if (t->ifd != -1)
		close(t->ifd);
	table_free(t->by_name);
	table_free(t->by_inode);
	table_free(t->by_file_wd);
	table_free(t->by_dir_wd);
	table_free(t->by_entry);
	table_free(t->checks);
	free(t);
}

void
watch_table_reconfigure(struct watch_table *t)
{
	cache_set_limit(&t->cache, t->cfg->cache_size);
	loop_timer_arm(t->loop, &t->poll_timer, t->cfg->poll_interval_ms);
	loop_timer_arm(t->loop, &t->idle_timer, 1000);
	/* The data root may have changed: what was not found is looked for
	   again when next asked. */
	folders_retry(t->folders);
}

/* The first request for a name on a file system that may stall: its
   check creates the watch, or says why not. */
static enum proto_error
get_remote_new(struct watch_table *t, struct waiter *w, struct folder *f,
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
watch_get(struct watch_table *t, struct waiter *wt, unsigned proposal,
    const char *file_name, size_t len, struct watch_name **out,
    const char **why)
{
	struct watch_state st;
	struct watch_name *n;
	struct folder *f;
	struct stat sb;
	enum proto_error e;
	char key[NAME_KEY_MAX], *data;
	size_t keylen;
	int fd;

	*out = NULL;
	if ((e = name_key(t->cfg, wt, proposal, file_name, len, key, &keylen,
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
		e = folder_get(t->folders, proposal, wt, &f, why);
		if (e == PROTO_PENDING || e == PROTO_UNAVAILABLE)
			return e;
		if (e == PROTO_OK && f->mount) {
			e = check_known(t, wt, n, why);
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
	if ((e = folder_get(t->folders, proposal, wt, &f, why)) != PROTO_OK)
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
	if (e == PROTO_OK)
		version_keep_local(t, f, NULL, file_name, key, keylen, &st,
		    data);
	n = watch_start(t, f, file_name, key, keylen, &st, &data, fd, why);
	free(data);
	close(fd);
	if (n == NULL)
		return PROTO_UNAVAILABLE;
	*out = n;
	return e;
}

/* A range of a file on a file system that may stall: from the check that
   just came back for this request, or from a new one. */
static enum proto_error
read_range_remote(struct watch_table *t, struct waiter *w,
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
watch_read_range(struct watch_table *t, struct waiter *w,
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
content_uncached(struct watch_table *t, struct waiter *w,
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
watch_content(struct watch_table *t, struct waiter *w,
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
watch_table_list(struct watch_table *t,
    void (*fn)(void *arg, const struct watch_info *), void *arg)
{
	struct watch_info info;
	struct watch *w;

	LIST_FOREACH(w, &t->watches, entry) {
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
	LIST_FOREACH(w, &t->watches, entry) {
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
	TAILQ_FOREACH(e, &t->cache.lru, entry)
		s->cache_entries++;
	mount_table_stats(jobs_mounts(t->jobs), &ms);
	s->fs_stalled = ms.stalled;
	s->fs_timeouts = ms.timeouts;
	s->fs_threads = ms.threads;
	s->fs_busy = ms.busy;
	s->history_versions = t->history_versions;
	s->history_skipped = t->history_skipped;
}
