#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "watcherd/access/access_int.h"

#define USERS_MAX	4096		/* accounts remembered */
#define USERS_PW_BUF	(64 << 10)	/* getpwnam_r's buffer, at most */

/*
 * An account as NSS gave it, or the memory that the name is unknown;
 * believed for ACCESS_ACCOUNT_TTL_S. The lookup always runs off the loop:
 * NSS may ask LDAP or SSSD, which may not answer.
 */
struct user {
	struct memo_entry e;		/* key: the name and its NUL */
	struct creds *account;	/* NULL: unknown */
	long long	 fetched;
	struct job	*lookup;	/* the lookup under way */
};

struct user_job {
	struct job	 j;
	struct user	*u;
	/* What the worker found. */
	struct creds *account;
	int		 err;		/* errno of a failed lookup */
};

static void
user_work(struct mount_job *mj)
{
	struct user_job *uj = (struct user_job *)mj;
	struct passwd pw, *found = NULL;
	struct creds *a;
	size_t buflen = 4096;
	char *buf = NULL, *grown;
	int n, r;

	for (;;) {
		if ((grown = realloc(buf, buflen)) == NULL) {
			uj->err = ENOMEM;
			goto done;
		}
		buf = grown;
		r = getpwnam_r(uj->j.name, &pw, buf, buflen, &found);
		if (r != ERANGE || buflen >= USERS_PW_BUF)
			break;
		buflen *= 2;
	}
	if (found == NULL) {
		/* 0 and the ENOENT family say "no such user". */
		uj->err = r == 0 || r == ENOENT || r == ESRCH || r == EBADF ||
		    r == EPERM ? 0 : r;
		goto done;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		uj->err = ENOMEM;
		goto done;
	}
	a->uid = pw.pw_uid;
	a->gid = pw.pw_gid;
	n = CREDS_GROUPS_MAX;
	/* More than CREDS_GROUPS_MAX groups: the first ones count. */
	if (getgrouplist(uj->j.name, pw.pw_gid, a->groups, &n) == -1 &&
	    n > CREDS_GROUPS_MAX)
		n = CREDS_GROUPS_MAX;
	a->n_groups = n > 0 ? (size_t)n : 0;
	uj->account = a;
done:
	free(buf);
}

static void
user_finish(struct job *j)
{
	struct user_job *uj = (struct user_job *)j;
	struct user *u = uj->u;

	u->lookup = NULL;
	u->fetched = loop_now(jobs_loop(j->jobs));
	free(u->account);
	u->account = uj->account;
	uj->account = NULL;
	if (uj->err) {
		/* Not "unknown": an error, not believed. */
		log_warn("user_lookup_failed", "user=%s reason=%s",
		    log_str(u->e.key), log_str(strerror(uj->err)));
		u->fetched = LLONG_MIN / 2;
	}
}

static void
user_clear(struct job *j)
{
	free(((struct user_job *)j)->account);
}

static const struct job_ops user_ops = {
	.work = user_work,
	.finish = user_finish,
	.clear = user_clear,
};

static int
user_busy(struct memo_entry *e)
{
	return ((struct user *)e)->lookup != NULL;
}

static void
user_release(struct memo_entry *e)
{
	struct user *u = (struct user *)e;

	free(u->account);
	free(u);
}

int
accounts_init(struct access *a)
{
	return memo_init(&a->accounts, USERS_MAX, user_busy, user_release);
}

static enum proto_error
lookup_start(struct access *a, struct user *u, struct waiter *w,
    const char **why)
{
	struct user_job *uj;
	struct mount *m;

	if ((m = mount_users(jobs_mounts(a->jobs))) == NULL ||
	    (uj = calloc(1, sizeof(*uj))) == NULL) {
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	if (job_prepare(&uj->j, &user_ops, 0, -1, u->e.key) == -1) {
		free(uj);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	/* Not a file system's stall: fs_timeouts does not count it. */
	uj->j.late = "the user database (NSS) is not responding; try again "
	    "later";
	uj->u = u;
	return job_run(a->jobs, m, &uj->j, &u->lookup, w, why);
}

enum proto_error
access_account(struct access *a, struct waiter *w, const char *name,
    const struct creds **out, const char **why)
{
	struct user *u;
	struct job *j;
	int added;

	*out = NULL;
	if ((u = (struct user *)memo_get_or_add(&a->accounts, name,
	    strlen(name) + 1, sizeof(*u), &added)) == NULL) {
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	if (added)
		u->fetched = LLONG_MIN / 2;
	if (u->lookup)
		return job_wait(a->jobs, u->lookup, w);
	if (loop_now(a->loop) - u->fetched >= ACCESS_ACCOUNT_TTL_S * 1000LL) {
		if ((j = job_result(w, &user_ops)) != NULL &&
		    ((struct user_job *)j)->u == u) {
			/* Looked up for this request, and failed. */
			*why = "the user database (NSS) did not answer; try "
			    "again";
			return PROTO_UNAVAILABLE;
		}
		return lookup_start(a, u, w, why);
	}
	*out = u->account;
	return PROTO_OK;
}
