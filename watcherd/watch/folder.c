#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/policy.h"
#include "watcherd/table.h"
#include "watcherd/watch/folder.h"
#include "watcherd/work/fstype.h"

#define FOLDER_NEGATIVE_MS 2000	/* how long "no such proposal" is believed */
#define FOLDER_MAX	100000

struct folders {
	struct loop		*loop;
	const struct config	*cfg;
	struct jobs		*jobs;
	struct table		*by_proposal;
	struct folder		*list;
};

/*
 * The lookup of a proposal's folder under the data root. It always runs
 * off the loop: the glob walks instrument and cycle directories, and any
 * of them may be a mount that stalls.
 */
struct lookup_job {
	struct job	 j;
	struct folders	*fs;
	struct folder	*f;
	/* What the worker found. */
	struct policy_folder found;
	int		 err;		/* errno of a lookup that failed */
	int		 remote;
	const char	*fstype;
	dev_t		 dev;
	char		 point[PATH_MAX];
};

static void
folder_close(struct folder *f)
{
	if (f->fd != -1)
		close(f->fd);
	if (f->proposal_fd != -1)
		close(f->proposal_fd);
	f->fd = f->proposal_fd = -1;
	free(f->path);
	free(f->rel);
	f->path = f->rel = NULL;
	f->mount = NULL;
	f->outside = 0;
}

void
folder_forget(struct folder *f)
{
	folder_close(f);
	f->checked = LLONG_MIN / 2;
}

static void
lookup_work(struct mount_job *mj)
{
	struct lookup_job *lj = (struct lookup_job *)mj;
	struct policy_folder *found = &lj->found;
	struct stat sb;

	if (policy_open_folder(lj->j.name, lj->j.proposal, found) == -1) {
		lj->err = errno;
		return;
	}
	if (fstat(found->fd, &sb) == -1) {
		lj->err = errno;
		close(found->fd);
		close(found->proposal_fd);
		found->fd = found->proposal_fd = -1;
		return;
	}
	lj->dev = sb.st_dev;
	if ((lj->remote = fstype_is_remote(found->fd, &lj->fstype)))
		fstype_mount_point(lj->dev, lj->point, sizeof(lj->point));
}

static void
lookup_finish(struct job *j)
{
	struct lookup_job *lj = (struct lookup_job *)j;
	struct folders *t = lj->fs;
	struct folder *f = lj->f;

	f->lookup = NULL;
	folder_close(f);
	f->checked = loop_now(t->loop);
	if (lj->found.fd == -1) {
		if (lj->err == EXDEV || lj->err == ELOOP) {
			f->outside = 1;
			log_warn("folder_outside", "proposal=%u reason=\"its "
			    "DAMNIT folder leads outside the proposal's "
			    "directory\"", f->proposal);
		}
		return;
	}
	if ((f->path = strdup(lj->found.path)) == NULL ||
	    (f->rel = strdup(lj->found.rel)) == NULL ||
	    (lj->remote && (f->mount = mount_get(jobs_mounts(t->jobs), lj->dev,
	    lj->point)) == NULL)) {
		folder_close(f);
		return;
	}
	f->fd = lj->found.fd;
	f->proposal_fd = lj->found.proposal_fd;
	lj->found.fd = lj->found.proposal_fd = -1;
	f->fstype = lj->fstype;
	log_info("folder_found", "proposal=%u fstype=%s mode=%s%s%s",
	    f->proposal, f->fstype, t->cfg->watch_mode != WATCH_MODE_AUTO &&
	    !f->mount ? config_watch_mode_name(t->cfg->watch_mode) :
	    f->mount ? "poll" : "inotify", f->mount ? " mount=" : "",
	    f->mount ? log_str(mount_point(f->mount)) : "");
}

static void
lookup_clear(struct job *j)
{
	struct lookup_job *lj = (struct lookup_job *)j;

	if (lj->found.fd != -1)
		close(lj->found.fd);
	if (lj->found.proposal_fd != -1)
		close(lj->found.proposal_fd);
}

static const struct job_ops lookup_ops = {
	.work = lookup_work,
	.finish = lookup_finish,
	.clear = lookup_clear,
	.file_system = 1,
};

