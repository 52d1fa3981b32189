/*
 * The load generator behind `make bench` (tests/bench/run). Each subcommand
 * measures one thing against a running watcherd and prints one line of
 * key=value pairs for the script to format:
 *
 *   bench wait     --socket S [--timeout-ms T]
 *   bench populate --dir AMORE --files N [--size BYTES]
 *   bench rps      --socket S --proposal P --file F [--seconds X]
 *                  [--requests N] [--depth D] [--new-conn]
 *   bench latency  --socket S --proposal P --file F --path PATH
 *                  --style inplace|rename|append [--count N] [--quiet-ms Q]
 *                  [--timeout-ms T]
 *   bench lat-many --socket S --proposal P --files N [--requests R]
 *                  [--rounds K] [--baseline-socket S1]
 *   bench floor    [--seconds X]
 *   bench push-latency --port PORT --proposal P --file F --path PATH
 *                  [--prefix /filehandler] [--count N] [--wait-s W]
 *                  [--poll-ms M] [--idle-ms I] [--close-writes]
 *
 * All but push-latency talk to watcherd's socket; push-latency talks HTTP
 * to lighttpd on 127.0.0.1:PORT. The hot loops write preformatted request
 * lines and only look at the first bytes of each reply, so that the client
 * is not what is measured.
 * Exit status: 0, or 1 with a message on stderr when something could not
 * be run (a refused request, a lost connection, a bad flag).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <json-c/json.h>
#include <zlib.h>

#include "common/crc.h"
#include "common/proto.h"

#define BENCH_READ_BUF		(PROTO_MAX_LINE + 2)
#define BENCH_MAX_DEPTH		1024
#define BENCH_MAX_FILES		1000000
#define BENCH_REPLY_TIMEOUT_S	10
#define BENCH_REQUEST_MAX	512
#define BENCH_OK_PREFIX		"{\"ok\":true"

struct options {
	const char	*socket_path;
	const char	*file;
	const char	*path;
	const char	*dir;
	const char	*style;
	unsigned	 proposal;
	double		 seconds;
	unsigned long	 requests;
	unsigned	 depth;
	int		 new_conn;
	unsigned	 count;
	unsigned	 quiet_ms;
	unsigned	 timeout_ms;
	unsigned	 files;
	unsigned	 size;		/* populate: bytes per file, or a line */
	unsigned	 rounds;
	const char	*baseline_socket;
	unsigned	 port;
	const char	*prefix;
	unsigned	 wait_s;
	unsigned	 poll_ms;
	unsigned	 idle_ms;
	int		 close_writes;	/* push-latency: open, write, close */
};

/* One client connection with its own line buffer. */
struct conn {
	int	 fd;
	size_t	 off;		/* first byte not yet taken as a line */
	size_t	 len;		/* bytes held */
	char	 buf[BENCH_READ_BUF];
};

static void fatal(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
compare_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile p (0 < p <= 1) of n sorted values. */
static long long
percentile(const long long *sorted, size_t n, double p)
{
	size_t rank = (size_t)ceil(p * (double)n);

	if (n == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static long long
mean(const long long *v, size_t n)
{
	long double sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += v[i];
	return n ? (long long)(sum / n) : 0;
}

/* Connects a blocking socket whose reads give up after
   BENCH_REPLY_TIMEOUT_S, so that a daemon that stops answering ends the
   run instead of hanging it. Returns the descriptor or -1 with errno. */
static int
connect_socket(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = BENCH_REPLY_TIMEOUT_S };
	int fd, saved;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void
conn_open(struct conn *c, const char *path)
{
	c->off = c->len = 0;
	if ((c->fd = connect_socket(path)) == -1)
		fatal("cannot connect to watcherd at %s: %s", path,
		    strerror(errno));
}

static void
conn_close(struct conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

static void
conn_write(struct conn *c, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fatal("write to watcherd: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
}

/* Takes the next complete line held, NUL-terminated in place without its
   newline. Returns 1, or 0 when none is held. */
static int
conn_next_line(struct conn *c, char **line, size_t *len)
{
	char *nl;

	if (c->off == c->len)
		return 0;
	if ((nl = memchr(c->buf + c->off, '\n', c->len - c->off)) == NULL)
		return 0;
	*nl = '\0';
	*line = c->buf + c->off;
	*len = (size_t)(nl - *line);
	c->off += *len + 1;
	return 1;
}

/* Reads once, blocking (bounded by the socket's receive timeout). */
static void
conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->off == c->len)
		c->off = c->len = 0;
	else if (c->off > 0 && c->len == sizeof(c->buf)) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof(c->buf))
		fatal("reply line longer than %d bytes", PROTO_MAX_LINE);
	do
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		fatal("no reply from watcherd within %d s",
		    BENCH_REPLY_TIMEOUT_S);
	if (n == -1)
		fatal("read from watcherd: %s", strerror(errno));
	if (n == 0)
		fatal("watcherd closed the connection");
	c->len += (size_t)n;
}

/* Waits up to deadline_ns for bytes. Returns 1 when some were read, 0 at
   the deadline. */
static int
conn_fill_until(struct conn *c, long long deadline_ns)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	long long left;
	int r;

	for (;;) {
		left = deadline_ns - now_ns();
		if (left <= 0)
			return 0;
		/* Rounded up, so that poll never wakes just short of the
		   deadline and spins. */
		r = poll(&pfd, 1, (int)((left + 999999) / 1000000));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			fatal("poll: %s", strerror(errno));
		if (r > 0) {
			conn_fill(c);
			return 1;
		}
	}
}

/* Reads the next line, however many reads it takes. */
static void
conn_read_line(struct conn *c, char **line, size_t *len)
{
	while (!conn_next_line(c, line, len))
		conn_fill(c);
}

static void
check_reply(const char *line, const char *what)
{
	if (strncmp(line, BENCH_OK_PREFIX, sizeof(BENCH_OK_PREFIX) - 1) != 0)
		fatal("%s: watcherd answered %s", what, line);
}

/* Formats a request line (newline included) for a file. Returns its
   length. */
static size_t
format_request(char *out, size_t outlen, const char *cmd, unsigned proposal,
    const char *file)
{
	int n;

	n = snprintf(out, outlen,
	    "{\"cmd\":\"%s\",\"proposal\":%u,\"file_name\":\"%s\"}\n",
	    cmd, proposal, file);
	if (n < 0 || (size_t)n >= outlen)
		fatal("file name too long: %s", file);
	return (size_t)n;
}

static void
check_file_name(const char *file)
{
	const unsigned char *p;

	if (file == NULL || *file == '\0')
		fatal("--file is required");
	/* The request lines are formatted, not serialised. */
	for (p = (const unsigned char *)file; *p; p++)
		if (*p == '"' || *p == '\\' || *p < 0x20)
			fatal("file name needs JSON escaping, not supported: %s",
			    file);
}

/* wait: pings until the daemon answers or the time is up. */
static int
cmd_wait(const struct options *o)
{
	long long deadline = now_ns() + o->timeout_ms * 1000000LL;
	struct proto_client pc;
	struct json_object *reply, *ok;
	const char ping[] = "{\"cmd\":\"ping\"}";
	char errstr[sizeof(pc.errstr)] = "not tried";
	int up;

	for (;;) {
		up = 0;
		if (proto_client_connect(&pc, o->socket_path, 1000) == 0 &&
		    proto_client_send_line(&pc, ping, sizeof(ping) - 1) == 0 &&
		    proto_client_read(&pc, &reply, NULL, NULL) == 0) {
			up = json_object_object_get_ex(reply, "ok", &ok) &&
			    json_object_get_boolean(ok);
			json_object_put(reply);
		}
		if (!up)
			memcpy(errstr, pc.errstr, sizeof(errstr));
		proto_client_close(&pc);
		if (up) {
			printf("wait up=1\n");
			return 0;
		}
		if (now_ns() >= deadline)
			fatal("watcherd did not answer on %s within %u ms: %s",
			    o->socket_path, o->timeout_ms, errstr);
		usleep(10000);
	}
}

/* The name of the i-th of many files, below the DAMNIT folder. */
static void
many_name(unsigned i, char *out, size_t outlen)
{
	snprintf(out, outlen, "bench/d%02u/f%03u.log", i / 100, i % 100);
}

/* Opens path with flags (and mode 0644 if it creates it), writes the len
   bytes of content and closes it; exits on failure. */
static void
write_file(const char *path, int flags, const char *content, size_t len)
{
	int fd;

	if ((fd = open(path, flags | O_CLOEXEC, 0644)) == -1)
		fatal("open %s: %s", path, strerror(errno));
	if (write(fd, content, len) != (ssize_t)len)
		fatal("write %s: %s", path, strerror(errno));
	close(fd);
}

/* populate: creates the many files that lat-many asks about, each a line
   naming it, or --size bytes of such lines. */
static int
cmd_populate(const struct options *o)
{
	char rel[64], path[PATH_MAX], line[64];
	char *body;
	size_t len, n;
	unsigned i;

	if (o->dir == NULL)
		fatal("populate: --dir is required");
	snprintf(path, sizeof(path), "%s/bench", o->dir);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		fatal("mkdir %s: %s", path, strerror(errno));
	len = o->size > 0 ? o->size : sizeof(line);
	if ((body = malloc(len)) == NULL)
		fatal("out of memory");
	for (i = 0; i < o->files; i++) {
		if (i % 100 == 0) {
			snprintf(path, sizeof(path), "%s/bench/d%02u", o->dir,
			    i / 100);
			if (mkdir(path, 0755) == -1 && errno != EEXIST)
				fatal("mkdir %s: %s", path, strerror(errno));
		}
		many_name(i, rel, sizeof(rel));
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", o->dir, rel) >=
		    sizeof(path))
			fatal("path too long below %s", o->dir);
		n = (size_t)snprintf(line, sizeof(line), "bench file %u\n", i);
		if (o->size == 0)
			memcpy(body, line, len = n);
		else
			for (size_t at = 0; at < len; at += n)
				memcpy(body + at, line, at + n <= len ? n :
				    len - at);
		write_file(path, O_WRONLY | O_CREAT | O_TRUNC, body, len);
	}
	free(body);
	printf("populate files=%u\n", o->files);
	return 0;
}

