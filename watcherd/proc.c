#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/log.h"
#include "watcherd/loop.h"
#include "watcherd/proc.h"

#define PROC_STDERR_LINES	20		/* stderr lines logged per process */
#define PROC_LINE_MAX		256		/* bytes of one logged stderr line */
#define PROC_READ_MAX		(64 << 10)	/* bytes read from a pipe per wake-up */
#define PROC_OUTPUT_CHUNK	4096		/* first allocation of stdout */
#define PROC_REAP_POLL_MS	50		/* exit polling, without a pidfd */
#define QUOTED_MAX		(PROC_LINE_MAX * 4 + 8)

/* One child process from proc_start to done (or proc_abandon). */
struct proc {
	struct loop		*loop;
	proc_done_fn		*done;
	void			*arg;
	const char		*stderr_event;	/* in this allocation */
	const char		*log_fields;	/* in this allocation */
	pid_t			 pid;
	int			 pidfd, in_fd, out_fd, err_fd;
	struct loop_io		 pid_io, in_io, out_io, err_io;
	struct loop_timer	 timeout, reap;
	long long		 started_ms;
	int			 killed;
	int			 error;		/* of a failed start */
	const char		*why;		/* of a failed start, or NULL */
	const char		*input;		/* the owner's */
	size_t			 input_len, input_off;
	char			*output;
	size_t			 output_len, output_cap, output_max;
	int			 output_cut;
	char			 line[PROC_LINE_MAX];
	size_t			 line_len;
	int			 line_cut;
	unsigned		 lines_logged;
	unsigned long		 lines_dropped;
};

/* What a pipe's bytes go to. */
typedef void sink_fn(struct proc *, const char *, size_t);

static void
proc_free(void *arg)
{
	struct proc *p = arg;

	free(p->output);
	free(p);
}

/* Where argv[0] is: itself when it has a '/', else the first executable
   regular file of that name in PROC_PATH. Returns 0, or -1 with errno. */
static int
resolve_command(const char *cmd, char *out, size_t outlen)
{
	const char *dir = PROC_PATH, *end;
	struct stat sb;
	int n;

	if (strchr(cmd, '/')) {
		if ((size_t)snprintf(out, outlen, "%s", cmd) >= outlen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		return 0;
	}
	for (; *dir; dir = *end ? end + 1 : end) {
		end = dir + strcspn(dir, ":");
		n = snprintf(out, outlen, "%.*s/%s", (int)(end - dir), dir, cmd);
		if (n < 0 || (size_t)n >= outlen)
			continue;
		if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    access(out, X_OK) == 0)
			return 0;
	}
	errno = ENOENT;
	return -1;
}

/* Logs the stderr line gathered so far, or counts it once enough were. */
static void
stderr_line(struct proc *p)
{
	char q[QUOTED_MAX];

	if (p->lines_logged < PROC_STDERR_LINES) {
		p->lines_logged++;
		log_info(p->stderr_event, "%s line=\"%s%s\"", p->log_fields,
		    log_quote(q, sizeof(q), p->line, p->line_len),
		    p->line_cut ? "..." : "");
	} else
		p->lines_dropped++;
	p->line_len = 0;
	p->line_cut = 0;
}

/* Logs a last line that had no newline. */
static void
stderr_flush(struct proc *p)
{
	if (p->line_len > 0 || p->line_cut)
		stderr_line(p);
}

static void
stderr_bytes(struct proc *p, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] == '\n')
			stderr_line(p);
		else if (p->line_len < sizeof(p->line))
			p->line[p->line_len++] = b[i];
		else
			p->line_cut = 1;
	}
}

/* Keeps stdout up to output_max; what comes beyond (or what memory does
   not hold) is dropped, so that the child never waits on a full pipe. */
static void
output_bytes(struct proc *p, const char *b, size_t n)
{
	size_t room = p->output_max - p->output_len, cap;
	char *grown;

	if (n > room) {
		p->output_cut = 1;
		n = room;
	}
	if (n == 0)
		return;
	if (p->output_len + n > p->output_cap) {
		cap = p->output_cap ? p->output_cap : PROC_OUTPUT_CHUNK;
		while (cap < p->output_len + n)
			cap *= 2;
		if (cap > p->output_max)
			cap = p->output_max;
		if ((grown = realloc(p->output, cap)) == NULL) {
			p->output_cut = 1;
			return;
		}
		p->output = grown;
		p->output_cap = cap;
	}
	memcpy(p->output + p->output_len, b, n);
	p->output_len += n;
}

static void
close_io(struct proc *p, struct loop_io *io, int *fd)
{
	if (*fd == -1)
		return;
	if (io->fn)
		loop_remove(p->loop, io);
	close(*fd);
	*fd = -1;
}

