/* The socket protocol: error codes, line framing, and the blocking client
   against a real UNIX socket served by a forked peer. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <json-c/json.h>

#include "common/proto.h"
#include "tests/unit/fixture.h"
#include "tests/unit/tap.h"

static void
test_error_codes(void)
{
	static const struct {
		enum proto_error	 e;
		const char		*code;
		int			 status;
	} cases[] = {
		{ PROTO_OK, "ok", 200 },
		{ PROTO_BAD_REQUEST, "bad_request", 400 },
		{ PROTO_FORBIDDEN, "forbidden", 403 },
		{ PROTO_NOT_FOUND, "not_found", 404 },
		{ PROTO_TOO_LARGE, "too_large", 413 },
		{ PROTO_UNAVAILABLE, "unavailable", 503 },
		{ PROTO_INTERNAL, "internal", 500 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tap_is_str(proto_error_code(cases[i].e), cases[i].code,
		    "error %d is named \"%s\"", (int)cases[i].e, cases[i].code);
		tap_ok(proto_error_from_code(cases[i].code) == cases[i].e,
		    "\"%s\" is read back as error %d", cases[i].code,
		    (int)cases[i].e);
		tap_is_int(proto_error_http_status(cases[i].e), cases[i].status,
		    "\"%s\" maps to HTTP %d", cases[i].code, cases[i].status);
	}
	tap_ok(proto_error_from_code("no_such_code") == PROTO_INTERNAL,
	    "an unknown code is read as internal");
	tap_ok(proto_error_from_code("") == PROTO_INTERNAL &&
	    proto_error_from_code("Forbidden") == PROTO_INTERNAL &&
	    proto_error_from_code(NULL) == PROTO_INTERNAL,
	    "empty, wrongly cased and missing codes are read as internal");
}

static void
test_default_socket(void)
{
	unsetenv("WATCHERD_SOCKET");
	tap_is_str(proto_default_socket(), "/run/watcherd/watcherd.sock",
	    "the default socket is /run/watcherd/watcherd.sock");
	setenv("WATCHERD_SOCKET", "/tmp/w.sock", 1);
	tap_is_str(proto_default_socket(), "/tmp/w.sock",
	    "WATCHERD_SOCKET names the socket");
	setenv("WATCHERD_SOCKET", "", 1);
	tap_is_str(proto_default_socket(), "/run/watcherd/watcherd.sock",
	    "an empty WATCHERD_SOCKET is ignored");
	unsetenv("WATCHERD_SOCKET");
}

/* What came out of a reader: the lines joined by '|' (long lines as
   <N bytes>), and the counts. */
struct taken {
	int	lines;
	int	overlong;
	size_t	longest;
	char	text[512];
};

static void
drain(struct proto_reader *r, struct taken *t)
{
	char *line, note[32];
	size_t len, used;
	int rc;

	while ((rc = proto_reader_next(r, &line, &len)) != 0) {
		if (rc == -1) {
			t->overlong++;
			snprintf(note, sizeof(note), "<overlong>");
		} else {
			t->lines++;
			if (len > t->longest)
				t->longest = len;
			if (line[len] != '\0' || strlen(line) != len)
				snprintf(note, sizeof(note), "<not terminated>");
			else if (len > 64)
				snprintf(note, sizeof(note), "<%zu bytes>", len);
			else
				snprintf(note, sizeof(note), "%s", line);
		}
		used = strlen(t->text);
		snprintf(t->text + used, sizeof(t->text) - used, "%s%s",
		    used ? "|" : "", note);
	}
}

/*
 * Feeds len bytes in pieces of at most piece bytes, each written through
 * as many space/commit rounds as it takes; takes the lines after every
 * piece, or after every commit when each_commit is set.
 */
