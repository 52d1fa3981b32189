/*
 * The watch table: one watch per file (hard links, symlinks and repeated
 * requests share it), its cached state and content, the inotify watches on
 * the file and on its parent directories, polling where inotify cannot see,
 * the settle time after a change, idle expiry, and the events sent to
 * subscribers; the entry of the watch room (watcherd/watch/). With the
 * access room's checks (which open a file to ask the kernel), the only
 * code that touches proposal files.
 *
 * Files on a file system that may stall (GPFS, NFS, FUSE, ...) are read
 * and stat'ed on worker threads (work/job.h): a request about one may
 * have to wait. The calls that take a waiter then return PROTO_PENDING;
 * the waiter's resume function is called from the loop when the work is
 * done or its time is up, and the caller, at the same step, asks again
 * with the same waiter, which then gets the answer.
 */
#ifndef WATCH_H
#define WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "common/config.h"
#include "common/proto.h"
#include "watcherd/loop.h"
#include "watcherd/work/creds.h"
#include "watcherd/watch/snapshot.h"

struct folders;
struct jobs;
struct waiter;
struct watch_table;
struct watch_name;

/* A subscription, owned by a client of the server and linked into the name
   it subscribed through. */
struct watch_subscriber {
	LIST_ENTRY(watch_subscriber) entry;	/* in the name's */
	struct watch_name	*name;
	void			*owner;
};

/*
 * A change of a watched file, for the change callback (hooks). Valid during
 * the call only.
 */
struct watch_change {
	unsigned		 proposal;
	const char		*file_name;
	const char		*folder;	/* the DAMNIT folder's path */
	const char		*event;		/* "changed", "deleted", "created" */
	const struct watch_state *st;		/* the new state */
	int			 reset;		/* a new generation: truncated,
						   replaced or recreated */
	const char		*data;		/* the whole new content, when it
						   was read whole; else NULL */
	int			 fd;		/* the file, open; or -1 */
	off_t			*mark;		/* the callback's own offset in
						   this name's file: starts at the
						   size when the watch began, then
						   only the callback moves it */
};

/* What the table tells its user. */
struct watch_callbacks {
	/* The file a subscriber watches changed: event is "changed",
	   "deleted" or "created", st the new state. */
	void	(*event)(void *arg, struct watch_subscriber *, const char *event,
		    const struct watch_state *st);
	/* The subscription was ended by the table (unwatch, shutdown); the
	   owner frees it. Its name is still valid during the call. */
	void	(*dropped)(void *arg, struct watch_subscriber *);
	void	 *arg;
	/* Optional: every change of every watched name, subscribed or not. */
	void	(*change)(void *change_arg, const struct watch_change *);
	/* Optional: 1 when the change callback wants the changes of
	   file_name even while nobody asks about it; the watch of such a
	   file that is gone or unreadable is then kept (until idle expiry)
	   to see it come back, as for a subscriber. */
	int	(*wants)(void *change_arg, const char *file_name);
	void	 *change_arg;
};

/* The content of a file with the state it was read in. Either borrowed
   from the cache (valid until the next call into the table) or owned by
   the caller: release it with watch_content_release(). */
struct watch_content {
	struct watch_state	 st;
	const char		*data;
	size_t			 len;
	const char		*literal;	/* JSON value; when asked for */
	size_t			 literal_len;
	int			 is_base64;
	char			*owned_data;
	char			*owned_literal;
};

/* One row of watch_table_list(). */
struct watch_info {
	unsigned		 proposal;
	const char		*file_name;
	const char		*mode;		/* "inotify" or "poll" */
	const struct watch_state *st;
	long long		 idle_ms;
	unsigned		 subscribers;
	unsigned long		 changes;
	size_t			 n_names;
};

struct watch_stats {
	size_t		watches;
	size_t		inotify_watches;
	size_t		poll_watches;
	size_t		directories;
	unsigned long	changes;
	unsigned long	inotify_overflows;
	unsigned long	inotify_fallbacks;	/* ENOSPC: polled instead */
	size_t		cache_bytes;
	size_t		cache_entries;
	unsigned	fs_stalled;		/* mounts not answering now */
	unsigned long	fs_timeouts;		/* requests answered unavailable
						   for a stall */
	unsigned	fs_threads;		/* worker threads started */
	unsigned	fs_busy;		/* ... inside a job now */
	unsigned long	history_versions;	/* versions kept */
	unsigned long	history_skipped;	/* ... that could not be */
};

/*
 * Returns a table that reads cfg (kept by reference: reconfigure after it
 * changes), registers its inotify descriptor and timers in loop, calls
 * cb, runs its file-system work through jobs and finds proposals'
 * folders through folders. NULL with errno on failure.
 */
struct watch_table *watch_table_new(struct loop *, const struct config *cfg,
	    struct watch_callbacks cb, struct jobs *, struct folders *);
/* Frees every watch (subscriptions are dropped through cb.dropped); call
   after jobs_free(), which releases the jobs that point into it. */
void	watch_table_free(struct watch_table *);
/* Applies a reloaded config: cache budget, timers, data root, allow list. */
void	watch_table_reconfigure(struct watch_table *);

/*
 * Finds or starts the watch for (proposal, file_name), checks the file's
 * stat and re-reads it when it changed, and marks the watch active.
 * Returns PROTO_OK with *out set, PROTO_PENDING (see above), or an error
 * with *why (static text, or in the waiter).
 * PROTO_NOT_FOUND for a missing file, PROTO_TOO_LARGE when the file
 * exceeds max-file-size (*out is still set for an existing watch). A
 * watched file found missing or unreadable is no longer watched, unless
 * it has subscribers or the change callback wants it.
 */
