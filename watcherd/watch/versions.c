/*
 * The versions of watched files (history.h keeps them on disk): what a
 * job needs to keep one on a worker, the counts, and the listing and
 * reading of versions for requests, off the loop on a file system that
 * may stall.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "watcherd/table.h"
#include "watcherd/watch/watch_int.h"

int
version_note_init(struct watch_table *t, const char *file_name,
    struct version_note *vn)
{
	memset(vn, 0, sizeof(*vn));
	/* A watcherd that takes no saves writes nothing into proposals'
	   folders, versions neither. */
	if (!t->cfg->write || !policy_allowed(t->cfg->history_allow,
	    t->cfg->n_history_allow, file_name))
		return 0;
	if ((vn->dir = strdup(t->cfg->history_dir)) == NULL)
		return -1;
	vn->on = 1;
	vn->b.dir = vn->dir;
	vn->b.keep = t->cfg->history_keep;
	vn->b.max_bytes = t->cfg->history_max_bytes;
	return 0;
}

void
version_note_free(struct version_note *vn)
{
	free(vn->dir);
	vn->dir = NULL;
	vn->on = 0;
}

/* The version of the bytes of a file in state st, saved by user (NULL:
   seen on disk). */
static struct history_version
version_of(const struct watch_state *st, const char *user)
{
	struct history_version v = { .time = st->mtime, .crc = st->crc,
	    .size = (unsigned long long)st->size, .saved = user != NULL };

	if (user)
		snprintf(v.user, sizeof(v.user), "%s", user);
	return v;
}

void
version_keep(struct version_note *vn, int folder_fd, const char *file_name,
    const struct watch_state *before, const char *before_data,
    const struct watch_state *st, const char *data, const char *user)
{
	struct history_version old, v = version_of(st, user);
	int r;

	if (!vn->on || data == NULL || !st->exists || st->too_large)
		return;
	if (before && before_data)
		old = version_of(before, NULL);
	if ((r = history_record(folder_fd, file_name, &vn->b,
	    before && before_data ? &old : NULL, before_data, &v, data)) ==
	    -1) {
		vn->skipped++;
		vn->err = errno;
	} else
		vn->recorded += (unsigned)r;
}

void
version_noted(struct watch_name *n, const struct watch_state *st)
{
	n->kept_known = 1;
	n->kept_crc = st->crc;
	n->kept_time = st->mtime;
}

void
version_keep_local(struct watch_table *t, struct folder *f,
    struct watch_name *n, const char *file_name, const char *key,
    size_t keylen, const struct watch_state *st, const char *data)
{
	struct mount *m;

	if (n && (n->saving > 0 || (n->kept_known &&
	    n->kept_crc == st->crc && n->kept_time.tv_sec == st->mtime.tv_sec &&
	    n->kept_time.tv_nsec == st->mtime.tv_nsec)))
		return;
	if (!t->cfg->write || !watch_history_kept(t, file_name) ||
	    !st->exists || st->too_large || data == NULL)
		return;
	/* Written and flushed on a worker, never on the loop. */
	if ((m = mount_local_writes(jobs_mounts(t->jobs))) == NULL) {
		t->history_skipped++;
		return;
	}
	version_keep_after(t, m, f->fd, f->proposal, file_name, key, keylen,
	    NULL, NULL, st, data, NULL, NULL, 0);
}

void
version_count(struct watch_table *t, unsigned proposal,
    const char *file_name, const struct version_note *vn)
{
	t->history_versions += vn->recorded;
	t->history_skipped += vn->skipped;
	if (vn->skipped)
		log_warn("version_skipped", "proposal=%u file=%s reason=%s",
		    proposal, log_str(file_name), log_str(strerror(vn->err)));
}

/*
 * A request's listing or reading of versions, on a worker for a file
 * system that may stall. The result stays in the job for the request it
 * resumes (job_result()).
 */
struct version_job {
	struct job		 j;		/* j.dir_fd: the folder;
						   j.name: the file's */
	char			*dir;
	int			 list;		/* else read crc */
	uint32_t		 crc;
	size_t			 max;
	/* What the worker found. */
	int			 err;
	struct history_version	*versions;
	size_t			 n;
	struct history_version	 v;
	char			*data;
};

/* Lists or reads, as vj says, into vj. */
static void
version_do(struct version_job *vj)
{
	int r;

	if (vj->list)
		r = history_list(vj->j.dir_fd, vj->j.name, vj->dir,
		    &vj->versions, &vj->n);
	else
		r = history_read(vj->j.dir_fd, vj->j.name, vj->dir,
		    vj->crc, vj->max, &vj->v, &vj->data);
	vj->err = r == -1 ? errno : 0;
}