static void
feed(struct proto_reader *r, const char *data, size_t len, size_t piece,
    int each_commit, struct taken *t)
{
	size_t off = 0, chunk, done, room, n;
	char *space;

	while (off < len) {
		chunk = len - off < piece ? len - off : piece;
		for (done = 0; done < chunk; done += n) {
			if ((room = proto_reader_space(r, &space)) == 0)
				abort();
			n = chunk - done < room ? chunk - done : room;
			memcpy(space, data + off + done, n);
			proto_reader_commit(r, n);
			if (each_commit)
				drain(r, t);
		}
		drain(r, t);
		off += chunk;
	}
}

/* Writes len bytes into the reader without taking any line. */
static void
put(struct proto_reader *r, const char *data, size_t len)
{
	size_t room, n;
	char *space;

	for (; len > 0; data += n, len -= n) {
		if ((room = proto_reader_space(r, &space)) == 0)
			abort();
		n = len < room ? len : room;
		memcpy(space, data, n);
		proto_reader_commit(r, n);
	}
}

/* n bytes of 'x', then the rest. */
static char *
long_line(size_t n, const char *rest, size_t *len)
{
	size_t rlen = strlen(rest);
	char *buf = malloc(n + rlen + 1);

	if (buf == NULL)
		abort();
	memset(buf, 'x', n);
	memcpy(buf + n, rest, rlen + 1);
	*len = n + rlen;
	return buf;
}

