/*
 * The access room's own structures, shared by its files: access.c (the
 * entry, the modes, the access command), accounts.c (accounts from NSS)
 * and kernel.c (access = unix: the kernel's verdict with the user's
 * credentials). Not for other users. The room reaches a proposal's files
 * through its folder (watch/folder.h) and works off the loop through
 * jobs (work/job.h), as the watch table does.
 */
#ifndef ACCESS_INT_H
#define ACCESS_INT_H

#include "common/config.h"
#include "common/proto.h"
#include "watcherd/access/access.h"
#include "watcherd/work/creds.h"
#include "watcherd/memo.h"
#include "watcherd/share.h"
#include "watcherd/watch/folder.h"
#include "watcherd/work/job.h"

struct access {
	struct loop		*loop;
	const struct config	*cfg;
	struct jobs		*jobs;
	struct folders		*folders;
	struct memo		 answers;	/* the access command's */
	struct share		 runs;		/* its runs, by user */
	struct memo		 accounts;	/* by name */
	struct memo		 verdicts;	/* the kernel's, by user and name */
	struct access_stats	 stats;
};

/* accounts.c */

/*
 * The account of a user name from NSS (getpwnam_r, getgrouplist), looked
 * up off the loop and then believed for ACCESS_ACCOUNT_TTL_S, an unknown
 * name too: a membership revoked in the directory still counts that long
 * (plus whatever NSS's own cache, SSSD or nscd, adds). Returns PROTO_OK
 * with *out (NULL for an unknown name; valid until the next call),
 * PROTO_PENDING (w resumes when it is known), or PROTO_UNAVAILABLE with
 * *why.
 */
#define ACCESS_ACCOUNT_TTL_S 30
enum proto_error access_account(struct access *, struct waiter *,
	    const char *name, const struct creds **out, const char **why);
/* Sets up a->accounts. Returns 0, or -1 when out of memory. */
int	accounts_init(struct access *);

/* kernel.c */

/*
 * Whether the account may read (or with write, write) the file
 * (proposal, file_name), as the kernel answers with the account's
 * credentials: the file opened beneath the proposal's directory (every
 * directory's search bit from pNNNNNN down counts), then asked with
 * faccessat2(AT_EACCESS). The verdict belongs to the file it was given
 * for (device, inode, ctime) and is recorded in g (when given); it
 * is believed for ACCESS_VERDICT_TTL_MS, unless seen (the file the name
 * was found to lead to since; NULL: none) is another file. Returns PROTO_OK (the file may be missing: the watch says),
 * PROTO_DENIED, PROTO_FORBIDDEN with *why (the name leads outside the
 * proposal), PROTO_PENDING, or the error of a bad name, an unknown
 * proposal or a stalled file system with *why.
 */
#define ACCESS_VERDICT_TTL_MS 1000
enum proto_error access_kernel(struct access *, struct waiter *,
	    struct access_grant *g, unsigned proposal, const char *file_name, size_t len,
	    const struct creds *, int write, const struct file_id *seen,
	    const char **why);
/* Sets up a->verdicts. Returns 0, or -1 when out of memory. */
int	verdicts_init(struct access *);

#endif
