/*
 * watcherctl tail (see tail.h): a file's last lines, then (-f) what is
 * appended to it, over watcherd's "tail" command, which serves the bytes
 * from an offset on within one generation of the file. The last lines are
 * found by asking for a window at the end of the file and doubling it
 * until it holds enough line ends, up to TAIL_MAX_WINDOW. Following, an
 * event of a subscription on a second connection that names another size
 * or generation than the ones reached is a cue to ask from the offset
 * reached; when an unwatch ends the subscription, a new one takes its
 * place. Output goes to stdout through a buffer of our own with write(2),
 * so a reader that went away (EPIPE) ends the run at once and quietly,
 * with nothing left in stdio to flush.
 */
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fields.h"
#include "common/msg.h"
#include "common/proto.h"
#include "watcherctl/ctl.h"
#include "watcherctl/tail.h"

#define TAIL_FIRST_WINDOW	(64 * 1024)	/* bytes asked for first */
#define TAIL_MAX_WINDOW		(32 * 1024 * 1024) /* the search for -n ends here */
#define TAIL_CHUNK		(1024 * 1024)	/* bytes per request, following */
#define TAIL_MIN_REQUEST	4		/* watcherd's smallest max_bytes */
#define TAIL_MAX_REQUEST	(16 * 1024 * 1024) /* and its largest */
#define TAIL_MATCH_LINE_MAX	(1024 * 1024)	/* --match holds no longer line */
#define TAIL_GENERATION_MAX	64
#define TAIL_OUT_SIZE		65536
#define TAIL_ATTEMPTS		3	/* reads of the last lines cut short by
					   a truncation before giving up */

