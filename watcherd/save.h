/*
 * A save (the write command, DESIGN.md section 8): the new content goes
 * through every validator whose pattern matches the file (the content on
 * stdin; exit 0 accepts, and its NAME:LINE[:COL]: message lines are
 * warnings; exit 1 refuses, and they are errors; any other end is no
 * verdict, answered unavailable), each within validate-memory and
 * validate-cpu-seconds, at most validate-per-user of one user's and
 * validate-max-running of all at once (beyond, unavailable), then
 * replaces the file with watch_replace() if its bytes still have the
 * checksum the edit started from. The call drives it: each step calls
 * save_step() until it is over. A save belongs to its call
 * (call_set_state()); one whose client went away stops its validator,
 * or lets the replacement finish, and is freed then.
 */
#ifndef SAVE_H
#define SAVE_H

#include "watcherd/work/creds.h"

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

struct daemon;
struct msg;
struct save;
struct waiter;

/* Counters for the status command. */
struct save_stats {
	unsigned long	 writes;		/* files replaced */
	unsigned long	 conflicts;		/* refused: the file moved on */
	unsigned long	 invalid;		/* refused by a validator */
	size_t		 held;			/* bytes of content of the
						   saves under way */
};

/* A save of the len bytes of data (taken, and counted in saves.held
   already by the call that read them: freed and uncounted with the save,
   also on failure) over (proposal, file_name) if the file's checksum is still
   if_crc, for user (NULL: a trusted peer), made with the credentials as
   (copied; NULL: watcherd's own, keeping the file's owner), counted in
   the daemon's save_stats. NULL when out of memory. */
struct save *save_new(struct daemon *, unsigned proposal,
	    const char *file_name, const char *user, const struct creds *as,
	    uint32_t if_crc, char *data, size_t len);
/* Frees s, or lets it finish first (the client state's free function). */
void	save_release(void *s);

/*
 * Takes the save one step further for its request, waiting through w.
 * Returns PROTO_PENDING (ask again when w resumes), or the save's answer:
 * PROTO_OK or an error, whose reply line save_reply() writes.
 */
enum proto_error save_step(struct save *, struct waiter *w);
/* Writes the reply for the answer save_step() gave into m (a buffer of
   at least save_reply_size() bytes). */
void	save_reply(const struct save *, struct msg *m);
size_t	save_reply_size(const struct save *);

#endif
