#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/policy.h"
#include "watcherd/watch_int.h"

/* The permissions of the way from a proposal folder to a file: those of
   pNNNNNN, usr, Shared, the DAMNIT folder, the directories in file_name,
   those of the real path where a symbolic link leads elsewhere in the
   folder, and the file (a link's target), as far as they exist. Read again when
   older than PERMIT_TTL_MS: a chmod or setfacl counts within that time. */
#define PERMIT_TTL_MS	1000
#define PERMIT_MAX	4096	/* ways remembered */
#define FOLDER_DEPTH	3	/* usr/Shared/amore below pNNNNNN */

struct way {
	struct memo_entry e;		/* key: the name's, "P/file_name" */
	struct perm_node *nodes;	/* n_dirs directories, then the file
					   when has_file */
	size_t		 n_dirs;
	int		 has_file;
	int		 closed;	/* could not be read whole: nobody */
	long long	 read_at;
	struct job	*job;		/* the read under way */
};

struct way_job {
	struct job	 j;
	struct way	*way;
	int		 folder_fd;	/* a duplicate, the job's */
	char		*file_name;
	/* What the worker found. */
	struct perm_node *nodes;
	size_t		 n_dirs;
	int		 has_file;
	int		 closed;
};

/* Appends the node of fd to nodes[*n]; with keep 0, closes fd. Returns 0,
   or -1 when fd is -1 or cannot be read (fd is closed then). */
static int
node_add(int fd, struct perm_node *nodes, size_t *n, int keep)
{
	int r = -1;

	if (fd == -1)
		return -1;
	if (*n < PERM_DEPTH && perm_node_read(fd, &nodes[*n]) == 0) {
		(*n)++;
		r = 0;
	}
	if (!keep || r == -1)
		close(fd);
	return r;
}

/*
 * Where a symbolic link led elsewhere in the folder, the kernel also
 * walks the directories of its target: appends those of the real path of
 * fd (the file, or with is_dir the deepest directory reached) below the
 * folder, unless that path is literal, the name as asked. Returns 0, or
 * -1 when they cannot all be read.
 */
static int
real_dirs(int folder_fd, int fd, int is_dir, const char *literal,
    size_t literal_len, struct perm_node *nodes, size_t *n)
{
	char rel[PATH_MAX], *end, *slash;
	size_t len;

	if (policy_path_beneath(folder_fd, fd, rel, sizeof(rel)) == -1)
		return -1;		/* not beneath: never allowed */
	len = strlen(rel);
	if (len == 0 || (len == literal_len &&
	    memcmp(rel, literal, literal_len) == 0))
		return 0;		/* the folder, or the name as asked */
	end = is_dir ? rel + len : strrchr(rel, '/');
	if (end == NULL)
		return 0;		/* a file right in the folder */
	for (slash = strchr(rel, '/');; slash = strchr(slash + 1, '/')) {
		if (slash == NULL || slash > end)
			slash = end;
		*slash = '\0';
		if (node_add(openat(folder_fd, rel, O_PATH | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC), nodes, n, 0) == -1)
			return -1;
		if (slash == end)
			return 0;
		*slash = '/';
	}
}

/*
 * Reads the way to file_name beneath the DAMNIT folder folder_fd into
 * nodes (PERM_DEPTH of them): the directories into *n_dirs, then the file
 * (*has_file). Stops where a directory or the file cannot be opened: the
 * directories before it still decide whether the user may learn that.
 * Returns 0, or -1 when the way cannot be read whole (too deep, or the
 * real path of a link cannot be followed): it is then closed to all.
 */
static int
way_read(int folder_fd, const char *file_name, struct perm_node *nodes,
    size_t *n_dirs, int *has_file)
{
	static const char *const up[FOLDER_DEPTH] = { "../../..", "../..",
	    ".." };
	char prefix[POLICY_MAX_NAME + 1];
	const char *slash;
	size_t i, n = 0, reached = 0;
	int fd, deepest = -1, r = -1;

	*has_file = 0;
	*n_dirs = 0;
	for (i = 0; i < FOLDER_DEPTH; i++)
		if (node_add(openat(folder_fd, up[i], O_PATH | O_DIRECTORY |
		    O_CLOEXEC), nodes, &n, 0) == -1)
			goto done;
	if (node_add(deepest = fcntl(folder_fd, F_DUPFD_CLOEXEC, 0), nodes,
	    &n, 1) == -1) {
		deepest = -1;
		goto done;
	}
	for (slash = strchr(file_name, '/'); slash;
	    slash = strchr(slash + 1, '/')) {
		if ((size_t)(slash - file_name) >= sizeof(prefix))
			goto done;
		memcpy(prefix, file_name, (size_t)(slash - file_name));
		prefix[slash - file_name] = '\0';
		fd = policy_open_beneath(folder_fd, prefix, O_PATH |
		    O_DIRECTORY);
		if (fd == -1)
			break;
		close(deepest);
		deepest = fd;
		if (node_add(fd, nodes, &n, 1) == -1) {
			deepest = -1;
			goto done;
		}
		reached = (size_t)(slash - file_name);
	}
	fd = slash ? -1 : policy_open_beneath(folder_fd, file_name, O_PATH);
	if (real_dirs(folder_fd, fd != -1 ? fd : deepest, fd == -1,
	    file_name, fd != -1 ? strlen(file_name) : reached, nodes,
	    &n) == -1) {
		if (fd != -1)
			close(fd);
		goto done;
	}
	*n_dirs = n;
	*has_file = node_add(fd, nodes, &n, 0) == 0;
	r = 0;
done:
	if (deepest != -1)
		close(deepest);
	if (r == -1)
		*n_dirs = n;
	return r;
}

