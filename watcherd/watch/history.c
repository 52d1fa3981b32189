#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "common/crc.h"
#include "common/io.h"
#include "common/text.h"
#include "watcherd/watch/history.h"

#define TMP_PREFIX	".tmp-"
#define TMP_STALE_S	3600	/* a temporary file this old was a crash's */
#define TIME_LEN	22	/* "SSSSSSSSSSSS.NNNNNNNNN" */
#define SCAN_MAX	200000	/* entries of a history directory read at
				   most: more is a member's flood, not ours */

/* s percent-encoded into out (size bytes): bytes other than letters,
   digits, '.' and '_' become %XX, so that '-' and '/' never appear.
   Returns 0, or -1 when it does not fit. */
static int
encode(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	for (; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_') {
			if (o + 1 >= size)
				return -1;
			out[o++] = (char)*p;
			continue;
		}
		if (o + 3 >= size)
			return -1;
		out[o++] = '%';
		out[o++] = hex[*p >> 4];
		out[o++] = hex[*p & 15];
	}
	out[o] = '\0';
	return 0;
}

/* The user of a name, decoded into out (size bytes). 0, or -1. */
static int
decode(const char *s, char *out, size_t size)
{
	size_t o = 0;
	int hi, lo;

	for (; *s; s++) {
		if (o + 1 >= size)
			return -1;
		if (*s != '%') {
			out[o++] = *s;
			continue;
		}
		if ((hi = text_hex_digit(s[1])) == -1 ||
		    (lo = text_hex_digit(s[2])) == -1)
			return -1;
		out[o++] = (char)(hi << 4 | lo);
		s += 2;
	}
	out[o] = '\0';
	return 0;
}

/* The name of version v into out (NAME_MAX + 1 bytes). 0, or -1. */
static int
version_name(const struct history_version *v, char *out)
{
	char user[NAME_MAX + 1];
	int n;

	if (encode(v->user, user, sizeof(user)) == -1)
		return -1;
	n = snprintf(out, NAME_MAX + 1, "%012lld.%09ld-%08x-%llu-%s%s%s",
	    (long long)v->time.tv_sec, v->time.tv_nsec, (unsigned)v->crc,
	    v->size, v->saved ? "save" : "disk", *user ? "-" : "", user);
	return n < 0 || n > NAME_MAX ? -1 : 0;
}

/* Reads a version's name. 0, or -1 for a name of another shape. */
static int
parse_name(const char *name, struct history_version *v)
{
	char *end;
	const char *p = name;

	memset(v, 0, sizeof(*v));
	if (strlen(name) < TIME_LEN + 1 + 8 + 1 + 1 + 1 + 4 ||
	    name[12] != '.' || name[TIME_LEN] != '-')
		return -1;
	v->time.tv_sec = strtoll(p, &end, 10);
	if (end != name + 12)
		return -1;
	v->time.tv_nsec = strtol(name + 13, &end, 10);
	if (end != name + TIME_LEN)
		return -1;
	p = name + TIME_LEN + 1;
	v->crc = (uint32_t)strtoul(p, &end, 16);
	if (end != p + 8 || *end != '-')
		return -1;
	p = end + 1;
	v->size = strtoull(p, &end, 10);
	if (end == p || *end != '-')
		return -1;
	p = end + 1;
	if (strncmp(p, "save", 4) == 0)
		v->saved = 1;
	else if (strncmp(p, "disk", 4) != 0)
		return -1;
	p += 4;
	if (*p == '\0')
		return 0;
	if (*p != '-' || decode(p + 1, v->user, sizeof(v->user)) == -1)
		return -1;
	return 0;
}

/* Opens the history directory of file_name beneath folder_fd, made with
   the folder's mode when create is set. Returns a descriptor for
   reading, or -1 with errno. */