/* Registers *fd with the loop; on failure closes it, and the child finds
   that end of its pipe closed. */
static void
watch_fd(struct proc *p, struct loop_io *io, int *fd, uint32_t events,
    loop_io_fn *fn)
{
	if (*fd == -1)
		return;
	*io = (struct loop_io){ .fd = *fd, .events = events, .fn = fn,
	    .arg = p };
	if (loop_add(p->loop, io) == -1) {
		io->fn = NULL;
		close_io(p, io, fd);
	}
}

/* Reads what the pipe has, at most PROC_READ_MAX bytes, into sink; closes
   it at end of file or on an error. */
static void
pipe_read(struct proc *p, struct loop_io *io, int *fd, sink_fn *sink)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (*fd != -1 && total < PROC_READ_MAX) {
		n = read(*fd, buf, sizeof(buf));
		if (n > 0) {
			sink(p, buf, (size_t)n);
			total += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		close_io(p, io, fd);
	}
}

static void
stderr_event(void *arg, uint32_t events)
{
	struct proc *p = arg;

	(void)events;
	pipe_read(p, &p->err_io, &p->err_fd, stderr_bytes);
	if (p->err_fd == -1)
		stderr_flush(p);
}

static void
stdout_event(void *arg, uint32_t events)
{
	struct proc *p = arg;

	(void)events;
	pipe_read(p, &p->out_io, &p->out_fd, output_bytes);
}

/* Feeds the input; a child that stops reading keeps it until it exits or
   is killed. */
static void
stdin_event(void *arg, uint32_t events)
{
	struct proc *p = arg;
	ssize_t n;

	(void)events;
	while (p->input_off < p->input_len) {
		n = write(p->in_fd, p->input + p->input_off,
		    p->input_len - p->input_off);
		if (n > 0)
			p->input_off += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && errno == EAGAIN)
			return;
		else
			break;	/* EPIPE: the child does not want the rest */
	}
	close_io(p, &p->in_io, &p->in_fd);
}

/* Hands result to the owner; the proc is freed after this batch, as
   another event of it may still name one of its loop_ios. */
static void
report(struct proc *p, struct proc_result *res)
{
	res->duration_ms = loop_now(p->loop) - p->started_ms;
	res->output = p->output ? p->output : "";
	res->output_len = p->output_len;
	res->output_cut = p->output_cut;
	res->stderr_dropped = p->lines_dropped;
	p->done(p->arg, res);
	loop_defer_free(p->loop, p, proc_free);
}

/* The process has been reaped (or is lost): takes what its pipes still
   hold and reports. */
static void
finish(struct proc *p, enum proc_end end, int status)
{
	struct proc_result res = { .end = end, .status = status };

	close_io(p, &p->pid_io, &p->pidfd);
	loop_timer_disarm(p->loop, &p->timeout);
	loop_timer_disarm(p->loop, &p->reap);
	close_io(p, &p->in_io, &p->in_fd);
	/* What the child wrote before it exited is in the pipes; a child of
	   its own left holding them open is not waited for. */
	pipe_read(p, &p->out_io, &p->out_fd, output_bytes);
	close_io(p, &p->out_io, &p->out_fd);
	pipe_read(p, &p->err_io, &p->err_fd, stderr_bytes);
	stderr_flush(p);
	close_io(p, &p->err_io, &p->err_fd);
	report(p, &res);
}

/* Reaps the process if it exited. Returns 1 when it is over. */
static int
try_reap(struct proc *p)
{
	pid_t got;
	int status = 0;

	do
		got = waitpid(p->pid, &status, WNOHANG);
	while (got == -1 && errno == EINTR);
	if (got == 0)
		return 0;
	if (got != p->pid)
		finish(p, PROC_LOST, 0);
	else
		finish(p, p->killed ? PROC_TIMED_OUT : PROC_EXITED, status);
	return 1;
}

static void
pid_event(void *arg, uint32_t events)
{
	(void)events;
	try_reap(arg);
}

static void
reap_poll(void *arg)
{
	struct proc *p = arg;

	if (!try_reap(p))
		loop_timer_arm(p->loop, &p->reap, PROC_REAP_POLL_MS);
}

/* The group, so that what the child started goes too; the leader is not
   reaped yet, so the group id is still ours. */
static void
kill_group(struct proc *p)
{
	if (kill(-p->pid, SIGKILL) == -1)
		kill(p->pid, SIGKILL);
}

static void
timeout_event(void *arg)
{
	struct proc *p = arg;

	if (try_reap(p))
		return;
	p->killed = 1;
	kill_group(p);
	close_io(p, &p->in_io, &p->in_fd);
}