static void
way_work(struct mount_job *mj)
{
	struct way_job *wj = (struct way_job *)mj;

	if ((wj->nodes = calloc(PERM_DEPTH, sizeof(*wj->nodes))) != NULL)
		wj->closed = way_read(wj->folder_fd, wj->file_name,
		    wj->nodes, &wj->n_dirs, &wj->has_file) == -1;
}

/* Keeps the nodes read (PERM_DEPTH of them, taken from *nodes), in as
   little memory as they need. */
static void
way_set(struct way *way, struct perm_node **nodes, size_t n_dirs,
    int has_file, int closed, long long now)
{
	struct perm_node *kept;
	size_t n = n_dirs + (has_file ? 1 : 0);

	free(way->nodes);
	if (n == 0) {
		free(*nodes);
		kept = NULL;
	} else if ((kept = realloc(*nodes, n * sizeof(*kept))) == NULL)
		kept = *nodes;
	way->nodes = kept;
	*nodes = NULL;
	way->n_dirs = n_dirs;
	way->has_file = has_file;
	way->closed = closed;
	way->read_at = now;
}

static void
way_finish(struct job *j)
{
	struct way_job *wj = (struct way_job *)j;

	wj->way->job = NULL;
	if (wj->nodes)
		way_set(wj->way, &wj->nodes, wj->n_dirs, wj->has_file,
		    wj->closed, loop_now(j->t->loop));
}

static void
way_destroy(struct job *j)
{
	struct way_job *wj = (struct way_job *)j;

	if (wj->folder_fd != -1)
		close(wj->folder_fd);
	free(wj->file_name);
	free(wj->nodes);
	free(wj);
}

static int
way_busy(struct memo_entry *e)
{
	return ((struct way *)e)->job != NULL;
}

static void
way_release(struct memo_entry *e)
{
	struct way *way = (struct way *)e;

	free(way->nodes);
	free(way);
}

int
permit_init(struct watch_table *t)
{
	return memo_init(&t->ways, PERMIT_MAX, way_busy, way_release);
}

static enum proto_error
way_start(struct watch_table *t, struct way *way, struct folder *f,
    const char *file_name, struct watch_waiter *w, const char **why)
{
	struct way_job *wj;
	enum proto_error e;

	if ((wj = calloc(1, sizeof(*wj))) == NULL ||
	    (wj->file_name = strdup(file_name)) == NULL ||
	    (wj->folder_fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		if (wj) {
			free(wj->file_name);
			free(wj);
		}
		*why = "watcherd is out of memory";
		return PROTO_UNAVAILABLE;
	}
	wj->j.kind = JOB_WAY;
	wj->j.proposal = f->proposal;
	wj->j.finish = way_finish;
	wj->j.destroy = way_destroy;
	wj->j.mj.work = way_work;
	wj->way = way;
	if ((e = job_start(t, f->mount, &wj->j, w, why)) != PROTO_OK)
		return e;
	way->job = &wj->j;
	return job_wait(t, &wj->j, w, why);
}

/* Whether user may search every directory of the way, and do want to
   its file when there is one. */
static int
way_allows(const struct way *way, const struct perm_user *user, int want)
{
	size_t i;

	if (way->closed)
		return 0;
	for (i = 0; i < way->n_dirs; i++)
		if (!perm_allows(user, &way->nodes[i], PERM_SEARCH))
			return 0;
	return !way->has_file || perm_allows(user, &way->nodes[way->n_dirs],
	    want);
}

enum proto_error
watch_permit(struct watch_table *t, struct watch_waiter *w, unsigned proposal,
    const char *file_name, size_t len, const struct perm_user *user,
    int want, const char **why)
{
	char key[WATCH_KEY_MAX];
	struct perm_node *nodes;
	struct folder *f;
	struct way *way;
	enum proto_error e;
	size_t keylen, n_dirs;
	int has_file, closed;

	if ((e = name_check(t, w, proposal, file_name, len, key, &keylen,
	    why)) != PROTO_OK)
		return e;
	if (user == NULL)
		return PROTO_DENIED;
	if ((e = folder_get(t, proposal, w, &f, why)) != PROTO_OK)
		return e;
	if ((way = (struct way *)memo_get(&t->ways, key, keylen)) == NULL) {
		if ((way = calloc(1, sizeof(*way))) == NULL ||
		    memo_add(&t->ways, &way->e, key, keylen) == -1) {
			free(way);
			*why = "watcherd is out of memory";
			return PROTO_UNAVAILABLE;
		}
		way->read_at = LLONG_MIN / 2;
	}
	if (way->job)
		return job_wait(t, way->job, w, why);
	if (loop_now(t->loop) - way->read_at >= PERMIT_TTL_MS) {
		if (f->mount)
			return way_start(t, way, f, file_name, w, why);
		if ((nodes = calloc(PERM_DEPTH, sizeof(*nodes))) == NULL) {
			*why = "watcherd is out of memory";
			return PROTO_UNAVAILABLE;
		}
		closed = way_read(f->fd, file_name, nodes, &n_dirs,
		    &has_file) == -1;
		way_set(way, &nodes, n_dirs, has_file, closed,
		    loop_now(t->loop));
	}
	return way_allows(way, user, want) ? PROTO_OK : PROTO_DENIED;
}
