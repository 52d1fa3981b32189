/* The file-access policy: names, allow patterns, proposals, folders, and
   opening beneath a folder. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/policy.h"
#include "tests/unit/fixture.h"
#include "tests/unit/tap.h"

static char *const default_allow[] = {
	"context.py", "*.log", "process_logs/*.out",
};
#define N_DEFAULT_ALLOW (sizeof(default_allow) / sizeof(default_allow[0]))

static void
test_check_name(void)
{
	static const struct {
		const char	*name;
		size_t		 len;	/* 0: strlen(name) */
		int		 want;	/* PROTO_OK, or the error refusing it */
		const char	*what;
	} cases[] = {
		{ "context.py", 0, PROTO_OK, "plain name is accepted" },
		{ "process_logs/r0001-p1111.out", 0, PROTO_OK,
		    "name in a subfolder is accepted" },
		{ "...", 0, PROTO_OK, "'...' is a plain name, accepted" },
		{ ".hidden.log", 0, PROTO_OK, "name starting with a dot is accepted" },
		{ "caf\xc3\xa9.log", 0, PROTO_OK, "UTF-8 name is accepted" },
		{ "%2e%2e/x", 0, PROTO_OK,
		    "literal %2e%2e/x is a plain name (decoding is the HTTP layer's)" },
		{ "", 0, PROTO_BAD_REQUEST, "empty name is refused" },
		{ ".", 0, PROTO_FORBIDDEN, "name '.' is refused" },
		{ "..", 0, PROTO_FORBIDDEN, "name '..' is refused" },
		{ "../x", 0, PROTO_FORBIDDEN, "name starting with ../ is refused" },
		{ "a/../b", 0, PROTO_FORBIDDEN, "name with .. in the middle is refused" },
		{ "a/..", 0, PROTO_FORBIDDEN, "name ending in /.. is refused" },
		{ "./x", 0, PROTO_FORBIDDEN, "name starting with ./ is refused" },
		{ "a/./b", 0, PROTO_FORBIDDEN, "name with /./ is refused" },
		{ "/etc/passwd", 0, PROTO_FORBIDDEN, "absolute name is refused" },
		{ "/", 0, PROTO_FORBIDDEN, "name '/' is refused" },
		{ "a//b", 0, PROTO_BAD_REQUEST, "name with an empty component is refused" },
		{ "a/", 0, PROTO_BAD_REQUEST, "name with a trailing slash is refused" },
		{ "context.py\0.log", 15, PROTO_BAD_REQUEST, "name with NUL in the middle is refused" },
		{ "\0", 1, PROTO_BAD_REQUEST, "name that is a single NUL is refused" },
		{ "a\nb.log", 0, PROTO_BAD_REQUEST, "name with a newline is refused" },
		{ "a\rb.log", 0, PROTO_BAD_REQUEST, "name with a carriage return is refused" },
		{ "a\tb.log", 0, PROTO_BAD_REQUEST, "name with a tab is refused" },
		{ "\x1b[31mx.log", 0, PROTO_BAD_REQUEST, "name with an escape byte is refused" },
		{ "x\x7f.log", 0, PROTO_BAD_REQUEST, "name with DEL is refused" },
		{ "\x01", 0, PROTO_BAD_REQUEST, "name with byte 0x01 is refused" },
	};
	char name[POLICY_MAX_NAME + 2];
	const char *why;
	size_t i, len;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].name);
		why = NULL;
		r = policy_check_name(cases[i].name, len, &why);
		if (cases[i].want == PROTO_OK)
			tap_ok(r == PROTO_OK, "%s", cases[i].what);
		else
			tap_ok(r == cases[i].want && why && *why,
			    "%s as %s, with a reason", cases[i].what,
			    proto_error_code(cases[i].want));
	}

	/* The decoded form of %2e%2e/x, and the literal one against the
	   allow list. */
	tap_ok(policy_check_name("../x", 4, &why) == PROTO_FORBIDDEN,
	    "decoded %%2e%%2e/x (../x) is refused");
	tap_ok(!policy_allowed(default_allow, N_DEFAULT_ALLOW, "%2e%2e/x") &&
	    !policy_allowed(default_allow, N_DEFAULT_ALLOW, "%2e%2e"),
	    "literal %%2e%%2e names match no default allow pattern");

	memset(name, 'a', sizeof(name));
	name[POLICY_MAX_NAME] = '\0';
	tap_ok(policy_check_name(name, POLICY_MAX_NAME, &why) == PROTO_OK,
	    "255-byte name is accepted");
	name[POLICY_MAX_NAME + 1] = '\0';
	why = NULL;
	tap_ok(policy_check_name(name, POLICY_MAX_NAME + 1, &why) ==
	    PROTO_BAD_REQUEST &&
	    why && strstr(why, "255"), "256-byte name is refused, saying 255");
	why = NULL;
	policy_check_name("a/../b", 6, &why);
	tap_ok(why && strstr(why, ".."), "the reason for a/../b names '..'");
	why = NULL;
	policy_check_name("/etc/passwd", 11, &why);
	tap_ok(why && strstr(why, "relative"),
	    "the reason for an absolute name says it must be relative");
}

