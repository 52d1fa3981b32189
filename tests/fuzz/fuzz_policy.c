/*
 * The file-access policy (common/policy.c), with the input as a file_name
 * (and as a proposal number):
 * - policy_check_name agrees with a reference written here (1 to 255
 *   bytes, relative, no control byte, no empty, "." or ".." component),
 *   error code included, and always says why;
 * - policy_parse_proposal accepts exactly 1 to 6 decimal digits, with
 *   their value;
 * - policy_allowed agrees with a plain '*' matcher (FNM_PATHNAME) on the
 *   fixture daemon's patterns;
 * - policy_open_beneath on the fixture folder (symlinks inside, and ones
 *   escaping relatively, absolutely, through a directory and /proc): any
 *   name that opens is a file or directory inside the folder (its path
 *   under the folder's, never an outside secret's inode); a name that
 *   fails maps through policy_open_error to an error with a reason, an
 *   escape to forbidden;
 * - policy_open_walk, the fallback where openat2 is missing, holds to the
 *   same and agrees with openat2: the same names open, to the same inode,
 *   and the same names fail, with the same protocol error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/policy.h"
#include "tests/fuzz/harness.h"

static enum proto_error
ref_check_name(const char *s, size_t len)
{
	size_t i, start;

	if (len == 0 || len > POLICY_MAX_NAME)
		return PROTO_BAD_REQUEST;
	if (s[0] == '/')
		return PROTO_FORBIDDEN;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return PROTO_BAD_REQUEST;
	/* The first bad component decides. */
	for (start = 0; start <= len; start = i + 1) {
		for (i = start; i < len && s[i] != '/'; i++)
			;
		if (i == start)
			return PROTO_BAD_REQUEST;
		if ((i - start == 1 && s[start] == '.') ||
		    (i - start == 2 && s[start] == '.' && s[start + 1] == '.'))
			return PROTO_FORBIDDEN;
	}
	return PROTO_OK;
}

/* fnmatch(pattern, name, FNM_PATHNAME) for patterns of literals and '*'. */
static int
ref_match(const char *p, const char *s)
{
	if (*p == '\0')
		return *s == '\0';
	if (*p == '*') {
		for (;; s++) {
			if (ref_match(p + 1, s))
				return 1;
			if (*s == '\0' || *s == '/')
				return 0;
		}
	}
	return *p == *s && ref_match(p + 1, s + 1);
}

/* What one opener made of a name: the inode it opened, or the protocol
   error of its failure. */
struct opened {
	enum proto_error	 e;
	dev_t			 dev;
	ino_t			 ino;
};

static struct opened
check_open(int (*opener)(int, const char *, int), const char *name,
    int flags)
{
	const struct fuzz_tree *t = fuzz_tree();
	struct opened o = { .e = PROTO_OK };
	char link[64], where[PATH_MAX];
	const char *why = NULL;
	struct stat st;
	ssize_t n;
	int fd, err;

	fd = opener(t->folder_fd[0], name, flags);
	if (fd == -1) {
		err = errno;
		o.e = policy_open_error(err, &why);
		FUZZ_CHECK(o.e != PROTO_OK && why && *why, "open error %d maps "
		    "to no error", err);
		FUZZ_CHECK((err != EXDEV && err != ELOOP) ||
		    o.e == PROTO_FORBIDDEN,
		    "an escape (errno %d) is not forbidden", err);
		return o;
	}
	FUZZ_CHECK(fstat(fd, &st) == 0, "fstat: %s", strerror(errno));
	o.dev = st.st_dev;
	o.ino = st.st_ino;
	FUZZ_CHECK(!fuzz_tree_is_secret(&st), "'%s' opened the outside secret",
	    name);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, where, sizeof(where) - 1);
	FUZZ_CHECK(n > 0, "readlink: %s", strerror(errno));
	where[n] = '\0';
	FUZZ_CHECK(strncmp(where, t->folder[0], strlen(t->folder[0])) == 0 &&
	    (where[strlen(t->folder[0])] == '/' ||
	    where[strlen(t->folder[0])] == '\0'),
	    "'%s' opened %s, outside the folder", name, where);
	close(fd);
	return o;
}

/* openat2 and the walk that stands in for it make the same of name. */
static void
check_openers(const char *name, int flags)
{
	struct opened a, b;

	a = check_open(policy_open_beneath, name, flags);
	b = check_open(policy_open_walk, name, flags);
	FUZZ_CHECK(a.e == b.e, "'%s': openat2 gives error %d, the walk %d",
	    name, a.e, b.e);
	FUZZ_CHECK(a.e != PROTO_OK || (a.dev == b.dev && a.ino == b.ino),
	    "'%s': openat2 and the walk open different files", name);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_tree();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *why = NULL;
	enum proto_error e, want;
	unsigned v = 0, ref_v = 0;
	char *name;
	size_t i;
	int r, ref = size >= 1 && size <= 6, allowed;

	/* Proposal numbers. */
	for (i = 0; i < size && ref; i++) {
		if (s[i] < '0' || s[i] > '9')
			ref = 0;
		else
			ref_v = ref_v * 10 + (unsigned)(s[i] - '0');
	}
	r = policy_parse_proposal(s, size, &v);
	FUZZ_CHECK((r == 0) == ref && (!ref || v == ref_v), "proposal parse "
	    "gave %d (%u), the reference %d (%u)", r, v, ref, ref_v);

	/* Names. */
	e = policy_check_name(s, size, &why);
	want = ref_check_name(s, size);
	FUZZ_CHECK(e == want, "policy_check_name gave %d, the reference %d", e,
	    want);
	FUZZ_CHECK(e == PROTO_OK || (why && *why), "a refused name has no "
	    "reason");
	if (memchr(s, '\0', size) != NULL || size >= PATH_MAX)
		return 0;
	if ((name = strndup(s, size)) == NULL)
		return 0;
	for (i = 0, allowed = 0; i < fuzz_n_allow; i++)
		allowed |= ref_match(fuzz_allow[i], name);
	FUZZ_CHECK(policy_allowed(fuzz_allow, fuzz_n_allow, name) == allowed,
	    "policy_allowed says %d for '%s'", !allowed, name);
	check_openers(name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	check_openers(name, O_PATH);
	free(name);
	return 0;
}
