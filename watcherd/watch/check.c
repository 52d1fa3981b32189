/*
 * Checks off the loop (watch_int.h), for files on a file system that may
 * stall: a worker stats the file, reads it when that differs from what is
 * known (or a range of it, for a tail), and file_finish() records the
 * result on the loop; and the refresh of a name, read again on the loop or
 * by such a check.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "watcherd/table.h"
#include "watcherd/watch/watch_int.h"

static void
file_work(struct mount_job *mj)
{
	struct file_job *fj = (struct file_job *)mj;
	struct stat sb;
	size_t want;
	int fd = -1;

	if (!fj->read && fj->have.exists &&
	    snapshot_stat(fj->j.dir_fd, fj->j.name, &sb) == 0 &&
	    snapshot_matches(&fj->have, &sb)) {
		fj->unchanged = 1;
		fj->st = fj->have;
		fj->e = fj->have.too_large ? PROTO_TOO_LARGE : PROTO_OK;
		fj->why = "file is larger than max-file-size";
		if (!fj->want_range)
			return;
		fd = policy_open_beneath(fj->j.dir_fd, fj->j.name,
		    O_RDONLY | O_NONBLOCK | O_NOCTTY);
		if (fd == -1 || fstat(fd, &sb) == -1 ||
		    sb.st_ino != fj->have.ino || sb.st_dev != fj->have.dev)
			goto done;	/* replaced meanwhile: no range */
	} else {
		fj->why = "";
		fj->e = snapshot_read(fj->j.dir_fd, fj->j.name,
		    fj->max_size, &fj->st, &fj->data, &fd, &fj->why);
		if (fj->e == PROTO_OK)
			version_keep(&fj->versions, fj->j.dir_fd,
			    fj->j.name, NULL, NULL, &fj->st, fj->data,
			    NULL);
		if (fj->e != PROTO_OK && fj->e != PROTO_TOO_LARGE) {
			/* Only a failure asks after the folder: on a network
			   file system each stat is a round trip. */
			if (fstat(fj->j.dir_fd, &sb) == -1 || sb.st_nlink == 0) {
				fj->folder_gone = 1;
				fj->e = PROTO_NOT_FOUND;
				fj->why = "the proposal's DAMNIT folder is gone";
			}
			return;
		}
	}
	if (!fj->want_range)
		goto done;
	if (fj->data) {
		fj->range_size = fj->st.size;
		want = fj->range_at < fj->st.size ?
		    (size_t)(fj->st.size - fj->range_at) : 0;
		if (want > fj->range_max)
			want = fj->range_max;
		if (want > 0 && (fj->range = malloc(want)) == NULL)
			goto done;
		if (want > 0)
			memcpy(fj->range, fj->data + fj->range_at, want);
		fj->range_len = want;
		fj->range_ok = 1;
	} else if (fstat(fd, &sb) == 0) {
		ssize_t got;

		fj->range_size = sb.st_size;
		want = fj->range_at < sb.st_size ?
		    (size_t)(sb.st_size - fj->range_at) : 0;
		if (want > fj->range_max)
			want = fj->range_max;
		if ((got = snapshot_pread(fd, fj->range_at, want,
		    &fj->range)) >= 0) {
			fj->range_len = (size_t)got;
			fj->range_ok = 1;
		}
	}
done:
	if (fd != -1)
		close(fd);
}

/* Records the check's result: the name's new state (and its events), or
   the watch of a name asked for the first time. */
static void
file_finish(struct job *j)
{
	struct file_job *fj = (struct file_job *)j;
	struct watch_table *t = fj->t;
	struct watch_state st;
	struct watch_name *n;

	version_count(t, j->proposal, fj->j.name, &fj->versions);

	if (table_get(t->checks, fj->key, fj->keylen) == j)
		table_del(t->checks, fj->key, fj->keylen, j);
	if (fj->folder_gone && fj->folder->fd != -1 && fj->folder->mount)
		folder_forget(fj->folder);
	if ((n = table_get(t->by_name, fj->key, fj->keylen)) != NULL) {
		if (n->checked_seq > j->seq)
			return;		/* a later check came back first */
		n->checked_seq = j->seq;
		n->checked_e = fj->e;
		n->checked_why = fj->why;
		if (fj->unchanged)
			return;
		if (fj->e == PROTO_OK || fj->e == PROTO_TOO_LARGE)
			st = fj->st;
		else
			memset(&st, 0, sizeof(st));
		settle_name(t, n, &st, &fj->data, -1);
		return;
	}
	if (!fj->create || (fj->e != PROTO_OK && fj->e != PROTO_TOO_LARGE))
		return;
	if ((n = watch_start(t, fj->folder, fj->j.name, fj->key, fj->keylen,
	    &fj->st, &fj->data, -1, &fj->why)) == NULL) {
		fj->e = PROTO_UNAVAILABLE;
		return;
	}
	n->checked_seq = j->seq;
	n->checked_e = fj->e;
	n->checked_why = fj->why;
}

static void
file_clear(struct job *j)
{
	struct file_job *fj = (struct file_job *)j;

	free(fj->key);
	free(fj->data);
	free(fj->range);
	version_note_free(&fj->versions);
}

static const struct job_ops file_ops = {
	.work = file_work,
	.finish = file_finish,
	.clear = file_clear,
	.file_system = 1,
};