static void
test_allowed(void)
{
	static const struct {
		const char	*name;
		int		 allowed;
	} cases[] = {
		{ "context.py", 1 },
		{ "x.log", 1 },
		{ "r0001.log", 1 },
		{ "process_logs/r0001-p1111.out", 1 },
		{ "sub/x.log", 0 },
		{ "process_logs/a/b.out", 0 },
		{ "process_logs/x.log", 0 },
		{ "other/context.py", 0 },
		{ "context.py.bak", 0 },
		{ "Context.py", 0 },
		{ "x.log.gz", 0 },
		{ "x.out", 0 },
		{ "secrets.txt", 0 },
	};
	char *const only_py[] = { "*.py" };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tap_ok(policy_allowed(default_allow, N_DEFAULT_ALLOW,
		    cases[i].name) == cases[i].allowed,
		    "'%s' is %s by the default patterns", cases[i].name,
		    cases[i].allowed ? "allowed" : "not allowed");
	tap_ok(!policy_allowed(default_allow, 0, "context.py"),
	    "an empty allow list allows nothing");
	tap_ok(policy_allowed(only_py, 1, "setup.py") &&
	    !policy_allowed(only_py, 1, "context.py/x"),
	    "a custom pattern list is used as given");
}

static void
test_parse_proposal(void)
{
	static const struct {
		const char	*s;
		size_t		 len;	/* 0: strlen(s) */
		int		 ok;
		unsigned	 value;
	} cases[] = {
		{ "1111", 0, 1, 1111 },
		{ "001111", 0, 1, 1111 },
		{ "0", 0, 1, 0 },	/* 1 to 6 digits: syntactically valid */
		{ "7", 0, 1, 7 },
		{ "999999", 0, 1, 999999 },
		{ "1234567", 0, 0, 0 },
		{ "0001111", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ "12a", 0, 0, 0 },
		{ "-1", 0, 0, 0 },
		{ "+1", 0, 0, 0 },
		{ " 1", 0, 0, 0 },
		{ "1 ", 0, 0, 0 },
		{ "0x10", 0, 0, 0 },
		{ "1\0" "2", 3, 0, 0 },
	};
	unsigned v;
	size_t i, len;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].s);
		v = 424242;
		r = policy_parse_proposal(cases[i].s, len, &v);
		if (cases[i].ok)
			tap_ok(r == 0 && v == cases[i].value,
			    "proposal '%s' is read as %u", cases[i].s,
			    cases[i].value);
		else
			tap_ok(r == -1 && v == 424242,
			    "proposal '%s' is refused and the output untouched",
			    cases[i].len ? "1\\0002" : cases[i].s);
	}
	tap_ok(policy_parse_proposal("123456789", 4, &v) == 0 && v == 1234,
	    "only len bytes of the proposal are read");
}

static int
make_dir(const char *root, const char *rel)
{
	char path[PATH_MAX];

	fixture_path(path, sizeof(path), "%s/%s", root, rel);
	return fixture_mkdirs(path);
}

