/* The one daemon object, passed to every part of watcherd. */
#ifndef DAEMON_H
#define DAEMON_H

#include <stddef.h>

#include "common/config.h"
#include "common/http_count.h"
#include "watcherd/loop.h"
#include "watcherd/save.h"
#include "watcherd/share.h"

#define WATCHERD_VERSION "1.0.0"

struct access;
struct folders;
struct hooks;
struct jobs;
struct json_tokener;
struct server;
struct subs;
struct watch_table;

struct daemon {
	struct config		 cfg;
	int			 argc;		/* kept for SIGHUP reloads */
	char			**argv;
	struct loop		*loop;
	struct jobs		*jobs;		/* work off the loop */
	struct folders		*folders;
	struct watch_table	*watches;
	struct server		*server;
	struct subs		*subs;
	struct hooks		*hooks;
	struct access		*access;
	long long		 started_ms;
	unsigned long		 requests;
	struct http_count_table	 http_counts;	/* the handler's answers */
	struct save_stats	 saves;
	struct share		 validating;	/* saves whose validators run */
	struct json_tokener	*tokener;	/* reused for every request */
	int			 signal_fd;
	struct loop_io		 signal_io;
};

/*
 * Builds the daemon of d->cfg (filled in by the caller): the loop, the
 * hooks, the socket and the watch table. Returns 0, or -1 with a message
 * for a person in err, nothing left to free then.
 */
int	daemon_init(struct daemon *, char *err, size_t errlen);
/* Frees what daemon_init() built; d->cfg and the signals stay the
   caller's. */
void	daemon_free(struct daemon *);

#endif
