/*
 * The file-access policy: which proposal numbers and file names are valid,
 * where a proposal's DAMNIT folder is, which names may be served, and how a
 * file is opened so that its resolution never leaves that folder.
 */
#ifndef POLICY_H
#define POLICY_H

#include <limits.h>
#include <stddef.h>
#include "common/proto.h"

#define POLICY_MAX_NAME		255	/* bytes of a file_name */
#define POLICY_MAX_PROPOSAL	999999
#define POLICY_MAX_USER		256	/* bytes of a user name */

/* Parses a proposal number: 1 to 6 decimal digits, leading zeros allowed.
   Returns 0 and sets *out, or -1. */
int	policy_parse_proposal(const char *s, size_t len, unsigned *out);

/*
 * Whether s (len bytes) may stand as the name of the user a request is
 * made for (the web server's REMOTE_USER: a login, an e-mail address, an
 * OpenID subject): 1 to POLICY_MAX_USER printable ASCII bytes, no space,
 * quote or backslash. Returns 1 or 0.
 */
int	policy_valid_user(const char *s, size_t len);

/*
 * Checks a file_name's syntax: 1 to 255 bytes, relative, no NUL or control
 * bytes, no empty, "." or ".." component, no trailing slash. Returns
 * PROTO_OK; PROTO_FORBIDDEN for a name that leaves the folder (absolute,
 * "." or ".."); PROTO_BAD_REQUEST for a malformed one. *why is set to a
 * static message for a person.
 */
enum proto_error policy_check_name(const char *name, size_t len,
	    const char **why);

/* Returns 1 when name matches one of the allow patterns (fnmatch with
   FNM_PATHNAME), else 0. */
int	policy_allowed(char *const *patterns, size_t n, const char *name);

/*
 * Finds a proposal's directory: the first match of
 * <data_root>/ * / * /p%06d. Writes its path to out and returns 0, or
 * returns -1 with errno ENOENT (no such proposal) or ENAMETOOLONG.
 */
int	policy_find_proposal(const char *data_root, unsigned proposal,
	    char *out, size_t outlen);

/* A proposal's directory and its DAMNIT folder, both open. */
struct policy_folder {
	int	 proposal_fd;		/* pNNNNNN, O_PATH */
	int	 fd;			/* the DAMNIT folder, O_PATH */
	char	 path[PATH_MAX];	/* where the folder really is */
	char	 rel[PATH_MAX];		/* ... below pNNNNNN */
};

/*
 * Opens a proposal's directory (policy_find_proposal()) and its DAMNIT
 * folder beneath it: the first existing of usr/Shared/amore and
 * usr/Shared/amore-online, resolved with policy_open_beneath() from the
 * proposal's descriptor, so that a symbolic link on the way (proposal
 * members own usr/Shared) is followed only while it stays inside the
 * proposal. Returns 0 with both descriptors open in *out (the caller
 * closes them), or -1 with errno: ENOENT (no such proposal, or no DAMNIT
 * folder), EXDEV or ELOOP (the folder leads outside the proposal),
 * ENAMETOOLONG, or an open's.
 */
int	policy_open_folder(const char *data_root, unsigned proposal,
	    struct policy_folder *out);

/*
 * Opens name beneath the folder descriptor with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS): symlinks are followed only while they stay inside.
 * flags are open(2) flags (O_CLOEXEC is added). Returns the descriptor, or
 * -1 with errno (EXDEV or ELOOP for an escape, ENOENT, EACCES, ...).
 */
int	policy_open_beneath(int folder_fd, const char *name, int flags);

/*
 * The same resolution done by hand, for kernels without openat2 (before
 * 5.6, some seccomp filters, valgrind): policy_open_beneath() falls back
 * to it on ENOSYS. Each directory is opened O_PATH | O_NOFOLLOW beneath
 * the one before and held; symbolic links are read and followed (at most
 * 40); ".." goes back along the directories walked, never above the
 * folder; an absolute name or link fails with EXDEV.
 */
int	policy_open_walk(int folder_fd, const char *name, int flags);

/*
 * Opens the directory name beneath folder_fd (O_PATH) without following
 * any symbolic link, not even one that stays inside
 * (RESOLVE_NO_SYMLINKS): where a save renames its file. Returns the
 * descriptor, or -1 with errno (ELOOP for a link on the way).
 */
int	policy_open_dir_nofollow(int folder_fd, const char *name);

/*
 * Where the open file or directory fd really is below the folder
 * descriptor (symbolic links resolved, as the kernel reached it): its path
 * relative to the folder into out, "" for the folder itself. Returns 0,
 * or -1 when it cannot be told, or is not beneath the folder.
 */
int	policy_path_beneath(int folder_fd, int fd, char *out, size_t outlen);

/* The protocol error and a message for a person for an errno left by
   policy_open_beneath() or a read. */
enum proto_error policy_open_error(int err, const char **why);

#endif
