/*
 * watcherd's counters (the status command, DESIGN.md section 4): for each
 * one its member of the status reply and, when it is one, its Prometheus
 * metric (name, labels, type, help), in one table that watcherd's status
 * command writes from and the handler's /metrics reads. A metric family
 * of several lines (labels) is consecutive rows with the same name.
 */
#ifndef STATUS_H
#define STATUS_H

enum status_counter {
	STATUS_PROTOCOL,
	STATUS_UPTIME_S,
	STATUS_REQUESTS,
	STATUS_CLIENTS,
	STATUS_MAX_CLIENTS,
	STATUS_WATCHES,
	STATUS_INOTIFY_WATCHES,
	STATUS_POLL_WATCHES,
	STATUS_MAX_WATCHES,
	STATUS_DIRECTORIES,
	STATUS_CHANGES,
	STATUS_INOTIFY_OVERFLOWS,
	STATUS_INOTIFY_FALLBACKS,
	STATUS_CACHE_BYTES,
	STATUS_CACHE_ENTRIES,
	STATUS_CACHE_LIMIT,
	STATUS_HOOKS_RUN,
	STATUS_HOOKS_FAILED,
	STATUS_HOOKS_KILLED,
	STATUS_HOOKS_DROPPED,
	STATUS_HOOKS_RUNNING,
	STATUS_HOOKS_QUEUED,
	STATUS_FS_STALLED,
	STATUS_FS_TIMEOUTS,
	STATUS_FS_TIMEOUT_MS,
	STATUS_FS_THREADS,
	STATUS_FS_THREADS_BUSY,
	STATUS_WRITES,
	STATUS_WRITE_CONFLICTS,
	STATUS_WRITE_INVALID,
	STATUS_WRITE_HELD_BYTES,
	STATUS_ACCESS_DENIED,
	STATUS_ACCESS_UNAUTHENTICATED,
	STATUS_ACCESS_COMMAND_RUNS,
	STATUS_ACCESS_COMMAND_FAILURES,
	STATUS_ACCESS_COMMAND_CACHED,
	STATUS_HISTORY_VERSIONS,
	STATUS_HISTORY_SKIPPED,
	STATUS_COUNTERS
};

struct status_field {
	const char	*key;		/* the status reply's member */
	const char	*metric;	/* NULL: not a metric */
	const char	*labels;	/* "" or {name="value"} */
	const char	*type;		/* "counter" or "gauge" */
	const char	*help;		/* the family's, on its first row */
};

/* Indexed by enum status_counter. */
extern const struct status_field status_fields[STATUS_COUNTERS];

#endif
