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
#include "common/policy.h"
#include "common/text.h"
#include "watcherd/cache.h"
#include "watcherd/fstype.h"
#include "watcherd/loop.h"
#include "watcherd/table.h"
#include "watcherd/watch.h"

#define FILE_MASK	(IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | \
			 IN_DELETE_SELF | IN_MOVE_SELF)
#define DIR_MASK	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | \
			 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define READ_ATTEMPTS	5
#define POLL_REHASH_MAX	65536	/* poll re-hashes files this small always */
/* A read that starts less than RACY_MS after the file's ctime may have
   raced a write: the stat is taken when the write begins, the bytes land
   after, and nothing changes in the stat when they have. Such a state is
   read again (see state_trusted) until a read starts later than that. A
   ctime further than RACY_FUTURE_MS ahead of our clock is another host's
   skewed clock, not a write under way. */
#define RACY_MS		100
#define RACY_FUTURE_MS	1000
#define FOLDER_NEGATIVE_MS 2000	/* how long "no such proposal" is believed */
#define FOLDER_MAX	100000

/* A watched directory: one inotify watch shared by every name in it. */
struct dir {
	int		 wd;
	unsigned	 refs;
	struct dir_link	*links;
};

/* The entry (directory, base name) through which a name is reached. */
struct dir_link {
	struct dir		*dir;	/* NULL: not linked (or dir gone) */
	struct watch_name	*name;
	struct dir_link		*prev, *next;
	char			 key[sizeof(int) + NAME_MAX + 1];
	size_t			 keylen;
};

/* A proposal's DAMNIT folder, or the memory that it has none. */
struct folder {
	struct folder	*next;		/* every folder */
	unsigned	 proposal;
	int		 fd;		/* O_PATH; -1: not found */
	char		*path;
	int		 remote;
	const char	*fstype;
	long long	 checked;
};

struct watch_name {
	struct watch_name	*next;		/* in w->names */
	struct watch		*w;
	struct folder		*folder;
	unsigned		 proposal;
	char			*file_name;
	char			*key;
	size_t			 keylen;
	struct dir_link		 links[2];	/* literal parent, real parent */
	struct watch_subscriber	*subs;
	unsigned		 n_subs;
	/* What the generation is made of, and what changes it. */
	int			 gen_known;
	int			 gen_gone;	/* seen deleted since */
	ino_t			 gen_ino;
	struct timespec		 gen_btime;
	unsigned		 gen_count;
	off_t			 gen_size;
	off_t			 change_mark;	/* the change callback's */
};

struct watch {
	struct watch		*prev, *next;		/* every watch */
	struct watch		*dirty_prev, *dirty_next;
	int			 dirty;
	long long		 settle_deadline;
	struct watch_state	 st;
	int			 in_inode_table;
	int			 file_wd;
	int			 poll;
	struct watch_name	*names;
	size_t			 n_names;
	unsigned		 n_subs;
	long long		 last_active;
	unsigned long		 changes;
	struct cache_entry	*content;
};

struct inode_key {
	dev_t	dev;
	ino_t	ino;
};

struct watch_table {
	struct loop		*loop;
	const struct config	*cfg;
	struct watch_callbacks	 cb;
	int			 ifd;
	struct loop_io		 io;
	struct table		*by_name;
	struct table		*by_inode;
	struct table		*by_file_wd;
	struct table		*by_dir_wd;
	struct table		*by_entry;
	struct table		*folders;
	struct folder		*folder_list;
	struct watch		*all;
	size_t			 count;
	struct watch		*dirty_head, *dirty_tail;
	struct loop_timer	 settle_timer, poll_timer, idle_timer;
	struct cache		 cache;
	unsigned long		 changes;
	unsigned long		 overflows;
	unsigned long		 fallbacks;
	size_t			 n_dirs;
	int			 fault_enospc;
};

static void	refresh_watch(struct watch_table *, struct watch *);

/* inotify, with the test seam that simulates an exhausted watch limit. */

static int
add_inotify(struct watch_table *t, const char *path, uint32_t mask)
{
	if (t->fault_enospc) {
		errno = ENOSPC;
		return -1;
	}
	return inotify_add_watch(t->ifd, path, mask);
}

static void
fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Folders. */

static void
folder_close(struct folder *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	free(f->path);
	f->path = NULL;
}