/* rps over one connection: depth requests in flight, refilled as replies
   come; depth 1 is ping-pong. */
static unsigned long
rps_persistent(const struct options *o, const char *req, size_t reqlen,
    long long end_ns)
{
	struct conn *c;
	char *reqs, *line;
	size_t len, k;
	unsigned long sent = 0, done = 0;
	unsigned outstanding = 0, free_slots;

	if ((c = malloc(sizeof(*c))) == NULL ||
	    (reqs = malloc(reqlen * o->depth)) == NULL)
		fatal("out of memory");
	for (k = 0; k < o->depth; k++)
		memcpy(reqs + k * reqlen, req, reqlen);
	conn_open(c, o->socket_path);
	for (;;) {
		free_slots = o->depth - outstanding;
		if (o->requests && free_slots > o->requests - sent)
			free_slots = (unsigned)(o->requests - sent);
		/* The clock is read once per batch: cheap, and the batch is
		   at most depth requests long. */
		if (free_slots > 0 && now_ns() < end_ns) {
			conn_write(c, reqs, reqlen * free_slots);
			sent += free_slots;
			outstanding += free_slots;
		}
		if (outstanding == 0)
			break;
		conn_fill(c);
		while (conn_next_line(c, &line, &len)) {
			check_reply(line, "checksum");
			outstanding--;
			done++;
		}
	}
	conn_close(c);
	free(reqs);
	free(c);
	return done;
}

/* rps with a new connection for each request. */
static unsigned long
rps_new_conn(const struct options *o, const char *req, size_t reqlen,
    long long end_ns)
{
	struct conn *c;
	char *line;
	size_t len;
	unsigned long done = 0;

	if ((c = malloc(sizeof(*c))) == NULL)
		fatal("out of memory");
	while ((!o->requests || done < o->requests) && now_ns() < end_ns) {
		conn_open(c, o->socket_path);
		conn_write(c, req, reqlen);
		conn_read_line(c, &line, &len);
		check_reply(line, "checksum");
		conn_close(c);
		done++;
	}
	free(c);
	return done;
}

static int
cmd_rps(const struct options *o)
{
	char req[BENCH_REQUEST_MAX];
	size_t reqlen;
	long long start, end;
	unsigned long done;
	double secs;

	check_file_name(o->file);
	if (o->depth < 1 || o->depth > BENCH_MAX_DEPTH)
		fatal("--depth must be 1 to %d", BENCH_MAX_DEPTH);
	reqlen = format_request(req, sizeof(req), "checksum", o->proposal,
	    o->file);
	start = now_ns();
	end = start + (long long)(o->seconds * 1e9);
	if (o->new_conn)
		done = rps_new_conn(o, req, reqlen, end);
	else
		done = rps_persistent(o, req, reqlen, end);
	secs = (double)(now_ns() - start) / 1e9;
	printf("rps requests=%lu seconds=%.3f per_s=%.0f depth=%u new_conn=%d\n",
	    done, secs, done / secs, o->new_conn ? 1 : o->depth, o->new_conn);
	return 0;
}

/* The "checksum":"xxxxxxxx" member of an event line, or NULL. */
static const char *
event_checksum(const char *line)
{
	const char key[] = "\"checksum\":\"";
	const char *p;

	if (strncmp(line, "{\"event\":", 9) != 0 ||
	    (p = strstr(line, key)) == NULL)
		return NULL;
	return p + sizeof(key) - 1;
}

enum save_style { SAVE_INPLACE, SAVE_RENAME, SAVE_APPEND };

