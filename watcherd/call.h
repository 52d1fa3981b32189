/*
 * One request of a client, from its line to its reply (a call): parsed
 * once into an object that owns its fields, its payload, its access
 * verdict and the step it is at. A call that has to wait (a job on a
 * worker, the access command, a validator, a replacement) is suspended;
 * the work it waited for resumes it at the step where it stopped, and
 * nothing before that step is done again. The server reads no further
 * request of the client meanwhile, so replies keep their order.
 *
 * The steps: the payload the line announces is read (a save's content),
 * the command's own checks that need no file, access (read, or write for
 * a command that replaces the file), then the command, which may wait
 * too and keeps its own progress in the call (call_set_state()).
 */
#ifndef CALL_H
#define CALL_H

#include <stddef.h>
#include <stdint.h>

#include "common/policy.h"
#include "common/proto.h"
#include "watcherd/access/access.h"
#include "watcherd/watch/watch.h"
#include "watcherd/work/job.h"

struct call;
struct client;
struct daemon;
struct json_object;

#define CALL_NEEDS_FILE	0x1	/* proposal and file_name */
#define CALL_OWNER_ONLY	0x2	/* peer with the daemon's uid or root */
#define CALL_WRITES	0x4	/* replaces the file: its payload is read
				   first, and access is for writing */

/* A command of the protocol: its name, its flags, the checks it makes
   before access is asked (optional; 0, or -1 after replying) and its
   body. */
struct command {
	const char	*name;
	int		 flags;
	int		(*precheck)(struct call *);
	void		(*fn)(struct call *);
};

enum call_step {
	CALL_PAYLOAD,		/* reading the announced payload */
	CALL_ACCESS,		/* asking whether the user may */
	CALL_RUN,		/* the command's own work */
};

struct call {
	struct daemon		*d;
	struct client		*c;
	const struct command	*cmd;
	enum call_step		 step;
	int			 pending;	/* waits: no reply yet */
	struct waiter	 wait;
	struct json_object	*obj;		/* the line as json-c read it;
						   NULL for the plain shape */
	unsigned		 proposal;
	const char		*file_name;	/* NULL: the command has none */
	size_t			 file_name_len;
	int			 has_user;	/* the request named its user
						   (or null) */
	const char		*user;		/* NULL: "user":null */
	const char		*bad;		/* what is wrong with them, told
						   after the payload */
	struct access_grant	 grant;
	size_t			 payload_len;	/* announced */
	char			*payload;	/* kept; NULL: skipped */
	int			 payload_in;	/* all of it was read */
	uint32_t		 if_crc;	/* a save's "if_checksum" */
	void			*state;		/* the command's own */
	void			(*state_free)(void *);
	char			 file_buf[POLICY_MAX_NAME + 2];
	char			 user_buf[POLICY_MAX_USER + 1];
};

/*
 * Takes a request line of c: parses it against the commands (n of them)
 * and runs the call as far as it goes. Bad input gets an error reply.
 * Returns 0 when the call was answered, 1 when it waits: it then belongs
 * to the client (client_set_request()) and answers later on its own.
 */
int	call_start(struct daemon *, struct client *,
	    const struct command *commands, size_t n, char *line, size_t len);

/* Replies the error, or notes that the call waits (PROTO_PENDING). */
void	call_error(struct call *, enum proto_error, const char *detail);

/*
 * Whether the call's user may read its file, or with write replace it;
 * else replies the error (or notes that the call waits). seen: the file
 * the name was found to lead to, or NULL. A verdict given is kept in the
 * call and not asked for again, but for another file under unix.
 */
int	call_may(struct call *, int write, const struct file_id *seen);

/* Under access = unix a verdict is for one file: whether st, the file
   about to be served, is the one the call was let through for (asked
   afresh when it is another). 1, or 0 after replying (or waiting). */
int	call_still_may(struct call *, const struct watch_state *st);

/* Who asks, for the access room. */
struct access_who call_who(const struct call *);

/* A state the command keeps across its waits (a save under way), freed
   with free_fn once the call is over or its client gone. */
void	call_set_state(struct call *, void *state, void (*free_fn)(void *));

#endif