static void
version_work(struct mount_job *mj)
{
	version_do((struct version_job *)mj);
}

static void
version_clear(struct job *j)
{
	struct version_job *vj = (struct version_job *)j;

	free(vj->dir);
	free(vj->versions);
	free(vj->data);
}

static const struct job_ops version_ops = {
	.work = version_work,
	.clear = version_clear,
	.file_system = 1,
};

/* The answer of a listing or a reading done: PROTO_OK, or the error. */
static enum proto_error
version_answer(struct version_job *vj, const char **why)
{
	switch (vj->err) {
	case 0:
		return PROTO_OK;
	case ENOENT:
		*why = "no such version of this file";
		return PROTO_NOT_FOUND;
	case EFBIG:
		*why = "the version is larger than max-file-size";
		return PROTO_TOO_LARGE;
	case ENOTDIR:
	case ELOOP:
		*why = "the history directory is not a directory";
		return PROTO_FORBIDDEN;
	case EACCES:
		*why = "watcherd may not read the history";
		return PROTO_FORBIDDEN;
	default:
		*why = "the history cannot be read";
		return PROTO_UNAVAILABLE;
	}
}

/* Lists (list) or reads (crc) n's versions: on the loop on a local disk,
   else by a job whose result the resumed request takes; *out the job
   done, to be taken from and released by version_take(). */