static void
test_reader(void)
{
	static const char two[] = "{\"cmd\":\"ping\"}\n{\"cmd\":\"status\"}\n";
	/* Feeds in pieces of so many bytes. */
	static const struct {
		size_t		 piece;
		const char	*what;
	} two_feeds[] = {
		{ 1, "lines fed one byte at a time come out whole" },
		{ sizeof(two), "two lines in one feed come out as two lines" },
	}, longest_feeds[] = {
		{ 4096, "a line of exactly PROTO_MAX_LINE bytes is accepted "
		    "(4 KiB pieces)" },
		{ 1, "a line of exactly PROTO_MAX_LINE bytes is accepted "
		    "(1-byte pieces)" },
	};
	/* A line of length bytes, then "next", fed in pieces (0: in one
	   feed), the lines taken after each piece or after each commit. */
	static const struct {
		size_t		 length;
		size_t		 piece;
		int		 each_commit;
		const char	*what;
	} overlong_feeds[] = {
		{ PROTO_MAX_LINE + 1, 0, 0, "a line of PROTO_MAX_LINE+1 bytes "
		    "in one feed gives -1 once, then the next line" },
		{ PROTO_MAX_LINE + 1, 1, 0, "a line of PROTO_MAX_LINE+1 bytes "
		    "in 1-byte pieces gives -1 once, then the next line" },
		{ 200 * 1024, 4096, 0, "a 200 KiB line in 4 KiB pieces gives -1 "
		    "once, then the next line" },
		{ 200 * 1024, 4096, 1, "a 200 KiB line, lines taken after every "
		    "commit, gives -1 once" },
		{ 200 * 1024, 0, 0, "a 200 KiB line in one feed gives -1 once, "
		    "then the next line" },
	};
	struct proto_reader r;
	struct taken t;
	char *buf, *line, dst[16];
	size_t i, len, n;

	proto_reader_init(&r);
	for (i = 0; i < sizeof(two_feeds) / sizeof(two_feeds[0]); i++) {
		memset(&t, 0, sizeof(t));
		feed(&r, two, strlen(two), two_feeds[i].piece, 0, &t);
		tap_is_str(t.text, "{\"cmd\":\"ping\"}|{\"cmd\":\"status\"}",
		    "%s", two_feeds[i].what);
		proto_reader_free(&r);
	}

	memset(&t, 0, sizeof(t));
	feed(&r, "abc", 3, 3, 0, &t);
	tap_ok(t.lines == 0, "an unfinished line is not returned");
	feed(&r, "def\n\nghi\n", 9, 9, 0, &t);
	tap_is_str(t.text, "abcdef||ghi",
	    "the finished line comes out, then an empty one");
	proto_reader_free(&r);

	buf = long_line(PROTO_MAX_LINE, "\nnext\n", &len);
	for (i = 0; i < sizeof(longest_feeds) / sizeof(longest_feeds[0]); i++) {
		memset(&t, 0, sizeof(t));
		feed(&r, buf, len, longest_feeds[i].piece, 0, &t);
		tap_ok(t.overlong == 0 && t.lines == 2 &&
		    t.longest == PROTO_MAX_LINE && strstr(t.text, "|next"),
		    "%s", longest_feeds[i].what);
		proto_reader_free(&r);
	}
	free(buf);

	for (i = 0; i < sizeof(overlong_feeds) / sizeof(overlong_feeds[0]);
	    i++) {
		buf = long_line(overlong_feeds[i].length, "\nnext\n", &len);
		memset(&t, 0, sizeof(t));
		feed(&r, buf, len, overlong_feeds[i].piece ?
		    overlong_feeds[i].piece : len, overlong_feeds[i].each_commit,
		    &t);
		tap_is_str(t.text, "<overlong>|next", "%s",
		    overlong_feeds[i].what);
		proto_reader_free(&r);
		free(buf);
	}
	buf = long_line(200 * 1024, "\nnext\n", &len);
	memset(&t, 0, sizeof(t));
	feed(&r, buf, len, 4096, 0, &t);
	tap_ok(r.cap <= PROTO_MAX_LINE + 1,
	    "the reader's buffer stays within PROTO_MAX_LINE + 1 bytes");
	proto_reader_free(&r);
	free(buf);

	buf = long_line(70000, "\nnext\n", &len);
	memset(&t, 0, sizeof(t));
	feed(&r, "first\n", 6, 6, 0, &t);
	feed(&r, buf, len, 3000, 0, &t);
	feed(&r, buf, len, 5000, 0, &t);
	tap_is_str(t.text, "first|<overlong>|next|<overlong>|next",
	    "two overlong lines give -1 each, and the lines around them "
	    "are kept");
	proto_reader_free(&r);
	free(buf);

	/* Bytes written without taking lines in between. */
	buf = malloc(200 * 1024);
	for (n = 0; n + 10 <= 200 * 1024; n += 10)
		memcpy(buf + n, "line 0001\n", 10);
	memset(&t, 0, sizeof(t));
	put(&r, buf, n);
	drain(&r, &t);
	tap_ok(t.lines == (int)(n / 10) && t.overlong == 0,
	    "200 KiB of short lines written before any is taken are all kept");
	proto_reader_free(&r);
	free(buf);
	buf = long_line(PROTO_MAX_LINE, "\n", &len);
	memset(&t, 0, sizeof(t));
	put(&r, buf, len);
	put(&r, buf, len - 1);
	put(&r, "x\nnext\n", 7);
	drain(&r, &t);
	tap_is_str(t.text, "<65536 bytes>|<overlong>|next",
	    "a longest line and an overlong one written before any is taken "
	    "give the line, -1, then the next line");
	proto_reader_free(&r);
	free(buf);

	put(&r, "{\"payload\":5}\nhello{\"ok\":true}\n", 31);
	tap_ok(proto_reader_next(&r, &line, &len) == 1 &&
	    strcmp(line, "{\"payload\":5}") == 0,
	    "a reply line that announces a payload is read");
	n = proto_reader_take(&r, dst, 5);
	tap_ok(n == 5 && memcmp(dst, "hello", 5) == 0,
	    "proto_reader_take returns the payload bytes after the line");
	tap_ok(proto_reader_next(&r, &line, &len) == 1 &&
	    strcmp(line, "{\"ok\":true}") == 0,
	    "the line after the payload is read normally");
	tap_is_int((long long)proto_reader_take(&r, dst, sizeof(dst)), 0,
	    "proto_reader_take on an empty reader returns 0");
	proto_reader_free(&r);
	put(&r, "{}\nabc", 6);
	proto_reader_next(&r, &line, &len);
	n = proto_reader_take(&r, dst, sizeof(dst));
	tap_ok(n == 3 && memcmp(dst, "abc", 3) == 0,
	    "proto_reader_take returns no more than is held");
	proto_reader_free(&r);
}

/* The peer: a forked process that accepts one connection on a listening
   socket and runs a script on it. */

