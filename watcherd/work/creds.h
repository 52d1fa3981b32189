/*
 * File-system credentials per thread. Under access = unix the work done
 * for a user (the opens of an access check, a save's open, create and
 * rename) runs with that user's fsuid, fsgid and supplementary groups on
 * the thread doing it, as Samba and NFS-Ganesha do, so that permission
 * bits, POSIX ACLs, NFSv4 ACLs (GPFS) and the search bit of every
 * directory are decided by the kernel and the file system, exactly as for
 * the user's own shell. The raw system calls change the calling thread
 * only (glibc's setgroups() changes every thread of the process, which
 * would hand one request's groups to every other). Needs CAP_SETUID and
 * CAP_SETGID, and no other privilege.
 */
#ifndef CREDS_H
#define CREDS_H

#include <stddef.h>
#include <sys/types.h>

#define CREDS_GROUPS_MAX 1024	/* of one user; more are not counted */

/* An account as NSS gives it. */
struct creds {
	uid_t		 uid;
	gid_t		 gid;
	size_t		 n_groups;
	gid_t		 groups[CREDS_GROUPS_MAX];	/* gid among them */
};

/*
 * Notes the process's own credentials, to go back to, and clears the
 * ambient capabilities, so that programs watcherd runs do not inherit
 * CAP_SETUID and CAP_SETGID. Call once at start, before any thread.
 * Returns 1 when credentials can be switched (CAP_SETUID and CAP_SETGID
 * are effective), else 0.
 */
int	creds_init(void);

/* What creds_init() found: 1 when credentials can be switched. */
int	creds_available(void);

/*
 * Takes up c's fsuid, fsgid and groups on the calling thread. Returns 0,
 * or -1 with errno (EPERM without the capabilities): the thread has its
 * own credentials again then. Every success is paired with creds_leave().
 */
int	creds_enter(const struct creds *c);

/* Back to the process's own credentials, on the calling thread. */
void	creds_leave(void);

#endif
