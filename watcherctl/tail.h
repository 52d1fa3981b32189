/*
 * watcherctl tail [-f] [-n LINES] [--match REGEX] P F: a file's last lines,
 * then, with -f, what is appended to it, like tail -F, until SIGINT or
 * SIGTERM.
 */
#ifndef WATCHERCTL_TAIL_H
#define WATCHERCTL_TAIL_H

#include "watcherctl/ctl.h"

#define TAIL_DEFAULT_LINES	10

/*
 * Runs tail on t with ctl's options (follow, lines, match), writing the
 * file's bytes to stdout as they are. Following, it tells on stderr when
 * the file is truncated, replaced, deleted or created again, and subscribes
 * again when an operator's unwatch ends its subscription. Returns 0, also
 * when interrupted or when stdout's reader went away; -1 with ctl->errstr
 * set when watcherd fails, refuses or goes away.
 */
int	tail_command(struct ctl *, const struct target *t);

#endif
