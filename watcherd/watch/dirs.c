#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>

#include "common/policy.h"
#include "watcherd/table.h"
#include "watcherd/watch/watch_int.h"

#define DIR_MASK	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | \
			 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

int
dirs_add_inotify(struct watch_table *t, const char *path, uint32_t mask)
{
	if (t->fault_enospc) {
		errno = ENOSPC;
		return -1;
	}
	return inotify_add_watch(t->ifd, path, mask);
}

void
dirs_fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static void
dir_unref(struct watch_table *t, struct dir *d)
{
	if (--d->refs > 0)
		return;
	table_del(t->by_dir_wd, &d->wd, sizeof(d->wd), d);
	inotify_rm_watch(t->ifd, d->wd);
	t->n_dirs--;
	free(d);
}

void
dirs_unlink(struct watch_table *t, struct dir_link *l)
{
	struct dir *d = l->dir;

	if (d == NULL)
		return;
	table_del(t->by_entry, l->key, l->keylen, l);
	LIST_REMOVE(l, entry);
	l->dir = NULL;
	dir_unref(t, d);
}

/* Links l to entry base of the directory open at dirfd. */
static int
link_set(struct watch_table *t, struct dir_link *l, int dirfd,
    const char *base)
{
	char path[64], key[sizeof(l->key)];
	size_t blen = strlen(base), keylen;
	struct dir *d;
	int wd;

	if (blen > NAME_MAX)
		return -1;
	dirs_fd_path(dirfd, path, sizeof(path));
	if ((wd = dirs_add_inotify(t, path, DIR_MASK)) == -1)
		return -1;
	memcpy(key, &wd, sizeof(wd));
	memcpy(key + sizeof(wd), base, blen);
	keylen = sizeof(wd) + blen;
	if (l->dir && l->keylen == keylen && memcmp(l->key, key, keylen) == 0)
		return 0;
	dirs_unlink(t, l);
	if ((d = table_get(t->by_dir_wd, &wd, sizeof(wd))) == NULL) {
		if ((d = calloc(1, sizeof(*d))) == NULL)
			return -1;
		d->wd = wd;
		if (table_add(t->by_dir_wd, &wd, sizeof(wd), d) == -1) {
			free(d);
			return -1;
		}
		t->n_dirs++;
	}
	memcpy(l->key, key, keylen);
	l->keylen = keylen;
	if (table_add(t->by_entry, l->key, l->keylen, l) == -1) {
		if (d->refs == 0) {
			d->refs = 1;
			dir_unref(t, d);
		}
		return -1;
	}
	d->refs++;
	l->dir = d;
	LIST_INSERT_HEAD(&d->links, l, entry);
	return 0;
}

/* Splits a path into a directory part (or ".") and its last component. */
static const char *
split_path(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(dir, dirlen, ".");
		return path;
	}
	snprintf(dir, dirlen, "%.*s", slash == path ? 1 : (int)(slash - path),
	    path);
	return slash + 1;
}

int
dirs_link_name(struct watch_table *t, struct watch_name *n, int fd)
{
	char dir[PATH_MAX], real[PATH_MAX], path[64];
	const char *base;
	ssize_t len;
	int dfd, r;

	base = split_path(n->file_name, dir, sizeof(dir));
	if ((dfd = policy_open_beneath(n->folder->fd, dir,
	    O_PATH | O_DIRECTORY)) == -1)
		return -1;
	r = link_set(t, &n->links[0], dfd, base);
	close(dfd);
	if (r == -1)
		return -1;
	dirs_fd_path(fd, path, sizeof(path));
	if ((len = readlink(path, real, sizeof(real) - 1)) <= 0)
		return 0;
	real[len] = '\0';
	base = split_path(real, dir, sizeof(dir));
	if ((dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	r = link_set(t, &n->links[1], dfd, base);
	close(dfd);
	/* The real parent is the literal one: one link says it all. */
	if (r == 0 && n->links[1].dir == n->links[0].dir &&
	    n->links[1].keylen == n->links[0].keylen &&
	    memcmp(n->links[1].key, n->links[0].key, n->links[0].keylen) == 0)
		dirs_unlink(t, &n->links[1]);
	return r;
}

size_t
dirs_entry_names(struct watch_table *t, int wd, const char *name, size_t len,
    struct watch_name **found, size_t max)
{
	char key[sizeof(int) + NAME_MAX + 1];
	void *links[64];
	size_t n, i;

	if (len > NAME_MAX)
		return 0;
	if (max > sizeof(links) / sizeof(links[0]))
		max = sizeof(links) / sizeof(links[0]);
	memcpy(key, &wd, sizeof(int));
	memcpy(key + sizeof(int), name, len);
	n = table_get_all(t->by_entry, key, sizeof(int) + len, links, max);
	for (i = 0; i < n && i < max; i++)
		found[i] = ((struct dir_link *)links[i])->name;
	return n;
}

struct dir *
dirs_find(struct watch_table *t, int wd)
{
	return table_get(t->by_dir_wd, &wd, sizeof(wd));
}

void
dirs_gone(struct watch_table *t, struct dir *d,
    void (*gone)(struct watch_table *, struct watch_name *))
{
	struct dir_link *l;

	table_del(t->by_dir_wd, &d->wd, sizeof(d->wd), d);
	while ((l = LIST_FIRST(&d->links)) != NULL) {
		LIST_REMOVE(l, entry);
		table_del(t->by_entry, l->key, l->keylen, l);
		l->dir = NULL;
		gone(t, l->name);
	}
	t->n_dirs--;
	free(d);
}