enum proto_error watch_get(struct watch_table *, struct waiter *,
	    unsigned proposal, const char *file_name, size_t len,
	    struct watch_name **out, const char **why);
/*
 * Replaces the file (proposal, file_name) with data (borrowed: kept by
 * the caller until done is called) if, and only
 * if, its bytes still have the CRC-32 if_crc: checked and replaced under a
 * write lock on the file that file systems shared between hosts honour
 * (GPFS, NFSv4), the new bytes written to a temporary file beside it,
 * flushed and put in its place only while the name still is the file
 * locked (exchanged, then checked), in its directory opened without
 * following links, with the old file's mode (set-id bits dropped) and
 * access ACL. With as (a user's credentials, access = unix) every step
 * is that user's and the new file theirs; without, the old owner and
 * group are kept or nothing is saved. A name that is a symbolic link
 * inside the folder replaces its target. For a name whose versions are
 * kept (history-allow), the new bytes are kept as a version saved by user
 * ("" for a trusted peer that named none), and the bytes they replace as
 * the version seen on disk if none is. Always off the loop. done(arg, result) is called
 * on the loop once it is over (also when watcherd stops before), then w
 * resumes; a request waits for it up to fs-timeout on a file system that
 * may stall, WATCH_REPLACE_TIMEOUT_MS on a local disk, and nothing is
 * renamed over the file once that time has passed. Returns
 * PROTO_PENDING, with *started set once the replacement is under way (0
 * while the proposal's folder is looked for: ask again when w resumes),
 * or the error of the name, the proposal or a stalled file system with
 * *why (done is not called then).
 */
#define WATCH_REPLACE_TIMEOUT_MS 10000
struct watch_replace_result {
	enum proto_error	 e;
	const char		*why;		/* static text */
	struct watch_state	 st;		/* PROTO_OK: the new file */
	int			 current_known;	/* PROTO_CONFLICT: the file's */
	uint32_t		 current;	/* checksum then */
};
typedef void watch_replace_fn(void *arg, const struct watch_replace_result *);
enum proto_error watch_replace(struct watch_table *, struct waiter *,
	    unsigned proposal, const char *file_name, size_t len,
	    uint32_t if_crc, const char *data, size_t data_len,
	    const struct creds *as, const char *user, watch_replace_fn *done,
	    void *arg, int *started, const char **why);

/* Versions (DESIGN.md section 9; watch/history.h). */
struct history_version;
/* 1 when the versions of file_name are kept (history-allow). */
int	watch_history_kept(const struct watch_table *, const char *file_name);
/*
 * The versions of n's file, newest first, into *out (malloc()ed, the
 * caller frees; none when its versions are not kept) and *n. On a file
 * system that may stall, read off the loop: PROTO_PENDING (ask again when
 * w resumes), as watch_get() does.
 */
enum proto_error watch_history(struct watch_table *, struct waiter *,
	    struct watch_name *, struct history_version **out, size_t *count,
	    const char **why);
/* The newest version of n's file with checksum crc: *v and *data
   (malloc()ed, v->size bytes). PROTO_NOT_FOUND when there is none. */
enum proto_error watch_version(struct watch_table *, struct waiter *,
	    struct watch_name *, uint32_t crc, struct history_version *v,
	    char **data, const char **why);

/* The current state of the file behind a name. */
const struct watch_state *watch_name_state(const struct watch_name *);
/* "inotify" or "poll". */
const char *watch_name_mode(const struct watch_name *);
unsigned watch_name_proposal(const struct watch_name *);
const char *watch_name_file(const struct watch_name *);

/*
 * The generation of the file behind a name, written into buf (at least
 * WATCH_GENERATION_LEN + 1 bytes): it changes when the file is replaced by
 * another inode, truncated (seen shrinking), or deleted and recreated, and
 * only then. Derived from the inode number, the birth time (a reused
 * inode number is another file) and a count of truncations, so nodes
 * sharing a file system agree on it until one of them sees a truncation
 * the other did not.
 */
#define WATCH_GENERATION_LEN 32
void	watch_name_generation(const struct watch_name *, char *buf);

/*
 * Up to max bytes of the file behind name from offset on, read after
 * watch_get() vouched for the watch: borrowed from the cache, or read into
 * *owned (the caller frees it). Sets *data, *len and *size (the file's size
 * as read, which may have grown since the watch's state). Returns
 * PROTO_OK, PROTO_PENDING, or an error with *why (PROTO_UNAVAILABLE when
 * the file was replaced meanwhile: ask again).
 */
enum proto_error watch_read_range(struct watch_table *, struct waiter *,
	    struct watch_name *, off_t offset, size_t max, const char **data, size_t *len,
	    off_t *size, char **owned, const char **why);

/*
 * The content of the file behind name, consistent with the state returned
 * in out->st. With literal set, also its JSON "content" value. Returns
 * PROTO_OK, PROTO_PENDING, or an error with *why.
 */
enum proto_error watch_content(struct watch_table *, struct waiter *,
	    struct watch_name *, int literal, struct watch_content *out,
	    const char **why);
void	watch_content_release(struct watch_content *);

/* Links sub (owner set by the caller) to name; the watch is kept while
   it has subscribers. */
void	watch_subscribe(struct watch_table *, struct watch_name *,
	    struct watch_subscriber *);
/* Unlinks sub; the owner frees it. */
void	watch_unsubscribe(struct watch_table *, struct watch_subscriber *);
/* Ends the watch of name (and its other names) now. Returns the number
   of subscriptions dropped. */
size_t	watch_unwatch(struct watch_table *, struct watch_name *);

/* Calls fn for every watch. */
void	watch_table_list(struct watch_table *,
	    void (*fn)(void *arg, const struct watch_info *), void *arg);
void	watch_table_stats(struct watch_table *, struct watch_stats *);

#endif