static void
folder_find(struct watch_table *t, struct folder *f)
{
	char path[PATH_MAX];

	folder_close(f);
	f->checked = loop_now(t->loop);
	if (policy_find_folder(t->cfg->data_root, f->proposal, path,
	    sizeof(path)) == -1)
		return;
	if ((f->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	if ((f->path = strdup(path)) == NULL) {
		folder_close(f);
		return;
	}
	f->remote = fstype_is_remote(f->fd, &f->fstype);
	log_info("folder_found", "proposal=%u fstype=%s mode=%s", f->proposal,
	    f->fstype, t->cfg->watch_mode != WATCH_MODE_AUTO ?
	    config_watch_mode_name(t->cfg->watch_mode) :
	    f->remote ? "poll" : "inotify");
}

/* The folder of a proposal, looked up once and then kept; NULL when the
   proposal has no DAMNIT folder. */
static struct folder *
folder_get(struct watch_table *t, unsigned proposal)
{
	struct folder *f = table_get(t->folders, &proposal, sizeof(proposal));
	struct stat sb;

	if (f == NULL) {
		if (table_count(t->folders) >= FOLDER_MAX ||
		    (f = calloc(1, sizeof(*f))) == NULL)
			return NULL;
		f->proposal = proposal;
		f->fd = -1;
		if (table_add(t->folders, &proposal, sizeof(proposal), f) == -1) {
			free(f);
			return NULL;
		}
		f->next = t->folder_list;
		t->folder_list = f;
		folder_find(t, f);
	} else if (f->fd == -1) {
		if (loop_now(t->loop) - f->checked >= FOLDER_NEGATIVE_MS)
			folder_find(t, f);
	} else if (fstat(f->fd, &sb) == -1 || sb.st_nlink == 0) {
		/* The folder was removed; maybe made anew elsewhere. */
		folder_find(t, f);
	}
	return f->fd == -1 ? NULL : f;
}

/* Reading files. */

static void
state_from_stat(struct watch_state *st, const struct stat *sb)
{
	memset(st, 0, sizeof(*st));
	st->exists = 1;
	st->dev = sb->st_dev;
	st->ino = sb->st_ino;
	st->size = sb->st_size;
	st->mtime = sb->st_mtim;
	st->ctime = sb->st_ctim;
}

/* Adds the birth time of the open file fd to st, where the file system
   keeps one. */
static void
state_birth(struct watch_state *st, int fd)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) == 0 &&
	    (sx.stx_mask & STATX_BTIME)) {
		st->btime.tv_sec = sx.stx_btime.tv_sec;
		st->btime.tv_nsec = sx.stx_btime.tv_nsec;
	}
}