static enum proto_error
lookup_start(struct folders *t, struct folder *f, struct waiter *w,
    const char **why)
{
	struct lookup_job *lj;
	struct mount *m;

	if ((m = mount_lookups(jobs_mounts(t->jobs), t->cfg->data_root)) == NULL ||
	    (lj = calloc(1, sizeof(*lj))) == NULL) {
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	lj->fs = t;
	lj->f = f;
	lj->found.fd = lj->found.proposal_fd = -1;
	if (job_prepare(&lj->j, &lookup_ops, f->proposal, -1,
	    t->cfg->data_root) == -1) {
		free(lj);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	return job_run(t->jobs, m, &lj->j, &f->lookup, w, why);
}

enum proto_error
folder_get(struct folders *t, unsigned proposal, struct waiter *w,
    struct folder **out, const char **why)
{
	struct folder *f = table_get(t->by_proposal, &proposal, sizeof(proposal));
	struct lookup_job *lj;
	struct stat sb;

	*out = NULL;
	if (f == NULL) {
		if (table_count(t->by_proposal) >= FOLDER_MAX ||
		    (f = calloc(1, sizeof(*f))) == NULL) {
			*why = "watcherd is out of memory";
			return PROTO_UNAVAILABLE;
		}
		f->proposal = proposal;
		f->fd = f->proposal_fd = -1;
		f->checked = LLONG_MIN / 2;
		if (table_add(t->by_proposal, &proposal, sizeof(proposal), f) == -1) {
			free(f);
			*why = "watcherd is out of memory";
			return PROTO_UNAVAILABLE;
		}
		f->next = t->list;
		t->list = f;
	}
	if (f->lookup)
		return job_wait(t->jobs, f->lookup, w);
	if (f->fd == -1) {
		if (loop_now(t->loop) - f->checked < FOLDER_NEGATIVE_MS ||
		    ((lj = (struct lookup_job *)job_result(w, &lookup_ops)) !=
		    NULL && lj->f == f)) {
			if (f->outside) {
				*why = "the DAMNIT folder of this proposal "
				    "leads outside the proposal's directory";
				return PROTO_FORBIDDEN;
			}
			*why = "unknown proposal, or it has no DAMNIT folder";
			return PROTO_NOT_FOUND;
		}
		return lookup_start(t, f, w, why);
	}
	/* A folder on a file system that may stall is checked by the
	   file's job, off the loop. */
	if (f->mount == NULL && (fstat(f->fd, &sb) == -1 || sb.st_nlink == 0)) {
		/* The folder was removed; maybe made anew elsewhere. */
		folder_forget(f);
		return lookup_start(t, f, w, why);
	}
	*out = f;
	return PROTO_OK;
}

struct folders *
folders_new(struct loop *loop, const struct config *cfg, struct jobs *jobs)
{
	struct folders *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->loop = loop;
	t->cfg = cfg;
	t->jobs = jobs;
	if ((t->by_proposal = table_new()) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
folders_free(struct folders *t)
{
	struct folder *f;

	if (t == NULL)
		return;
	while ((f = t->list) != NULL) {
		t->list = f->next;
		folder_close(f);
		free(f);
	}
	table_free(t->by_proposal);
	free(t);
}

void
folders_retry(struct folders *t)
{
	struct folder *f;

	for (f = t->list; f; f = f->next)
		if (f->fd == -1)
			f->checked = LLONG_MIN / 2;
}

enum proto_error
name_key(const struct config *cfg, struct waiter *w, unsigned proposal,
    const char *file_name, size_t len, char *key, size_t *keylen,
    const char **why)
{
	enum proto_error e;
	struct msg m;

	if ((e = policy_check_name(file_name, len, why)) != PROTO_OK)
		return e;
	if (!policy_allowed(cfg->allow, cfg->n_allow, file_name)) {
		*why = "file_name is not one of the files that may be served";
		return PROTO_FORBIDDEN;
	}
	if (w && w->timed_out) {
		*why = w->detail;
		return PROTO_UNAVAILABLE;
	}
	/* "P/name": policy_check_name() bounded the name. */
	msg_init(&m, key, NAME_KEY_MAX);
	msg_uint(&m, proposal);
	msg_raw(&m, "/", 1);
	msg_raw(&m, file_name, len);
	*keylen = m.len;
	return PROTO_OK;
}
