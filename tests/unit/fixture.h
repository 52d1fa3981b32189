/*
 * Temporary files for the unit tests: a private directory under $TMPDIR
 * (or /tmp), files written into it, and its removal.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

/* Creates a fresh directory and writes its path into dir; exits on
   failure, as nothing can be tested without it. */
static inline void
fixture_tmpdir(char *dir, size_t len)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, len, "%s/watcherd-test.XXXXXX",
	    base && *base ? base : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
}

/* snprintf into a path buffer; exits when the path does not fit. */
static inline void fixture_path(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static inline void
fixture_path(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "path too long: %s\n", out);
		exit(2);
	}
}

/* Writes len bytes to path (created or truncated). Returns 0 or -1. */
static inline int
fixture_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n = -1;

	if (fd == -1)
		return -1;
	if (len == 0 || (n = write(fd, data, len)) == (ssize_t)len)
		n = 0;
	close(fd);
	return n == 0 ? 0 : -1;
}

/* Creates every directory of path, like mkdir -p. Returns 0 or -1. */
static inline int
fixture_mkdirs(const char *path)
{
	char buf[4096], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && access(buf, F_OK) == -1)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) == -1 && access(buf, F_OK) == -1 ? -1 : 0;
}

static inline int
fixture_remove_one(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it, without following symlinks. */
static inline void
fixture_rmtree(const char *dir)
{
	nftw(dir, fixture_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