/* Whether a stat shows the file the state describes, unchanged. */
static int
state_matches(const struct watch_state *st, const struct stat *sb)
{
	return st->exists && st->dev == sb->st_dev && st->ino == sb->st_ino &&
	    st->size == sb->st_size &&
	    st->mtime.tv_sec == sb->st_mtim.tv_sec &&
	    st->mtime.tv_nsec == sb->st_mtim.tv_nsec &&
	    st->ctime.tv_sec == sb->st_ctim.tv_sec &&
	    st->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

/* Whether a read that started at started may have raced a write that
   ended with the stat sb. */
static int
state_racy(const struct timespec *started, const struct stat *sb)
{
	long long ms = (long long)(started->tv_sec - sb->st_ctim.tv_sec) * 1000 +
	    (started->tv_nsec - sb->st_ctim.tv_nsec) / 1000000;

	return ms < RACY_MS && ms > -RACY_FUTURE_MS;
}

/* Reads all of fd into a malloc()ed buffer sized for want bytes; returns
   -1 with errno, or the length (want + 1 means the file grew). */
static ssize_t
read_all(int fd, char *buf, size_t want)
{
	size_t got = 0;
	ssize_t n;

	while (got < want + 1) {
		n = read(fd, buf + got, want + 1 - got);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * Opens and reads a file beneath its folder so that the bytes and the state
 * belong together: stat before and after reading, and read again when the
 * file moved under us. On PROTO_OK and PROTO_TOO_LARGE *fdp is the open
 * file (the caller closes it); on PROTO_OK *data holds the bytes.
 */
static enum proto_error
read_file(struct watch_table *t, int folder_fd, const char *file_name,
    struct watch_state *st, char **data, int *fdp, const char **why)
{
	struct stat before, after;
	struct timespec started;
	ssize_t len = 0;
	char *buf = NULL;
	int fd, attempt;

	*data = NULL;
	*fdp = -1;
	memset(st, 0, sizeof(*st));
	for (attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		clock_gettime(CLOCK_REALTIME, &started);
		fd = policy_open_beneath(folder_fd, file_name,
		    O_RDONLY | O_NONBLOCK | O_NOCTTY);
		if (fd == -1)
			return policy_open_error(errno, why);
		if (fstat(fd, &before) == -1)
			goto fail_errno;
		if (!S_ISREG(before.st_mode)) {
			close(fd);
			*why = "not a regular file";
			return PROTO_FORBIDDEN;
		}
		if ((size_t)before.st_size > t->cfg->max_file_size) {
			state_from_stat(st, &before);
			state_birth(st, fd);
			st->too_large = 1;
			*fdp = fd;
			*why = "file is larger than max-file-size";
			return PROTO_TOO_LARGE;
		}
		if ((buf = malloc((size_t)before.st_size + 1)) == NULL) {
			close(fd);
			*why = "watcherd is out of memory";
			return PROTO_UNAVAILABLE;
		}
		if ((len = read_all(fd, buf, (size_t)before.st_size)) == -1)
			goto fail_errno;
		if (fstat(fd, &after) == -1)
			goto fail_errno;
		state_from_stat(st, &before);
		if ((len == before.st_size && state_matches(st, &after)) ||
		    attempt == READ_ATTEMPTS - 1)
			break;
		/* Written while we read: the bytes may mix two versions. */
		free(buf);
		buf = NULL;
		close(fd);
	}
	if ((size_t)len > t->cfg->max_file_size) {
		free(buf);
		state_from_stat(st, &after);
		state_birth(st, fd);
		st->too_large = 1;
		*fdp = fd;
		*why = "file is larger than max-file-size";
		return PROTO_TOO_LARGE;
	}
	state_from_stat(st, &after);
	state_birth(st, fd);
	st->size = len;
	st->crc = crc_buffer(buf, (size_t)len);
	st->racy = state_racy(&started, &after);
	*data = buf;
	*fdp = fd;
	return PROTO_OK;
fail_errno:
	free(buf);
	close(fd);
	*why = "cannot read the file";
	return errno == EACCES ? PROTO_FORBIDDEN : PROTO_INTERNAL;
}

/*
 * Stats a name relative to its folder: the hot path of every query. A
 * plain fstatat, not openat2(RESOLVE_BENEATH): its result is only compared
 * with the cached state, and a name that now resolves anywhere else has
 * another inode, so it is re-read, and that goes through openat2.
 */
static int
stat_name(struct watch_name *n, struct stat *sb)
{
	return fstatat(n->folder->fd, n->file_name, sb, AT_NO_AUTOMOUNT);
}

/* Directories and their entries. */

static void
dir_unref(struct watch_table *t, struct dir *d)
{
	if (--d->refs > 0)
		return;
	table_del(t->by_dir_wd, &d->wd, sizeof(d->wd), d);
	inotify_rm_watch(t->ifd, d->wd);
	t->n_dirs--;
	free(d);
}

static void
link_clear(struct watch_table *t, struct dir_link *l)
{
	struct dir *d = l->dir;

	if (d == NULL)
		return;
	table_del(t->by_entry, l->key, l->keylen, l);
	if (l->prev)
		l->prev->next = l->next;
	else
		d->links = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->dir = NULL;
	l->prev = l->next = NULL;
	dir_unref(t, d);
}

/* Links l to entry base of the directory open at dirfd. */
static int
link_set(struct watch_table *t, struct dir_link *l, int dirfd,
    const char *base)
{
	char path[64], key[sizeof(l->key)];
	size_t blen = strlen(base), keylen;
	struct dir *d;
	int wd;

	if (blen > NAME_MAX)
		return -1;
	fd_path(dirfd, path, sizeof(path));
	if ((wd = add_inotify(t, path, DIR_MASK)) == -1)
		return -1;
	memcpy(key, &wd, sizeof(wd));
	memcpy(key + sizeof(wd), base, blen);
	keylen = sizeof(wd) + blen;
	if (l->dir && l->keylen == keylen && memcmp(l->key, key, keylen) == 0)
		return 0;
	link_clear(t, l);
	if ((d = table_get(t->by_dir_wd, &wd, sizeof(wd))) == NULL) {
		if ((d = calloc(1, sizeof(*d))) == NULL)
			return -1;
		d->wd = wd;
		if (table_add(t->by_dir_wd, &wd, sizeof(wd), d) == -1) {
			free(d);
			return -1;
		}
		t->n_dirs++;
	}
	memcpy(l->key, key, keylen);
	l->keylen = keylen;
	if (table_add(t->by_entry, l->key, l->keylen, l) == -1) {
		if (d->refs == 0) {
			d->refs = 1;
			dir_unref(t, d);
		}
		return -1;
	}
	d->refs++;
	l->dir = d;
	l->next = d->links;
	if (d->links)
		d->links->prev = l;
	d->links = l;
	return 0;
}

/* Splits a path into a directory part (or ".") and its last component. */
static const char *
split_path(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(dir, dirlen, ".");
		return path;
	}
	snprintf(dir, dirlen, "%.*s", slash == path ? 1 : (int)(slash - path),
	    path);
	return slash + 1;
}

/*
 * Watches the directories through which a name reaches its file: the
 * literal parent (rename-over, delete, create of the name itself) and,
 * where a symlink leads elsewhere, the real parent of the target. fd is
 * the open file. Returns -1 when inotify cannot take them.
 */
static int
name_link(struct watch_table *t, struct watch_name *n, int fd)
{
	char dir[PATH_MAX], real[PATH_MAX], path[64];
	const char *base;
	ssize_t len;
	int dfd, r;

	base = split_path(n->file_name, dir, sizeof(dir));
	if ((dfd = policy_open_beneath(n->folder->fd, dir,
	    O_PATH | O_DIRECTORY)) == -1)
		return -1;
	r = link_set(t, &n->links[0], dfd, base);
	close(dfd);
	if (r == -1)
		return -1;
	fd_path(fd, path, sizeof(path));
	if ((len = readlink(path, real, sizeof(real) - 1)) <= 0)
		return 0;
	real[len] = '\0';
	base = split_path(real, dir, sizeof(dir));
	if ((dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	r = link_set(t, &n->links[1], dfd, base);
	close(dfd);
	/* The real parent is the literal one: one link says it all. */
	if (r == 0 && n->links[1].dir == n->links[0].dir &&
	    n->links[1].keylen == n->links[0].keylen &&
	    memcmp(n->links[1].key, n->links[0].key, n->links[0].keylen) == 0)
		link_clear(t, &n->links[1]);
	return r;
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
	link_clear(t, &n->links[0]);
	link_clear(t, &n->links[1]);
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
	fd_path(fd, path, sizeof(path));
	if ((wd = add_inotify(t, path, FILE_MASK)) == -1 ||
	    name_link(t, n, fd) == -1) {
		if (errno == ENOSPC || errno == ENOMEM) {
			t->fallbacks++;
			log_warn("inotify_fallback", "proposal=%u file=%s "
			    "reason=\"%s\" action=poll", n->proposal,
			    n->file_name, strerror(errno));
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
		if (n->folder->remote && t->cfg->watch_mode == WATCH_MODE_AUTO)
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
			    m->proposal, m->file_name, ev);
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

/* Reads the file behind n again and records what it found. */
static enum proto_error
refresh_name(struct watch_table *t, struct watch_name *n, const char **why)
{
	struct watch_state st;
	enum proto_error e;
	char *data = NULL;
	int fd = -1;

	if (!folder_get(t, n->proposal) || n->folder->fd == -1) {
		memset(&st, 0, sizeof(st));
		e = PROTO_NOT_FOUND;
		*why = "the proposal's DAMNIT folder is gone";
	} else
		e = read_file(t, n->folder->fd, n->file_name, &st, &data, &fd,
		    why);
	if (e != PROTO_OK && e != PROTO_TOO_LARGE)
		memset(&st, 0, sizeof(st));
	settle_name(t, n, &st, &data, fd);
	free(data);
	if (fd != -1)
		close(fd);
	return e;
}

static void
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

/* The kernel ended a directory's watch (it was removed): unlink every
   name in it and have them re-checked; they are polled until their
   directory can be watched again. */
static void
dir_gone(struct watch_table *t, struct dir *d)
{
	struct dir_link *l;

	table_del(t->by_dir_wd, &d->wd, sizeof(d->wd), d);
	while ((l = d->links) != NULL) {
		d->links = l->next;
		table_del(t->by_entry, l->key, l->keylen, l);
		l->dir = NULL;
		l->prev = l->next = NULL;
		mark_dirty(t, l->name->w);
	}
	t->n_dirs--;
	free(d);
}

static void
handle_event(struct watch_table *t, const struct inotify_event *ev)
{
	void *found[64];
	struct watch *w;
	struct dir *d;
	char key[sizeof(int) + NAME_MAX + 1];
	size_t n, i, blen;

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
		mark_dirty(t, w);
		return;
	}
	if ((d = table_get(t->by_dir_wd, &ev->wd, sizeof(ev->wd))) == NULL)
		return;
	if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
		if (ev->mask & IN_IGNORED)
			dir_gone(t, d);
		else {
			struct dir_link *l;

			for (l = d->links; l; l = l->next)
				mark_dirty(t, l->name->w);
		}
		return;
	}
	if (ev->len == 0)
		return;
	blen = strnlen(ev->name, ev->len);
	if (blen > NAME_MAX)
		return;
	memcpy(key, &ev->wd, sizeof(int));
	memcpy(key + sizeof(int), ev->name, blen);
	n = table_get_all(t->by_entry, key, sizeof(int) + blen, found,
	    sizeof(found) / sizeof(found[0]));
	if (n > sizeof(found) / sizeof(found[0])) {
		/* More names on one entry than we hold: re-check them all. */
		mark_all_dirty(t);
		return;
	}
	for (i = 0; i < n && i < sizeof(found) / sizeof(found[0]); i++)
		mark_dirty(t, ((struct dir_link *)found[i])->name->w);
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

/* Polling and idle expiry. */

static int
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

static void
poll_fire(void *arg)
{
	struct watch_table *t = arg;
	struct watch *w, *next;
	struct stat sb;

	for (w = t->all; w; w = next) {
		next = w->next;
		if (!watch_needs_poll(w))
			continue;
		/* Small files are re-hashed every time: a same-size edit
		   within the file system's timestamp granularity is seen.
		   So is a file that may have been read mid-write. */
		if (w->st.exists && (w->st.size <= POLL_REHASH_MAX ||
		    w->st.racy))
			refresh_watch(t, w);
		else if (stat_name(w->names, &sb) == 0 ?
		    !state_matches(&w->st, &sb) : w->st.exists)
			refresh_watch(t, w);
	}
	loop_timer_arm(t->loop, &t->poll_timer, t->cfg->poll_interval_ms);
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
			    w->names ? w->names->file_name : "-");
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
	t->fault_enospc = getenv("WATCHERD_FAULT_INOTIFY_ENOSPC") != NULL;
	cache_init(&t->cache, cfg->cache_size);
	t->by_name = table_new();
	t->by_inode = table_new();
	t->by_file_wd = table_new();
	t->by_dir_wd = table_new();
	t->by_entry = table_new();
	t->folders = table_new();
	t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (!t->by_name || !t->by_inode || !t->by_file_wd || !t->by_dir_wd ||
	    !t->by_entry || !t->folders || t->ifd == -1)
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

static void
free_folder(struct folder *f)
{
	folder_close(f);
	free(f);
}

void
watch_table_free(struct watch_table *t)
{
	if (t == NULL)
		return;
	while (t->all)
		watch_free(t, t->all);
	if (t->loop) {
		loop_timer_disarm(t->loop, &t->settle_timer);
		loop_timer_disarm(t->loop, &t->poll_timer);
		loop_timer_disarm(t->loop, &t->idle_timer);
		if (t->io.fn)
			loop_remove(t->loop, &t->io);
	}
	while (t->folder_list) {
		struct folder *f = t->folder_list;

		t->folder_list = f->next;
		free_folder(f);
	}
	cache_clear(&t->cache);
	if (t->ifd != -1)
		close(t->ifd);
	table_free(t->by_name);
	table_free(t->by_inode);
	table_free(t->by_file_wd);
	table_free(t->by_dir_wd);
	table_free(t->by_entry);
	table_free(t->folders);
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

enum proto_error
watch_get(struct watch_table *t, unsigned proposal, const char *file_name,
    size_t len, struct watch_name **out, const char **why)
{
	struct watch_state st;
	struct watch_name *n;
	struct folder *f;
	struct stat sb;
	enum proto_error e;
	char key[16 + POLICY_MAX_NAME], *data;
	struct inode_key ik;
	size_t keylen;
	int fd;

	*out = NULL;
	if ((e = policy_check_name(file_name, len, why)) != PROTO_OK)
		return e;
	if (!policy_allowed(t->cfg->allow, t->cfg->n_allow, file_name)) {
		*why = "file_name is not one of the files that may be served";
		return PROTO_FORBIDDEN;
	}
	keylen = (size_t)snprintf(key, sizeof(key), "%u/%s", proposal, file_name);
	if ((n = table_get(t->by_name, key, keylen)) != NULL) {
		n->w->last_active = loop_now(t->loop);
		if (state_trusted(n->w) && stat_name(n, &sb) == 0 &&
		    state_matches(&n->w->st, &sb)) {
			*out = n;
			if (n->w->st.too_large) {
				*why = "file is larger than max-file-size";
				return PROTO_TOO_LARGE;
			}
			return PROTO_OK;
		}
		e = refresh_name(t, n, why);
		if ((e == PROTO_NOT_FOUND || e == PROTO_FORBIDDEN) && n->w &&
		    n->w->n_subs == 0 && n->w->n_names == 1 &&
		    (t->cb.wants == NULL ||
		    !t->cb.wants(t->cb.change_arg, n->file_name))) {
			/* Gone or unreadable, and nobody waits for it to come
			   back: no longer watched, as if never asked for
			   (choose_watch has left such a name alone on its
			   watch). */
			log_debug("watch_ended", "proposal=%u file=%s reason=\"%s\"",
			    proposal, n->file_name, *why);
			watch_free(t, n->w);
			return e;
		}
		if (n->w)
			n->w->last_active = loop_now(t->loop);
		*out = n;
		return e;
	}
	if ((f = folder_get(t, proposal)) == NULL) {
		*why = "unknown proposal, or it has no DAMNIT folder";
		return PROTO_NOT_FOUND;
	}
	/* A file over max-file-size is watched too: its size and a tail
	   of it can still be served. */
	e = read_file(t, f->fd, file_name, &st, &data, &fd, why);
	if (e != PROTO_OK && e != PROTO_TOO_LARGE) {
		if (fd != -1)
			close(fd);
		return e;
	}
	ik = (struct inode_key){ st.dev, st.ino };
	if (t->count >= t->cfg->max_watches &&
	    table_get(t->by_inode, &ik, sizeof(ik)) == NULL) {
		free(data);
		close(fd);
		*why = "too many watched files (max-watches); try again later";
		return PROTO_UNAVAILABLE;
	}
	if ((n = name_new(t, f, proposal, file_name, key, keylen)) == NULL ||
	    settle_name(t, n, &st, &data, fd) == NULL) {
		if (n)
			name_free(t, n);
		free(data);
		close(fd);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	free(data);
	close(fd);
	n->w->last_active = loop_now(t->loop);
	log_debug("watch_added", "proposal=%u file=%s mode=%s", proposal,
	    file_name, n->w->poll ? "poll" : "inotify");
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

enum proto_error
watch_read_range(struct watch_table *t, struct watch_name *n, off_t offset,
    size_t max, const char **data, size_t *len, off_t *size, char **owned,
    const char **why)
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
	if (want > 0) {
		if ((*owned = malloc(want)) == NULL) {
			close(fd);
			*why = "watcherd is out of memory";
			return PROTO_UNAVAILABLE;
		}
		do
			got = pread(fd, *owned, want, offset);
		while (got == -1 && errno == EINTR);
		if (got == -1) {
			free(*owned);
			*owned = NULL;
			close(fd);
			*why = "cannot read the file";
			return errno == EACCES ? PROTO_FORBIDDEN : PROTO_INTERNAL;
		}
		*data = *owned;
		*len = (size_t)got;
	}
	close(fd);
	return PROTO_OK;
}

enum proto_error
watch_content(struct watch_table *t, struct watch_name *n, int literal,
    struct watch_content *out, const char **why)
{
	struct watch_state st;
	struct cache_entry *ce;
	enum proto_error e;
	char *data = NULL;
	int fd = -1;

	memset(out, 0, sizeof(*out));
	if ((ce = n->w->content) == NULL) {
		/* Not cached: read it now, and keep it if it fits. */
		e = read_file(t, n->folder->fd, n->file_name, &st, &data, &fd, why);
		if (e != PROTO_OK && e != PROTO_TOO_LARGE)
			memset(&st, 0, sizeof(st));
		settle_name(t, n, &st, &data, fd);
		if (fd != -1)
			close(fd);
		if (e != PROTO_OK) {
			free(data);
			return e;
		}
		if ((ce = n->w->content) == NULL) {
			out->st = st;
			out->data = out->owned_data = data;
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
	    n->proposal, n->file_name);
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
}
