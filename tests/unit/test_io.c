/* Reading a descriptor through to what was asked for. */
#include <errno.h>
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
	return tap_done();
}
