/*
 * Access per proposal (DESIGN.md section 7): whether the user a request
 * names may read a proposal's file. The web server says who (the handler
 * passes REMOTE_USER as "user"); this decides, by the access setting:
 * open lets anybody; unix asks the kernel, with the account's credentials
 * (kernel.c, creds.h); command asks a site's program, whose
 * answers are kept per (user, proposal, access) for access-cache-seconds,
 * at most 16 runs at once and 4 for one user (beyond, unavailable at once).
 */
#ifndef ACCESS_H
#define ACCESS_H

#include <stddef.h>

#include "common/config.h"
#include "common/proto.h"
#include "watcherd/work/creds.h"
#include "watcherd/watch/snapshot.h"

struct loop;
struct access;
struct folders;
struct jobs;
struct waiter;

/*
 * What access_check() let a request through for, kept by the request so
 * that it is not asked again at each of its steps: any file of the
 * proposal (open, command, a trusted peer), or under unix one file only
 * (device, inode, ctime), since the kernel's verdict is for that file.
 */
enum access_granted { ACCESS_NOT_YET = 0, ACCESS_ANY_FILE, ACCESS_ONE_FILE };
struct access_grant {
	enum access_granted	 granted;
	struct file_id		 file;		/* ACCESS_ONE_FILE's */
};

/* Who asks. */
struct access_who {
	int		 named;		/* the request has a "user" key */
	const char	*user;		/* its value; NULL for null */
	int		 trusted;	/* the peer is watcherd's uid or root */
};

/*
 * Returns the access checks of cfg (kept by reference: call
 * access_reconfigure() after it changes), running the access command
 * from loop, its other work (accounts, the kernel's verdicts) through
 * jobs, reaching a proposal's files through folders. NULL when out of
 * memory.
 */
struct access	*access_new(struct loop *, const struct config *,
		    struct jobs *, struct folders *);
/* Kills running access commands and frees everything; call once no
   request waits any more. */
void		 access_free(struct access *);
/* A reload: the access command's remembered answers are forgotten. */
void		 access_reconfigure(struct access *);

/*
 * Whether who may read (proposal, file_name), or with write set replace
 * it (under open nobody may, but a trusted peer without a user). Root's,
 * watcherd's own, nobody's and accounts below min-uid are refused in
 * every mode. A verdict is recorded in g (NULL: nowhere), and a
 * request that was let through is not asked again; under unix the verdict
 * is the kernel's for one file: call again with seen, the file the name
 * led to when it was served, and a verdict for another file is not used.
 * Returns PROTO_OK,
 * PROTO_PENDING (w resumes when the answer is known; ask again),
 * PROTO_UNAUTHENTICATED or PROTO_FORBIDDEN with a detail for a person in
 * detail (detail_len bytes), or another error of the name or the file
 * system with *why pointing at its detail.
 */
enum proto_error access_check(struct access *, struct waiter *w,
		    struct access_grant *g, const struct access_who *who, unsigned proposal,
		    const char *file_name, size_t len, int write,
		    const struct file_id *seen, char *detail,
		    size_t detail_len, const char **why);

/*
 * The credentials a save that access_check() let through is made with:
 * the user's account under access = unix (valid until the next call),
 * else NULL (watcherd's own).
 */
const struct creds *access_save_as(struct access *,
		    const struct access_who *who);

/* 1 when who may list every watch (the list command): anybody under
   access = open, else only trusted peers. */
int		 access_may_list(const struct access *,
		    const struct access_who *);

/* Counters for the status command. */
struct access_stats {
	unsigned long	 denied;	/* forbidden answers */
	unsigned long	 unauthenticated;
	unsigned long	 command_runs;
	unsigned long	 command_failures;	/* no 0 or 1, or timed out */
	size_t		 command_cached;	/* answers believed now */
};
void		 access_stats(const struct access *, struct access_stats *);

#endif
