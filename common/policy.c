#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "common/policy.h"

int
policy_parse_proposal(const char *s, size_t len, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if (len < 1 || len > 6)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
policy_valid_user(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > POLICY_MAX_USER)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

enum proto_error
policy_check_name(const char *name, size_t len, const char **why)
{
	size_t i, seg;

	if (len == 0) {
		*why = "file_name is empty";
		return PROTO_BAD_REQUEST;
	}
	if (len > POLICY_MAX_NAME) {
		*why = "file_name is longer than 255 bytes";
		return PROTO_BAD_REQUEST;
	}
	if (name[0] == '/') {
		*why = "file_name must be relative to the DAMNIT folder";
		return PROTO_FORBIDDEN;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
			*why = "file_name contains a NUL or control byte";
			return PROTO_BAD_REQUEST;
		}
	}
	for (i = 0; i <= len; i = seg + 1) {
		seg = i;
		while (seg < len && name[seg] != '/')
			seg++;
		if (seg == i) {
			*why = "file_name has an empty path component";
			return PROTO_BAD_REQUEST;
		}
		if ((seg - i == 1 && name[i] == '.') ||
		    (seg - i == 2 && name[i] == '.' && name[i + 1] == '.')) {
			*why = "file_name must not contain '.' or '..' components";
			return PROTO_FORBIDDEN;
		}
	}
	return PROTO_OK;
}

int
policy_allowed(char *const *patterns, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fnmatch(patterns[i], name, FNM_PATHNAME) == 0)
			return 1;
	return 0;
}