/* policy_open_folder()'s real path of the folder into out. */
static int
find_folder(const char *root, unsigned proposal, char *out, size_t len)
{
	struct policy_folder f;

	if (policy_open_folder(root, proposal, &f) == -1)
		return -1;
	close(f.fd);
	close(f.proposal_fd);
	if (strlen(f.path) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(out, f.path);
	return 0;
}

static void
test_find_folder(void)
{
	/* Proposals of the tree made below, and the folder each must get. */
	static const struct {
		unsigned	 proposal;
		const char	*folder;	/* below the root; NULL: ENOENT */
		const char	*what;
	} cases[] = {
		{ 1111, "SPB/202601/p001111/usr/Shared/amore",
		    "its DAMNIT folder is usr/Shared/amore" },
		{ 2222, "FXE/202602/p002222/usr/Shared/amore-online",
		    "amore-online is used when amore is missing" },
		{ 3333, "MID/202603/p003333/usr/Shared/amore",
		    "amore is preferred when amore-online exists too" },
		{ 5555, NULL, "unknown proposal gives ENOENT" },
		{ 4444, NULL, "proposal without a DAMNIT folder gives ENOENT" },
		{ 77777, NULL,
		    "a regular file named amore is not a DAMNIT folder" },
		{ 6666, NULL,
		    "the first proposal match decides, even without a DAMNIT folder" },
		{ 1000000, NULL, "proposal over 999999 gives ENOENT" },
	};
	char root[PATH_MAX], want[PATH_MAX], out[PATH_MAX], small[16];
	char longroot[5000];
	size_t i;
	int r;

	fixture_tmpdir(want, sizeof(want));
	/* Real paths are compared: the temporary directory's own. */
	if (realpath(want, root) == NULL)
		strcpy(root, want);
	if (make_dir(root, "SPB/202601/p001111/usr/Shared/amore") == -1 ||
	    make_dir(root, "FXE/202602/p002222/usr/Shared/amore-online") == -1 ||
	    make_dir(root, "MID/202603/p003333/usr/Shared/amore") == -1 ||
	    make_dir(root, "MID/202603/p003333/usr/Shared/amore-online") == -1 ||
	    make_dir(root, "SQS/202604/p004444/usr/Shared") == -1 ||
	    make_dir(root, "AAA/202601/p006666/usr") == -1 ||
	    make_dir(root, "BBB/202601/p006666/usr/Shared/amore") == -1 ||
	    make_dir(root, "HED/202605/p077777") == -1) {
		tap_ok(0, "create the proposal tree in %s", root);
		fixture_rmtree(root);
		return;
	}
	/* A file, not a folder, named like a DAMNIT folder. */
	fixture_path(out, sizeof(out), "%s/HED/202605/p077777/usr", root);
	fixture_mkdirs(out);
	fixture_path(out, sizeof(out), "%s/HED/202605/p077777/usr/Shared", root);
	fixture_mkdirs(out);
	fixture_path(out, sizeof(out), "%s/HED/202605/p077777/usr/Shared/amore",
	    root);
	fixture_write(out, "x", 1);

	tap_ok(find_folder(root, 1111, out, sizeof(out)) == 0,
	    "proposal 1111 is found under <root>/SPB/202601");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errno = 0;
		r = find_folder(root, cases[i].proposal, out, sizeof(out));
		if (cases[i].folder == NULL) {
			tap_ok(r == -1 && errno == ENOENT, "%s", cases[i].what);
			continue;
		}
		fixture_path(want, sizeof(want), "%s/%s", root, cases[i].folder);
		tap_is_str(r == 0 ? out : NULL, want, "%s", cases[i].what);
	}

	/* A member's links in usr/Shared: inside the proposal they work,
	   out of it (another proposal, anywhere) they do not. */
	fixture_path(out, sizeof(out), "%s/SPB/202601/p008881/scratch/damnit",
	    root);
	fixture_mkdirs(out);
	fixture_path(out, sizeof(out), "%s/SPB/202601/p008881/usr/Shared", root);
	fixture_mkdirs(out);
	fixture_path(out, sizeof(out),
	    "%s/SPB/202601/p008881/usr/Shared/amore", root);
	r = symlink("../../scratch/damnit", out);
	fixture_path(want, sizeof(want), "%s/SPB/202601/p008881/scratch/damnit",
	    root);
	r = r == 0 ? find_folder(root, 8881, out, sizeof(out)) : -1;
	tap_is_str(r == 0 ? out : NULL, want,
	    "a link to a folder inside the proposal is followed");

	fixture_path(out, sizeof(out), "%s/SPB/202601/p008882/usr/Shared", root);
	fixture_mkdirs(out);
	fixture_path(out, sizeof(out),
	    "%s/SPB/202601/p008882/usr/Shared/amore", root);
	errno = 0;
	r = symlink("../../../p001111/usr/Shared/amore", out) == 0 ?
	    find_folder(root, 8882, out, sizeof(out)) : 0;
	tap_ok(r == -1 && (errno == EXDEV || errno == ELOOP),
	    "a link to another proposal's folder is refused (%s)",
	    strerror(errno));

	fixture_path(out, sizeof(out), "%s/SPB/202601/p008883/usr/Shared", root);
	fixture_mkdirs(out);
	fixture_path(out, sizeof(out),
	    "%s/SPB/202601/p008883/usr/Shared/amore-online", root);
	fixture_path(want, sizeof(want), "%s/SPB/202601/p001111/usr/Shared/amore",
	    root);
	errno = 0;
	r = symlink(want, out) == 0 ? find_folder(root, 8883, out,
	    sizeof(out)) : 0;
	tap_ok(r == -1 && (errno == EXDEV || errno == ELOOP),
	    "an absolute link out of the proposal is refused (%s)",
	    strerror(errno));

	errno = 0;
	r = find_folder(root, 1111, small, sizeof(small));
	tap_ok(r == -1 && errno == ENAMETOOLONG,
	    "an output buffer too small for the folder gives ENAMETOOLONG");

	memset(longroot, 'x', sizeof(longroot) - 1);
	longroot[0] = '/';
	longroot[sizeof(longroot) - 1] = '\0';
	errno = 0;
	r = find_folder(longroot, 1111, out, sizeof(out));
	tap_ok(r == -1 && errno == ENAMETOOLONG,
	    "a data root too long for a path gives ENAMETOOLONG");

	errno = 0;
	fixture_path(want, sizeof(want), "%s/does-not-exist", root);
	r = find_folder(want, 1111, out, sizeof(out));
	tap_ok(r == -1 && errno == ENOENT, "a missing data root gives ENOENT");

	fixture_rmtree(root);
}

