/*
 * The watch room's own structures (watcherd/watch/), shared by the files
 * that make up the watch table (as OpenBSD httpd shares httpd.h), from
 * the top down: watch.c (the public API: requests, inotify's events, the
 * timers), poll.c (the files inotify cannot see), check.c (checks off the
 * loop, and the refresh of a name), names.c (watches, the names that
 * share them, their state, events and subscribers), dirs.c (directory
 * watches and the entries names are reached through) and replace.c (a
 * save's replacement). The room's other files stand on their own
 * headers: folder.h (proposal -> DAMNIT folder, also the access room's
 * way in), snapshot.h (bytes and the stat they belong to), cache.h (the
 * content LRU). Its work off the loop goes through the work room
 * (work/job.h). Not for other users.
 */
#ifndef WATCH_INT_H
#define WATCH_INT_H

#include <limits.h>
#include <stddef.h>
#include <sys/queue.h>

#include "common/config.h"
#include "common/policy.h"
#include "watcherd/loop.h"
#include "watcherd/memo.h"
#include "watcherd/watch/cache.h"
#include "watcherd/watch/folder.h"
#include "watcherd/watch/history.h"
#include "watcherd/watch/watch.h"
#include "watcherd/work/job.h"
#include "watcherd/work/mount.h"

struct poll_round;
struct table;

/* A watched directory: one inotify watch shared by every name in it. */
struct dir {
	int		 wd;
	unsigned	 refs;
	LIST_HEAD(, dir_link) links;
};

/* The entry (directory, base name) through which a name is reached. */
struct dir_link {
	struct dir		*dir;	/* NULL: not linked (or dir gone) */
	struct watch_name	*name;
	LIST_ENTRY(dir_link)	 entry;	/* in dir->links */
	char			 key[sizeof(int) + NAME_MAX + 1];
	size_t			 keylen;
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
	LIST_HEAD(, watch_subscriber) subs;
	unsigned		 n_subs;
	/* What the generation is made of, and what changes it. */
	int			 gen_known;
	int			 gen_gone;	/* seen deleted since */
	ino_t			 gen_ino;
	struct timespec		 gen_btime;
	unsigned		 gen_count;
	off_t			 gen_size;
	off_t			 change_mark;	/* the change callback's */
	/* The version last kept (or found kept) of this name's file: a
	   refresh that finds the same bytes at the same time does not look
	   at the history again (after a save of ours, above all). */
	int			 kept_known;
	uint32_t		 kept_crc;
	struct timespec		 kept_time;
	unsigned		 saving;	/* saves of ours under way: they
						   keep their versions themselves */
	/* Off the loop: the last check recorded (its job's seq) and what
	   it found. */
	unsigned long		 checked_seq;
	enum proto_error	 checked_e;
	const char		*checked_why;
};

struct watch {
	LIST_ENTRY(watch)	 entry;		/* in t->watches */
	TAILQ_ENTRY(watch)	 dirty_entry;	/* in t->dirty_queue while dirty */
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
	struct folders		*folders;
	LIST_HEAD(, watch)	 watches;	/* every watch */
	size_t			 count;
	TAILQ_HEAD(, watch)	 dirty_queue;	/* read from the head */
	struct loop_timer	 settle_timer, poll_timer, idle_timer;
	struct cache		 cache;
	struct jobs		*jobs;
	struct table		*checks;	/* name key -> newest check */
	struct poll_round	*poll_rounds;	/* one per polled mount */
	unsigned long		 changes;
	unsigned long		 overflows;
	unsigned long		 fallbacks;
	size_t			 n_dirs;
	int			 fault_enospc;
	unsigned long		 history_versions;	/* recorded */
	unsigned long		 history_skipped;	/* could not be */
};

/* names.c */

/*
 * Records that the file behind n is now in state st: moves n to the watch
 * of that file (the same one, a re-keyed one after a rename-over, the one
 * of a hard link, or a new one), keeps *data in the cache (and sets it to
 * NULL) when it fits, and tells every affected subscriber. fd is the open
 * file or -1.
 */