/* Saves content to path the way an editor does (or appends it, as
   `echo >>` does); *t0 is the time just before the save's first syscall
   on path (the rename, or the open). */
static void
save_file(const char *path, const char *tmp, const char *content,
    size_t len, enum save_style style, long long *t0)
{
	if (style == SAVE_APPEND) {
		*t0 = now_ns();
		write_file(path, O_WRONLY | O_APPEND, content, len);
	} else if (style == SAVE_RENAME) {
		write_file(tmp, O_WRONLY | O_CREAT | O_TRUNC, content, len);
		*t0 = now_ns();
		if (rename(tmp, path) == -1)
			fatal("rename %s: %s", tmp, strerror(errno));
	} else {
		*t0 = now_ns();
		write_file(path, O_WRONLY | O_TRUNC, content, len);
	}
}

/* latency: subscribes to a file, saves it count times, and times each
   save until the event that carries the new content's checksum. */
static int
cmd_latency(const struct options *o)
{
	struct conn *c;
	char req[BENCH_REQUEST_MAX], tmp[PATH_MAX], content[256];
	char hex[CRC_HEX_LEN + 1];
	char *line;
	const char *sum;
	long long *lat, *save, *after, t0, t1, deadline;
	size_t reqlen, len, n = 0;
	unsigned i, missed = 0, extra = 0;
	enum save_style style;
	uint32_t crc = 0;
	int clen, seen, fd;

	check_file_name(o->file);
	if (o->path == NULL || o->style == NULL)
		fatal("latency: --path and --style are required");
	if (strcmp(o->style, "inplace") == 0)
		style = SAVE_INPLACE;
	else if (strcmp(o->style, "rename") == 0)
		style = SAVE_RENAME;
	else if (strcmp(o->style, "append") == 0)
		style = SAVE_APPEND;
	else
		fatal("--style must be inplace, rename or append");
	if (style == SAVE_APPEND) {
		/* The event carries the checksum of the whole file. */
		if ((fd = open(o->path, O_RDONLY | O_CLOEXEC)) == -1 ||
		    crc_fd(fd, &crc, &len) == -1)
			fatal("read %s: %s", o->path, strerror(errno));
		close(fd);
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.bench-tmp", o->path) >=
	    sizeof(tmp))
		fatal("path too long: %s", o->path);
	if ((c = malloc(sizeof(*c))) == NULL ||
	    (lat = calloc(o->count ? o->count : 1, sizeof(*lat))) == NULL ||
	    (save = calloc(o->count ? o->count : 1, sizeof(*save))) == NULL ||
	    (after = calloc(o->count ? o->count : 1, sizeof(*after))) == NULL)
		fatal("out of memory");
	conn_open(c, o->socket_path);
	reqlen = format_request(req, sizeof(req), "subscribe", o->proposal,
	    o->file);
	conn_write(c, req, reqlen);
	conn_read_line(c, &line, &len);
	check_reply(line, "subscribe");

	for (i = 0; i < o->count; i++) {
		/* Every save has new content, so that every save is a change
		   and its event is told apart by its checksum. */
		clen = snprintf(content, sizeof(content),
		    "# watcherd bench: %s save %u of %u at %lld\n",
		    o->style, i + 1, o->count, now_ns());
		if (style == SAVE_APPEND)
			crc = (uint32_t)crc32(crc, (const Bytef *)content,
			    (uInt)clen);
		else
			crc = crc_buffer(content, (size_t)clen);
		crc_format(crc, hex);
		save_file(o->path, tmp, content, (size_t)clen, style, &t0);
		/* How long the save itself took: under I/O load, ext4 can
		   stall a truncate or rename-over (auto_da_alloc), and that
		   counts in the latency too. */
		save[i] = now_ns() - t0;
		deadline = t0 + o->timeout_ms * 1000000LL;
		seen = 0;
		while (!seen) {
			while (!seen && conn_next_line(c, &line, &len)) {
				sum = event_checksum(line);
				if (sum && strncmp(sum, hex, CRC_HEX_LEN) == 0) {
					t1 = now_ns();
					after[n] = t1 - t0 - save[i];
					lat[n++] = t1 - t0;
					seen = 1;
				} else
					extra++;
			}
			if (!seen && !conn_fill_until(c, deadline))
				break;
		}
		if (!seen)
			missed++;
		/* Lets the daemon settle completely, and counts any event
		   that comes late, before the next save. */
		deadline = now_ns() + o->quiet_ms * 1000000LL;
		do
			while (conn_next_line(c, &line, &len))
				extra++;
		while (conn_fill_until(c, deadline));
	}
	conn_close(c);
	unlink(tmp);

	qsort(lat, n, sizeof(*lat), compare_ll);
	qsort(after, n, sizeof(*after), compare_ll);
	qsort(save, o->count, sizeof(*save), compare_ll);
	printf("latency style=%s count=%u missed=%u extra=%u min_ms=%.3f "
	    "median_ms=%.3f p99_ms=%.3f max_ms=%.3f save_p99_ms=%.3f "
	    "save_max_ms=%.3f after_median_ms=%.3f after_p99_ms=%.3f\n",
	    o->style, o->count,
	    missed, extra, n ? lat[0] / 1e6 : NAN,
	    n ? percentile(lat, n, 0.5) / 1e6 : NAN,
	    n ? percentile(lat, n, 0.99) / 1e6 : NAN,
	    n ? lat[n - 1] / 1e6 : NAN,
	    percentile(save, o->count, 0.99) / 1e6,
	    o->count ? save[o->count - 1] / 1e6 : NAN,
	    n ? percentile(after, n, 0.5) / 1e6 : NAN,
	    n ? percentile(after, n, 0.99) / 1e6 : NAN);
	free(after);
	free(save);
	free(lat);
	free(c);
	return 0;
}

/* One daemon's side of lat-many: its connection, the requests it is sent
   round-robin, and the latencies measured. */
struct lat_target {
	struct conn	*c;
	unsigned	 files;
	unsigned long	 next;		/* requests sent: round-robin index */
	unsigned long	 n;		/* latencies held */
	long long	*lat;
	unsigned	 polled;
};

static void
lat_target_open(struct lat_target *lt, const char *path, unsigned files,
    unsigned long requests)
{
	memset(lt, 0, sizeof(*lt));
	lt->files = files;
	if ((lt->c = malloc(sizeof(*lt->c))) == NULL ||
	    (lt->lat = calloc(requests, sizeof(*lt->lat))) == NULL)
		fatal("out of memory");
	conn_open(lt->c, path);
}

static void
lat_target_close(struct lat_target *lt)
{
	conn_close(lt->c);
	free(lt->c);
	free(lt->lat);
}

/* Sends count requests one at a time; records their latencies when
   record is set. */