/* The check of w's request, when it is the one that just came back. */
struct file_job *
file_result(struct waiter *w, const char *key, size_t keylen)
{
	struct file_job *fj;

	if ((fj = (struct file_job *)job_result(w, &file_ops)) == NULL)
		return NULL;
	if (fj->keylen != keylen || memcmp(fj->key, key, keylen) != 0)
		return NULL;
	return fj;
}

enum proto_error
check_start(struct watch_table *t, struct waiter *w, struct folder *f,
    unsigned proposal, const char *file_name, const char *key, size_t keylen,
    const struct check *c, const char **why)
{
	struct file_job *fj = table_get(t->checks, key, keylen), *old = fj;
	enum proto_error e;

	if (fj && w == NULL)
		return PROTO_PENDING;
	if (mount_stalled(f->mount))
		return job_stalled(t->jobs, w, proposal, why);
	if (fj && fj->j.mj.started == 0 && (!c->read || fj->read) &&
	    (!c->create || fj->create) && !c->want_range && !fj->want_range)
		return job_wait(t->jobs, &fj->j, w);
	if ((fj = calloc(1, sizeof(*fj))) == NULL ||
	    job_prepare(&fj->j, &file_ops, proposal, f->fd, file_name) == -1) {
		free(fj);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	if ((fj->key = malloc(keylen)) == NULL ||
	    version_note_init(t, file_name, &fj->versions) == -1) {
		job_destroy(&fj->j);
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	memcpy(fj->key, key, keylen);
	fj->keylen = keylen;
	fj->t = t;
	fj->folder = f;
	fj->max_size = t->cfg->max_file_size;
	if (c->have)
		fj->have = *c->have;
	fj->read = c->read;
	fj->create = c->create;
	fj->want_range = c->want_range;
	fj->range_at = c->range_at;
	fj->range_max = c->range_max;
	if ((e = job_start(t->jobs, f->mount, &fj->j, w, why)) != PROTO_OK)
		return e;
	if (old)
		table_del(t->checks, key, keylen, old);
	if (table_add(t->checks, key, keylen, fj) == -1)
		log_warn("job_untracked", "proposal=%u file=%s reason=\"out of "
		    "memory\"", proposal, log_str(file_name));
	return w ? job_wait(t->jobs, &fj->j, w) : PROTO_PENDING;
}

/* Checks an existing name's file off the loop: the answer when a check
   done since the request arrived says it, else PROTO_PENDING. */
enum proto_error
check_known(struct watch_table *t, struct waiter *w, struct watch_name *n,
    const char **why)
{
	struct check c = { .have = &n->w->st, .read = !state_trusted(n->w) };

	if (w && n->checked_seq >= w->min_seq) {
		*why = n->checked_why;
		return n->checked_e;
	}
	return check_start(t, w, n->folder, n->proposal, n->file_name, n->key,
	    n->keylen, &c, why);
}

/*
 * Reads the file behind n again and records what it found; on a file
 * system that may stall, starts a check that records it when it comes
 * back (PROTO_PENDING).
 */
enum proto_error
refresh_name(struct watch_table *t, struct watch_name *n, const char **why)
{
	struct watch_state st;
	struct folder *f;
	enum proto_error e;
	char *data = NULL;
	int fd = -1;

	e = folder_get(t->folders, n->proposal, NULL, &f, why);
	if (e == PROTO_OK && f->mount) {
		struct check c = { .have = &n->w->st, .read = 1 };

		return check_start(t, NULL, f, n->proposal, n->file_name,
		    n->key, n->keylen, &c, why);
	}
	if (e == PROTO_PENDING)
		return e;	/* the folder is looked for again */
	if (e != PROTO_OK) {
		e = PROTO_NOT_FOUND;
		*why = "the proposal's DAMNIT folder is gone";
	} else if ((e = snapshot_read(f->fd, n->file_name,
	    t->cfg->max_file_size, &st, &data, &fd, why)) == PROTO_OK)
		version_keep_local(t, f, n, n->file_name, n->key, n->keylen,
		    &st, data);
	if (e != PROTO_OK && e != PROTO_TOO_LARGE)
		memset(&st, 0, sizeof(st));
	settle_name(t, n, &st, &data, fd);
	free(data);
	if (fd != -1)
		close(fd);
	return e;
}

void
refresh_key(struct watch_table *t, const char *key, size_t keylen)
{
	struct watch_name *n = table_get(t->by_name, key, keylen);
	const char *why;

	if (n)
		refresh_name(t, n, &why);
}

void
refresh_watch(struct watch_table *t, struct watch *w)
{
	struct watch_name *few[8], **names = few, *n;
	size_t i, count = 0, max = sizeof(few) / sizeof(few[0]);
	const char *why;

	dirty_remove(t, w);
	/* Refreshing a name may move it to another watch, or free w: take
	   the list first. Most watches have one name; out of memory, the
	   first few are still refreshed. */
	if (w->n_names > max &&
	    (names = calloc(w->n_names, sizeof(*names))) != NULL)
		max = w->n_names;
	else
		names = few;
	for (n = w->names; n && count < max; n = n->next)
		names[count++] = n;
	for (i = 0; i < count; i++)
		refresh_name(t, names[i], &why);
	if (names != few)
		free(names);
}

