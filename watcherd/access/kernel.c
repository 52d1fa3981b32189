#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common/log.h"
#include "common/policy.h"
#include "watcherd/access/access_int.h"

#ifndef AT_EACCESS
#define AT_EACCESS	0x200
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH	0x1000
#endif

#define VERDICTS_MAX	16384	/* (user, name) pairs remembered */

/* What the kernel said about a user and a file. */
struct decision {
	int		 allowed;
	int		 err;		/* errno of the open or of the check */
	int		 failed;	/* could not be asked: unavailable */
	struct file_id	 file;
};

/* The kernel's verdict for (uid, access, "P/file_name"), or the check
   under way. */
struct verdict {
	struct memo_entry e;
	struct decision	 d;
	long long	 decided;	/* LLONG_MIN / 2: not known */
	struct job	*job;
};

struct verdict_job {
	struct job	 j;
	struct verdict	*v;		/* j.dir_fd: pNNNNNN; j.name: the
					   path below it */
	struct creds	 creds;		/* a copy */
	int		 write;
	struct decision	 d;
};

/*
 * Asks the kernel, with c's credentials on this thread, whether c may
 * read (or write) path beneath the proposal's directory. Safe on any
 * thread.
 */
static void
decide(int proposal_fd, const char *path, const struct creds *c, int write,
    struct decision *d)
{
	struct stat sb;
	int fd;

	memset(d, 0, sizeof(*d));
	if (creds_enter(c) == -1) {
		d->failed = 1;
		d->err = errno;
		return;
	}
	if ((fd = policy_open_beneath(proposal_fd, path, O_PATH)) == -1) {
		d->err = errno;
		/* Every directory searched, no such file: the watch says
		   not_found. */
		d->allowed = errno == ENOENT || errno == ENOTDIR;
	} else if (fstat(fd, &sb) == -1) {
		d->err = errno;
		d->failed = 1;
	} else {
		d->file.exists = 1;
		d->file.dev = sb.st_dev;
		d->file.ino = sb.st_ino;
		d->file.ctime = sb.st_ctim;
		if (syscall(SYS_faccessat2, fd, "", write ? W_OK : R_OK,
		    AT_EACCESS | AT_EMPTY_PATH) == 0)
			d->allowed = 1;
		else if ((d->err = errno) == ENOSYS)
			d->failed = 1;
	}
	if (fd != -1)
		close(fd);
	creds_leave();
}

/* The way from pNNNNNN to file_name: the folder's place below it, "/",
   the name. Returns 0, or -1 when it does not fit. */
