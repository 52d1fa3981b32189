#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include "common/crc.h"
#include "common/log.h"
#include "watcherd/hook.h"
#include "watcherd/loop.h"
#include "watcherd/proc.h"

#define HOOK_SCAN_MAX		(4 << 20)	/* appended bytes scanned per change */
#define HOOK_INPUT_MAX		(256 << 10)	/* matching bytes given to one run */
#define HOOK_NAME_MAX		256		/* bytes of the command logged */
#define HOOK_ENV		6
#define FIELDS_MAX		(2 * LOG_VALUE_MAX + 64) /* run_fields */

/* One execution of a hook: queued, then running. Owns copies of everything
   it needs, so that a reload never pulls anything from under it. */
struct run {
	struct hooks		*hs;
	TAILQ_ENTRY(run)	 entry;		/* in queue or running */
	char			*argv[CONFIG_MAX_HOOK_ARGS + 1];
	char			*env[HOOK_ENV + 1];
	char			*strings;	/* owns argv's and env's */
	char			*file_name;	/* in strings */
	const char		*event;		/* in strings */
	unsigned		 proposal;
	char			*input;		/* the matching lines, or NULL */
	size_t			 input_len;
	struct proc		*proc;		/* while running */
};

struct run_list {
	TAILQ_HEAD(, run)	 runs;		/* oldest first */
	size_t			 count;
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
	TAILQ_INSERT_TAIL(&l->runs, r, entry);
	l->count++;
}

static void
list_remove(struct run_list *l, struct run *r)
{
	TAILQ_REMOVE(&l->runs, r, entry);
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
	r->env[5] = put(buf, cap, &used, "PATH=%s", PROC_PATH);
	r->env[6] = NULL;
	r->file_name = put(buf, cap, &used, "%s", wc->file_name);
	r->event = put(buf, cap, &used, "%s", wc->event);
	return used;
}

/* The log fields every line about a run starts with, in out. */
static const char *
run_fields(const struct run *r, char *out, size_t outlen)
{
	size_t len = strlen(r->argv[0]);

	snprintf(out, outlen, "hook=%s proposal=%u file=%s change=%s",
	    log_strn(r->argv[0], len < HOOK_NAME_MAX ? len : HOOK_NAME_MAX),
	    r->proposal, log_str(r->file_name), r->event);
	return out;
}

/* The run's process has ended, or did not start: logs how, and frees the
   run. */
static void
run_done(void *arg, const struct proc_result *res)
{
	struct run *r = arg;
	struct hooks *hs = r->hs;
	char fields[FIELDS_MAX], dropped[64] = "";
	long long ms = res->duration_ms;
	int status = res->status;

	if (res->stderr_dropped)
		snprintf(dropped, sizeof(dropped), " stderr_lines_dropped=%lu",
		    res->stderr_dropped);
	run_fields(r, fields, sizeof(fields));
	if (res->end == PROC_NOT_STARTED) {
		hs->stats.failed++;
		log_warn("hook_spawn_failed", "%s reason=%s", fields,
		    log_str(res->reason));
	} else if (res->end == PROC_LOST) {
		hs->stats.failed++;
		log_warn("hook_failed", "%s reason=\"not our child any more\" "
		    "duration_ms=%lld%s", fields, ms, dropped);
	} else if (res->end == PROC_TIMED_OUT) {
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
	run_free(r);
	pump(hs);
}

/* Starts a queued run; how it ends (or why it did not start) comes to
   run_done. */
static void
run_start(struct hooks *hs, struct run *r)
{
	char fields[FIELDS_MAX];
	struct proc_spec spec = {
		.argv = r->argv,
		.env = r->env,
		.input = r->input,
		.input_len = r->input_len,
		.timeout_ms = (long long)hs->cfg->hook_timeout_s * 1000,
		.stderr_event = "hook_stderr",
		.log_fields = run_fields(r, fields, sizeof(fields)),
	};

	if ((r->proc = proc_start(hs->loop, &spec, run_done, r)) == NULL) {
		hs->stats.failed++;
		log_warn("hook_spawn_failed", "%s reason=%s", fields,
		    log_str(strerror(errno)));
		run_free(r);
		return;
	}
	list_append(&hs->running, r);
	if (proc_pid(r->proc) == -1)
		return;		/* run_done will say why */
	hs->stats.run++;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("hook_started", "%s pid=%d", fields,
		    (int)proc_pid(r->proc));
}

/* Starts queued runs while there is room. */
static void
pump(struct hooks *hs)
{
	struct run *r;

	while (hs->running.count < hs->cfg->hook_max_running &&
	    (r = TAILQ_FIRST(&hs->queue.runs)) != NULL) {
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
	char fields[FIELDS_MAX];
	struct run *r;
	size_t need;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto nomem;
	r->hs = hs;
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
	    wc->proposal, log_str(wc->file_name));
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
		    "reason=%s", wc->proposal, log_str(wc->file_name), len,
		    log_str(wc->fd == -1 && !wc->data ? "file not open" :
		    strerror(errno)));
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
		    wc->proposal, log_str(wc->file_name),
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
			    log_str(wc->file_name),
			    log_str(hs->matches[i].pattern),
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
			    log_str(m->pattern));
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
	TAILQ_INIT(&hs->queue.runs);
	TAILQ_INIT(&hs->running.runs);
	hooks_reconfigure(hs);
	return hs;
}

void
hooks_free(struct hooks *hs)
{
	char fields[FIELDS_MAX];
	struct run *r;

	if (hs == NULL)
		return;
	while ((r = TAILQ_FIRST(&hs->queue.runs)) != NULL) {
		list_remove(&hs->queue, r);
		run_free(r);
	}
	while ((r = TAILQ_FIRST(&hs->running.runs)) != NULL) {
		list_remove(&hs->running, r);
		proc_abandon(r->proc);
		log_warn("hook_killed", "%s reason=shutdown",
		    run_fields(r, fields, sizeof(fields)));
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