struct watch *settle_name(struct watch_table *, struct watch_name *,
	    const struct watch_state *st, char **data, int fd);
/*
 * Watches a name asked for the first time, its file found in state st
 * (*data and fd as settle_name() takes them). Returns the name, or NULL
 * with *why (max-watches reached, or out of memory).
 */
struct watch_name *watch_start(struct watch_table *, struct folder *,
	    const char *file_name, const char *key, size_t keylen,
	    const struct watch_state *st, char **data, int fd,
	    const char **why);
/* Ends a watch: its names (dropping their subscriptions), its inotify
   watches and its cached content. Returns the subscriptions dropped. */
size_t	watch_free(struct watch_table *, struct watch *);
/* Whether a query may answer from w's state while the file's stat still
   matches it: not while a change waits to be read, nor for a small polled
   file read so soon after a change that a write may have been under way. */
int	state_trusted(const struct watch *);
/* Whether inotify cannot see w, so that it is polled. */
int	watch_needs_poll(const struct watch *);
/* stat() of a name's file, by its folder; -1 with errno. */
int	stat_name(struct watch_name *, struct stat *);
/* Marks w changed: it is re-read once the settle time has passed since the
   first event, so that a burst of writes is read once, whole. */
void	mark_dirty(struct watch_table *, struct watch *);
/* Marks w changed by a save that says it is complete (closed, or renamed
   over the name): it is read after the rest of this batch of events. */
void	mark_saved(struct watch_table *, struct watch *);
/* Takes w off the dirty queue. */
void	dirty_remove(struct watch_table *, struct watch *);
/* Sets the inotify watch of w's own file (-1: none). */
void	set_file_wd(struct watch_table *, struct watch *, int wd);

/* check.c */

/* Takes up the state of the name of key, if it is watched, after a save
   replaced its file: its subscribers hear of it at once. */
void	refresh_key(struct watch_table *, const char *key, size_t keylen);
/* Reads every name of w again (on the loop's file systems), or starts
   their checks (on one that may stall). */
void	refresh_watch(struct watch_table *, struct watch *);
/*
 * Reads the file behind n again and records what it found; on a file
 * system that may stall, starts a check that records it when it comes
 * back (PROTO_PENDING).
 */
enum proto_error refresh_name(struct watch_table *, struct watch_name *,
	    const char **why);
/* Checks an existing name's file off the loop: the answer when a check
   done since the request arrived says it, else PROTO_PENDING. */
enum proto_error check_known(struct watch_table *, struct waiter *,
	    struct watch_name *, const char **why);
/* The check of w's request when it is the one that just came back for
   key, else NULL. */
struct file_job *file_result(struct waiter *, const char *key,
	    size_t keylen);

/* What a job needs to keep versions of a file on a worker: a copy of the
   bounds (the config may be reloaded meanwhile), and what it did. on is
   0 for a name whose versions are not kept (history-allow). */
struct version_note {
	int			 on;
	struct history_bounds	 b;
	char			*dir;
	unsigned		 recorded, skipped;
	int			 err;		/* the last skip's errno */
};

/*
 * A check of a file on a file system that may stall, done by a worker:
 * stat it and compare with the state known (have), read it when that
 * differs or when asked (read), and read a range for a tail. The result
 * is recorded by file_finish() on the loop.
 */
