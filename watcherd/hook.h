/*
 * Change hooks: on a change of a watched file whose file_name matches a
 * hook's pattern, the hook's command runs (argv, never a shell) with
 * PROPOSAL, FILE_NAME, FILE_PATH, CHECKSUM, EVENT and PATH in an otherwise
 * empty environment. A hook-match restricts the hooks of its pattern to
 * changes that append complete lines matching its regex, and gives those
 * lines on stdin. At most hook-max-running processes at once, hook-queue
 * runs waiting, hook-timeout seconds before the process group is killed;
 * exit status and stderr go to the log. Nothing a hook does blocks the
 * loop: pipes are non-blocking and exits are seen through pidfds.
 */
#ifndef HOOK_H
#define HOOK_H

#include <stddef.h>

#include "common/config.h"
#include "watcherd/watch/watch.h"

struct loop;
struct hooks;

/* Counters for the status command. */
struct hook_stats {
	unsigned long	run;		/* processes started */
	unsigned long	failed;		/* non-zero exit, a signal, or no start */
	unsigned long	killed;		/* over hook-timeout */
	unsigned long	dropped;	/* hook-queue was full */
	size_t		running;
	size_t		queued;
};

/*
 * Returns the hooks of cfg (kept by reference: call hooks_reconfigure after
 * it changes), running their processes from loop. NULL with errno when out
 * of memory.
 */
struct hooks *hooks_new(struct loop *, const struct config *cfg);
/* Kills the process group of every running hook, drops the queued runs,
   and frees everything. */
void	hooks_free(struct hooks *);
/* Applies a reloaded config: hooks, matches and limits. Running and queued
   runs continue as they were started. */
void	hooks_reconfigure(struct hooks *);
/*
 * The watch table's change callback (hooks is a struct hooks *): starts or
 * queues the runs the change calls for, and moves *change->mark past the
 * appended lines it scanned. Never blocks on a hook.
 */
void	hooks_change(void *hooks, const struct watch_change *);
/* The watch table's wants callback: 1 when a hook's pattern matches
   file_name. */
int	hooks_want(void *hooks, const char *file_name);
void	hooks_stats(const struct hooks *, struct hook_stats *);

#endif