static void
lat_target_run(struct lat_target *lt, const char *reqs, const size_t *offs,
    unsigned long count, int record)
{
	char *line;
	size_t len, k;
	long long t0, t1;
	unsigned long i;

	for (i = 0; i < count; i++) {
		k = lt->next++ % lt->files;
		t0 = now_ns();
		conn_write(lt->c, reqs + offs[k], offs[k + 1] - offs[k]);
		conn_read_line(lt->c, &line, &len);
		t1 = now_ns();
		check_reply(line, "checksum");
		if (record)
			lt->lat[lt->n++] = t1 - t0;
	}
}

/* Asks for each file once, which starts its watch. */
static void
lat_target_warm(struct lat_target *lt, const char *reqs, const size_t *offs)
{
	char *line;
	size_t len;
	unsigned i;

	for (i = 0; i < lt->files; i++) {
		conn_write(lt->c, reqs + offs[i], offs[i + 1] - offs[i]);
		conn_read_line(lt->c, &line, &len);
		check_reply(line, "checksum");
		if (strstr(line, "\"mode\":\"poll\""))
			lt->polled++;
	}
}

static void
lat_target_print(struct lat_target *lt, const char *prefix)
{
	qsort(lt->lat, lt->n, sizeof(*lt->lat), compare_ll);
	printf(" %sfiles=%u %spolled=%u %smean_us=%.1f %smedian_us=%.1f "
	    "%sp99_us=%.1f %smax_us=%.1f", prefix, lt->files, prefix,
	    lt->polled, prefix, mean(lt->lat, lt->n) / 1e3, prefix,
	    percentile(lt->lat, lt->n, 0.5) / 1e3, prefix,
	    percentile(lt->lat, lt->n, 0.99) / 1e3, prefix,
	    lt->n ? lt->lat[lt->n - 1] / 1e3 : 0);
}

/*
 * lat-many: asks the daemon at --socket about each of --files files once
 * (which starts their watches), then times requests one at a time,
 * round-robin over them. With --baseline-socket, a second daemon is asked
 * about the first file only, and the two are measured in alternating
 * rounds, so that a drift of the machine's speed during the run (common on
 * virtual machines) shows in both figures and not in their ratio.
 */
static int
cmd_lat_many(const struct options *o)
{
	struct lat_target many, one;
	char name[64], *reqs;
	size_t *offs;
	unsigned long per_round, left, chunk;
	unsigned i, round;
	int baseline = o->baseline_socket != NULL;

	if (o->files < 1 || o->files > BENCH_MAX_FILES)
		fatal("--files must be 1 to %d", BENCH_MAX_FILES);
	if (o->requests < 1 || o->rounds < 1)
		fatal("--requests and --rounds must be at least 1");
	if ((reqs = malloc((size_t)o->files * BENCH_REQUEST_MAX)) == NULL ||
	    (offs = calloc((size_t)o->files + 1, sizeof(*offs))) == NULL)
		fatal("out of memory");
	for (i = 0; i < o->files; i++) {
		many_name(i, name, sizeof(name));
		offs[i + 1] = offs[i] + format_request(reqs + offs[i],
		    BENCH_REQUEST_MAX, "checksum", o->proposal, name);
	}
	lat_target_open(&many, o->socket_path, o->files, o->requests);
	lat_target_warm(&many, reqs, offs);
	if (baseline) {
		lat_target_open(&one, o->baseline_socket, 1, o->requests);
		lat_target_warm(&one, reqs, offs);
	}
	/* An unrecorded round first: page faults, caches, CPU frequency. */
	per_round = (o->requests + o->rounds - 1) / o->rounds;
	lat_target_run(&many, reqs, offs, per_round, 0);
	if (baseline)
		lat_target_run(&one, reqs, offs, per_round, 0);
	for (round = 0, left = o->requests; left > 0; round++, left -= chunk) {
		chunk = left < per_round ? left : per_round;
		/* Alternating which goes first evens out any order effect. */
		if (baseline && round % 2 == 0)
			lat_target_run(&one, reqs, offs, chunk, 1);
		lat_target_run(&many, reqs, offs, chunk, 1);
		if (baseline && round % 2 == 1)
			lat_target_run(&one, reqs, offs, chunk, 1);
	}

	printf("lat-many requests=%lu rounds=%u", o->requests, round);
	lat_target_print(&many, baseline ? "many_" : "");
	if (baseline)
		lat_target_print(&one, "one_");
	printf("\n");
	lat_target_close(&many);
	if (baseline)
		lat_target_close(&one);
	free(offs);
	free(reqs);
	return 0;
}

/*
 * push-latency: how soon three HTTP clients, through lighttpd and
 * filehandler.fcgi, learn that a file changed, while this process appends
 * to it count times at irregular intervals and then leaves it idle:
 *
 *   long-poll  loops /has_new_checksum?wait=W with the checksum it last saw
 *              (X-Checksum of the previous answer);
 *   sse        holds one /events stream and takes each "changed" event;
 *   poll       asks /has_new_checksum without wait every poll-ms, the way
 *              DAMNIT-web does.
 *
 * Writes and answers are timed on one monotonic clock in one thread: a
 * client's latency is from the first write it had not seen yet to the
 * answer or event that carries a later checksum (for a client that catches
 * every change, the write it reports). Each client's requests, connections
 * and bytes are counted while the file changes and while it is idle.
 */

#define PUSH_BUF		16384
#define PUSH_SSE_LINE		1024
#define PUSH_GAP_MIN_MS		50
#define PUSH_GAP_MAX_MS		150
#define PUSH_WARMUP_MS		1000
/* After the last write, before the idle part: time for the polling client
   to see the last change, so that its answer counts as a change. */
#define PUSH_CATCH_UP_MS	1500
#define PUSH_MAX_CHANGES	100000

enum push_kind { PUSH_LONG_POLL, PUSH_SSE, PUSH_POLL };
enum push_phase { PHASE_WARMUP, PHASE_CHANGING, PHASE_IDLE, PHASE_COUNT };

enum http_state { HTTP_HEAD, HTTP_BODY, HTTP_CHUNK_SIZE, HTTP_CHUNK_DATA,
    HTTP_CHUNK_END, HTTP_TRAILER };

/* What one client did in one phase. */
struct push_count {
	unsigned long	 requests;
	unsigned long	 connections;
	unsigned long	 bytes;		/* HTTP, both directions */
	unsigned long	 heartbeats;
};

/* The writes: when each was made and the file's checksum after it. */
struct push_writes {
	long long	*t;
	char		(*hex)[CRC_HEX_LEN + 1];
	size_t		 n;		/* made so far */
	char		 initial[CRC_HEX_LEN + 1];
};

/* One HTTP client with its connection, its response parser and its
   figures. */
struct push_client {
	const char	*name;
	enum push_kind	 kind;
	int		 fd;
	int		 in_flight;	/* a request is unanswered */
	long long	 next_ns;	/* poll: when the next request is due */
	char		 seen_hex[CRC_HEX_LEN + 1];
	size_t		 seen;		/* writes seen: the first unseen one */
	long long	*lat;		/* from the first unseen write */
	long long	*caught;	/* from the write reported */
	size_t		 nlat;
	unsigned long	 coalesced;	/* writes reported by a later one */
	unsigned long	 other;		/* checksums of no unseen write */