static void
not_started_event(void *arg)
{
	struct proc *p = arg;
	struct proc_result res = { .end = PROC_NOT_STARTED,
	    .error = p->error, .reason = p->why ? p->why : strerror(p->error) };

	report(p, &res);
}

/* Opens a pipe, both ends close-on-exec, ours non-blocking. end is the
   index (0 read, 1 write) of ours. */
static int
proc_pipe(int fds[2], int end)
{
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if (fcntl(fds[end], F_SETFL, O_NONBLOCK) == -1) {
		close(fds[0]);
		close(fds[1]);
		fds[0] = fds[1] = -1;
		return -1;
	}
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

static void
close_pipe(int fds[2])
{
	close_fd(&fds[0]);
	close_fd(&fds[1]);
}

/*
 * What the child needs between vfork and exec, all prepared by the parent:
 * the child only makes system calls.
 *
 * Why vfork and not posix_spawn: a validator's bounds (RLIMIT_DATA,
 * RLIMIT_CPU) must hold from its first instruction, and posix_spawn has
 * no attribute for them. prlimit() on the pid after posix_spawn comes too
 * late: posix_spawn returns once the child has exec'd, and by then it may
 * have allocated as much as it likes. fork would copy the page tables of
 * a daemon that may hold hundreds of megabytes (slow, and refused outright
 * under strict overcommit). vfork is what posix_spawn does itself: the
 * child borrows our memory until it execs, and we wait meanwhile.
 */
struct child {
	const char	*path;
	char *const	*argv;
	char *const	*env;
	int		 fd[3];		/* for 0, 1, 2; -1: /dev/null */
	int		 report;	/* an errno is written here on failure */
	int		 limited;
	struct rlimit	 data, cpu;
};

/* Runs in the vforked child: its own process group, default signal
   actions and an empty mask, the descriptors, the bounds, then exec. On
   failure the errno goes to the parent through c->report. Touches no
   memory but its own stack: it shares the parent's. */
static void __attribute__((noinline, noreturn))
child_exec(const struct child *c)
{
	static const int mode[3] = { O_RDONLY, O_WRONLY, O_WRONLY };
	struct sigaction dfl;
	struct rlimit no_core = { 0, 0 };
	sigset_t none;
	int sig, i, fd, e;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	/* Signals are blocked (the parent blocked them all before vfork): no
	   handler of ours can run on the borrowed memory. */
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	if (setpgid(0, 0) == -1)
		goto fail;
	for (i = 0; i < 3; i++) {
		if ((fd = c->fd[i]) == -1 &&
		    (fd = open("/dev/null", mode[i] | O_CLOEXEC)) == -1)
			goto fail;
		if (fd == i ? fcntl(fd, F_SETFD, 0) == -1 :
		    dup2(fd, i) == -1)
			goto fail;
	}
	/* Every descriptor of watcherd is close-on-exec; this makes sure
	   (where the kernel knows how). */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	/* The bounds, and no core file from a child killed at them. */
	if (c->limited && (setrlimit(RLIMIT_DATA, &c->data) == -1 ||
	    setrlimit(RLIMIT_CPU, &c->cpu) == -1 ||
	    setrlimit(RLIMIT_CORE, &no_core) == -1))
		goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(c->path, c->argv, c->env);
fail:
	e = errno;
	(void)!write(c->report, &e, sizeof(e));
	_exit(127);
}

/* Kept apart, so that nothing of the parent's lives across vfork. */
static pid_t
vfork_child(const struct child *c)
{
	pid_t pid = vfork();

	if (pid == 0)
		child_exec(c);
	return pid;
}

/* A soft limit of want and a hard one of want + slack, neither above
   watcherd's own hard limit. */
static void
bound(int resource, rlim_t want, rlim_t slack, struct rlimit *out)
{
	struct rlimit now;
	rlim_t hard = want == RLIM_INFINITY ? want : want + slack;

	if (getrlimit(resource, &now) == -1)
		now.rlim_max = RLIM_INFINITY;
	if (now.rlim_max != RLIM_INFINITY) {
		if (want > now.rlim_max)
			want = now.rlim_max;
		if (hard > now.rlim_max)
			hard = now.rlim_max;
	}
	out->rlim_cur = want;
	out->rlim_max = hard;
}

/* Starts the process with the child ends of its pipes (-1: /dev/null).
   Returns 0 or an errno. */
static int
spawn(struct proc *p, const char *path, const struct proc_spec *spec,
    int in_child, int out_child, int err_child)
{
	struct child c = { .path = path, .argv = spec->argv, .env = spec->env,
	    .fd = { in_child, out_child, err_child } };
	int report[2], e = 0;
	sigset_t all, old;
	ssize_t n;
	pid_t pid;

	if (spec->memory_max || spec->cpu_max_s) {
		c.limited = 1;
		bound(RLIMIT_DATA, spec->memory_max ? (rlim_t)spec->memory_max :
		    RLIM_INFINITY, 0, &c.data);
		/* SIGXCPU at the bound, SIGKILL a second later for a child that
		   catches it. */
		bound(RLIMIT_CPU, spec->cpu_max_s ? (rlim_t)spec->cpu_max_s :
		    RLIM_INFINITY, 1, &c.cpu);
	}
	if (pipe2(report, O_CLOEXEC) == -1)
		return errno;
	c.report = report[1];
	/* watcherd blocks the signals of its signalfd and ignores SIGPIPE;
	   the child starts with neither, and with every signal blocked until
	   it has reset them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if ((pid = vfork_child(&c)) == -1)
		e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(report[1]);
	if (pid != -1) {
		/* End of file: it exec'd; an errno: it did not, and exited. */
		do
			n = read(report[0], &e, sizeof(e));
		while (n == -1 && errno == EINTR);
		if (n == (ssize_t)sizeof(e)) {
			while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
				;
			pid = -1;
		} else
			e = 0;
	}
	close(report[0]);
	p->pid = pid;
	return e;
}