static enum proto_error
version_run(struct watch_table *t, struct waiter *w, struct watch_name *n,
    int list, uint32_t crc, struct version_job **out, const char **why)
{
	struct version_job *vj;
	struct folder *f = n->folder;

	*out = NULL;
	if ((vj = (struct version_job *)job_result(w, &version_ops)) != NULL &&
	    vj->list == list && vj->crc == crc &&
	    strcmp(vj->j.name, n->file_name) == 0) {
		/* Done for this request: taken, then freed with the job. */
		*out = vj;
		return version_answer(vj, why);
	}
	if (f->fd == -1) {
		*why = "the proposal's DAMNIT folder is gone";
		return PROTO_NOT_FOUND;
	}
	if ((vj = calloc(1, sizeof(*vj))) == NULL ||
	    job_prepare(&vj->j, &version_ops, n->proposal, f->fd,
	    n->file_name) == -1) {
		free(vj);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	if ((vj->dir = strdup(t->cfg->history_dir)) == NULL) {
		job_destroy(&vj->j);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	vj->list = list;
	vj->crc = crc;
	vj->max = t->cfg->max_file_size;
	if (f->mount)
		return job_run(t->jobs, f->mount, &vj->j, NULL, w, why);
	version_do(vj);
	*out = vj;
	return version_answer(vj, why);
}

/* Frees a version job that ran on the loop; one done by a worker is
   the job room's to free. */
static void
version_release(struct version_job *vj, struct waiter *w)
{
	if (vj && job_result(w, &version_ops) != &vj->j)
		job_destroy(&vj->j);
}

int
watch_history_kept(const struct watch_table *t, const char *file_name)
{
	return policy_allowed(t->cfg->history_allow, t->cfg->n_history_allow,
	    file_name);
}

enum proto_error
watch_history(struct watch_table *t, struct waiter *w, struct watch_name *n,
    struct history_version **out, size_t *count, const char **why)
{
	struct version_job *vj;
	enum proto_error e;

	*out = NULL;
	*count = 0;
	if (!watch_history_kept(t, n->file_name))
		return PROTO_OK;
	e = version_run(t, w, n, 1, 0, &vj, why);
	if (e == PROTO_OK) {
		*out = vj->versions;
		*count = vj->n;
		vj->versions = NULL;
	}
	version_release(vj, w);
	return e;
}

enum proto_error
watch_version(struct watch_table *t, struct waiter *w, struct watch_name *n,
    uint32_t crc, struct history_version *v, char **data, const char **why)
{
	struct version_job *vj;
	enum proto_error e;

	*data = NULL;
	if (!watch_history_kept(t, n->file_name)) {
		*why = "no versions of this file are kept (history-allow)";
		return PROTO_NOT_FOUND;
	}
	e = version_run(t, w, n, 0, crc, &vj, why);
	if (e == PROTO_OK) {
		*v = vj->v;
		*data = vj->data;
		vj->data = NULL;
	}
	version_release(vj, w);
	return e;
}

/*
 * Versions kept on a worker: a save's once the save is answered, so that
 * a save waits for the file's own flushes only, not for its version's (the
 * save's name counts it, saving, until it is done: the loop's refresh
 * meanwhile leaves the history to it); and a change read on the loop, so
 * that the loop never writes or flushes a version.
 */
struct keep_job {
	struct job		 j;		/* j.dir_fd: the folder;
						   j.name: the file's */
	struct watch_table	*t;
	struct version_note	 vn;
	struct watch_state	 before, st;
	int			 as_user;	/* with the saver's credentials */
	struct creds		 as;
	int			 saving;	/* counts the name's saving down */
	/* Copies, in the job's own allocation (copies[]). */
	char			*key;		/* the name's */
	size_t			 keylen;
	char			*before_data;	/* NULL: none */
	char			*data;
	char			*user;
	char			 copies[];
};

static void
keep_work(struct mount_job *mj)
{
	struct keep_job *kj = (struct keep_job *)mj;

	if (kj->as_user && creds_enter(&kj->as) == -1) {
		kj->vn.skipped++;
		kj->vn.err = EPERM;
		return;
	}
	version_keep(&kj->vn, kj->j.dir_fd, kj->j.name,
	    kj->before_data ? &kj->before : NULL, kj->before_data, &kj->st,
	    kj->data, kj->user);
	if (kj->as_user)
		creds_leave();
}

/* The name: counted out of its saves (saving), and its bytes known as
   kept. */
static void
keep_done(struct watch_table *t, const char *key, size_t keylen,
    const struct version_note *vn, const struct watch_state *st, int saving)
{
	struct watch_name *n;

	if ((n = table_get(t->by_name, key, keylen)) == NULL)
		return;
	if (saving && n->saving > 0)
		n->saving--;
	if (vn->on && vn->skipped == 0)
		version_noted(n, st);
}

static void
keep_finish(struct job *j)
{
	struct keep_job *kj = (struct keep_job *)j;

	version_count(kj->t, j->proposal, j->name, &kj->vn);
	keep_done(kj->t, kj->key, kj->keylen, &kj->vn, &kj->st, kj->saving);
}

/* Not run (watcherd stops, or the mount refused it): the name is
   counted out all the same. */
static void
keep_abandon(struct job *j)
{
	struct keep_job *kj = (struct keep_job *)j;

	kj->vn.skipped++;
	keep_done(kj->t, kj->key, kj->keylen, &kj->vn, &kj->st, kj->saving);
}

static void
keep_clear(struct job *j)
{
	version_note_free(&((struct keep_job *)j)->vn);
}

static const struct job_ops keep_ops = {
	.work = keep_work,
	.finish = keep_finish,
	.abandon = keep_abandon,
	.clear = keep_clear,
	.file_system = 1,
};

void
version_keep_after(struct watch_table *t, struct mount *m, int folder_fd,
    unsigned proposal, const char *file_name, const char *key,
    size_t keylen, const struct watch_state *before, char *before_data,
    const struct watch_state *st, const char *data, const char *user,
    const struct creds *as, int saving)
{
	size_t old = before_data ? (size_t)before->size : 0;
	size_t ulen = strlen(user ? user : "") + 1;
	struct keep_job *kj;
	const char *why;
	char *p;

	kj = calloc(1, sizeof(*kj) + keylen + old + (size_t)st->size + ulen);
	if (kj == NULL || job_prepare(&kj->j, &keep_ops, proposal, folder_fd,
	    file_name) == -1 || version_note_init(t, file_name, &kj->vn) == -1) {
		if (kj && kj->j.ops)
			job_destroy(&kj->j);
		else
			free(kj);
		free(before_data);
		keep_done(t, key, keylen, &(struct version_note){ .skipped = 1 },
		    st, saving);
		return;
	}
	kj->t = t;
	kj->st = *st;
	kj->saving = saving;
	p = kj->copies;
	kj->key = memcpy(p, key, keylen);
	kj->keylen = keylen;
	p += keylen;
	if (before_data) {
		kj->before = *before;
		kj->before_data = memcpy(p, before_data, old);
		p += old;
		free(before_data);
	}
	kj->data = memcpy(p, data, (size_t)st->size);
	p += st->size;
	kj->user = user ? memcpy(p, user, ulen) : NULL;
	if (as) {
		kj->as = *as;
		kj->as_user = 1;
	}
	/* Refused (a stalled or busy mount): destroyed, and counted out. */
	if (job_start(t->jobs, m, &kj->j, NULL, &why) != PROTO_OK)
		keep_done(t, key, keylen, &(struct version_note){ .skipped = 1 },
		    st, saving);
}