int
policy_find_proposal(const char *data_root, unsigned proposal, char *out,
    size_t outlen)
{
	char pattern[4096];
	glob_t g;
	int n;

	if (proposal > POLICY_MAX_PROPOSAL) {
		errno = ENOENT;
		return -1;
	}
	n = snprintf(pattern, sizeof(pattern), "%s/*/*/p%06u", data_root,
	    proposal);
	if (n < 0 || (size_t)n >= sizeof(pattern)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* "First match" is glob's sorted order. */
	if (glob(pattern, GLOB_ONLYDIR, NULL, &g) != 0) {
		errno = ENOENT;
		return -1;
	}
	n = snprintf(out, outlen, "%s", g.gl_pathv[0]);
	globfree(&g);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
policy_open_folder(const char *data_root, unsigned proposal,
    struct policy_folder *out)
{
	static const char *const subdirs[] = {
		"usr/Shared/amore", "usr/Shared/amore-online",
	};
	char proposal_path[PATH_MAX], proc[32];
	struct stat sb;
	size_t i;
	ssize_t n;
	int fd, err;

	out->proposal_fd = out->fd = -1;
	if (policy_find_proposal(data_root, proposal, proposal_path,
	    sizeof(proposal_path)) == -1)
		return -1;
	if ((out->proposal_fd = open(proposal_path, O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	errno = ENOENT;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		fd = policy_open_beneath(out->proposal_fd, subdirs[i], O_PATH);
		if (fd == -1) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			goto fail;	/* EXDEV, ELOOP: it leads outside */
		}
		if (fstat(fd, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
			close(fd);
			errno = ENOENT;
			continue;
		}
		out->fd = fd;
		break;
	}
	if (out->fd == -1)
		goto fail;
	/* Where it really is: the path hooks are given, and the way from
	   the proposal that a user's credentials walk. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", out->fd);
	if ((n = readlink(proc, out->path, sizeof(out->path))) <= 0 ||
	    (size_t)n >= sizeof(out->path)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	out->path[n] = '\0';
	if (policy_path_beneath(out->proposal_fd, out->fd, out->rel,
	    sizeof(out->rel)) == -1 || out->rel[0] == '\0') {
		errno = EXDEV;
		goto fail;
	}
	return 0;
fail:
	err = errno;
	if (out->fd != -1)
		close(out->fd);
	close(out->proposal_fd);
	out->proposal_fd = out->fd = -1;
	errno = err;
	return -1;
}

int
policy_open_beneath(int folder_fd, const char *name, int flags)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, folder_fd, name, &how, sizeof(how));
	while (fd == -1 && (errno == EINTR || errno == EAGAIN));
	if (fd == -1 && errno == ENOSYS)
		return policy_open_walk(folder_fd, name, flags);
	return (int)fd;
}

int
policy_open_dir_nofollow(int folder_fd, const char *name)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS,
	};
	char path[PATH_MAX], *comp, *slash;
	long fd;
	int cur, next;

	do
		fd = syscall(SYS_openat2, folder_fd, name, &how, sizeof(how));
	while (fd == -1 && (errno == EINTR || errno == EAGAIN));
	if (fd != -1 || errno != ENOSYS)
		return (int)fd;
	/* By hand: each component a directory opened O_NOFOLLOW. */
	if (strlen(name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(path, name);
	if ((cur = openat(folder_fd, ".", O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	for (comp = path; comp; comp = slash) {
		if ((slash = strchr(comp, '/')) != NULL)
			*slash++ = '\0';
		if (strcmp(comp, ".") == 0)
			continue;
		if (*comp == '\0' || strcmp(comp, "..") == 0) {
			close(cur);
			errno = EXDEV;
			return -1;
		}
		next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(cur);
		if (next == -1)
			return -1;
		cur = next;
	}
	return cur;
}

#define WALK_MAX_LINKS	40	/* the kernel's MAXSYMLINKS */
#define WALK_MAX_DEPTH	64	/* directories held at once */

/* Replaces the start of path up to rest by the link target (len bytes in
   link, which is overwritten): path becomes target "/" rest, or target
   alone when nothing is left. */
static int
walk_splice(char *path, size_t size, char *link, size_t len, const char *rest)
{
	size_t rlen = strlen(rest);

	if (len + 1 + rlen >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (rlen > 0) {
		link[len++] = '/';
		memcpy(link + len, rest, rlen);
	}
	link[len + rlen] = '\0';
	memcpy(path, link, len + rlen + 1);
	return 0;
}

/* Whether fd is the file sb was taken of. */
static int
same_file(int fd, const struct stat *sb)
{
	struct stat now;

	return fstat(fd, &now) == 0 && now.st_dev == sb->st_dev &&
	    now.st_ino == sb->st_ino;
}

int
policy_open_walk(int folder_fd, const char *name, int flags)
{
	char path[PATH_MAX], link[PATH_MAX], *p, *comp, *slash;
	int held[WALK_MAX_DEPTH], depth = 0, links = 0, fd = -1, cur, next, err;
	struct stat sb;
	size_t len = strlen(name);
	ssize_t n;

	if (len == 0 || len >= sizeof(path)) {
		errno = len ? ENAMETOOLONG : ENOENT;
		return -1;
	}
	memcpy(path, name, len + 1);
	p = path;
	for (;;) {
		cur = depth ? held[depth - 1] : folder_fd;
		if (*p == '/') {
			/* Only a link's target or the name itself can start
			   with one here: absolute, as RESOLVE_BENEATH refuses. */
			if (p == path) {
				errno = EXDEV;
				goto fail;
			}
			while (*p == '/')
				p++;
		}
		if (*p == '\0') {	/* ended on a directory */
			fd = openat(cur, ".", flags | O_CLOEXEC);
			goto done;
		}
		comp = p;
		if ((slash = strchr(p, '/')) != NULL) {
			*slash = '\0';
			p = slash + 1;
			while (*p == '/')
				p++;
		} else
			p += strlen(p);
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			/* Back along the walk, never the kernel's "..". */
			if (depth == 0) {
				errno = EXDEV;
				goto fail;
			}
			close(held[--depth]);
			continue;
		}
		/* What the component is decides, not the flags: O_PATH or
		   O_DIRECTORY with O_NOFOLLOW would not say it is a link. */
		next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next == -1)
			goto fail;
		if (fstat(next, &sb) == -1) {
			err = errno;
			close(next);
			errno = err;
			goto fail;
		}
		if (S_ISLNK(sb.st_mode)) {
			n = readlinkat(next, "", link, sizeof(link));
			err = errno;
			close(next);
			errno = err;
			if (n == -1)
				goto fail;
		} else if (slash == NULL) {
			close(next);
			fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC);
			if (fd != -1 && !same_file(fd, &sb)) {
				/* Replaced since: by a link, maybe. */
				close(fd);
				fd = -1;
				errno = ELOOP;
			}
			goto done;
		} else if (S_ISDIR(sb.st_mode)) {
			if (depth == WALK_MAX_DEPTH) {
				close(next);
				errno = ENAMETOOLONG;
				goto fail;
			}
			held[depth++] = next;
			continue;
		} else {
			close(next);
			errno = ENOTDIR;
			goto fail;
		}
		if ((size_t)n >= sizeof(link) - 1) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if (++links > WALK_MAX_LINKS) {
			errno = ELOOP;
			goto fail;
		}
		/* A link followed by a slash must be a directory: "link/"
		   goes on as "target/.". */
		if (walk_splice(path, sizeof(path), link, (size_t)n,
		    slash != NULL && *p == '\0' ? "." : p) == -1)
			goto fail;
		p = path;
	}
done:
	err = errno;
	while (depth > 0)
		close(held[--depth]);
	errno = err;
	return fd;
fail:
	fd = -1;
	goto done;
}

int
policy_path_beneath(int folder_fd, int fd, char *out, size_t outlen)
{
	char proc[32], folder[PATH_MAX], real[PATH_MAX];
	ssize_t flen, rlen;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", folder_fd);
	if ((flen = readlink(proc, folder, sizeof(folder))) <= 0 ||
	    flen == (ssize_t)sizeof(folder))
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((rlen = readlink(proc, real, sizeof(real))) <= 0 ||
	    rlen == (ssize_t)sizeof(real) || rlen < flen ||
	    memcmp(real, folder, (size_t)flen) != 0)
		return -1;
	if (rlen == flen) {
		if (outlen == 0)
			return -1;
		*out = '\0';
		return 0;
	}
	if (real[flen] != '/' || (size_t)(rlen - flen - 1) >= outlen)
		return -1;
	memcpy(out, real + flen + 1, (size_t)(rlen - flen - 1));
	out[rlen - flen - 1] = '\0';
	return 0;
}

enum proto_error
policy_open_error(int err, const char **why)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		*why = "file not found";
		return PROTO_NOT_FOUND;
	case EXDEV:
	case ELOOP:
		*why = "file_name resolves outside the DAMNIT folder";
		return PROTO_FORBIDDEN;
	case EACCES:
	case EPERM:
		*why = "file is not readable";
		return PROTO_FORBIDDEN;
	case ENAMETOOLONG:
		*why = "file_name is too long";
		return PROTO_BAD_REQUEST;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		*why = "watcherd is out of resources";
		return PROTO_UNAVAILABLE;
	default:
		*why = "cannot open the file";
		return PROTO_INTERNAL;
	}
}