/* The opener under test: policy_open_beneath (openat2) or policy_open_walk
   (its fallback), with the same expectations. */
static int (*open_under_test)(int, const char *, int);

/* Opens name beneath folder_fd with flags; returns 0 on success (and
   closes the descriptor), else the errno. */
static int
open_errno(int folder_fd, const char *name, int flags)
{
	int fd;

	errno = 0;
	if ((fd = open_under_test(folder_fd, name, flags)) == -1)
		return errno ? errno : -1;
	close(fd);
	return 0;
}

/* An open's expected outcome: 0 (it opens), an errno, or ESCAPE. */
#define ESCAPE	(-2)	/* EXDEV or ELOOP: both refuse a way out */

/* The opens of test_open_beneath's folder, which holds context.py,
   process_logs/r1.out and the links LINK() makes there. */
static const struct open_case {
	const char	*name;
	int		 flags;
	int		 want;
	const char	*what;
} open_cases[] = {
	{ "process_logs/r1.out", O_RDONLY, 0, "a file in a subfolder opens" },
	{ "deep.log", O_RDONLY, 0, "a symlink into a subfolder opens" },
	{ "process_logs/../context.py", O_RDONLY, 0,
	    "a .. that stays inside opens" },
	{ "process_logs/up.log", O_RDONLY, 0,
	    "a symlink through .. to a file inside opens" },
	{ "context.py/x", O_RDONLY, ENOTDIR,
	    "a file used as a folder gives ENOTDIR" },
	{ "../outside", O_RDONLY, EXDEV, "../outside fails with EXDEV" },
	{ "process_logs/../../outside", O_RDONLY, EXDEV,
	    "a .. that climbs out through a subfolder fails with EXDEV" },
	{ "/etc/passwd", O_RDONLY, EXDEV,
	    "an absolute name fails with EXDEV" },
	{ "abs.log", O_RDONLY, ESCAPE,
	    "an absolute symlink to /etc/passwd fails" },
	{ "rel.log", O_RDONLY, ESCAPE,
	    "a relative symlink to ../outside fails" },
	{ "up/outside", O_RDONLY, ESCAPE,
	    "a symlink to .. used as a folder fails" },
	{ "self-abs/context.py", O_RDONLY, ESCAPE,
	    "an absolute symlink to the folder itself fails" },
	{ "proc.log", O_RDONLY, ESCAPE,
	    "a symlink to /proc/self/root/etc/passwd fails" },
	{ "cwd/etc/passwd", O_RDONLY, ESCAPE,
	    "a symlink to /proc/self/cwd fails" },
	{ "/proc/self/root/etc/passwd", O_RDONLY, ESCAPE,
	    "the name /proc/self/root/etc/passwd fails" },
	{ "loop.log", O_RDONLY, ELOOP, "a symlink loop fails with ELOOP" },
	/* watcherd opens directories O_PATH | O_DIRECTORY: a link is
	   followed, never opened itself. */
	{ "logs", O_PATH | O_DIRECTORY, 0,
	    "O_PATH: a symlink to a subfolder opens the subfolder" },
	{ "abs.log", O_PATH, ESCAPE,
	    "O_PATH: an absolute symlink fails, not opened as a link" },
	{ "up", O_PATH | O_DIRECTORY, ESCAPE,
	    "O_PATH: a symlink to .. fails" },
	{ "inner.log/", O_RDONLY, ENOTDIR,
	    "a symlink to a file, with a trailing slash, gives ENOTDIR" },
	{ "logs/", O_RDONLY, 0,
	    "a symlink to a folder, with a trailing slash, opens the folder" },
	{ "missing.log", O_RDONLY, ENOENT, "a missing file gives ENOENT" },
	{ "missing/x.out", O_RDONLY, ENOENT,
	    "a file in a missing subfolder gives ENOENT" },
};