struct file_job {
	struct job		 j;		/* j.dir_fd: the folder;
						   j.name: the file's */
	struct watch_table	*t;
	struct version_note	 versions;	/* a change read is kept */
	struct folder		*folder;
	char			*key;		/* the name's, in t->checks */
	size_t			 keylen;
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

/* What a check of (folder, file_name) is to do. */
struct check {
	const struct watch_state *have;	/* NULL: nothing known */
	int		 read;
	int		 create;
	int		 want_range;
	off_t		 range_at;
	size_t		 range_max;
};

/*
 * Starts a check of the file, or joins one that has not started yet and
 * does as much, and makes w wait for it. Without a waiter (polls), only
 * starts one when none is under way. Returns PROTO_PENDING, or
 * PROTO_UNAVAILABLE with *why.
 */
enum proto_error check_start(struct watch_table *, struct waiter *,
	    struct folder *, unsigned proposal, const char *file_name,
	    const char *key, size_t keylen, const struct check *,
	    const char **why);

/* versions.c */

/* Sets up vn for file_name. Returns 0, or -1 when out of memory. */
int	version_note_init(struct watch_table *, const char *file_name,
	    struct version_note *vn);
void	version_note_free(struct version_note *);
/* On a worker or the loop: keeps data, the file's bytes in state st, as
   a version beneath folder_fd, saved by user or seen on disk (NULL), and
   first before_data, the bytes a save replaced in state before, as seen
   on disk (NULL: none). A version that cannot be written is skipped,
   never an error. */
void	version_keep(struct version_note *, int folder_fd,
	    const char *file_name, const struct watch_state *before,
	    const char *before_data, const struct watch_state *st,
	    const char *data, const char *user);
/* On the loop, for a local file read anew (its name n, or NULL before it
   is watched; its key): its bytes, copied, as the version seen on disk,
   written by a worker (never on the loop), unless the newest has them. */
void	version_keep_local(struct watch_table *, struct folder *,
	    struct watch_name *n, const char *file_name, const char *key,
	    size_t keylen, const struct watch_state *st, const char *data);
/* Notes that the bytes of n's file in state st are kept (a save's
   version was recorded for them). */
void	version_noted(struct watch_name *n, const struct watch_state *st);
/*
 * On the loop: keeps versions of the name of key on a worker of mount m
 * (before_data, the bytes a save replaced in state before, taken, or
 * NULL; data, copied, in state st), saved by user (NULL: seen on disk),
 * with the saver's credentials as (NULL: watcherd's own); with saving,
 * once a save is answered, then counts the name's saving down. Never fails
 * anything: what cannot be kept is skipped.
 */
void	version_keep_after(struct watch_table *, struct mount *m,
	    int folder_fd, unsigned proposal, const char *file_name,
	    const char *key, size_t keylen, const struct watch_state *before,
	    char *before_data, const struct watch_state *st, const char *data,
	    const char *user, const struct creds *as, int saving);
/* On the loop: counts what vn did (status), and logs a skip. */
void	version_count(struct watch_table *, unsigned proposal,
	    const char *file_name, const struct version_note *vn);

/* poll.c */

/* The poll timer's: polls every file that inotify cannot see. */
void	poll_fire(void *arg);
/* Polls the files of mount m now (it answers again after a stall). */
void	poll_mount(struct watch_table *, struct mount *m);
/* Frees the rounds and the batches not submitted. */
void	poll_free_all(struct watch_table *);

/* dirs.c */

/* inotify_add_watch(), with the test seam that simulates an exhausted
   watch limit (WATCHERD_FAULT_INOTIFY_ENOSPC). */
int	dirs_add_inotify(struct watch_table *, const char *path, uint32_t mask);
/* "/proc/self/fd/N", the path through which inotify takes an open file. */
void	dirs_fd_path(int fd, char *buf, size_t len);
/*
 * Watches the directories through which a name reaches its file: the
 * literal parent (rename-over, delete, create of the name itself) and,
 * where a symlink leads elsewhere, the real parent of the target. fd is
 * the open file. Returns -1 when inotify cannot take them.
 */
int	dirs_link_name(struct watch_table *, struct watch_name *, int fd);
/* Unlinks one of a name's directory entries. */
void	dirs_unlink(struct watch_table *, struct dir_link *);
/* The names linked to the entry (wd, base name) of an event, into
   found[max]; returns how many there are in all. */
size_t	dirs_entry_names(struct watch_table *, int wd, const char *name,
	    size_t len, struct watch_name **found, size_t max);
/* The directory of a watch descriptor, or NULL. */
struct dir *dirs_find(struct watch_table *, int wd);
/* The kernel ended a directory's watch (it was removed): unlinks every
   name in it, calling gone(t, name) for each, and frees it. */
void	dirs_gone(struct watch_table *, struct dir *,
	    void (*gone)(struct watch_table *, struct watch_name *));

#endif
