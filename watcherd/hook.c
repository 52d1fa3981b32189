#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/crc.h"
#include "common/log.h"
#include "watcherd/hook.h"
#include "watcherd/loop.h"

/* The whole PATH of a hook, and where a command without '/' is looked up:
   watcherd's own environment is not passed on. */
#define HOOK_PATH		"/usr/local/bin:/usr/bin:/bin"
#define HOOK_SCAN_MAX		(4 << 20)	/* appended bytes scanned per change */
#define HOOK_INPUT_MAX		(256 << 10)	/* matching bytes given to one run */
#define HOOK_STDERR_LINES	20		/* stderr lines logged per run */
#define HOOK_LINE_MAX		256		/* bytes of one logged stderr line */
#define HOOK_READ_MAX		(64 << 10)	/* stderr bytes read per wake-up */
#define HOOK_REAP_POLL_MS	50		/* exit polling, without a pidfd */
#define HOOK_ENV		6
#define QUOTED_MAX		(HOOK_LINE_MAX * 4 + 8)

/* One execution of a hook: queued, then running. Owns copies of everything
   it needs, so that a reload never pulls anything from under it. */
struct run {
	struct hooks		*hs;
	struct run		*prev, *next;
	char			*argv[CONFIG_MAX_HOOK_ARGS + 1];
	char			*env[HOOK_ENV + 1];
	char			*strings;	/* owns argv's and env's */
	char			*file_name;	/* in strings */
	const char		*event;		/* in strings */
	unsigned		 proposal;
	char			*input;		/* the matching lines, or NULL */
	size_t			 input_len, input_off;
	pid_t			 pid;
	int			 pidfd, in_fd, err_fd;
	struct loop_io		 pid_io, in_io, err_io;
	struct loop_timer	 timeout, reap;
	long long		 started_ms;
	int			 killed;
	char			 line[HOOK_LINE_MAX];
	size_t			 line_len;
	int			 line_cut;
	unsigned		 lines_logged;
	unsigned long		 lines_dropped;
};

struct run_list {
	struct run	*head, *tail;
	size_t		 count;
};

struct match {
	const char	*pattern;	/* the config's */
	regex_t		 re;
	int		 compiled;
};

struct hooks {
	struct loop		*loop;
	const struct config	*cfg;
	struct match		 matches[CONFIG_MAX_HOOKS];
	size_t			 n_matches;
	int			 match_of[CONFIG_MAX_HOOKS];	/* per hook; -1 */
	struct run_list		 queue, running;
	struct hook_stats	 stats;
};

/* The matching lines of one change for one hook-match. */
struct lines {
	int		 wanted;
	char		*buf;
	size_t		 len, cap;
	unsigned long	 dropped;
};

static void	pump(struct hooks *);

static void
list_append(struct run_list *l, struct run *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	l->count++;
}

static void
list_remove(struct run_list *l, struct run *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
	l->count--;
}

static void
run_free(void *arg)
{
	struct run *r = arg;

	free(r->strings);
	free(r->input);
	free(r);
}

/* Appends a formatted string to buf at *used (when buf is set) and returns
   where it starts; *used grows by its size, NUL included, either way. */