/* Watches for the exit: through a pidfd, or by polling without one. */
static void
watch_exit(struct proc *p)
{
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	watch_fd(p, &p->pid_io, &p->pidfd, EPOLLIN, pid_event);
	if (p->pidfd == -1)
		loop_timer_arm(p->loop, &p->reap, PROC_REAP_POLL_MS);
}

struct proc *
proc_start(struct loop *loop, const struct proc_spec *spec,
    proc_done_fn *done, void *arg)
{
	size_t event_len = strlen(spec->stderr_event) + 1;
	size_t fields_len = strlen(spec->log_fields) + 1;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	char path[4096], *strings;
	struct proc *p;

	if ((p = calloc(1, sizeof(*p) + event_len + fields_len)) == NULL)
		return NULL;
	strings = (char *)(p + 1);
	p->stderr_event = memcpy(strings, spec->stderr_event, event_len);
	p->log_fields = memcpy(strings + event_len, spec->log_fields,
	    fields_len);
	p->loop = loop;
	p->done = done;
	p->arg = arg;
	p->pid = -1;
	p->pidfd = p->in_fd = p->out_fd = p->err_fd = -1;
	p->input = spec->input;
	p->input_len = spec->input_len;
	p->output_max = spec->output_max;
	p->timeout = (struct loop_timer){ .fn = timeout_event, .arg = p };
	p->reap = (struct loop_timer){ .fn = reap_poll, .arg = p };
	p->started_ms = loop_now(loop);

	if (resolve_command(spec->argv[0], path, sizeof(path)) == -1) {
		p->error = errno;
		p->why = "command not found in " PROC_PATH;
		goto fail;
	}
	if ((spec->input && proc_pipe(in, 1) == -1) ||
	    (spec->output_max && proc_pipe(out, 0) == -1) ||
	    proc_pipe(err, 0) == -1) {
		p->error = errno;
		goto fail;
	}
	p->error = spawn(p, path, spec, in[0], out[1], err[1]);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	if (p->error != 0)
		goto fail;
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = err[0];
	loop_timer_arm(loop, &p->timeout, spec->timeout_ms);
	watch_exit(p);
	watch_fd(p, &p->err_io, &p->err_fd, EPOLLIN, stderr_event);
	watch_fd(p, &p->out_io, &p->out_fd, EPOLLIN, stdout_event);
	watch_fd(p, &p->in_io, &p->in_fd, EPOLLOUT, stdin_event);
	return p;
fail:
	close_pipe(in);
	close_pipe(out);
	close_pipe(err);
	p->pid = -1;
	/* Reported from the loop, as every other end is. */
	p->timeout.fn = not_started_event;
	loop_timer_arm(loop, &p->timeout, 0);
	return p;
}

pid_t
proc_pid(const struct proc *p)
{
	return p->pid;
}

void
proc_abandon(struct proc *p)
{
	if (p->pid != -1) {
		kill_group(p);
		/* Reaped now if it died at once; else by init once watcherd
		   is gone. */
		waitpid(p->pid, NULL, WNOHANG);
	}
	close_io(p, &p->pid_io, &p->pidfd);
	close_io(p, &p->in_io, &p->in_fd);
	close_io(p, &p->out_io, &p->out_fd);
	close_io(p, &p->err_io, &p->err_fd);
	loop_timer_disarm(p->loop, &p->timeout);
	loop_timer_disarm(p->loop, &p->reap);
	loop_defer_free(p->loop, p, proc_free);
}
