#include <errno.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "watcherd/work/creds.h"

/* The process's own, written once by creds_init() before any thread
   starts and only read after. */
static struct {
	int	 available;
	uid_t	 uid;
	gid_t	 gid;
	size_t	 n_groups;
	gid_t	 groups[CREDS_GROUPS_MAX];
} own;

/* The raw calls: each changes the calling thread only. */
static int
thread_setgroups(size_t n, const gid_t *groups)
{
	return (int)syscall(SYS_setgroups, n, groups);
}

static uid_t
thread_setfsuid(uid_t uid)
{
	return (uid_t)syscall(SYS_setfsuid, uid);
}

static gid_t
thread_setfsgid(gid_t gid)
{
	return (gid_t)syscall(SYS_setfsgid, gid);
}

/* Whether CAP_SETUID and CAP_SETGID are effective; empties the
   inheritable set, which a program run with file capabilities could
   otherwise take up. */
static int
capabilities_own(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	/* Zeroed: valgrind takes capget to fill only the first. */
	struct __user_cap_data_struct data[2] = { { 0 }, { 0 } };

	if (syscall(SYS_capget, &hdr, data) == -1)
		return 0;
	if (data[0].inheritable || data[1].inheritable) {
		data[0].inheritable = data[1].inheritable = 0;
		(void)syscall(SYS_capset, &hdr, data);
	}
	return (data[0].effective & (1u << CAP_SETUID)) &&
	    (data[0].effective & (1u << CAP_SETGID));
}

int
creds_init(void)
{
	int n;

	own.uid = geteuid();
	own.gid = getegid();
	n = getgroups(CREDS_GROUPS_MAX, own.groups);
	own.n_groups = n > 0 ? (size_t)n : 0;
	/* The capabilities stay watcherd's: a program it runs (hooks,
	   validators, the access command) must not inherit them. */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	own.available = capabilities_own();
	return own.available;
}

int
creds_available(void)
{
	return own.available;
}

int
creds_enter(const struct creds *c)
{
	if (!own.available) {
		errno = EPERM;
		return -1;
	}
	if (thread_setgroups(c->n_groups, c->groups) == -1)
		return -1;
	/* setfsuid() and setfsgid() say no failure: asking again tells. */
	thread_setfsgid(c->gid);
	thread_setfsuid(c->uid);
	if (thread_setfsgid((gid_t)-1) != c->gid ||
	    thread_setfsuid((uid_t)-1) != c->uid) {
		creds_leave();
		errno = EPERM;
		return -1;
	}
	return 0;
}

void
creds_leave(void)
{
	/* The fsuid first: back to root's, it gives the file-system
	   capabilities back that leaving root's took. */
	thread_setfsuid(own.uid);
	thread_setfsgid(own.gid);
	(void)thread_setgroups(own.n_groups, own.groups);
}
