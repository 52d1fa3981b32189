/*
 * What a user's account could do to a file on this host, decided from the
 * permission bits and POSIX ACLs of the file and of every directory on the
 * way to it, as the kernel decides (acl_permission_check() and
 * posix_acl_permission() in Linux). watcherd runs as an unprivileged
 * service user and serves files as itself; it does not switch credentials,
 * it reads what the kernel would read and decides the same way.
 *
 * No capability counts: root's account is judged by the bits like any
 * other, so a web login named root gets no more than the bits give it.
 * Touches nothing but its arguments: safe on any thread.
 */
#ifndef PERM_H
#define PERM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

#define PERM_READ	4
#define PERM_WRITE	2
#define PERM_SEARCH	1		/* execute, for a directory */

#define PERM_GROUPS_MAX	1024		/* of one user; more are not counted */
#define PERM_ACL_MAX	32		/* entries of one ACL; a longer one
					   is judged "no access" */
#define PERM_DEPTH	24		/* directories from the proposal
					   folder down, and the file */

/* A user's account: from NSS. */
struct perm_user {
	uid_t		 uid;
	gid_t		 gid;
	size_t		 n_groups;
	gid_t		 groups[PERM_GROUPS_MAX];	/* gid among them */
};

struct perm_acl_entry {
	uint16_t	 tag;
	uint16_t	 perm;
	uint32_t	 id;
};

/* The permissions of one file or directory. */
struct perm_node {
	mode_t		 mode;
	uid_t		 uid;
	gid_t		 gid;
	struct timespec	 ctime;		/* changes with mode, owner, ACL */
	int		 acl;		/* 1: acl[] holds its access ACL;
					   -1: an ACL that cannot be judged */
	size_t		 n_acl;
	struct perm_acl_entry acl_entries[PERM_ACL_MAX];
};

/*
 * Reads the node of the open file or directory fd (an O_PATH descriptor
 * will do): its stat and its access ACL (system.posix_acl_access), if any.
 * Returns 0, or -1 with errno.
 */
int	perm_node_read(int fd, struct perm_node *);

/*
 * Parses an ACL as Linux stores it in system.posix_acl_access into node
 * (acl = 1), or marks it unjudgeable (acl = -1) when it is malformed or
 * longer than PERM_ACL_MAX entries.
 */
void	perm_node_set_acl(struct perm_node *, const void *xattr, size_t len);

/* 1 when user may do every one of want (PERM_* bits) to node, else 0. */
int	perm_allows(const struct perm_user *, const struct perm_node *,
	    int want);

#endif