static int
way_of(const struct folder *f, const char *file_name, size_t len, char *out,
    size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%.*s", f->rel, (int)len, file_name);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static void
verdict_work(struct mount_job *mj)
{
	struct verdict_job *vj = (struct verdict_job *)mj;

	decide(vj->j.dir_fd, vj->j.name, &vj->creds, vj->write, &vj->d);
}

static void
verdict_finish(struct job *j)
{
	struct verdict_job *vj = (struct verdict_job *)j;

	vj->v->job = NULL;
	vj->v->d = vj->d;
	vj->v->decided = vj->d.failed ? LLONG_MIN / 2 :
	    loop_now(jobs_loop(j->jobs));
}

static const struct job_ops verdict_ops = {
	.work = verdict_work,
	.finish = verdict_finish,
	.file_system = 1,
};

static int
verdict_busy(struct memo_entry *e)
{
	return ((struct verdict *)e)->job != NULL;
}

static void
verdict_release(struct memo_entry *e)
{
	free(e);
}

int
verdicts_init(struct access *a)
{
	return memo_init(&a->verdicts, VERDICTS_MAX, verdict_busy,
	    verdict_release);
}

static enum proto_error
verdict_start(struct access *a, struct verdict *v, struct folder *f,
    const char *path, const struct creds *c, int write,
    struct waiter *w, const char **why)
{
	struct verdict_job *vj;

	if ((vj = calloc(1, sizeof(*vj))) == NULL ||
	    job_prepare(&vj->j, &verdict_ops, f->proposal, f->proposal_fd,
	    path) == -1) {
		free(vj);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	vj->creds = *c;
	vj->write = write;
	vj->v = v;
	return job_run(a->jobs, f->mount, &vj->j, &v->job, w, why);
}

/* The answer of a decision, g granted its file when allowed. */
static enum proto_error
verdict_answer(const struct decision *d, unsigned proposal,
    const char *file_name, size_t len, struct waiter *w,
    struct access_grant *g, const char **why)
{
	if (d->failed) {
		*why = d->err == EPERM ? "watcherd may not take a user's "
		    "credentials (it needs CAP_SETUID and CAP_SETGID for "
		    "access = unix)" : d->err == ENOSYS ? "the kernel cannot "
		    "check access for a user (faccessat2, Linux 5.8)" :
		    "the access check failed; try again";
		return PROTO_UNAVAILABLE;
	}
	if (d->err == EXDEV || d->err == ELOOP) {
		log_warn("access_outside", "proposal=%u file=%s reason=\"a "
		    "link leads outside the proposal\"", proposal,
		    log_strn(file_name, len));
		*why = "file_name leads outside the proposal";
		if (w) {
			snprintf(w->detail, sizeof(w->detail), "file_name "
			    "leads outside proposal %u", proposal);
			*why = w->detail;
		}
		return PROTO_FORBIDDEN;
	}
	if (!d->allowed)
		return PROTO_DENIED;
	if (g) {
		g->file = d->file;
		g->granted = ACCESS_ONE_FILE;
	}
	return PROTO_OK;
}

enum proto_error
access_kernel(struct access *a, struct waiter *w,
    struct access_grant *g, unsigned proposal,
    const char *file_name, size_t len, const struct creds *c, int write,
    const struct file_id *seen, const char **why)
{
	char key[sizeof(uid_t) + 1 + NAME_KEY_MAX], path[PATH_MAX];
	struct decision d;
	struct folder *f;
	struct verdict_job *vj;
	struct verdict *v;
	enum proto_error e;
	size_t keylen;
	int added;

	memcpy(key, &c->uid, sizeof(uid_t));
	key[sizeof(uid_t)] = write ? 'w' : 'r';
	if ((e = name_key(a->cfg, w, proposal, file_name, len,
	    key + sizeof(uid_t) + 1, &keylen, why)) != PROTO_OK)
		return e;
	keylen += sizeof(uid_t) + 1;
	if ((e = folder_get(a->folders, proposal, w, &f, why)) != PROTO_OK)
		return e;
	if (way_of(f, file_name, len, path, sizeof(path)) == -1) {
		*why = "file_name is too long";
		return PROTO_BAD_REQUEST;
	}
	if ((v = (struct verdict *)memo_get_or_add(&a->verdicts, key, keylen,
	    sizeof(*v), &added)) == NULL) {
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	if (added)
		v->decided = LLONG_MIN / 2;
	if (v->job)
		return job_wait(a->jobs, v->job, w);
	/* The check this request waited for is its answer, however old. */
	if ((vj = (struct verdict_job *)job_result(w, &verdict_ops)) !=
	    NULL && vj->v == v)
		return verdict_answer(&vj->d, proposal, file_name, len, w, g,
		    why);
	if (loop_now(a->loop) - v->decided < ACCESS_VERDICT_TTL_MS &&
	    (seen == NULL || file_id_equal(&v->d.file, seen, 1)))
		return verdict_answer(&v->d, proposal, file_name, len, w, g,
		    why);
	if (f->mount)
		return verdict_start(a, v, f, path, c, write, w, why);
	decide(f->proposal_fd, path, c, write, &d);
	v->d = d;
	v->decided = d.failed ? LLONG_MIN / 2 : loop_now(a->loop);
	return verdict_answer(&d, proposal, file_name, len, w, g, why);
}
