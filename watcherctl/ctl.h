/*
 * What watcherctl's commands share: the run's context, which owns every
 * connection, reply and descriptor of the run; requests to watcherd; and
 * reading a subscription's events until SIGINT or SIGTERM. Functions that
 * fail return -1 and leave a message for a person in ctl->errstr; nothing
 * here prints.
 */
#ifndef WATCHERCTL_CTL_H
#define WATCHERCTL_CTL_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/proto.h"

#define CTL_DEFAULT_TIMEOUT_MS	5000

/* The file a command is about. */
struct target {
	unsigned	 proposal;
	const char	*file_name;
};

/* Everything one run owns; ctl_free() releases all of it. */
struct ctl {
	const char		*socket;
	int			 json;
	int			 timeout_ms;
	int			 timeout_set;	/* --timeout was given */
	struct proto_client	 client;
	struct json_object	*reply;
	char			*payload;
	size_t			 payload_len;
	int			 signal_fd;
	/* tail's options */
	int			 follow;
	long long		 lines;
	int			 has_match;
	regex_t			 match;	/* compiled when has_match */
	/* write's option and input */
	int			 has_if;
	uint32_t		 if_checksum;	/* --if */
	char			*input;		/* stdin, malloc()ed */
	size_t			 input_len;
	int			 exit_status;	/* of a failed command, when not
						   1 */
	char			 errstr[512];
};

/* The defaults: no connection yet, CTL_DEFAULT_TIMEOUT_MS, tail's
   TAIL_DEFAULT_LINES. */
void	ctl_init(struct ctl *);
/* Closes and frees what ctl holds (--match too); it may be freed again. */
void	ctl_free(struct ctl *);

/* {"cmd":cmd[,"proposal":P,"file_name":F][,"format":format]}: t and format
   may be NULL. The caller puts it; NULL when out of memory. */
struct json_object *ctl_request_new(const char *cmd, const struct target *t,
	    const char *format);
/* 0 for an "ok":true reply; -1 for a failed one ("code: detail" in
   errstr) or one without "ok". */
int	ctl_reply_check(struct ctl *, struct json_object *reply);
/* Connects c (ctl->client, or another one the caller owns and closes) to
   ctl->socket; says how to start watcherd when none runs there. */
int	ctl_connect(struct ctl *, struct proto_client *c);
/*
 * Connects ctl->client, sends one request and reads its reply into
 * ctl->reply (and the payload into ctl->payload, when want_payload). 0 for
 * an "ok":true reply, else -1.
 */
int	ctl_request(struct ctl *, const char *cmd, const struct target *t,
	    const char *format, int want_payload);

/*
 * Subscriptions. Events arrive for ever, so the wait is our own poll over
 * the subscription's socket and a signalfd: SIGINT and SIGTERM end the run
 * with status 0, without a global flag or a race between checking it and
 * sleeping.
 */

/* Blocks SIGINT and SIGTERM and opens ctl->signal_fd for them. Before it,
   an interrupt ends the run as it does for any command. */
int	ctl_signals_catch(struct ctl *);
/* Waits until fd is readable (1) or SIGINT or SIGTERM came (0); -1 when
   poll fails. Needs ctl_signals_catch() first. */
int	ctl_wait_readable(struct ctl *, int fd);
/* Reads what c's socket holds into its reader, without waiting; a closed
   connection is an error. */
int	ctl_events_fill(struct ctl *, struct proto_client *c);
/*
 * The next event c's reader holds: 1 with *event (the caller puts it) and
 * *line (valid until the reader changes), 0 when it holds no complete line,
 * -1 for a failed reply (which ends the subscription) or a line that is no
 * JSON object. Other lines are skipped.
 */
int	ctl_event_next(struct ctl *, struct proto_client *c,
	    struct json_object **event, char **line);
/* An event's name ("changed", "deleted", "created", "unwatched", ...);
   "" when it has none. Valid as long as the event. */
const char *ctl_event_name(struct json_object *event);

#endif
