/*
 * What watcherctl's commands share: the run's context, which owns every
 * connection, reply and descriptor of the run; requests to watcherd
 * (lines of common/msg.h, replies kept as lines for common/fields.h); and
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

#include "common/fields.h"
#include "common/msg.h"
#include "common/proto.h"

#define CTL_DEFAULT_TIMEOUT_MS	5000
/* How watcherctl prints JSON: compact, "/" as it is. */
#define CTL_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

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
	char			*reply;		/* the last reply's line,
						   malloc()ed */
	size_t			 reply_len;
	struct json_object	*tree;		/* the reply as a tree, once
						   asked for */
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
	int			 has_version;
	uint32_t		 version;	/* content --version */
	char			*input;		/* stdin, malloc()ed */
	size_t			 input_len;
	int			 exit_status;	/* of a failed command, when not
						   1 */
	char			 errstr[1024];
};

/* The defaults: no connection yet, CTL_DEFAULT_TIMEOUT_MS, tail's
   TAIL_DEFAULT_LINES. */
void	ctl_init(struct ctl *);
/* Closes and frees what ctl holds (--match too); it may be freed again. */
void	ctl_free(struct ctl *);

/* The file t as common/msg.h's requests take it: without "user", as
   watcherd trusts its own uid and root, the users watcherctl runs as. */
struct msg_file ctl_file(const struct target *t);
/* 0 for a reply line of "ok":true; -1 for a failed one ("code: detail"
   in errstr, fields_refusal()), one without "ok" or no object. */
int	ctl_reply_check(struct ctl *, const char *line, size_t len);
/* Connects c (ctl->client, or another one the caller owns and closes) to
   ctl->socket; says how to start watcherd when none runs there. */
int	ctl_connect(struct ctl *, struct proto_client *c);
/*
 * Reads one reply from c into ctl->reply, and when want_payload the
 * payload it announces into ctl->payload (the caller may take it: set
 * ctl->payload to NULL). What the last reply left is freed first. 0 for
 * an "ok":true reply, else -1.
 */
int	ctl_read_reply(struct ctl *, struct proto_client *c, int want_payload);
/* Sends the request line m on c, then ctl_read_reply(). */
int	ctl_call(struct ctl *, struct proto_client *c, const struct msg *m,
	    int want_payload);
/* Connects ctl->client and ctl_call()s on it. */
int	ctl_request(struct ctl *, const struct msg *m, int want_payload);
/* The last reply as a JSON tree (ctl owns it), for the commands that
   print it whole (--json) or walk it (status, list); NULL with errstr set
   when it is no object. */
struct json_object *ctl_reply_tree(struct ctl *);
/* Prints the last reply's tree on stdout as one line of JSON (--json). */
int	ctl_print_reply(struct ctl *);

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
 * The next event c's reader holds: 1 with *ev and *line (valid until the
 * reader changes), 0 when it holds no complete line, -1 for a failed
 * reply (which ends the subscription) or a line that is no JSON object.
 * Other lines are skipped.
 */
int	ctl_event_next(struct ctl *, struct proto_client *c,
	    struct fields_event *ev, char **line);

#endif