/* A growable byte buffer, kept NUL-terminated (regexec may look for it). */
struct bytes {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

/* One "tail" reply. */
struct tail_chunk {
	long long	 offset;
	long long	 next_offset;
	long long	 size;
	int		 reset;
	char		 generation[TAIL_GENERATION_MAX];
	char		*data;		/* the payload, malloc()ed */
	size_t		 len;
};

enum tail_result {
	TAIL_OK,
	TAIL_FAILED,	/* errstr set */
	TAIL_GONE,	/* the file does not exist (errstr set) */
	TAIL_RESET,	/* truncated or replaced while the last lines were read */
};

/* --match's view of the line being written out. */
enum line_state {
	LINE_COLLECT,	/* held in line until its newline comes */
	LINE_PASS,	/* too long to hold, matched: printed as it comes */
	LINE_SKIP,	/* too long to hold, no match: dropped */
};

/* What one tail run owns; tail_free() releases it. */
struct tail {
	struct ctl		*ctl;
	const struct target	*t;
	struct proto_client	 events;	/* the subscription, with -f */
	char			 generation[TAIL_GENERATION_MAX]; /* "": none yet */
	long long		 next;		/* the offset to ask from */
	int			 dirty;		/* a change not asked for yet */
	struct bytes		 line;		/* --match: the line held */
	enum line_state		 line_state;
	int			 stdout_closed;
	size_t			 out_len;
	char			 out[TAIL_OUT_SIZE];
};

static int
bytes_append(struct bytes *b, const char *data, size_t n)
{
	size_t cap;
	char *p;

	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	if (b->len + n + 1 > b->cap) {
		for (cap = b->cap ? b->cap : 4096; cap < b->len + n + 1;)
			cap *= 2;
		if ((p = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static struct tail *
tail_new(struct ctl *ctl, const struct target *t)
{
	struct tail *tl;

	if ((tl = calloc(1, sizeof(*tl))) == NULL)
		return NULL;
	tl->ctl = ctl;
	tl->t = t;
	tl->events.fd = -1;
	tl->line_state = LINE_COLLECT;
	return tl;
}

static void
tail_free(struct tail *tl)
{
	proto_client_close(&tl->events);
	free(tl->line.data);
	free(tl);
}

/* Output. */

static int
write_all(struct tail *tl, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(STDOUT_FILENO, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			tl->stdout_closed = errno == EPIPE;
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "write to stdout: %s", strerror(errno));
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
out_flush(struct tail *tl)
{
	size_t len = tl->out_len;

	tl->out_len = 0;
	return write_all(tl, tl->out, len);
}

static int
out_write(struct tail *tl, const char *data, size_t len)
{
	if (len > sizeof(tl->out) - tl->out_len) {
		if (out_flush(tl) == -1)
			return -1;
		if (len > sizeof(tl->out))
			return write_all(tl, data, len);
	}
	memcpy(tl->out + tl->out_len, data, len);
	tl->out_len += len;
	return 0;
}

/* A notice on stderr, after what stdout holds, so that the two interleave
   as they happened. */
static int
tail_notice(struct tail *tl, const char *what)
{
	if (out_flush(tl) == -1)
		return -1;
	fprintf(stderr, "watcherctl: %s: %s\n", tl->t->file_name, what);
	return 0;
}

/* --match. */

/* Whether the len bytes at s (NUL-terminated somewhere after) match. */
static int
line_matches(struct tail *tl, const char *s, size_t len)
{
	regmatch_t m[1] = { { .rm_so = 0, .rm_eo = (regoff_t)len } };

	return regexec(&tl->ctl->match, s, 1, m, REG_STARTEND) == 0;
}

/* Prints a whole line (n bytes, its newline last) when it matches. */
static int
line_print_if(struct tail *tl, const char *s, size_t n)
{
	return line_matches(tl, s, n - 1) ? out_write(tl, s, n) : 0;
}

/*
 * One piece of a line, n bytes; ended when its newline is the last. A line
 * is held until its newline comes, so that it is judged whole; one longer
 * than TAIL_MATCH_LINE_MAX is judged on its start.
 */
static int
match_feed(struct tail *tl, const char *piece, size_t n, int ended)
{
	size_t take;
	int matched, r = 0;

	switch (tl->line_state) {
	case LINE_PASS:
		r = out_write(tl, piece, n);
		break;
	case LINE_SKIP:
		break;
	case LINE_COLLECT:
		if (ended && tl->line.len == 0)
			return line_print_if(tl, piece, n);
		take = n;
		if (!ended && take > TAIL_MATCH_LINE_MAX - tl->line.len)
			take = TAIL_MATCH_LINE_MAX - tl->line.len;
		if (bytes_append(&tl->line, piece, take) == -1) {
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "out of memory");
			return -1;
		}
		if (ended) {
			r = line_print_if(tl, tl->line.data, tl->line.len);
			tl->line.len = 0;
			return r;
		}
		if (tl->line.len < TAIL_MATCH_LINE_MAX)
			return 0;
		matched = line_matches(tl, tl->line.data, tl->line.len);
		if (matched && out_write(tl, tl->line.data, tl->line.len) == -1)
			return -1;
		tl->line.len = 0;
		tl->line_state = matched ? LINE_PASS : LINE_SKIP;
		return match_feed(tl, piece + take, n - take, 0);
	}
	if (ended)
		tl->line_state = LINE_COLLECT;
	return r;
}

/* Forgets the line under way: the file it came from was replaced. */
static void
match_reset(struct tail *tl)
{
	tl->line.len = 0;
	tl->line_state = LINE_COLLECT;
}

/* At the end of a run without -f: the last line, even without its
   newline, is the file's last, and judged as it is. */
static int
match_finish(struct tail *tl)
{
	int r = 0;

	if (tl->ctl->has_match && tl->line_state == LINE_COLLECT &&
	    tl->line.len > 0 && line_matches(tl, tl->line.data, tl->line.len))
		r = out_write(tl, tl->line.data, tl->line.len);
	match_reset(tl);
	return r;
}

/* Writes bytes of the file out: all of them, or with --match the lines
   that match. */
static int
tail_emit(struct tail *tl, const char *data, size_t len)
{
	const char *nl;
	size_t n;

	if (!tl->ctl->has_match)
		return out_write(tl, data, len);
	while (len > 0) {
		nl = memchr(data, '\n', len);
		n = nl ? (size_t)(nl - data) + 1 : len;
		if (match_feed(tl, data, n, nl != NULL) == -1)
			return -1;
		data += n;
		len -= n;
	}
	return 0;
}

/* The protocol. */

/* Checks a "tail" reply against its payload (already in ch->data and
   ch->len) and fills the rest of ch. */
static int
chunk_parse(struct ctl *ctl, struct tail_chunk *ch)
{
	struct msg_tail t;

	if (fields_tail(ctl->reply, ctl->reply_len, &t) == -1 ||
	    t.generation_len >= TAIL_GENERATION_MAX || ch->data == NULL ||
	    (long long)ch->len != t.next_offset - t.offset) {
		snprintf(ctl->errstr, sizeof(ctl->errstr),
		    "watcherd sent a tail reply that does not add up");
		return -1;
	}
	ch->offset = t.offset;
	ch->next_offset = t.next_offset;
	ch->size = t.size;
	ch->reset = t.reset;
	memcpy(ch->generation, t.generation, t.generation_len);
	ch->generation[t.generation_len] = '\0';
	return 0;
}

/*
 * Asks for up to max bytes (clamped to what watcherd takes) from offset
 * on, naming the generation known, if any. On TAIL_OK the caller frees
 * ch->data.
 */
static enum tail_result
tail_call(struct tail *tl, long long offset, long long max,
    struct tail_chunk *ch)
{
	struct ctl *ctl = tl->ctl;
	struct msg_file f = ctl_file(tl->t);
	struct fields_refusal refusal;
	char line[MSG_LINE_MAX];
	enum tail_result r = TAIL_OK;
	struct msg m;

	memset(ch, 0, sizeof(*ch));
	if (max < TAIL_MIN_REQUEST)
		max = TAIL_MIN_REQUEST;
	if (max > TAIL_MAX_REQUEST)
		max = TAIL_MAX_REQUEST;
	msg_init(&m, line, sizeof(line));
	msg_request_tail(&m, &f, offset, max, 0,
	    tl->generation[0] != '\0' ? tl->generation : NULL);
	if (ctl_call(ctl, &ctl->client, &m, 1) == -1) {
		r = TAIL_FAILED;
		if (ctl->reply) {
			fields_refusal(ctl->reply, ctl->reply_len, &refusal);
			if (refusal.error == PROTO_NOT_FOUND)
				r = TAIL_GONE;
		}
		return r;
	}
	ch->data = ctl->payload;
	ch->len = ctl->payload_len;
	ctl->payload = NULL;
	if (chunk_parse(ctl, ch) == -1) {
		free(ch->data);
		ch->data = NULL;
		return TAIL_FAILED;
	}
	return TAIL_OK;
}

/* Takes a reply's generation and end as the ones reached. */
static void
tail_advance(struct tail *tl, const struct tail_chunk *ch)
{
	memcpy(tl->generation, ch->generation, sizeof(tl->generation));
	tl->next = ch->next_offset;
}

/* The last lines. */

/* Where the last n lines of data begin (a final line without its newline
   counts); -1 when fewer line ends precede them. */
static int
last_lines_start(const char *data, size_t len, long long n, size_t *cut)
{
	const char *nl;
	size_t end = len;

	if (n == 0) {
		*cut = len;
		return 0;
	}
	if (end > 0 && data[end - 1] == '\n')
		end--;
	while ((nl = memrchr(data, '\n', end)) != NULL) {
		end = (size_t)(nl - data);
		if (--n == 0) {
			*cut = end + 1;
			return 0;
		}
	}
	return -1;
}

/*
 * Appends the file's bytes [from, to) to buf. Sets *reached to where it
 * stopped: to, or short of it where the file ends inside a character being
 * written (watcherd never cuts one).
 */
static enum tail_result
tail_fetch(struct tail *tl, long long from, long long to, struct bytes *buf,
    long long *reached)
{
	struct tail_chunk ch;
	enum tail_result r;
	size_t take;

	*reached = from;
	while (*reached < to) {
		if ((r = tail_call(tl, *reached, to - *reached, &ch)) != TAIL_OK)
			return r;
		if (ch.reset) {
			free(ch.data);
			return TAIL_RESET;
		}
		tail_advance(tl, &ch);
		take = ch.len < (size_t)(to - *reached) ? ch.len :
		    (size_t)(to - *reached);
		if (bytes_append(buf, ch.data, take) == -1) {
			free(ch.data);
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "out of memory");
			return TAIL_FAILED;
		}
		free(ch.data);
		if (take == 0)
			break;
		*reached += (long long)take;
	}
	return TAIL_OK;
}

/* Puts front before what buf holds. */
static int
bytes_prepend(struct bytes *buf, struct bytes *front)
{
	if (bytes_append(front, buf->data, buf->len) == -1)
		return -1;
	free(buf->data);
	*buf = *front;
	memset(front, 0, sizeof(*front));
	return 0;
}

/*
 * Reads the end of the file into buf, widening the window until it holds
 * the last ctl->lines lines, and sets *cut where they begin. A window of
 * TAIL_MAX_WINDOW that still holds too few begins at its first whole line.
 * Sets tl->next to the end of what was read.
 */
static enum tail_result
tail_last_lines(struct tail *tl, struct bytes *buf, size_t *cut)
{
	struct tail_chunk probe;
	struct bytes front = { NULL, 0, 0 };
	long long start, end, from, window = TAIL_FIRST_WINDOW, reached;
	enum tail_result r;
	const char *nl;

	if ((r = tail_call(tl, 0, TAIL_FIRST_WINDOW, &probe)) != TAIL_OK)
		return r;
	tail_advance(tl, &probe);
	if (probe.next_offset == probe.size) {
		/* All of it at once: the common small log. */
		r = bytes_append(buf, probe.data, probe.len) == -1 ?
		    TAIL_FAILED : TAIL_OK;
		free(probe.data);
		if (r == TAIL_FAILED)
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "out of memory");
		else if (last_lines_start(buf->data, buf->len, tl->ctl->lines,
		    cut) == -1)
			*cut = 0;
		return r;
	}
	free(probe.data);
	start = end = probe.size;
	for (;;) {
		from = end > window ? end - window : 0;
		if ((r = tail_fetch(tl, from, start, &front, &reached)) !=
		    TAIL_OK)
			break;
		if (start == end)
			end = reached;
		else if (reached != start) {
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "watcherd sent less of the file than it has");
			r = TAIL_FAILED;
			break;
		}
		if (bytes_prepend(buf, &front) == -1) {
			snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
			    "out of memory");
			r = TAIL_FAILED;
			break;
		}
		start = from;
		if (last_lines_start(buf->data, buf->len, tl->ctl->lines,
		    cut) == 0)
			break;
		if (start == 0 || window >= TAIL_MAX_WINDOW) {
			nl = start == 0 ? NULL : memchr(buf->data, '\n',
			    buf->len);
			*cut = nl ? (size_t)(nl - buf->data) + 1 : 0;
			break;
		}
		window *= 2;
	}
	free(front.data);
	tl->next = end;
	return r;
}

/* Prints the last lines; a truncation while they are read starts over. */
static int
tail_start(struct tail *tl)
{
	struct bytes buf = { NULL, 0, 0 };
	enum tail_result r = TAIL_RESET;
	size_t cut = 0;
	int attempt;

	for (attempt = 0; attempt < TAIL_ATTEMPTS && r == TAIL_RESET;
	    attempt++) {
		buf.len = 0;
		tl->generation[0] = '\0';
		r = tail_last_lines(tl, &buf, &cut);
	}
	if (r == TAIL_RESET)
		snprintf(tl->ctl->errstr, sizeof(tl->ctl->errstr),
		    "%s: truncated or replaced each time it was read; "
		    "try again", tl->t->file_name);
	else if (r == TAIL_OK && tail_emit(tl, buf.data + cut,
	    buf.len - cut) == -1)
		r = TAIL_FAILED;
	free(buf.data);
	return r == TAIL_OK ? 0 : -1;
}

/* Following. */

/* Whether two generations are of the same file: watcherd makes them
   "<inode>-<truncations>". */
static int
same_file(const char *a, const char *b)
{
	const char *da = strrchr(a, '-'), *db = strrchr(b, '-');

	if (da == NULL || db == NULL)
		return 1;
	return da - a == db - b && memcmp(a, b, (size_t)(da - a)) == 0;
}

/*
 * Asks from the offset reached until the end of the file (a big append
 * comes in chunks), or until watcherd holds a character back that is
 * being written. A file gone meanwhile is waited for: its "deleted" event
 * is on its way.
 */
static int
tail_catch_up(struct tail *tl)
{
	struct tail_chunk ch;
	enum tail_result r;
	int more;

	do {
		if ((r = tail_call(tl, tl->next, TAIL_CHUNK, &ch)) == TAIL_GONE)
			return 0;
		if (r != TAIL_OK)
			return -1;
		if (ch.reset) {
			match_reset(tl);
			if (tail_notice(tl, same_file(tl->generation,
			    ch.generation) ? "file truncated" :
			    "has been replaced; following new file") == -1) {
				free(ch.data);
				return -1;
			}
		}
		tail_advance(tl, &ch);
		more = ch.len > 0 && ch.next_offset < ch.size;
		r = tail_emit(tl, ch.data, ch.len) == -1 ? TAIL_FAILED : TAIL_OK;
		free(ch.data);
		if (r != TAIL_OK)
			return -1;
	} while (more);
	return 0;
}

/* The size an event names, or -1. */
static long long
event_size(const struct fields_event *ev)
{
	return ev->has_state && ev->st.exists ? ev->st.size : -1;
}

/* Whether an event may bring bytes not asked for yet: not when it names
   the generation we have and the size we reached. */
static int
event_is_news(const struct tail *tl, const struct fields_event *ev)
{
	if (event_size(ev) != tl->next || ev->generation == NULL)
		return 1;
	return ev->generation_len != strlen(tl->generation) ||
	    memcmp(ev->generation, tl->generation, ev->generation_len) != 0;
}

/* Subscribes on a connection of its own, before the last lines are read,
   so that no change after them goes unseen. */
static int
tail_subscribe(struct tail *tl)
{
	struct ctl *ctl = tl->ctl;
	struct msg_file f = ctl_file(tl->t);
	char line[MSG_LINE_MAX];
	struct msg m;

	msg_init(&m, line, sizeof(line));
	msg_request_file(&m, "subscribe", &f);
	if (ctl_connect(ctl, &tl->events) == -1)
		return -1;
	return ctl_call(ctl, &tl->events, &m, 0);
}

/* An operator's unwatch ended the subscription, and no event follows on
   it: subscribe again at once, then ask from the offset reached for what
   came while there was none. */
static int
tail_resubscribe(struct tail *tl)
{
	proto_client_close(&tl->events);
	tl->dirty = 1;
	return tail_subscribe(tl);
}

/* Takes one event: a "changed" with news is noted, to be asked for once;
   "deleted" and "created" are told at once. */
static int
tail_event(struct tail *tl, const struct fields_event *ev)
{
	const char *name = ev->name;

	if (strcmp(name, "changed") == 0)
		tl->dirty |= event_is_news(tl, ev);
	else if (strcmp(name, "deleted") == 0) {
		tl->dirty = 0;
		return tail_notice(tl, "has been deleted; following the name");
	} else if (strcmp(name, "created") == 0) {
		/* A new file: all of it, whatever generation (and nothing to
		   ask for while it is empty). */
		tl->next = 0;
		tl->generation[0] = '\0';
		tl->dirty = event_size(ev) != 0;
		match_reset(tl);
		return tail_notice(tl, "has appeared; following new file");
	} else if (strcmp(name, "unwatched") == 0)
		return tail_resubscribe(tl);
	return 0;
}

/* Takes every event the subscription holds (after "unwatched", those of
   the new one). */
static int
tail_events(struct tail *tl)
{
	struct fields_event ev;
	char *line;
	int r;

	while ((r = ctl_event_next(tl->ctl, &tl->events, &ev, &line)) == 1)
		if (tail_event(tl, &ev) == -1)
			return -1;
	return r;
}

/* The subscription came first, so every change after the last lines were
   read has an event on its way. */
static int
tail_follow(struct tail *tl)
{
	int r;

	for (;;) {
		if (tail_events(tl) == -1)
			return -1;
		if (tl->dirty && tail_catch_up(tl) == -1)
			return -1;
		tl->dirty = 0;
		if (out_flush(tl) == -1)
			return -1;
		if ((r = ctl_wait_readable(tl->ctl, tl->events.fd)) <= 0)
			return r;
		if (ctl_events_fill(tl->ctl, &tl->events) == -1)
			return -1;
	}
}

static int
tail_run(struct tail *tl)
{
	struct ctl *ctl = tl->ctl;

	if (ctl_connect(ctl, &ctl->client) == -1)
		return -1;
	if (ctl->follow && (ctl_signals_catch(ctl) == -1 ||
	    tail_subscribe(tl) == -1))
		return -1;
	if (tail_start(tl) == -1)
		return -1;
	if (!ctl->follow)
		return match_finish(tl);
	return tail_follow(tl);
}

int
tail_command(struct ctl *ctl, const struct target *t)
{
	struct tail *tl;
	int r;

	if ((tl = tail_new(ctl, t)) == NULL) {
		snprintf(ctl->errstr, sizeof(ctl->errstr), "out of memory");
		return -1;
	}
	/* A closed stdout shows as EPIPE, and ends the run quietly. */
	signal(SIGPIPE, SIG_IGN);
	r = tail_run(tl);
	if (r == 0)
		r = out_flush(tl);
	if (tl->stdout_closed)
		r = 0;
	tail_free(tl);
	return r;
}