static char *put(char *, size_t, size_t *, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static char *
put(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
	char *at = buf ? buf + *used : NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(at, at ? cap - *used : 0, fmt, ap);
	va_end(ap);
	*used += n < 0 ? 1 : (size_t)n + 1;
	return at;
}

/* Lays out argv and the environment in buf (NULL: only measures). Returns
   the bytes needed. */
static size_t
run_layout(struct run *r, const struct config_hook *h,
    const struct watch_change *wc, char *buf, size_t cap)
{
	char crc[CRC_HEX_LEN + 1] = "";
	size_t i, used = 0;

	if (wc->st->exists && !wc->st->too_large)
		crc_format(wc->st->crc, crc);
	for (i = 0; i < h->argc; i++)
		r->argv[i] = put(buf, cap, &used, "%s", h->argv[i]);
	r->argv[i] = NULL;
	r->env[0] = put(buf, cap, &used, "PROPOSAL=%u", wc->proposal);
	r->env[1] = put(buf, cap, &used, "FILE_NAME=%s", wc->file_name);
	r->env[2] = put(buf, cap, &used, "FILE_PATH=%s/%s", wc->folder,
	    wc->file_name);
	r->env[3] = put(buf, cap, &used, "CHECKSUM=%s", crc);
	r->env[4] = put(buf, cap, &used, "EVENT=%s", wc->event);
	r->env[5] = put(buf, cap, &used, "PATH=%s", HOOK_PATH);
	r->env[6] = NULL;
	r->file_name = put(buf, cap, &used, "%s", wc->file_name);
	r->event = put(buf, cap, &used, "%s", wc->event);
	return used;
}

/* The log fields every line about a run starts with, in out. */
static const char *
run_fields(const struct run *r, char *out, size_t outlen)
{
	char q[QUOTED_MAX];
	size_t len = strlen(r->argv[0]);

	snprintf(out, outlen, "hook=\"%s\" proposal=%u file=%s change=%s",
	    log_quote(q, sizeof(q), r->argv[0],
	    len < HOOK_LINE_MAX ? len : HOOK_LINE_MAX), r->proposal,
	    r->file_name, r->event);
	return out;
}

/* Where argv[0] is: itself when it has a '/', else the first executable
   regular file of that name in HOOK_PATH. Returns 0, or -1 with errno. */
static int
resolve_command(const char *cmd, char *out, size_t outlen)
{
	const char *dir = HOOK_PATH, *end;
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
stderr_line(struct run *r)
{
	char fields[1024], q[QUOTED_MAX];

	if (r->lines_logged < HOOK_STDERR_LINES) {
		r->lines_logged++;
		log_info("hook_stderr", "%s line=\"%s%s\"",
		    run_fields(r, fields, sizeof(fields)),
		    log_quote(q, sizeof(q), r->line, r->line_len),
		    r->line_cut ? "..." : "");
	} else
		r->lines_dropped++;
	r->line_len = 0;
	r->line_cut = 0;
}

static void
stderr_bytes(struct run *r, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n')
			stderr_line(r);
		else if (r->line_len < sizeof(r->line))
			r->line[r->line_len++] = p[i];
		else
			r->line_cut = 1;
	}
}

static void
close_io(struct run *r, struct loop_io *io, int *fd)
{
	if (*fd == -1)
		return;
	if (io->fn)
		loop_remove(r->hs->loop, io);
	close(*fd);
	*fd = -1;
}

/* Reads what stderr has, at most HOOK_READ_MAX bytes; closes it at end of
   file or on an error. */
static void
stderr_read(struct run *r)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (r->err_fd != -1 && total < HOOK_READ_MAX) {
		n = read(r->err_fd, buf, sizeof(buf));
		if (n > 0) {
			stderr_bytes(r, buf, (size_t)n);
			total += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (r->line_len > 0 || r->line_cut)
			stderr_line(r);
		close_io(r, &r->err_io, &r->err_fd);
	}
}

static void
stderr_event(void *arg, uint32_t events)
{
	(void)events;
	stderr_read(arg);
}

static void
stdin_close(struct run *r)
{
	close_io(r, &r->in_io, &r->in_fd);
	free(r->input);
	r->input = NULL;
}

/* Feeds the matching lines; a hook that stops reading keeps its lines
   until it exits or is killed. */
static void
stdin_event(void *arg, uint32_t events)
{
	struct run *r = arg;
	ssize_t n;

	(void)events;
	while (r->input_off < r->input_len) {
		n = write(r->in_fd, r->input + r->input_off,
		    r->input_len - r->input_off);
		if (n > 0)
			r->input_off += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && errno == EAGAIN)
			return;
		else
			break;	/* EPIPE: the hook does not want the rest */
	}
	stdin_close(r);
}

