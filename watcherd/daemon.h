/* The one daemon object, passed to every part of watcherd. */
#ifndef DAEMON_H
#define DAEMON_H

#include "common/config.h"
#include "common/http_count.h"
#include "watcherd/loop.h"

#define WATCHERD_VERSION "1.0.0"

struct hooks;
struct json_tokener;
struct server;
struct watch_table;

struct daemon {
	struct config		 cfg;
	int			 argc;		/* kept for SIGHUP reloads */
	char			**argv;
	struct loop		*loop;
	struct watch_table	*watches;
	struct server		*server;
	struct hooks		*hooks;
	long long		 started_ms;
	unsigned long		 requests;
	struct http_count_table	 http_counts;	/* the handler's answers */
	struct json_tokener	*tokener;	/* reused for every request */
	int			 signal_fd;
	struct loop_io		 signal_io;
};

#endif
