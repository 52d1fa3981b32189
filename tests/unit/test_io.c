/* Reading a descriptor through to what was asked for. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "common/io.h"
#include "tests/unit/tap.h"

/* A pipe whose writer sends "abc", pauses, then "defgh" and closes: two
   short reads for the reader. */
static int
slow_pipe(pid_t *pid)
{
	int p[2];

	if (pipe(p) == -1)
		return -1;
	if ((*pid = fork()) == 0) {
		close(p[0]);
		(void)!write(p[1], "abc", 3);
		usleep(50000);
		(void)!write(p[1], "defgh", 5);
		_exit(0);
	}
	close(p[1]);
	return p[0];
}

static void
test_write(void)
{
	static char big[200000];
	char *back = malloc(sizeof(big));
	pid_t pid;
	int p[2];

	memset(big, 'x', sizeof(big));
	if (back == NULL || pipe(p) == -1) {
		tap_ok(0, "a pipe");
		free(back);
		return;
	}
	/* More than a pipe holds: the writer's write(2) comes back short. */
	if ((pid = fork()) == 0) {
		close(p[0]);
		_exit(io_write_full(p[1], big, sizeof(big)) == 0 ? 0 : 1);
	}
	close(p[1]);
	tap_ok(io_read_full(p[0], back, sizeof(big)) == (ssize_t)sizeof(big) &&
	    memcmp(back, big, sizeof(big)) == 0,
	    "io_write_full writes every byte through a pipe");
	close(p[0]);
	waitpid(pid, NULL, 0);
	errno = 0;
	tap_ok(io_write_full(-1, big, 1) == -1 && errno == EBADF,
	    "writing to a bad descriptor fails with EBADF");
	free(back);
}

int
main(void)
{
	char buf[16];
	pid_t pid;
	ssize_t n;
	int fd;

	if ((fd = slow_pipe(&pid)) == -1)
		return tap_ok(0, "a pipe"), tap_done();
	memset(buf, 0, sizeof(buf));
	n = io_read_full(fd, buf, 6);
	tap_ok(n == 6 && memcmp(buf, "abcdef", 6) == 0,
	    "the bytes of two short reads, as many as asked for");
	n = io_read_full(fd, buf, sizeof(buf));
	tap_ok(n == 2 && memcmp(buf, "gh", 2) == 0,
	    "fewer at the end of the file: what was left");
	tap_ok(io_read_full(fd, buf, sizeof(buf)) == 0,
	    "0 once the file has ended");
	close(fd);
	waitpid(pid, NULL, 0);
	errno = 0;
	tap_ok(io_read_full(-1, buf, 1) == -1 && errno == EBADF,
	    "a bad descriptor fails with EBADF");
	test_write();
	return tap_done();
}