static void
check_open(int folder_fd, const struct open_case *c)
{
	int e = open_errno(folder_fd, c->name, c->flags);

	if (c->want == ESCAPE)
		tap_ok(e == EXDEV || e == ELOOP, "%s (errno %d)", c->what, e);
	else
		tap_is_int(e, c->want, "%s", c->what);
}

/* Opens name beneath folder_fd for reading and checks that it holds
   exactly content; returns the descriptor (the caller closes it), or -1. */
static int
opens_and_reads(int folder_fd, const char *name, const char *content,
    const char *what)
{
	char buf[64];
	size_t len = strlen(content);
	ssize_t n;
	int fd;

	fd = open_under_test(folder_fd, name, O_RDONLY);
	n = fd == -1 ? -1 : read(fd, buf, sizeof(buf));
	tap_ok(fd != -1 && n == (ssize_t)len && memcmp(buf, content, len) == 0,
	    "%s", what);
	return fd;
}

static void
test_open_beneath(int (*opener)(int, const char *, int), const char *label)
{
	char base[PATH_MAX], folder[PATH_MAX], path[PATH_MAX];
	int dfd, fd;
	size_t i;

	fixture_tmpdir(base, sizeof(base));
	fixture_path(folder, sizeof(folder), "%s/amore", base);
	fixture_path(path, sizeof(path), "%s/outside", base);
	if (mkdir(folder, 0755) == -1 ||
	    fixture_write(path, "secret\n", 7) == -1) {
		tap_ok(0, "create the folder %s", folder);
		fixture_rmtree(base);
		return;
	}
	fixture_path(path, sizeof(path), "%s/context.py", folder);
	fixture_write(path, "print(1)\n", 9);
	fixture_path(path, sizeof(path), "%s/process_logs", folder);
	mkdir(path, 0755);
	fixture_path(path, sizeof(path), "%s/process_logs/r1.out", folder);
	fixture_write(path, "run 1\n", 6);
	dfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	open_under_test = opener;
	printf("# %s\n", label);

#define LINK(target, name) do {						\
	fixture_path(path, sizeof(path), "%s/%s", folder, name);		\
	if (symlink(target, path) == -1)				\
		tap_ok(0, "symlink %s -> %s", name, target);		\
} while (0)
	LINK("/etc/passwd", "abs.log");
	LINK("../outside", "rel.log");
	LINK("context.py", "inner.log");
	LINK("process_logs/r1.out", "deep.log");
	LINK("/proc/self/root/etc/passwd", "proc.log");
	LINK("/proc/self/cwd", "cwd");
	LINK("..", "up");
	LINK(folder, "self-abs");
	LINK("loop.log", "loop.log");
	LINK("../context.py", "process_logs/up.log");
	LINK("process_logs", "logs");