/* The run's process has been reaped with status: logs it and frees it. */
static void
run_finish(struct run *r, int status, int reaped)
{
	struct hooks *hs = r->hs;
	char fields[1024], dropped[64] = "";
	long long ms = loop_now(hs->loop) - r->started_ms;

	close_io(r, &r->pid_io, &r->pidfd);
	loop_timer_disarm(hs->loop, &r->timeout);
	loop_timer_disarm(hs->loop, &r->reap);
	stdin_close(r);
	/* What the hook wrote before it exited is in the pipe; a child it
	   left behind holding stderr open is not waited for. */
	stderr_read(r);
	if (r->line_len > 0 || r->line_cut)
		stderr_line(r);
	close_io(r, &r->err_io, &r->err_fd);
	if (r->lines_dropped)
		snprintf(dropped, sizeof(dropped), " stderr_lines_dropped=%lu",
		    r->lines_dropped);
	run_fields(r, fields, sizeof(fields));
	if (!reaped) {
		hs->stats.failed++;
		log_warn("hook_failed", "%s reason=\"not our child any more\" "
		    "duration_ms=%lld%s", fields, ms, dropped);
	} else if (r->killed) {
		hs->stats.killed++;
		log_warn("hook_killed", "%s reason=timeout timeout_s=%u "
		    "duration_ms=%lld%s", fields, hs->cfg->hook_timeout_s, ms,
		    dropped);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("hook_exit", "%s status=0 duration_ms=%lld%s", fields,
		    ms, dropped);
	else if (WIFEXITED(status)) {
		hs->stats.failed++;
		log_warn("hook_failed", "%s status=%d duration_ms=%lld%s",
		    fields, WEXITSTATUS(status), ms, dropped);
	} else {
		hs->stats.failed++;
		log_warn("hook_failed", "%s signal=%d duration_ms=%lld%s",
		    fields, WIFSIGNALED(status) ? WTERMSIG(status) : 0, ms,
		    dropped);
	}
	list_remove(&hs->running, r);
	/* Another event of this batch may still name its loop_io. */
	loop_defer_free(hs->loop, r, run_free);
	pump(hs);
}

/* Reaps the run's process if it exited. Returns 1 when the run is over. */
static int
try_reap(struct run *r)
{
	pid_t got;
	int status = 0;

	do
		got = waitpid(r->pid, &status, WNOHANG);
	while (got == -1 && errno == EINTR);
	if (got == 0)
		return 0;
	run_finish(r, status, got == r->pid);
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
	struct run *r = arg;

	if (!try_reap(r))
		loop_timer_arm(r->hs->loop, &r->reap, HOOK_REAP_POLL_MS);
}

static void
run_timeout(void *arg)
{
	struct run *r = arg;

	if (try_reap(r))
		return;
	/* The group, so that what the hook started goes too; the leader is
	   not reaped yet, so the group id is still ours. */
	r->killed = 1;
	if (kill(-r->pid, SIGKILL) == -1)
		kill(r->pid, SIGKILL);
	stdin_close(r);
}

/* Opens a pipe, both ends close-on-exec, ours non-blocking. end is the
   index (0 read, 1 write) of ours. */
static int
hook_pipe(int fds[2], int end)
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

static int
spawn(struct run *r, const char *path, int in_child, int err_child)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int e;

	sigemptyset(&none);
	sigfillset(&all);
	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		return e;
	if ((e = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return e;
	}
	/* watcherd blocks the signals of its signalfd and ignores SIGPIPE;
	   a hook starts with neither, in a process group of its own that the
	   timeout can kill whole. */
	if ((e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (e = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (e = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(&attr, &all)) != 0)
		goto done;
	if (in_child != -1)
		e = posix_spawn_file_actions_adddup2(&fa, in_child, 0);
	else
		e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
		    O_RDONLY, 0);
	if (e != 0 ||
	    (e = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null",
	    O_WRONLY, 0)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, err_child, 2)) != 0)
		goto done;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	/* Every descriptor of watcherd is close-on-exec; this makes sure. */
	if ((e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
		goto done;
#endif
	e = posix_spawn(&r->pid, path, &fa, &attr, r->argv, r->env);
done:
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return e;
}

static void
close_fds(int fds[2])
{
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
}

/* Starts a queued run. On failure the run is logged and freed. */
static void
run_start(struct hooks *hs, struct run *r)
{
	char path[4096], fields[1024];
	int in[2] = { -1, -1 }, err[2] = { -1, -1 }, e;
	const char *why = NULL;

	if (resolve_command(r->argv[0], path, sizeof(path)) == -1) {
		e = errno;
		why = "command not found in " HOOK_PATH;
		goto fail;
	}
	if ((r->input && hook_pipe(in, 1) == -1) || hook_pipe(err, 0) == -1) {
		e = errno;
		goto fail;
	}
	e = spawn(r, path, in[0], err[1]);
	if (in[0] != -1)
		close(in[0]);
	close(err[1]);
	in[0] = err[1] = -1;
	if (e != 0)
		goto fail;
	r->in_fd = in[1];
	r->err_fd = err[0];
	r->started_ms = loop_now(hs->loop);
	r->timeout = (struct loop_timer){ .fn = run_timeout, .arg = r };
	r->reap = (struct loop_timer){ .fn = reap_poll, .arg = r };
	loop_timer_arm(hs->loop, &r->timeout,
	    (long long)hs->cfg->hook_timeout_s * 1000);
	r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
	r->pid_io = (struct loop_io){ .fd = r->pidfd, .events = EPOLLIN,
	    .fn = pid_event, .arg = r };
	if (r->pidfd == -1 || loop_add(hs->loop, &r->pid_io) == -1) {
		if (r->pidfd != -1)
			close(r->pidfd);
		r->pidfd = -1;
		r->pid_io.fn = NULL;
		loop_timer_arm(hs->loop, &r->reap, HOOK_REAP_POLL_MS);
	}
	r->err_io = (struct loop_io){ .fd = r->err_fd, .events = EPOLLIN,
	    .fn = stderr_event, .arg = r };
	if (loop_add(hs->loop, &r->err_io) == -1)
		close_io(r, &r->err_io, &r->err_fd);
	if (r->in_fd != -1) {
		r->in_io = (struct loop_io){ .fd = r->in_fd, .events = EPOLLOUT,
		    .fn = stdin_event, .arg = r };
		if (loop_add(hs->loop, &r->in_io) == -1)
			stdin_close(r);
	}
	list_append(&hs->running, r);
	hs->stats.run++;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("hook_started", "%s pid=%d",
		    run_fields(r, fields, sizeof(fields)), (int)r->pid);
	return;
fail:
	close_fds(in);
	close_fds(err);
	hs->stats.failed++;
	log_warn("hook_spawn_failed", "%s reason=\"%s\"",
	    run_fields(r, fields, sizeof(fields)), why ? why : strerror(e));
	run_free(r);
}

/* Starts queued runs while there is room. */
static void
pump(struct hooks *hs)
{
	struct run *r;

	while (hs->running.count < hs->cfg->hook_max_running &&
	    (r = hs->queue.head) != NULL) {
		list_remove(&hs->queue, r);
		run_start(hs, r);
	}
}

/* Queues a run of hook h for the change; input (len bytes, copied) goes
   to its stdin when set. */
static void
run_queue(struct hooks *hs, const struct config_hook *h,
    const struct watch_change *wc, const char *input, size_t len)
{
	char fields[1024];
	struct run *r;
	size_t need;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto nomem;
	r->hs = hs;
	r->pid = -1;
	r->pidfd = r->in_fd = r->err_fd = -1;
	r->proposal = wc->proposal;
	need = run_layout(r, h, wc, NULL, 0);
	if ((r->strings = malloc(need)) == NULL)
		goto nomem;
	run_layout(r, h, wc, r->strings, need);
	if (input) {
		if ((r->input = malloc(len)) == NULL)
			goto nomem;
		memcpy(r->input, input, len);
		r->input_len = len;
	}
	if (hs->running.count >= hs->cfg->hook_max_running &&
	    hs->queue.count >= hs->cfg->hook_queue) {
		hs->stats.dropped++;
		log_warn("hook_dropped", "%s reason=\"hook-queue is full\" "
		    "queued=%zu running=%zu", run_fields(r, fields,
		    sizeof(fields)), hs->queue.count, hs->running.count);
		run_free(r);
		return;
	}
	list_append(&hs->queue, r);
	pump(hs);
	return;
nomem:
	if (r)
		run_free(r);
	hs->stats.dropped++;
	log_error("hook_dropped", "proposal=%u file=%s reason=\"out of memory\"",
	    wc->proposal, wc->file_name);
}

/* Adds the line [p, p + n) and its newline to out, within HOOK_INPUT_MAX. */
static void
lines_add(struct lines *out, const char *p, size_t n)
{
	size_t cap;
	char *b;

	if (out->len + n + 1 > HOOK_INPUT_MAX) {
		out->dropped++;
		return;
	}
	if (out->len + n + 1 > out->cap) {
		cap = out->cap ? out->cap : 4096;
		while (cap < out->len + n + 1)
			cap *= 2;
		if ((b = realloc(out->buf, cap)) == NULL) {
			out->dropped++;
			return;
		}
		out->buf = b;
		out->cap = cap;
	}
	memcpy(out->buf + out->len, p, n);
	out->buf[out->len + n] = '\n';
	out->len += n + 1;
}

/* Reads len bytes at off into buf, from the change's content or its open
   file. Returns the bytes read, or -1. */
static ssize_t
read_range(const struct watch_change *wc, char *buf, size_t len, off_t off)
{
	size_t got = 0;
	ssize_t n;

	if (wc->data) {
		memcpy(buf, wc->data + off, len);
		return (ssize_t)len;
	}
	if (wc->fd == -1)
		return -1;
	while (got < len) {
		n = pread(wc->fd, buf + got, len - got, off + (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * Scans the complete lines appended since *wc->mark (since 0 for a new
 * generation) with every wanted match, collecting the matching lines in
 * out[], and moves the mark past the last newline scanned.
 */
static void
scan_appended(struct hooks *hs, const struct watch_change *wc,
    struct lines *out)
{
	off_t start = *wc->mark, end = wc->st->size, skipped = -1;
	char *buf, *p, *nl;
	size_t i, len;
	ssize_t got;

	if (wc->reset || strcmp(wc->event, "created") == 0 || start > end)
		start = 0;
	if (end - start > HOOK_SCAN_MAX) {
		/* One byte more than the bound: it tells whether the first
		   line in the bound is whole. */
		skipped = end - HOOK_SCAN_MAX - 1 - start;
		start = end - HOOK_SCAN_MAX - 1;
	}
	len = (size_t)(end - start);
	if (len == 0) {
		*wc->mark = start;
		return;
	}
	if ((buf = malloc(len + 1)) == NULL ||
	    (got = read_range(wc, buf, len, start)) < 0) {
		free(buf);
		log_warn("hook_scan_failed", "proposal=%u file=%s bytes=%zu "
		    "reason=\"%s\"", wc->proposal, wc->file_name, len,
		    wc->fd == -1 && !wc->data ? "file not open" :
		    strerror(errno));
		*wc->mark = end;
		return;
	}
	len = (size_t)got;
	p = buf;
	if (skipped >= 0) {
		/* More was appended at once than is scanned: the oldest lines
		   are left out, and the line the bound cuts in half. */
		nl = memchr(buf, '\n', len);
		p = nl ? nl + 1 : buf + len;
		log_warn("hook_scan_skipped", "proposal=%u file=%s bytes=%lld "
		    "reason=\"more than %d bytes appended at once\"",
		    wc->proposal, wc->file_name,
		    (long long)(skipped + (p - buf)), HOOK_SCAN_MAX);
	}
	while ((nl = memchr(p, '\n', (size_t)(buf + len - p))) != NULL) {
		*nl = '\0';
		for (i = 0; i < hs->n_matches; i++)
			if (out[i].wanted && regexec(&hs->matches[i].re, p, 0,
			    NULL, 0) == 0)
				lines_add(&out[i], p, (size_t)(nl - p));
		p = nl + 1;
	}
	/* An incomplete last line waits for its newline (one that alone
	   filled the scan bound was skipped above). */
	*wc->mark = start + (off_t)(p - buf);
	for (i = 0; i < hs->n_matches; i++)
		if (out[i].dropped)
			log_warn("hook_input_truncated", "proposal=%u file=%s "
			    "pattern=%s lines_dropped=%lu reason=\"more than %d "
			    "bytes of matching lines\"", wc->proposal,
			    wc->file_name, hs->matches[i].pattern,
			    out[i].dropped, HOOK_INPUT_MAX);
	free(buf);
}

/* Moves the mark past the last complete line without scanning. */
static void
skip_appended(const struct watch_change *wc)
{
	off_t start = *wc->mark, end = wc->st->size;
	const char *nl;

	if (wc->reset || strcmp(wc->event, "created") == 0 || start > end)
		start = 0;
	if (wc->data == NULL || start == end) {
		*wc->mark = wc->data ? start : end;
		return;
	}
	nl = memrchr(wc->data + start, '\n', (size_t)(end - start));
	*wc->mark = nl ? (off_t)(nl - wc->data) + 1 : start;
}

void
hooks_change(void *arg, const struct watch_change *wc)
{
	struct hooks *hs = arg;
	const struct config *cfg = hs->cfg;
	struct lines out[CONFIG_MAX_HOOKS];
	int exists = wc->st->exists, wanted = 0, m;
	size_t i;

	memset(out, 0, sizeof(out));
	for (i = 0; i < hs->n_matches; i++) {
		out[i].wanted = exists && hs->matches[i].compiled &&
		    fnmatch(hs->matches[i].pattern, wc->file_name,
		    FNM_PATHNAME) == 0;
		wanted |= out[i].wanted;
	}
	if (wanted)
		scan_appended(hs, wc, out);
	else if (exists)
		skip_appended(wc);
	for (i = 0; i < cfg->n_hooks; i++) {
		if (fnmatch(cfg->hooks[i].pattern, wc->file_name,
		    FNM_PATHNAME) != 0)
			continue;
		if ((m = hs->match_of[i]) == -1)
			run_queue(hs, &cfg->hooks[i], wc, NULL, 0);
		else if (out[m].len > 0)
			run_queue(hs, &cfg->hooks[i], wc, out[m].buf, out[m].len);
	}
	for (i = 0; i < hs->n_matches; i++)
		free(out[i].buf);
}

int
hooks_want(void *arg, const char *file_name)
{
	const struct hooks *hs = arg;
	size_t i;

	for (i = 0; i < hs->cfg->n_hooks; i++)
		if (fnmatch(hs->cfg->hooks[i].pattern, file_name,
		    FNM_PATHNAME) == 0)
			return 1;
	return 0;
}

static void
clear_matches(struct hooks *hs)
{
	size_t i;

	for (i = 0; i < hs->n_matches; i++)
		if (hs->matches[i].compiled)
			regfree(&hs->matches[i].re);
	hs->n_matches = 0;
}

void
hooks_reconfigure(struct hooks *hs)
{
	const struct config *cfg = hs->cfg;
	struct match *m;
	size_t i, j;

	clear_matches(hs);
	for (i = 0; i < cfg->n_hook_matches; i++) {
		m = &hs->matches[hs->n_matches++];
		m->pattern = cfg->hook_matches[i].pattern;
		/* The config checked the regex: only memory can fail here, and
		   then the hooks of the pattern stay silent. */
		m->compiled = regcomp(&m->re, cfg->hook_matches[i].regex,
		    REG_EXTENDED | REG_NOSUB) == 0;
		if (!m->compiled)
			log_error("hook_match_failed", "pattern=%s reason=\"cannot "
			    "compile the regex\" action=hooks_disabled",
			    m->pattern);
	}
	for (i = 0; i < cfg->n_hooks; i++) {
		hs->match_of[i] = -1;
		for (j = 0; j < hs->n_matches; j++)
			if (strcmp(cfg->hooks[i].pattern,
			    hs->matches[j].pattern) == 0)
				hs->match_of[i] = (int)j;
	}
	if (cfg->n_hooks)
		log_info("hooks_configured", "hooks=%zu matches=%zu "
		    "max_running=%u queue=%u timeout_s=%u", cfg->n_hooks,
		    hs->n_matches, cfg->hook_max_running, cfg->hook_queue,
		    cfg->hook_timeout_s);
	pump(hs);
}

struct hooks *
hooks_new(struct loop *loop, const struct config *cfg)
{
	struct hooks *hs;

	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		return NULL;
	hs->loop = loop;
	hs->cfg = cfg;
	hooks_reconfigure(hs);
	return hs;
}

void
hooks_free(struct hooks *hs)
{
	char fields[1024];
	struct run *r;

	if (hs == NULL)
		return;
	while ((r = hs->queue.head) != NULL) {
		list_remove(&hs->queue, r);
		run_free(r);
	}
	while ((r = hs->running.head) != NULL) {
		list_remove(&hs->running, r);
		if (kill(-r->pid, SIGKILL) == -1)
			kill(r->pid, SIGKILL);
		/* Reaped now if it died at once; else by init once we are
		   gone. */
		waitpid(r->pid, NULL, WNOHANG);
		log_warn("hook_killed", "%s reason=shutdown",
		    run_fields(r, fields, sizeof(fields)));
		close_io(r, &r->pid_io, &r->pidfd);
		close_io(r, &r->in_io, &r->in_fd);
		close_io(r, &r->err_io, &r->err_fd);
		loop_timer_disarm(hs->loop, &r->timeout);
		loop_timer_disarm(hs->loop, &r->reap);
		run_free(r);
	}
	clear_matches(hs);
	free(hs);
}

void
hooks_stats(const struct hooks *hs, struct hook_stats *out)
{
	*out = hs->stats;
	out->running = hs->running.count;
	out->queued = hs->queue.count;
}
