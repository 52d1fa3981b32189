/*
 * watcherctl write [--if CHECKSUM] P F < content: saves stdin as a file
 * through watcherd's write command (DESIGN.md section 8), which checks the
 * checksum, runs the file's validator and replaces the file in one step.
 */
#ifndef WATCHERCTL_WRITE_H
#define WATCHERCTL_WRITE_H

#include "watcherctl/ctl.h"

/* The most stdin may hold. */
#define WRITE_MAX_INPUT		(64 * 1024 * 1024)
/* How long a write waits for watcherd without --timeout: its validator
   may run up to hook-timeout (10 s by default). */
#define WRITE_DEFAULT_TIMEOUT_MS	15000

/* Exit statuses a script may tell from a plain failure (1). */
#define WRITE_EXIT_CONFLICT	3	/* the file is no longer at --if */
#define WRITE_EXIT_INVALID	4	/* the validator refused the content */

/*
 * Reads stdin (at most WRITE_MAX_INPUT bytes) and writes it as t, if the
 * file's checksum is still ctl->if_checksum (with has_if), else the one
 * watcherd gives just before. Prints the new checksum (with --json, the
 * reply), and the validator's warnings on stderr as "F:LINE:COL: warning:
 * message". Returns 0, or -1 with ctl->errstr set, and ctl->exit_status
 * WRITE_EXIT_CONFLICT (the current checksum printed first) or
 * WRITE_EXIT_INVALID (each error printed on stderr as "F:LINE:COL:
 * message") when watcherd said so.
 */
int	write_command(struct ctl *, const struct target *t);

#endif
