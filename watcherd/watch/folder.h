/*
 * Proposals' DAMNIT folders (DESIGN.md section 2): where the folder of a
 * proposal is, found off the loop under the data root (policy_open_folder:
 * the folder, and the proposal's directory it must stay beneath), on
 * which file system, and whether that one may stall (then its work goes
 * to its mount's workers). "No such proposal" is believed for 2 s. The
 * entry through which the watch table and the access room reach a
 * proposal's files, and the key of a name they both use.
 */
#ifndef FOLDER_H
#define FOLDER_H

#include <stddef.h>

#include "common/config.h"
#include "common/policy.h"
#include "common/proto.h"
#include "watcherd/work/job.h"

/* A proposal's DAMNIT folder, or the memory that it has none. */
struct folder {
	struct folder	*next;		/* every folder */
	unsigned	 proposal;
	int		 fd;		/* O_PATH; -1: not found */
	int		 proposal_fd;	/* pNNNNNN, O_PATH: what fd is
					   beneath */
	char		*path;		/* where fd really is */
	char		*rel;		/* ... below pNNNNNN */
	int		 outside;	/* not found: it leads outside the
					   proposal */
	const char	*fstype;
	struct mount	*mount;		/* a file system that may stall: its
					   work goes there; NULL: on the loop */
	long long	 checked;
	struct job	*lookup;	/* the lookup under way */
};

struct folders;

/* The folders of cfg's data root (cfg kept by reference), looked up
   through jobs. NULL when out of memory. */
struct folders	*folders_new(struct loop *, const struct config *,
		    struct jobs *);
/* Frees every folder. */
void		 folders_free(struct folders *);
/* What was not found is looked for again when next asked (the data root
   changed, or a stalled mount answers again). */
void		 folders_retry(struct folders *);

/*
 * The folder of a proposal. Returns PROTO_OK with *out, PROTO_NOT_FOUND
 * (no such proposal, believed for a while), PROTO_FORBIDDEN (its folder
 * leads outside the proposal), PROTO_PENDING when it is being looked up
 * off the loop (w resumes when it is known), or PROTO_UNAVAILABLE with
 * *why.
 */
enum proto_error folder_get(struct folders *, unsigned proposal,
	    struct waiter *, struct folder **out, const char **why);
/* Forgets where a proposal's folder is (it was removed): it is looked up
   again when next asked. */
void	folder_forget(struct folder *);

/* The key of a name, "P/file_name", at most this long. */
#define NAME_KEY_MAX	(16 + POLICY_MAX_NAME)

/*
 * Checks a requested name (well formed, allowed by cfg's allow patterns)
 * and the request w (not timed out), and writes its key (NAME_KEY_MAX
 * bytes) and *keylen. Returns PROTO_OK, or the error with *why.
 */
enum proto_error name_key(const struct config *, struct waiter *,
	    unsigned proposal, const char *file_name, size_t len, char *key,
	    size_t *keylen, const char **why);

#endif