	/* The response being read. */
	enum http_state	 state;
	long long	 left;		/* body or chunk bytes to come */
	int		 status;
	int		 close_after;
	char		 checksum[CRC_HEX_LEN + 1];	/* X-Checksum */
	char		 body[16];
	size_t		 body_len;
	size_t		 len;
	char		 buf[PUSH_BUF];

	/* The event stream being read. */
	char		 line[PUSH_SSE_LINE];
	size_t		 line_len;
	char		 event[32];
	char		 id[CRC_HEX_LEN + 1];

	struct push_count count[PHASE_COUNT];
};

/* The run: where to connect, what to ask, and the phase boundaries. */
struct push_run {
	const struct options *o;
	struct push_writes	 w;
	long long		 first_write;	/* LLONG_MAX until made */
	long long		 idle_start;	/* LLONG_MAX until known */
};

static enum push_phase
push_phase(const struct push_run *r, long long t)
{
	if (t < r->first_write)
		return PHASE_WARMUP;
	return t < r->idle_start ? PHASE_CHANGING : PHASE_IDLE;
}

static void
push_connect(struct push_run *r, struct push_client *pc)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int one = 1;

	sin.sin_port = htons((uint16_t)r->o->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((pc->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket: %s", strerror(errno));
	if (connect(pc->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fatal("%s: cannot connect to 127.0.0.1:%u: %s", pc->name,
		    r->o->port, strerror(errno));
	setsockopt(pc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pc->state = HTTP_HEAD;
	pc->len = 0;
	pc->count[push_phase(r, now_ns())].connections++;
}

/* Sends the client's next request, connecting first when needed. */
static void
push_send(struct push_run *r, struct push_client *pc)
{
	const struct options *o = r->o;
	char req[BENCH_REQUEST_MAX + 256], wait[32] = "";
	enum push_phase phase;
	const char *path;
	ssize_t n;
	int len;

	if (pc->fd == -1)
		push_connect(r, pc);
	path = pc->kind == PUSH_SSE ? "events" : "has_new_checksum";
	if (pc->kind == PUSH_LONG_POLL)
		snprintf(wait, sizeof(wait), "&wait=%u", o->wait_s);
	len = snprintf(req, sizeof(req), "GET %s/%s?proposal=%u&file_name=%s"
	    "%s%s%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
	    "User-Agent: watcherd-bench\r\nAccept: %s\r\n\r\n",
	    o->prefix, path, o->proposal, o->file,
	    pc->kind == PUSH_SSE ? "" : "&checksum=",
	    pc->kind == PUSH_SSE ? "" : pc->seen_hex, wait, o->port,
	    pc->kind == PUSH_SSE ? "text/event-stream" : "*/*");
	if (len < 0 || (size_t)len >= sizeof(req))
		fatal("request too long");
	/* A request is far smaller than the socket buffer: one send. */
	n = send(pc->fd, req, (size_t)len, MSG_NOSIGNAL);
	if (n != len)
		fatal("%s: send: %s", pc->name, n == -1 ? strerror(errno) :
		    "short write");
	pc->in_flight = 1;
	phase = push_phase(r, now_ns());
	pc->count[phase].requests++;
	pc->count[phase].bytes += (unsigned long)len;
}

/* A client learnt that the file's checksum is hex at time t. */
static void
push_learned(struct push_client *pc, const struct push_writes *w,
    const char *hex, long long t)
{
	size_t k;

	memcpy(pc->seen_hex, hex, CRC_HEX_LEN + 1);
	for (k = w->n; k > pc->seen; k--)
		if (memcmp(w->hex[k - 1], hex, CRC_HEX_LEN) == 0)
			break;
	if (k == pc->seen) {
		pc->other++;
		return;
	}
	pc->caught[pc->nlat] = t - w->t[k - 1];
	pc->lat[pc->nlat++] = t - w->t[pc->seen];
	pc->coalesced += k - 1 - pc->seen;
	pc->seen = k;
}

/* One line of the event stream (without its newline). */
static void
push_sse_line(struct push_run *r, struct push_client *pc, long long t)
{
	char *line = pc->line;

	if (pc->line_len == 0) {
		if (strcmp(pc->event, "changed") == 0 && pc->id[0] != '\0')
			push_learned(pc, &r->w, pc->id, t);
		pc->event[0] = pc->id[0] = '\0';
	} else if (strncmp(line, "event: ", 7) == 0)
		snprintf(pc->event, sizeof(pc->event), "%s", line + 7);
	else if (strncmp(line, "id: ", 4) == 0 &&
	    strlen(line + 4) == CRC_HEX_LEN)
		memcpy(pc->id, line + 4, CRC_HEX_LEN + 1);
	else if (strncmp(line, ": heartbeat", 11) == 0)
		pc->count[push_phase(r, t)].heartbeats++;
}

/* Body bytes: kept (the start of it) for an answer, split into lines for
   an event stream. Lines longer than the buffer are cut: only the short
   event:, id: and comment lines matter. */
static void
push_body(struct push_run *r, struct push_client *pc, const char *p,
    size_t n, long long t)
{
	size_t i, room;

	if (pc->kind != PUSH_SSE) {
		room = sizeof(pc->body) - 1 - pc->body_len;
		memcpy(pc->body + pc->body_len, p, n < room ? n : room);
		pc->body_len += n < room ? n : room;
		pc->body[pc->body_len] = '\0';
		return;
	}
	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			pc->line[pc->line_len] = '\0';
			push_sse_line(r, pc, t);
			pc->line_len = 0;
		} else if (p[i] != '\r' && pc->line_len < sizeof(pc->line) - 1)
			pc->line[pc->line_len++] = p[i];
	}
}

/* Reads the status line and the headers that matter. Returns the body's
   framing state. */
static enum http_state
push_head(struct push_client *pc, char *head, long long *length)
{
	char *line, *next, *value;
	int chunked = 0;

	*length = -1;
	pc->checksum[0] = '\0';
	pc->close_after = 0;
	pc->body_len = 0;
	if (sscanf(head, "HTTP/1.%*1d %3d", &pc->status) != 1)
		fatal("%s: not an HTTP answer: %.60s", pc->name, head);
	for (line = strstr(head, "\r\n"); line; line = next) {
		line += 2;
		if ((next = strstr(line, "\r\n")) != NULL)
			*next = '\0';
		if ((value = strchr(line, ':')) == NULL)
			continue;
		*value++ = '\0';
		value += strspn(value, " \t");
		if (strcasecmp(line, "Content-Length") == 0)
			*length = strtoll(value, NULL, 10);
		else if (strcasecmp(line, "Transfer-Encoding") == 0)
			chunked = strcasecmp(value, "chunked") == 0;
		else if (strcasecmp(line, "Connection") == 0)
			pc->close_after = strcasecmp(value, "close") == 0;
		else if (strcasecmp(line, "X-Checksum") == 0 &&
		    strlen(value) == CRC_HEX_LEN)
			memcpy(pc->checksum, value, CRC_HEX_LEN + 1);
	}
	if (chunked)
		return HTTP_CHUNK_SIZE;
	if (*length < 0)
		fatal("%s: an answer with neither a length nor chunks",
		    pc->name);
	return HTTP_BODY;
}

/* Parses what the client holds. Returns 1 when a response is complete,
   0 when more is needed. */
static int
push_parse(struct push_run *r, struct push_client *pc, long long t)
{
	size_t off = 0, avail, take;
	char *p, *end;
	int done = 0;

	while (!done && off < pc->len) {
		p = pc->buf + off;
		avail = pc->len - off;
		switch (pc->state) {
		case HTTP_HEAD:
			if ((end = memmem(p, avail, "\r\n\r\n", 4)) == NULL)
				goto more;
			end[2] = '\0';
			pc->state = push_head(pc, p, &pc->left);
			off += (size_t)(end - p) + 4;
			done = pc->state == HTTP_BODY && pc->left == 0;
			break;
		case HTTP_BODY:
		case HTTP_CHUNK_DATA:
			take = (size_t)pc->left < avail ? (size_t)pc->left :
			    avail;
			push_body(r, pc, p, take, t);
			pc->left -= (long long)take;
			off += take;
			if (pc->left == 0 && pc->state == HTTP_BODY)
				done = 1;
			else if (pc->left == 0)
				pc->state = HTTP_CHUNK_END;
			break;
		case HTTP_CHUNK_SIZE:
			if ((end = memmem(p, avail, "\r\n", 2)) == NULL)
				goto more;
			*end = '\0';
			pc->left = strtoll(p, NULL, 16);
			pc->state = pc->left > 0 ? HTTP_CHUNK_DATA : HTTP_TRAILER;
			off += (size_t)(end - p) + 2;
			break;
		case HTTP_CHUNK_END:
			if (avail < 2)
				goto more;
			off += 2;
			pc->state = HTTP_CHUNK_SIZE;
			break;
		case HTTP_TRAILER:
			if ((end = memmem(p, avail, "\r\n", 2)) == NULL)
				goto more;
			off += (size_t)(end - p) + 2;
			done = end == p;
			break;
		}
	}
more:
	if (pc->len - off == sizeof(pc->buf))
		fatal("%s: an HTTP head or line longer than %d bytes", pc->name,
		    PUSH_BUF);
	memmove(pc->buf, pc->buf + off, pc->len - off);
	pc->len -= off;
	if (done)
		pc->state = HTTP_HEAD;
	return done;
}

/* A complete answer to /has_new_checksum. */
static void
push_answer(struct push_run *r, struct push_client *pc, long long t)
{
	pc->in_flight = 0;
	if (pc->status != 200)
		fatal("%s: HTTP %d: %s", pc->name, pc->status, pc->body);
	if (pc->close_after) {
		close(pc->fd);
		pc->fd = -1;
	}
	if (strcmp(pc->body, "true") == 0) {
		if (pc->checksum[0] == '\0')
			fatal("%s: an answer without X-Checksum", pc->name);
		push_learned(pc, &r->w, pc->checksum, t);
	} else if (strcmp(pc->body, "false") != 0)
		fatal("%s: neither true nor false: %s", pc->name, pc->body);
	if (pc->kind == PUSH_LONG_POLL)
		push_send(r, pc);
}

/* Reads what the client's connection has, timed as it is read. */
static void
push_read(struct push_run *r, struct push_client *pc)
{
	long long t;
	ssize_t n;

	do
		n = read(pc->fd, pc->buf + pc->len, sizeof(pc->buf) - pc->len);
	while (n == -1 && errno == EINTR);
	t = now_ns();
	if (n == -1)
		fatal("%s: read: %s", pc->name, strerror(errno));
	if (n == 0) {
		if (pc->in_flight || pc->kind == PUSH_SSE)
			fatal("%s: lighttpd closed the connection", pc->name);
		close(pc->fd);
		pc->fd = -1;
		return;
	}
	pc->len += (size_t)n;
	pc->count[push_phase(r, t)].bytes += (unsigned long)n;
	while (push_parse(r, pc, t)) {
		if (pc->kind == PUSH_SSE)
			fatal("%s: the event stream ended", pc->name);
		push_answer(r, pc, t);
		if (pc->fd == -1)
			break;
	}
}

/* Appends one line to the file; records when and the checksum after. */
static void
push_write(struct push_run *r, int fd, uint32_t *crc, unsigned i)
{
	char line[128];
	long long t;
	int len;

	len = snprintf(line, sizeof(line), "push-latency change %u of %u at "
	    "%lld\n", i + 1, r->o->count, now_ns());
	t = now_ns();
	/* A save that closes the file (`echo >>`), or a log kept open. */
	if (r->o->close_writes &&
	    (fd = open(r->o->path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1)
		fatal("open %s: %s", r->o->path, strerror(errno));
	if (write(fd, line, (size_t)len) != len)
		fatal("append to %s: %s", r->o->path, strerror(errno));
	if (r->o->close_writes)
		close(fd);
	*crc = (uint32_t)crc32(*crc, (const Bytef *)line, (uInt)len);
	r->w.t[i] = t;
	crc_format(*crc, r->w.hex[i]);
	r->w.n = i + 1;
	if (i == 0)
		r->first_write = t;
}

/* xorshift64: the gaps between writes, the same on every run. */
static unsigned
push_gap_ms(unsigned long long *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return PUSH_GAP_MIN_MS + (unsigned)(*state %
	    (PUSH_GAP_MAX_MS - PUSH_GAP_MIN_MS + 1));
}

static double
per_minute(unsigned long v, long long ns)
{
	return ns > 0 ? v * 60e9 / (double)ns : NAN;
}

static void
push_print(const struct push_client *pc, const char *prefix,
    long long changing_ns, long long idle_ns, size_t writes)
{
	const struct push_count *c = pc->count;
	long long *lat = pc->lat;
	size_t n = pc->nlat;

	qsort(lat, n, sizeof(*lat), compare_ll);
	qsort(pc->caught, n, sizeof(*pc->caught), compare_ll);
	printf(" %scaught_median_ms=%.2f %scaught_p99_ms=%.2f", prefix,
	    n ? percentile(pc->caught, n, 0.5) / 1e6 : NAN, prefix,
	    n ? percentile(pc->caught, n, 0.99) / 1e6 : NAN);
	printf(" %sn=%zu %smissed=%zu %scoalesced=%lu %sother=%lu"
	    " %smedian_ms=%.2f %sp99_ms=%.2f %smax_ms=%.2f", prefix, n,
	    prefix, writes - pc->seen, prefix, pc->coalesced, prefix,
	    pc->other, prefix, n ? percentile(lat, n, 0.5) / 1e6 : NAN,
	    prefix, n ? percentile(lat, n, 0.99) / 1e6 : NAN,
	    prefix, n ? lat[n - 1] / 1e6 : NAN);
	printf(" %sconnections=%lu %schanging_req_min=%.1f"
	    " %schanging_bytes_min=%.0f %sidle_req_min=%.1f"
	    " %sidle_bytes_min=%.0f %sidle_heartbeats=%lu", prefix,
	    c[PHASE_WARMUP].connections + c[PHASE_CHANGING].connections +
	    c[PHASE_IDLE].connections,
	    prefix, per_minute(c[PHASE_CHANGING].requests, changing_ns),
	    prefix, per_minute(c[PHASE_CHANGING].bytes, changing_ns),
	    prefix, per_minute(c[PHASE_IDLE].requests, idle_ns),
	    prefix, per_minute(c[PHASE_IDLE].bytes, idle_ns),
	    prefix, c[PHASE_IDLE].heartbeats);
}

static int
cmd_push_latency(const struct options *o)
{
	static const char *const prefixes[] = { "lp_", "sse_", "poll_" };
	struct push_client *clients[3], *pc;
	struct push_run r = { .o = o, .first_write = LLONG_MAX,
	    .idle_start = LLONG_MAX };
	struct pollfd pfd[3];
	struct timespec ts;
	unsigned long long seed = 0x9e3779b97f4a7c15ULL;
	long long start, t, next_write, end = LLONG_MAX, wake;
	uint32_t crc;
	size_t len;
	unsigned written = 0;
	int fd, k;

	check_file_name(o->file);
	if (strspn(o->file, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-/") != strlen(o->file))
		fatal("push-latency: --file needs URL encoding, not supported");
	if (o->path == NULL || o->port == 0)
		fatal("push-latency: --path and --port are required");
	if (o->count < 1 || o->count > PUSH_MAX_CHANGES)
		fatal("--count must be 1 to %d", PUSH_MAX_CHANGES);
	if (o->wait_s < 1 || o->wait_s > 30)
		fatal("--wait-s must be 1 to 30");
	if (o->poll_ms < 1)
		fatal("--poll-ms must be at least 1");
	if ((fd = open(o->path, O_RDWR | O_APPEND | O_CLOEXEC)) == -1)
		fatal("open %s: %s", o->path, strerror(errno));
	if (crc_fd(fd, &crc, &len) == -1)
		fatal("read %s: %s", o->path, strerror(errno));
	if ((r.w.t = calloc(o->count, sizeof(*r.w.t))) == NULL ||
	    (r.w.hex = calloc(o->count, sizeof(*r.w.hex))) == NULL)
		fatal("out of memory");
	crc_format(crc, r.w.initial);

	for (k = 0; k < 3; k++) {
		if ((pc = clients[k] = calloc(1, sizeof(*pc))) == NULL ||
		    (pc->lat = calloc(o->count, sizeof(*pc->lat))) == NULL ||
		    (pc->caught = calloc(o->count, sizeof(*pc->caught))) ==
		    NULL)
			fatal("out of memory");
		pc->kind = (enum push_kind)k;
		pc->name = k == PUSH_LONG_POLL ? "long-poll" :
		    k == PUSH_SSE ? "sse" : "poll";
		pc->fd = -1;
		memcpy(pc->seen_hex, r.w.initial, sizeof(pc->seen_hex));
	}
	start = now_ns();
	push_send(&r, clients[PUSH_SSE]);
	push_send(&r, clients[PUSH_LONG_POLL]);
	clients[PUSH_POLL]->next_ns = start;
	next_write = start + PUSH_WARMUP_MS * 1000000LL;

	for (;;) {
		t = now_ns();
		if (written < o->count && t >= next_write) {
			push_write(&r, fd, &crc, written++);
			next_write += push_gap_ms(&seed) * 1000000LL;
			if (written == o->count) {
				r.idle_start = r.w.t[written - 1] +
				    PUSH_CATCH_UP_MS * 1000000LL;
				end = r.idle_start + o->idle_ms * 1000000LL;
			}
		}
		pc = clients[PUSH_POLL];
		if (!pc->in_flight && t >= pc->next_ns) {
			push_send(&r, pc);
			while (pc->next_ns <= t)
				pc->next_ns += o->poll_ms * 1000000LL;
		}
		if (t >= end)
			break;
		wake = end;
		if (written < o->count && next_write < wake)
			wake = next_write;
		if (!pc->in_flight && pc->next_ns < wake)
			wake = pc->next_ns;
		for (k = 0; k < 3; k++) {
			pfd[k].fd = clients[k]->fd;
			pfd[k].events = POLLIN;
		}
		t = wake - now_ns();
		if (t < 0)
			t = 0;
		ts.tv_sec = (time_t)(t / 1000000000LL);
		ts.tv_nsec = (long)(t % 1000000000LL);
		if (ppoll(pfd, 3, &ts, NULL) == -1 && errno != EINTR)
			fatal("poll: %s", strerror(errno));
		for (k = 0; k < 3; k++)
			if (pfd[k].fd != -1 && pfd[k].revents)
				push_read(&r, clients[k]);
	}
	close(fd);

	printf("push-latency changes=%u changing_s=%.2f idle_s=%.2f "
	    "wait_s=%u poll_ms=%u", o->count,
	    (r.idle_start - r.first_write) / 1e9, (end - r.idle_start) / 1e9,
	    o->wait_s, o->poll_ms);
	for (k = 0; k < 3; k++)
		push_print(clients[k], prefixes[k], r.idle_start - r.first_write,
		    end - r.idle_start, r.w.n);
	printf("\n");
	for (k = 0; k < 3; k++) {
		if (clients[k]->fd != -1)
			close(clients[k]->fd);
		free(clients[k]->caught);
		free(clients[k]->lat);
		free(clients[k]);
	}
	free(r.w.hex);
	free(r.w.t);
	return 0;
}

/*
 * floor: the round trips per second of a trivial epoll echo over a UNIX
 * socket pair, the best any daemon could do for ping-pong on this machine
 * (the time is the two wake-ups, not the work).
 */
static int
cmd_floor(const struct options *o)
{
	struct epoll_event ev = { .events = EPOLLIN };
	char buf[BENCH_REQUEST_MAX] = { 0 };
	const size_t msg = 90;	/* about a checksum request */
	long long start, end, t;
	unsigned long done = 0;
	size_t got;
	ssize_t n;
	pid_t pid;
	int sv[2], ep, status;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair: %s", strerror(errno));
	if ((pid = fork()) == -1)
		fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		close(sv[0]);
		if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) == -1)
			_exit(1);
		for (;;) {
			if (epoll_wait(ep, &ev, 1, -1) == -1 && errno != EINTR)
				_exit(1);
			if ((n = read(sv[1], buf, sizeof(buf))) <= 0)
				_exit(n == 0 ? 0 : 1);
			if (write(sv[1], buf, (size_t)n) != n)
				_exit(1);
		}
	}
	close(sv[1]);
	start = t = now_ns();
	end = start + (long long)(o->seconds * 1e9);
	while (t < end) {
		if (write(sv[0], buf, msg) != (ssize_t)msg)
			fatal("floor: write: %s", strerror(errno));
		for (got = 0; got < msg; got += (size_t)n)
			if ((n = read(sv[0], buf, msg - got)) <= 0)
				fatal("floor: the echo process died");
		done++;
		t = now_ns();
	}
	close(sv[0]);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fatal("floor: the echo process failed");
	printf("floor requests=%lu seconds=%.3f per_s=%.0f\n", done,
	    (t - start) / 1e9, done / ((t - start) / 1e9));
	return 0;
}

static unsigned long
parse_unsigned(const char *flag, const char *s, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		fatal("%s: not a number up to %lu: %s", flag, max, s);
	return v;
}

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fputs("usage: bench wait --socket S [--timeout-ms T]\n"
	    "       bench populate --dir AMORE --files N [--size BYTES]\n"
	    "       bench rps --socket S --proposal P --file F [--seconds X]\n"
	    "                 [--requests N] [--depth D] [--new-conn]\n"
	    "       bench latency --socket S --proposal P --file F --path PATH\n"
	    "                 --style inplace|rename|append [--count N]"
	    " [--quiet-ms Q]\n"
	    "                 [--timeout-ms T]\n"
	    "       bench lat-many --socket S --proposal P --files N"
	    " [--requests R]\n"
	    "                 [--rounds K] [--baseline-socket S1]\n"
	    "       bench floor [--seconds X]\n"
	    "       bench push-latency --port PORT --proposal P --file F"
	    " --path PATH\n"
	    "                 [--prefix /filehandler] [--count N] [--wait-s W]\n"
	    "                 [--poll-ms M] [--idle-ms I] [--close-writes]\n",
	    stderr);
	exit(2);
}

static const struct {
	const char	*name;
	int		(*run)(const struct options *);
	int		 needs_socket;
} commands[] = {
	{ "wait",	cmd_wait,	1 },
	{ "populate",	cmd_populate,	0 },
	{ "rps",	cmd_rps,	1 },
	{ "latency",	cmd_latency,	1 },
	{ "lat-many",	cmd_lat_many,	1 },
	{ "floor",	cmd_floor,	0 },
	{ "push-latency", cmd_push_latency, 0 },
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument, NULL, 's' },
		{ "proposal",	required_argument, NULL, 'p' },
		{ "file",	required_argument, NULL, 'f' },
		{ "path",	required_argument, NULL, 'P' },
		{ "dir",	required_argument, NULL, 'd' },
		{ "style",	required_argument, NULL, 'S' },
		{ "seconds",	required_argument, NULL, 't' },
		{ "requests",	required_argument, NULL, 'r' },
		{ "depth",	required_argument, NULL, 'D' },
		{ "new-conn",	no_argument,	   NULL, 'n' },
		{ "count",	required_argument, NULL, 'c' },
		{ "quiet-ms",	required_argument, NULL, 'q' },
		{ "timeout-ms",	required_argument, NULL, 'T' },
		{ "files",	required_argument, NULL, 'F' },
		{ "size",	required_argument, NULL, 'z' },
		{ "rounds",	required_argument, NULL, 'R' },
		{ "baseline-socket", required_argument, NULL, 'B' },
		{ "port",	required_argument, NULL, 'o' },
		{ "prefix",	required_argument, NULL, 'x' },
		{ "wait-s",	required_argument, NULL, 'W' },
		{ "poll-ms",	required_argument, NULL, 'L' },
		{ "idle-ms",	required_argument, NULL, 'I' },
		{ "close-writes", no_argument,	NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = {
		.socket_path = NULL, .seconds = 3, .depth = 1, .count = 200,
		.quiet_ms = 30, .timeout_ms = 5000, .files = 1,
		.requests = 0, .rounds = 20, .prefix = "/filehandler",
		.wait_s = 30, .poll_ms = 1000, .idle_ms = 32000,
	};
	size_t i;
	char *end;
	int ch, lat_many;

	if (argc < 2)
		usage();
	lat_many = strcmp(argv[1], "lat-many") == 0;
	if (lat_many)
		o.requests = 20000;
	/* The subcommand is argv[1]; its flags follow. */
	while ((ch = getopt_long(argc - 1, argv + 1, "", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's': o.socket_path = optarg; break;
		case 'p':
			o.proposal = (unsigned)parse_unsigned("--proposal",
			    optarg, 999999);
			break;
		case 'f': o.file = optarg; break;
		case 'P': o.path = optarg; break;
		case 'd': o.dir = optarg; break;
		case 'S': o.style = optarg; break;
		case 't':
			o.seconds = strtod(optarg, &end);
			if (*end || !(o.seconds > 0 && o.seconds < 3600))
				fatal("--seconds: not a duration: %s", optarg);
			break;
		case 'r':
			o.requests = parse_unsigned("--requests", optarg,
			    100000000);
			break;
		case 'D':
			o.depth = (unsigned)parse_unsigned("--depth", optarg,
			    BENCH_MAX_DEPTH);
			break;
		case 'n': o.new_conn = 1; break;
		case 'c':
			o.count = (unsigned)parse_unsigned("--count", optarg,
			    1000000);
			break;
		case 'q':
			o.quiet_ms = (unsigned)parse_unsigned("--quiet-ms",
			    optarg, 600000);
			break;
		case 'T':
			o.timeout_ms = (unsigned)parse_unsigned("--timeout-ms",
			    optarg, 3600000);
			break;
		case 'F':
			o.files = (unsigned)parse_unsigned("--files", optarg,
			    BENCH_MAX_FILES);
			break;
		case 'z':
			o.size = (unsigned)parse_unsigned("--size", optarg,
			    64 << 20);
			break;
		case 'R':
			o.rounds = (unsigned)parse_unsigned("--rounds", optarg,
			    100000);
			break;
		case 'B': o.baseline_socket = optarg; break;
		case 'o':
			o.port = (unsigned)parse_unsigned("--port", optarg,
			    65535);
			break;
		case 'x': o.prefix = optarg; break;
		case 'W':
			o.wait_s = (unsigned)parse_unsigned("--wait-s", optarg,
			    30);
			break;
		case 'L':
			o.poll_ms = (unsigned)parse_unsigned("--poll-ms", optarg,
			    600000);
			break;
		case 'C': o.close_writes = 1; break;
		case 'I':
			o.idle_ms = (unsigned)parse_unsigned("--idle-ms", optarg,
			    600000);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (commands[i].needs_socket && o.socket_path == NULL)
			o.socket_path = proto_default_socket();
		return commands[i].run(&o);
	}
	usage();
}