static char tmpdir[PATH_MAX];

/* A socket bound to path, listening unless backlog is -1. */
static int
listen_at(const char *path, int backlog)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    (backlog != -1 && listen(fd, backlog) == -1)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) <= 0)
			_exit(4);
		p += n;
		len -= (size_t)n;
	}
}

/* Reads one request line into buf (NUL-terminated, newline dropped). */
static void
read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	char c;

	while (read(fd, &c, 1) == 1) {
		if (c == '\n') {
			buf[n] = '\0';
			return;
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
	_exit(5);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static pid_t
start_peer(int listen_fd, void (*script)(int))
{
	pid_t pid = fork();
	int fd;

	if (pid != 0)
		return pid;
	alarm(10);	/* never outlive a broken test */
	if ((fd = accept(listen_fd, NULL, NULL)) == -1)
		_exit(6);
	script(fd);
	close(fd);
	_exit(0);
}

/* The peer's exit status, or 128 + its signal. */
static int
finish_peer(pid_t pid)
{
	int status;

	if (pid <= 0)
		return -1;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
}

#define PAYLOAD_LEN 100000

static char
payload_byte(size_t i)
{
	return (char)((i * 7) ^ (i >> 8));
}

static void
script_payload(int fd)
{
	static const char expect[] =
	    "{\"cmd\":\"content\",\"proposal\":1111,\"file_name\":\"context.py\"}";
	char req[256], *data;
	size_t i, off;
	int n;

	read_line(fd, req, sizeof(req));
	if (strcmp(req, expect) != 0)
		_exit(3);
	if ((data = malloc(PAYLOAD_LEN + 64)) == NULL)
		_exit(7);
	write_all(fd, "{\"ok\":true,\"encoding\":\"base64\",\"pay", 35);
	sleep_ms(20);
	n = snprintf(data, 64, "load\":%d}\n", PAYLOAD_LEN);
	for (i = 0; i < 3; i++)
		data[n + i] = payload_byte(i);
	write_all(fd, data, (size_t)n + 3);
	sleep_ms(20);
	for (i = 0; i < PAYLOAD_LEN; i++)
		data[i] = payload_byte(i);
	for (off = 3; off < PAYLOAD_LEN - 10; off += 7001) {
		write_all(fd, data + off,
		    off + 7001 < PAYLOAD_LEN - 10 ? 7001 : PAYLOAD_LEN - 10 - off);
		sleep_ms(2);
	}
	/* The end of the payload and the next line in one write. */
	memcpy(data + PAYLOAD_LEN, "{\"event\":\"changed\"}\n", 20);
	write_all(fd, data + PAYLOAD_LEN - 10, 30);
	free(data);
	read_line(fd, req, sizeof(req));
	if (strcmp(req, "{\"cmd\":\"ping\"}") != 0)
		_exit(3);
	write_all(fd, "{\"ok\":true,\"protocol\":1}\n", 25);
}

static void
script_silent(int fd)
{
	char c;

	/* Reads everything and never answers, until the client goes. */
	while (read(fd, &c, 1) == 1)
		;
}

static void
script_short_payload(int fd)
{
	char req[256];

	read_line(fd, req, sizeof(req));
	write_all(fd, "{\"ok\":true,\"payload\":100}\n0123456789", 36);
}

static void
script_not_json(int fd)
{
	char req[256];

	read_line(fd, req, sizeof(req));
	write_all(fd, "this is not json\n[1,2]\n", 23);
	read_line(fd, req, sizeof(req));
	write_all(fd, "{\"ok\":true,\"payload\":-5}\n", 25);
}

static struct json_object *
request(const char *cmd)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "cmd", json_object_new_string(cmd));
	return o;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void
test_client_payload(const char *path, int lfd)
{
	struct proto_client c;
	struct json_object *req, *reply = NULL, *v;
	char *payload = NULL;
	size_t len = 0, i;
	pid_t pid;
	int r, same;

	pid = start_peer(lfd, script_payload);
	r = proto_client_connect(&c, path, 5000);
	tap_ok(r == 0, "the client connects to a listening socket");
	req = request("content");
	json_object_object_add(req, "proposal", json_object_new_int(1111));
	json_object_object_add(req, "file_name",
	    json_object_new_string("context.py"));
	r = proto_client_call(&c, req, &reply, &payload, &len);
	json_object_put(req);
	tap_ok(r == 0 && reply && json_object_object_get_ex(reply, "ok", &v) &&
	    json_object_get_boolean(v), "a reply split across writes is read");
	tap_is_int((long long)len, PAYLOAD_LEN,
	    "the announced payload length is reported");
	same = payload != NULL && len == PAYLOAD_LEN;
	for (i = 0; same && i < PAYLOAD_LEN; i++)
		same = payload[i] == payload_byte(i);
	tap_ok(same, "all payload bytes arrive, across writes, in order");
	tap_ok(payload && payload[len] == '\0', "the payload is NUL-terminated");
	free(payload);
	json_object_put(reply);

	r = proto_client_read(&c, &reply, NULL, NULL);
	tap_ok(r == 0 && json_object_object_get_ex(reply, "event", &v) &&
	    strcmp(json_object_get_string(v), "changed") == 0,
	    "a line sent right after the payload is read next");
	json_object_put(reply);

	req = request("ping");
	r = proto_client_call(&c, req, &reply, &payload, &len);
	json_object_put(req);
	tap_ok(r == 0 && payload == NULL && len == 0 &&
	    json_object_object_get_ex(reply, "protocol", &v) &&
	    json_object_get_int(v) == 1,
	    "a second request on the same connection is answered, no payload");
	json_object_put(reply);
	proto_client_close(&c);
	tap_is_int(finish_peer(pid), 0,
	    "the peer received each request as one JSON line");
}

static void
test_client_timeout(const char *path, int lfd)
{
	struct proto_client c;
	struct json_object *req, *reply = (struct json_object *)&c;
	long long t0, elapsed;
	pid_t pid;
	int r, e;

	pid = start_peer(lfd, script_silent);
	if (proto_client_connect(&c, path, 200) == -1) {
		tap_ok(0, "connect to the silent peer: %s", c.errstr);
		kill(pid, SIGTERM);
		finish_peer(pid);
		return;
	}
	req = request("ping");
	tap_ok(proto_client_send(&c, req) == 0, "a request to a silent peer is sent");
	json_object_put(req);
	t0 = now_ms();
	errno = 0;
	r = proto_client_read(&c, &reply, NULL, NULL);
	e = errno;
	elapsed = now_ms() - t0;
	tap_ok(r == -1 && reply == NULL,
	    "a peer that never answers makes the read fail");
	tap_ok(elapsed >= 190 && elapsed < 400,
	    "the read gives up after the 200 ms timeout (took %lld ms)", elapsed);
	tap_ok(e == ETIMEDOUT && strstr(c.errstr, "did not answer") &&
	    strstr(c.errstr, "200 ms"),
	    "the error says watcherd did not answer within 200 ms (%s)",
	    c.errstr);
	proto_client_close(&c);
	tap_is_int(finish_peer(pid), 0, "the silent peer sees the client go");
}

static void
test_client_bad_replies(const char *path, int lfd)
{
	struct proto_client c;
	struct json_object *req, *reply;
	char *payload;
	size_t len;
	pid_t pid;
	int r;

	pid = start_peer(lfd, script_short_payload);
	proto_client_connect(&c, path, 2000);
	req = request("content");
	r = proto_client_call(&c, req, &reply, &payload, &len);
	tap_ok(r == -1 && reply == NULL && payload == NULL &&
	    strstr(c.errstr, "closed"),
	    "a peer that closes inside a payload makes the read fail (%s)",
	    c.errstr);
	proto_client_close(&c);
	finish_peer(pid);

	pid = start_peer(lfd, script_not_json);
	proto_client_connect(&c, path, 2000);
	r = proto_client_call(&c, req, &reply, &payload, &len);
	tap_ok(r == -1 && reply == NULL && strstr(c.errstr, "JSON object"),
	    "a reply that is not JSON is an error (%s)", c.errstr);
	r = proto_client_read(&c, &reply, &payload, &len);
	tap_ok(r == -1 && reply == NULL, "a JSON array reply is an error");
	r = proto_client_call(&c, req, &reply, &payload, &len);
	tap_ok(r == -1 && reply == NULL && payload == NULL &&
	    strstr(c.errstr, "payload"),
	    "a negative payload size is an error (%s)", c.errstr);
	proto_client_close(&c);
	finish_peer(pid);

	tap_ok(proto_client_send(&c, req) == -1 &&
	    strstr(c.errstr, "not connected"),
	    "sending on a closed client fails with 'not connected'");
	json_object_put(req);
}

static void
test_client_connect_errors(void)
{
	struct proto_client c;
	char path[PATH_MAX], longpath[200];
	int fd, r, e;
	pid_t pid;

	fixture_path(path, sizeof(path), "%s/nobody.sock", tmpdir);
	errno = 0;
	r = proto_client_connect(&c, path, 200);
	e = errno;
	tap_ok(r == -1 && (e == ENOENT || e == ECONNREFUSED),
	    "connecting to a missing socket fails with ENOENT (errno %d)", e);
	tap_ok(strstr(c.errstr, "cannot connect to watcherd") != NULL,
	    "the error says it cannot connect to watcherd (%s)", c.errstr);
	tap_ok(c.fd == -1, "a failed connect leaves no descriptor");
	proto_client_close(&c);

	fixture_path(path, sizeof(path), "%s/dead.sock", tmpdir);
	if ((fd = listen_at(path, -1)) != -1)
		close(fd);
	errno = 0;
	r = proto_client_connect(&c, path, 200);
	e = errno;
	tap_ok(r == -1 && e == ECONNREFUSED &&
	    strstr(c.errstr, "cannot connect to watcherd"),
	    "a stale socket with no listener gives ECONNREFUSED (%s)", c.errstr);
	proto_client_close(&c);

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	errno = 0;
	r = proto_client_connect(&c, longpath, 200);
	tap_ok(r == -1 && errno == ENAMETOOLONG && strstr(c.errstr, "too long"),
	    "a socket path too long for AF_UNIX is refused");
	proto_client_close(&c);

	/* A daemon that stopped accepting: its backlog fills up. The
	   connects run in a child so that a hang is caught by alarm(). */
	fixture_path(path, sizeof(path), "%s/full.sock", tmpdir);
	if ((fd = listen_at(path, 0)) == -1) {
		tap_ok(0, "listen on %s", path);
		return;
	}
	if ((pid = fork()) == 0) {
		struct proto_client cs[8];
		int i;

		alarm(3);
		for (i = 0; i < 8; i++) {
			if (proto_client_connect(&cs[i], path, 200) == -1)
				_exit(errno == EAGAIN &&
				    strstr(cs[i].errstr, "cannot connect") ? 0 : 2);
		}
		_exit(1);
	}
	r = finish_peer(pid);
	tap_is_int(r, 0, "connecting to a daemon whose backlog is full fails "
	    "with EAGAIN instead of hanging (%s)",
	    r == 128 + SIGALRM ? "hung" : r == 1 ? "all connected" : "status");
	close(fd);
	unlink(path);
}

static void
test_client(void)
{
	char path[PATH_MAX];
	int lfd;

	fixture_tmpdir(tmpdir, sizeof(tmpdir));
	fixture_path(path, sizeof(path), "%s/watcherd.sock", tmpdir);
	if ((lfd = listen_at(path, 8)) == -1) {
		tap_ok(0, "listen on %s", path);
		fixture_rmtree(tmpdir);
		return;
	}
	test_client_payload(path, lfd);
	test_client_timeout(path, lfd);
	test_client_bad_replies(path, lfd);
	close(lfd);
	test_client_connect_errors();
	fixture_rmtree(tmpdir);
}

int
main(void)
{
	test_error_codes();
	test_default_socket();
	test_reader();
	test_client();
	return tap_done();
}
