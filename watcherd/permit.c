#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/policy.h"
#include "watcherd/watch_int.h"

/* The permissions of the way from a proposal folder to a file: those of
   pNNNNNN, usr, Shared, the DAMNIT folder, the directories in file_name,
   and the file (a symlink's target), as far as they exist. Read again when
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
};

/* Appends the node of fd (closed here) to nodes[*n]. Returns 0, or -1
   when fd is -1 or cannot be read. */
static int
node_add(int fd, struct perm_node *nodes, size_t *n)
{
	int r = -1;

	if (fd == -1)
		return -1;
	if (*n < PERM_DEPTH && perm_node_read(fd, &nodes[*n]) == 0) {
		(*n)++;
		r = 0;
	}
	close(fd);
	return r;
}

/*
 * Reads the way to file_name beneath the DAMNIT folder folder_fd into
 * nodes (PERM_DEPTH of them): the directories into *n_dirs, then the file
 * (*has_file). Stops where a directory or the file cannot be opened: the
 * directories before it still decide whether the user may learn that.
 */
static void
way_read(int folder_fd, const char *file_name, struct perm_node *nodes,
    size_t *n_dirs, int *has_file)
{
	static const char *const up[FOLDER_DEPTH] = { "../../..", "../..",
	    ".." };
	char prefix[POLICY_MAX_NAME + 1];
	const char *slash;
	size_t i, n = 0;
	int fd;

	*has_file = 0;
	for (i = 0; i < FOLDER_DEPTH; i++)
		if (node_add(openat(folder_fd, up[i], O_PATH | O_DIRECTORY |
		    O_CLOEXEC), nodes, &n) == -1)
			goto done;
	if (node_add(fcntl(folder_fd, F_DUPFD_CLOEXEC, 0), nodes, &n) == -1)
		goto done;
	for (slash = strchr(file_name, '/'); slash;
	    slash = strchr(slash + 1, '/')) {
		if ((size_t)(slash - file_name) >= sizeof(prefix))
			goto done;
		memcpy(prefix, file_name, (size_t)(slash - file_name));
		prefix[slash - file_name] = '\0';
		if (node_add(policy_open_beneath(folder_fd, prefix, O_PATH |
		    O_DIRECTORY), nodes, &n) == -1)
			goto done;
	}
	fd = policy_open_beneath(folder_fd, file_name, O_PATH);
	*n_dirs = n;
	*has_file = node_add(fd, nodes, &n) == 0;
	return;
done:
	*n_dirs = n;
}

static void
way_work(struct mount_job *mj)
{
	struct way_job *wj = (struct way_job *)mj;

	if ((wj->nodes = calloc(PERM_DEPTH, sizeof(*wj->nodes))) != NULL)
		way_read(wj->folder_fd, wj->file_name, wj->nodes, &wj->n_dirs,
		    &wj->has_file);
}

/* Keeps the nodes read (PERM_DEPTH of them, taken from *nodes), in as
   little memory as they need. */
static void
way_set(struct way *way, struct perm_node **nodes, size_t n_dirs,
    int has_file, long long now)
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
	way->read_at = now;
}

static void
way_finish(struct job *j)
{
	struct way_job *wj = (struct way_job *)j;

	wj->way->job = NULL;
	if (wj->nodes)
		way_set(wj->way, &wj->nodes, wj->n_dirs, wj->has_file,
		    loop_now(j->t->loop));
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
	int has_file;

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
		way_read(f->fd, file_name, nodes, &n_dirs, &has_file);
		way_set(way, &nodes, n_dirs, has_file, loop_now(t->loop));
	}
	return way_allows(way, user, want) ? PROTO_OK : PROTO_DENIED;
}
