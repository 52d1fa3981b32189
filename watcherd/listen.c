#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "common/log.h"
#include "watcherd/listen.h"

#define LISTEN_BACKLOG	SOMAXCONN	/* the kernel's cap: a burst of
					   max-clients fits on a busy host */

static int
socket_is_live(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return r;
}

static int
make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* Binds path (mode 0660; a stale socket of a dead daemon is replaced, a
   live one refused) and listens. Returns the descriptor, or -1 with a
   message in err. */
static int
socket_create(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long (at most %zu "
		    "bytes): %s", sizeof(sun.sun_path) - 1, path);
		return -1;
	}
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; "
			    "remove it or choose another --socket", path);
			return -1;
		}
		if (socket_is_live(path)) {
			snprintf(err, errlen, "already running: a watcherd "
			    "answers at %s", path);
			return -1;
		}
		log_info("stale_socket_replaced", "path=%s", log_str(path));
		unlink(path);
	}
	if (make_parent(path) == -1) {
		snprintf(err, errlen, "cannot create the directory of %s: %s",
		    path, strerror(errno));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	strcpy(sun.sun_path, path);
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, 0660) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
		    strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	log_info("socket_created", "path=%s", log_str(path));
	return fd;
}

/* getsockopt of an int option; -1 when it cannot be read. */
static int
sockopt_int(int fd, int option)
{
	socklen_t len = sizeof(int);
	int v;

	if (getsockopt(fd, SOL_SOCKET, option, &v, &len) == -1)
		return -1;
	return v;
}

/*
 * Socket activation, systemd's LISTEN_FDS protocol (sd_listen_fds(3)): when
 * LISTEN_PID is this process, LISTEN_FDS descriptors from 3 on were passed.
 * watcherd takes exactly one, a listening AF_UNIX stream socket, makes it
 * non-blocking and close-on-exec (hooks get no descriptor of watcherd's),
 * and unsets the variables so that hooks do not inherit them either.
 * Returns the descriptor and its path in path; -1 when none was passed;
 * -2 with a message in err when what was passed cannot be used.
 */
static int
socket_activated(char *path, size_t pathlen, char *err, size_t errlen)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	const int fd = 3;	/* SD_LISTEN_FDS_START */
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	char *end;
	long pid, n;
	int flags;

	pid = pid_s ? strtol(pid_s, &end, 10) : 0;
	if (pid_s == NULL || *end || pid != (long)getpid()) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		return -1;
	}
	n = fds_s ? strtol(fds_s, &end, 10) : 0;
	if (fds_s == NULL || *end)
		n = -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n == 0)
		return -1;
	if (n != 1) {
		snprintf(err, errlen, "LISTEN_FDS=%s: watcherd takes exactly "
		    "one listening socket (one ListenStream= in the socket "
		    "unit)", fds_s ? fds_s : "");
		return -2;
	}
	if (sockopt_int(fd, SO_DOMAIN) != AF_UNIX ||
	    sockopt_int(fd, SO_TYPE) != SOCK_STREAM ||
	    sockopt_int(fd, SO_ACCEPTCONN) != 1 ||
	    getsockname(fd, (struct sockaddr *)&sun, &len) == -1) {
		snprintf(err, errlen, "the descriptor passed in LISTEN_FDS is "
		    "not a listening UNIX stream socket (ListenStream=/path "
		    "in the socket unit)");
		return -2;
	}
	if (len > offsetof(struct sockaddr_un, sun_path) && sun.sun_path[0])
		snprintf(path, pathlen, "%.*s",
		    (int)(len - offsetof(struct sockaddr_un, sun_path)),
		    sun.sun_path);
	else
		snprintf(path, pathlen, "(unnamed)");
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "the socket passed in LISTEN_FDS: %s",
		    strerror(errno));
		return -2;
	}
	return fd;
}

int
listen_socket(const char *path, int *activated, char *err, size_t errlen)
{
	char passed[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	int fd;

	if ((fd = socket_activated(passed, sizeof(passed), err, errlen)) == -2)
		return -1;
	*activated = fd >= 0;
	if (!*activated)
		return socket_create(path, err, errlen);
	/* The socket file is the socket unit's: watcherd neither replaces
	   it nor removes it on exit. */
	log_info("socket_activated", "path=%s fd=%d", log_str(passed), fd);
	if (strcmp(passed, path) != 0)
		log_warn("socket_mismatch", "path=%s socket=%s reason=\"the "
		    "socket unit listens elsewhere than the configured socket, "
		    "where clients look\"", log_str(passed), log_str(path));
	return fd;
}