static int
open_dir(int folder_fd, const char *file_name, const char *dir, int create,
    mode_t *mode)
{
	char enc[NAME_MAX + 1];
	struct stat sb, made;
	int hfd, fd, i;
	const char *names[2];

	if (encode(file_name, enc, sizeof(enc)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	names[0] = dir;
	names[1] = enc;
	if ((fd = openat(folder_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || fstat(fd, &sb) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (mode)
		*mode = (sb.st_mode & 0666) | 0600;
	for (i = 0; i < 2; i++) {
		/* No link followed: a member's link named .history leads
		   nowhere. */
		hfd = openat(fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (hfd == -1 && errno == ENOENT && create &&
		    (mkdirat(fd, names[i], 0700) == 0 || errno == EEXIST)) {
			hfd = openat(fd, names[i], O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			/* The folder's group and mode past the umask, and
			   the set-group-ID bit, so that every version is the
			   proposal group's too, whoever writes it. */
			if (hfd != -1 && fstat(hfd, &made) == 0) {
				if (made.st_gid != sb.st_gid)
					(void)fchown(hfd, (uid_t)-1, sb.st_gid);
				(void)fchmod(hfd, (sb.st_mode & 07777) | S_ISGID);
			}
		}
		close(fd);
		if (hfd == -1)
			return -1;
		fd = hfd;
	}
	return fd;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the versions in the directory dfd, sorted oldest first,
   into *names (*n of them, each malloc()ed); temporary files older than
   TMP_STALE_S are removed on the way when prune is set. 0, or -1. */
static int
read_names(int dfd, int prune, char ***names, size_t *n)
{
	struct history_version v;
	struct dirent *de;
	struct stat sb;
	size_t cap = 0, seen = 0;
	char **list = NULL, **grown;
	DIR *d;
	int fd, saved;

	*names = NULL;
	*n = 0;
	if ((fd = dup(dfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (++seen > SCAN_MAX) {
			errno = EMLINK;
			goto fail_errno;
		}
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
			if (prune && fstatat(dfd, de->d_name, &sb,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
			    time(NULL) - sb.st_mtime > TMP_STALE_S)
				(void)unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (parse_name(de->d_name, &v) == -1)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((grown = realloc(list, cap * sizeof(*list))) == NULL)
				goto fail;
			list = grown;
		}
		if ((list[*n] = strdup(de->d_name)) == NULL)
			goto fail;
		(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(list, *n, sizeof(*list), by_name);
	*names = list;
	return 0;
fail:
	errno = ENOMEM;
fail_errno:
	saved = errno;
	closedir(d);
	while (*n > 0)
		free(list[--*n]);
	free(list);
	errno = saved;
	return -1;
}

static void
free_names(char **names, size_t n)
{
	while (n > 0)
		free(names[--n]);
	free(names);
}

/* Writes data to a temporary file in dfd and links it to name: 0, or -1
   with errno (EEXIST: the name is there). */
static int
write_version(int dfd, const char *name, const char *data, size_t len,
    mode_t mode)
{
	char tmp[sizeof(TMP_PREFIX) + 16];
	unsigned char rnd[6];
	int fd, saved;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%02x%02x%02x%02x%02x%02x",
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	if (io_write_full(fd, data, len) == -1 || fchmod(fd, mode) == -1 ||
	    fsync(fd) == -1)
		goto fail;
	if (linkat(dfd, tmp, dfd, name, 0) == -1)
		goto fail;
	close(fd);
	(void)unlinkat(dfd, tmp, 0);
	return 0;
fail:
	saved = errno;
	close(fd);
	(void)unlinkat(dfd, tmp, 0);
	errno = saved;
	return -1;
}

/* A version's name into name, and the prefix of its time and checksum
   into prefix (*plen bytes). 0, or -1 with errno. */
static int
names_of(const struct history_version *v, char *name, char *prefix,
    size_t *plen)
{
	if (version_name(v, name) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	*plen = (size_t)snprintf(prefix, TIME_LEN + 1 + 8 + 2, "%.*s-",
	    TIME_LEN + 9, name);
	return 0;
}

/* The name of the disk version of v's time and checksum: deterministic,
   as a disk version names no user. */
static int
disk_name_of(const struct history_version *v, char *out)
{
	struct history_version d = *v;

	d.saved = 0;
	d.user[0] = '\0';
	return version_name(&d, out);
}

/* Takes name off the listing (found or not). */
static void
listing_drop(char **names, size_t *n, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(names[i], name) == 0) {
			free(names[i]);
			memmove(names + i, names + i + 1,
			    (*n - i - 1) * sizeof(*names));
			(*n)--;
			return;
		}
}

/* Puts name into the sorted listing (room for it was made). 0, or -1. */
static int
listing_add(char **names, size_t *n, const char *name)
{
	size_t i = *n;
	char *copy;

	if ((copy = strdup(name)) == NULL)
		return -1;
	while (i > 0 && strcmp(names[i - 1], name) > 0) {
		names[i] = names[i - 1];
		i--;
	}
	names[i] = copy;
	(*n)++;
	return 0;
}

/*
 * Records version v in the directory dfd, whose versions names holds
 * (sorted, kept current). Returns 1 when recorded, 0 when it was there
 * already (the newest has its bytes, or a version of its time and
 * checksum is there: a save's takes the place of a disk one), -1 with
 * errno.
 */
static int
record_one(int dfd, char **names, size_t *n, const struct history_version *v,
    const char *data, mode_t mode)
{
	char name[NAME_MAX + 1], disk[NAME_MAX + 1], prefix[TIME_LEN + 12];
	struct history_version other;
	size_t plen, i;

	if (names_of(v, name, prefix, &plen) == -1 ||
	    disk_name_of(v, disk) == -1)
		return -1;
	if (*n > 0 && parse_name(names[*n - 1], &other) == 0 &&
	    other.crc == v->crc && (!v->saved || other.saved))
		return 0;
	for (i = 0; i < *n; i++) {
		if (strncmp(names[i], prefix, plen) != 0 ||
		    parse_name(names[i], &other) == -1)
			continue;
		if (!v->saved || other.saved)
			return 0;	/* seen, by this watcherd or another */
	}
	if (write_version(dfd, name, data, v->size, mode) == -1)
		return errno == EEXIST ? 0 : -1;
	if (v->saved) {
		/* A disk version of this save, recorded before or while it
		   was (by the loop, or another watcherd): the save's takes its
		   place. */
		(void)unlinkat(dfd, disk, 0);
		listing_drop(names, n, disk);
	}
	return listing_add(names, n, name) == -1 ? -1 : 1;
}

/*
 * A disk version linked while a save's of the same change was being
 * recorded elsewhere: the save's has it removed, unless the save looked
 * before the disk version was linked. So a disk version looks once more
 * after it is linked, and goes itself when a save's is there.
 */
static void
settle_disk(int dfd, char **names, size_t *n, const struct history_version *v)
{
	char name[NAME_MAX + 1], prefix[TIME_LEN + 12], **now;
	struct history_version other;
	size_t plen, count, i;

	if (names_of(v, name, prefix, &plen) == -1 ||
	    read_names(dfd, 0, &now, &count) == -1)
		return;
	for (i = 0; i < count; i++)
		if (strncmp(now[i], prefix, plen) == 0 &&
		    parse_name(now[i], &other) == 0 && other.saved) {
			(void)unlinkat(dfd, name, 0);
			listing_drop(names, n, name);
			break;
		}
	free_names(now, count);
}

/* Drops the oldest versions beyond the bounds; the newest stays. names
   is sorted oldest first. */
static void
prune(int dfd, char **names, size_t n, const struct history_bounds *b)
{
	struct history_version v;
	unsigned long long bytes = 0;
	size_t i, count = 0;

	for (i = 0; i < n; i++)
		if (parse_name(names[i], &v) == 0) {
			bytes += v.size;
			count++;
		}
	for (i = 0; i < n && count > 1 &&
	    (count > b->keep || bytes > b->max_bytes); i++) {
		if (parse_name(names[i], &v) == -1)
			continue;
		(void)unlinkat(dfd, names[i], 0);
		bytes -= v.size;
		count--;
	}
}

int
history_record(int folder_fd, const char *file_name,
    const struct history_bounds *b, const struct history_version *before,
    const char *before_data, const struct history_version *v,
    const char *data)
{
	char **names, **grown;
	size_t n;
	int dfd, r = 0, one, saved;
	mode_t mode;

	if ((dfd = open_dir(folder_fd, file_name, b->dir, 1, &mode)) == -1)
		return -1;
	if (read_names(dfd, 1, &names, &n) == -1) {
		close(dfd);
		return -1;
	}
	/* Room for the two a record may add. */
	if ((grown = realloc(names, (n + 2) * sizeof(*names))) == NULL) {
		free_names(names, n);
		close(dfd);
		errno = ENOMEM;
		return -1;
	}
	names = grown;
	if (before && (one = record_one(dfd, names, &n, before, before_data,
	    mode)) > 0)
		r += one;
	if ((one = record_one(dfd, names, &n, v, data, mode)) == -1)
		r = -1;
	else if (one == 1) {
		r++;
		if (!v->saved)
			settle_disk(dfd, names, &n, v);
	}
	saved = errno;
	if (r > 0)
		prune(dfd, names, n, b);
	free_names(names, n);
	close(dfd);
	errno = saved;
	return r;
}

int
history_list(int folder_fd, const char *file_name, const char *dir,
    struct history_version **out, size_t *n)
{
	char **names;
	size_t count, i;
	int dfd;

	*out = NULL;
	*n = 0;
	if ((dfd = open_dir(folder_fd, file_name, dir, 0, NULL)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (read_names(dfd, 0, &names, &count) == -1) {
		close(dfd);
		return -1;
	}
	close(dfd);
	if (count > 0 && (*out = calloc(count, sizeof(**out))) == NULL) {
		free_names(names, count);
		errno = ENOMEM;
		return -1;
	}
	/* Newest first. */
	for (i = count; i > 0; i--)
		if (parse_name(names[i - 1], &(*out)[*n]) == 0)
			(*n)++;
	free_names(names, count);
	return 0;
}

int
history_read(int folder_fd, const char *file_name, const char *dir,
    uint32_t crc, size_t max, struct history_version *v, char **data)
{
	char **names;
	size_t n, i;
	ssize_t got;
	int dfd, fd = -1, saved;

	*data = NULL;
	if ((dfd = open_dir(folder_fd, file_name, dir, 0, NULL)) == -1)
		return -1;
	if (read_names(dfd, 0, &names, &n) == -1) {
		close(dfd);
		return -1;
	}
	errno = ENOENT;
	for (i = n; i > 0; i--)
		if (parse_name(names[i - 1], v) == 0 && v->crc == crc)
			break;
	if (i > 0 && v->size > max)
		errno = EFBIG;
	else if (i > 0)
		fd = openat(dfd, names[i - 1], O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC);
	saved = errno;
	free_names(names, n);
	close(dfd);
	if (fd == -1) {
		errno = saved;
		return -1;
	}
	if ((*data = malloc(v->size + 1)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	got = io_read_full(fd, *data, v->size + 1);
	saved = errno;
	close(fd);
	if (got != (ssize_t)v->size || crc_buffer(*data, v->size) != crc) {
		free(*data);
		*data = NULL;
		errno = got == -1 ? saved : EIO;
		return -1;
	}
	return 0;
}