#undef LINK

	fd = opens_and_reads(dfd, "context.py", "print(1)\n",
	    "a regular file in the folder opens and reads");
	tap_ok(fd != -1 && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
	    "the descriptor is close-on-exec");
	if (fd != -1)
		close(fd);

	fd = opens_and_reads(dfd, "inner.log", "print(1)\n",
	    "a symlink to a file inside the folder opens that file");
	if (fd != -1)
		close(fd);
	for (i = 0; i < sizeof(open_cases) / sizeof(open_cases[0]); i++)
		check_open(dfd, &open_cases[i]);

	if (dfd != -1)
		close(dfd);
	fixture_rmtree(base);
}

static void
test_open_error(void)
{
	static const struct {
		int			 err;
		enum proto_error	 want;
		const char		*what;
	} cases[] = {
		{ ENOENT, PROTO_NOT_FOUND, "ENOENT is 'not found'" },
		{ ENOTDIR, PROTO_NOT_FOUND, "ENOTDIR is 'not found'" },
		{ EXDEV, PROTO_FORBIDDEN, "EXDEV (escape) is forbidden" },
		{ ELOOP, PROTO_FORBIDDEN, "ELOOP (escape) is forbidden" },
		{ EACCES, PROTO_FORBIDDEN, "EACCES is forbidden" },
		{ EPERM, PROTO_FORBIDDEN, "EPERM is forbidden" },
		{ ENAMETOOLONG, PROTO_BAD_REQUEST, "ENAMETOOLONG is a bad request" },
		{ EMFILE, PROTO_UNAVAILABLE, "EMFILE is 'unavailable'" },
		{ EIO, PROTO_INTERNAL, "EIO is internal" },
	};
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = NULL;
		tap_ok(policy_open_error(cases[i].err, &why) == cases[i].want &&
		    why && *why, "%s, with a reason", cases[i].what);
	}
	policy_open_error(EXDEV, &why);
	tap_ok(strstr(why, "outside") != NULL,
	    "the reason for an escape says it is outside the folder");
	policy_open_error(ENOENT, &why);
	tap_ok(strstr(why, "not found") != NULL,
	    "the reason for ENOENT says not found");
}

/* Where an open file really is below the folder, links resolved. */
static void
test_path_beneath(void)
{
	char base[PATH_MAX], folder[PATH_MAX], path[PATH_MAX], rel[64];
	int dfd, fd;

	fixture_tmpdir(base, sizeof(base));
	fixture_path(folder, sizeof(folder), "%s/amore/sub", base);
	fixture_mkdirs(folder);
	fixture_path(path, sizeof(path), "%s/amore/sub/real.py", base);
	fixture_write(path, "x\n", 2);
	fixture_path(path, sizeof(path), "%s/outside.py", base);
	fixture_write(path, "x\n", 2);
	fixture_path(folder, sizeof(folder), "%s/amore", base);
	fixture_path(path, sizeof(path), "%s/link.py", folder);
	if (symlink("sub/real.py", path) == -1)
		tap_ok(0, "symlink link.py");
	dfd = open(folder, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fd = openat(dfd, "link.py", O_PATH | O_CLOEXEC);
	tap_ok(policy_path_beneath(dfd, fd, rel, sizeof(rel)) == 0 &&
	    strcmp(rel, "sub/real.py") == 0, "a link's target: %s", rel);
	close(fd);
	fd = openat(dfd, ".", O_PATH | O_CLOEXEC);
	tap_ok(policy_path_beneath(dfd, fd, rel, sizeof(rel)) == 0 &&
	    *rel == '\0', "the folder itself is \"\"");
	close(fd);
	fd = openat(dfd, "../outside.py", O_PATH | O_CLOEXEC);
	tap_ok(policy_path_beneath(dfd, fd, rel, sizeof(rel)) == -1,
	    "a file outside the folder is not beneath it");
	close(fd);
	fd = openat(dfd, "sub/real.py", O_PATH | O_CLOEXEC);
	tap_ok(policy_path_beneath(dfd, fd, rel, 5) == -1,
	    "a path longer than the buffer is refused, not cut");
	close(fd);
	close(dfd);
	fixture_rmtree(base);
}

int
main(void)
{
	test_check_name();
	test_allowed();
	test_parse_proposal();
	test_find_folder();
	test_open_beneath(policy_open_beneath, "policy_open_beneath (openat2)");
	test_open_beneath(policy_open_walk, "policy_open_walk (without openat2)");
	test_open_error();
	test_path_beneath();
	return tap_done();
}
