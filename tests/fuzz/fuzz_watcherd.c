/*
 * watcherd's socket path end to end: the input is the byte stream of one
 * client connection to a real watcherd (daemon_init() on the fixture
 * tree, its own loop run until the client has every reply), so every
 * command runs with fuzzed arguments through proto_reader,
 * the calls (call.c), the commands and the watch table. Checks:
 * - one reply per request line (an overlong one included, an empty one
 *   none), in order, each a JSON object with "ok" (a failure with a known
 *   "error" code and a "detail"), or an event line; payloads exactly as
 *   announced; the connection then closed and no client left over;
 * - an ok checksum, content, tail, subscribe or unwatch names a file that
 *   policy_check_name and the allow patterns accept, that opens beneath
 *   the proposal's folder, and whose size, CRC-32 and bytes (raw, JSON,
 *   base64) are what the reply says; no payload ever carries the
 *   outside secret's bytes;
 * - list only shows such names;
 * - under access = unix (this target's), no file request naming a user
 *   that NSS does not know, or "user":null, is answered ok (the fixture's
 *   files are root's: "user":"root" reads them).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <json-c/json.h>
#include <zlib.h>

#include "common/policy.h"
#include "common/proto.h"
#include "common/text.h"
#include "tests/fuzz/harness.h"
#include "watcherd/daemon.h"
#include "watcherd/loop.h"
#include "watcherd/server.h"

#define EXCHANGE_TIMEOUT_MS	5000

/* The fuzzed client, driven by the daemon's own loop. */
struct exchange {
	struct daemon		*d;
	struct loop_io		 io;
	struct loop_timer	 timeout;
	const uint8_t		*in;
	size_t			 in_len, in_off;
	char			*out;
	size_t			 out_len, out_cap;
	int			 done, timed_out;
};

static void
exchange_event(void *arg, uint32_t events)
{
	struct exchange *x = arg;
	ssize_t n;

	if ((events & EPOLLOUT) && x->in_off < x->in_len) {
		n = send(x->io.fd, x->in + x->in_off, x->in_len - x->in_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			x->in_off += (size_t)n;
		else if (n == -1 && errno != EAGAIN)
			fuzz_fail("send: %s", strerror(errno));
		if (x->in_off == x->in_len) {
			shutdown(x->io.fd, SHUT_WR);
			loop_set_events(x->d->loop, &x->io, EPOLLIN);
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		if (x->out_cap - x->out_len < 4096) {
			x->out_cap = x->out_cap * 2 + 65536;
			if ((x->out = realloc(x->out, x->out_cap)) == NULL)
				fuzz_fail("out of memory");
		}
		n = recv(x->io.fd, x->out + x->out_len, x->out_cap - x->out_len,
		    MSG_DONTWAIT);
		if (n > 0) {
			x->out_len += (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN) {
			FUZZ_CHECK(x->in_off == x->in_len, "watcherd closed the "
			    "connection before reading %zu request bytes",
			    x->in_len - x->in_off);
			x->done = 1;
			loop_stop(x->d->loop);
		}
		return;
	}
}

static void
exchange_timeout(void *arg)
{
	struct exchange *x = arg;

	x->timed_out = 1;
	loop_stop(x->d->loop);
}

/* The replies of watcherd to the whole input, in x->out. */
static void
exchange_run(struct exchange *x)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fuzz_tree()->socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fuzz_fail("connect: %s", strerror(errno));
	x->io = (struct loop_io){ .fd = fd, .events = EPOLLIN | EPOLLOUT,
	    .fn = exchange_event, .arg = x };
	if (x->in_len == 0) {
		shutdown(fd, SHUT_WR);
		x->io.events = EPOLLIN;
	}
	if (loop_add(x->d->loop, &x->io) == -1)
		fuzz_fail("epoll: %s", strerror(errno));
	x->timeout = (struct loop_timer){ .fn = exchange_timeout, .arg = x };
	loop_timer_arm(x->d->loop, &x->timeout, EXCHANGE_TIMEOUT_MS);
	if (loop_run(x->d->loop) == -1)
		fuzz_fail("loop: %s", strerror(errno));
	loop_timer_disarm(x->d->loop, &x->timeout);
	loop_remove(x->d->loop, &x->io);
	close(fd);
	FUZZ_CHECK(!x->timed_out, "no end of the replies after %d ms (%zu of "
	    "%zu bytes sent)", EXCHANGE_TIMEOUT_MS, x->in_off, x->in_len);
}

/* The proposal a request names, as watcherd reads it; 0 when none. */
static unsigned
request_proposal(struct json_object *req)
{
	struct json_object *p;
	unsigned v;

	if (!json_object_object_get_ex(req, "proposal", &p))
		return 0;
	if (json_object_is_type(p, json_type_int))
		return (unsigned)json_object_get_int64(p);
	if (policy_parse_proposal(json_object_get_string(p),
	    (size_t)json_object_get_string_len(p), &v) == 0)
		return v;
	return 0;
}



/* The bytes a content or tail payload stands for: raw, or a JSON literal
   of text or of base64. The caller frees them. */
static char *
payload_bytes(const char *payload, size_t len, int json, const char *enc,
    size_t *out_len)
{
	struct json_object *lit;
	unsigned char *bytes;
	char *copy;

	FUZZ_CHECK(enc && (!strcmp(enc, "utf-8") || !strcmp(enc, "base64")),
	    "reply has no encoding");
	if (!json) {
		FUZZ_CHECK((strcmp(enc, "utf-8") == 0) == text_utf8_valid(payload, len),
		    "raw payload of %zu bytes says encoding %s", len, enc);
		if ((copy = malloc(len + 1)) == NULL)
			fuzz_fail("out of memory");
		memcpy(copy, payload, len);
		*out_len = len;
		return copy;
	}
	lit = fuzz_json_parse(payload, len);
	FUZZ_CHECK(lit && json_object_is_type(lit, json_type_string),
	    "JSON payload is no JSON string");
	if (!strcmp(enc, "base64")) {
		bytes = fuzz_base64_decode(json_object_get_string(lit),
		    (size_t)json_object_get_string_len(lit), out_len);
		FUZZ_CHECK(bytes != NULL, "base64 payload does not decode");
		FUZZ_CHECK(!text_utf8_valid((char *)bytes, *out_len),
		    "valid UTF-8 came as base64");
		copy = (char *)bytes;
	} else {
		*out_len = (size_t)json_object_get_string_len(lit);
		if ((copy = malloc(*out_len + 1)) == NULL)
			fuzz_fail("out of memory");
		memcpy(copy, json_object_get_string(lit), *out_len);
	}
	json_object_put(lit);
	return copy;
}

/* A history reply: "kept", and "count" the versions of the JSON array
   that is its payload. */
static void
check_history(const char *name, struct json_object *reply,
    const char *payload, size_t payload_len)
{
	struct json_object *kept, *list;
	char *copy;

	FUZZ_CHECK(json_object_object_get_ex(reply, "kept", &kept) &&
	    json_object_is_type(kept, json_type_boolean),
	    "history of '%s' without kept", name);
	FUZZ_CHECK(payload != NULL, "history of '%s' without its versions",
	    name);
	copy = strndup(payload, payload_len);
	list = copy ? json_tokener_parse(copy) : NULL;
	FUZZ_CHECK(list && json_object_is_type(list, json_type_array) &&
	    (int64_t)json_object_array_length(list) ==
	    fuzz_json_int(reply, "count"), "history of '%s': %zu bytes that "
	    "are not an array of count versions", name, payload_len);
	json_object_put(list);
	free(copy);
}

/* An ok reply about a file: the file is one watcherd may serve, and the
   reply tells its truth. */
static void
check_file_reply(struct json_object *req, const char *cmd,
    struct json_object *reply, const char *payload, size_t payload_len)
{
	struct json_object *fmt, *name_obj, *user = NULL;
	const char *name, *why, *crc, *enc;
	char want_crc[16];
	size_t len, got_len;
	int64_t off, next;
	unsigned proposal;
	char *file, *got;
	int json;

	FUZZ_CHECK(json_object_object_get_ex(req, "file_name", &name_obj),
	    "%s without file_name answered ok", cmd);
	FUZZ_CHECK(!json_object_object_get_ex(req, "user", &user) ||
	    (json_object_is_type(user, json_type_string) &&
	    getpwnam(json_object_get_string(user)) != NULL),
	    "%s for user %s answered ok under access = unix", cmd,
	    json_object_to_json_string(user));
	name = json_object_get_string(name_obj);
	len = (size_t)json_object_get_string_len(name_obj);
	FUZZ_CHECK(policy_check_name(name, len, &why) == PROTO_OK &&
	    policy_allowed(fuzz_allow, fuzz_n_allow, name),
	    "%s of refused name '%s' answered ok", cmd, name);
	proposal = request_proposal(req);
	file = fuzz_tree_read(proposal, name, &len);
	FUZZ_CHECK(file != NULL, "%s of %u '%s' answered ok, but it opens no "
	    "file beneath the folder", cmd, proposal, name);
	if (!strcmp(cmd, "unwatch")) {
		free(file);
		return;
	}
	if (!strcmp(cmd, "history")) {
		check_history(name, reply, payload, payload_len);
		free(file);
		return;
	}
	if (json_object_object_get_ex(req, "version", &fmt)) {
		/* A kept version's bytes, not the file's. */
		free(file);
		return;
	}
	FUZZ_CHECK(fuzz_json_int(reply, "size") == (int64_t)len, "%s of '%s' says "
	    "size %lld, the file has %zu bytes", cmd, name,
	    (long long)fuzz_json_int(reply, "size"), len);
	crc = fuzz_json_string(reply, "checksum");
	snprintf(want_crc, sizeof(want_crc), "%08lx",
	    crc32(0, (const unsigned char *)file, (unsigned)len));
	FUZZ_CHECK(len > FUZZ_MAX_FILE_SIZE ? crc == NULL :
	    crc && !strcmp(crc, want_crc), "%s of '%s' says checksum %s, the "
	    "file's is %s", cmd, name, crc ? crc : "null", want_crc);
	if (strcmp(cmd, "content") && strcmp(cmd, "tail")) {
		free(file);
		return;
	}
	json = json_object_object_get_ex(req, "format", &fmt) &&
	    !strcmp(json_object_get_string(fmt), "json");
	enc = fuzz_json_string(reply, "encoding");
	got = payload_bytes(payload, payload_len, json, enc, &got_len);
	off = 0;
	next = (int64_t)len;
	if (!strcmp(cmd, "tail")) {
		off = fuzz_json_int(reply, "offset");
		next = fuzz_json_int(reply, "next_offset");
		FUZZ_CHECK(0 <= off && off <= next && next <= (int64_t)len,
		    "tail of '%s' gives offsets %lld..%lld of %zu", name,
		    (long long)off, (long long)next, len);
		if (!strcmp(enc, "utf-8"))
			FUZZ_CHECK(text_utf8_boundary(got, got_len) == got_len,
			    "tail of '%s' ends inside a character", name);
	}
	FUZZ_CHECK(got_len == (size_t)(next - off) &&
	    memcmp(got, file + off, got_len) == 0, "%s of '%s' gives other "
	    "bytes than the file's %lld..%lld", cmd, name, (long long)off,
	    (long long)next);
	free(got);
	free(file);
}

static void
check_list(struct json_object *reply)
{
	struct json_object *arr, *row;
	const char *name, *why;
	size_t i;

	FUZZ_CHECK(json_object_object_get_ex(reply, "watches", &arr) &&
	    json_object_is_type(arr, json_type_array), "list has no watches");
	for (i = 0; i < json_object_array_length(arr); i++) {
		row = json_object_array_get_idx(arr, i);
		name = fuzz_json_string(row, "file_name");
		FUZZ_CHECK(name && policy_check_name(name, strlen(name), &why) ==
		    PROTO_OK && policy_allowed(fuzz_allow, fuzz_n_allow, name),
		    "list shows a watch of refused name '%s'", name);
		FUZZ_CHECK(fuzz_tree_folder((unsigned)fuzz_json_int(row, "proposal")) != -1,
		    "list shows a watch of an unknown proposal");
	}
}

/* Checks the reply to one request line (len bytes at line) and its
   payload. */
static void
check_reply(const char *line, size_t len, struct json_object *reply,
    const char *payload, size_t payload_len)
{
	struct json_object *req, *cmd, *ok;
	const char *name, *code, *detail;

	FUZZ_CHECK(json_object_object_get_ex(reply, "ok", &ok) &&
	    json_object_is_type(ok, json_type_boolean), "reply has no ok");
	if (!json_object_get_boolean(ok)) {
		code = fuzz_json_string(reply, "error");
		detail = fuzz_json_string(reply, "detail");
		FUZZ_CHECK(code && strcmp(code, "ok") &&
		    proto_error_from_code(code) != PROTO_INTERNAL &&
		    detail && *detail, "failed reply with error %s, detail %s",
		    code ? code : "-", detail ? detail : "-");
		return;
	}
	req = len <= PROTO_MAX_LINE ? fuzz_json_parse(line, len) : NULL;
	FUZZ_CHECK(req && json_object_object_get_ex(req, "cmd", &cmd),
	    "ok reply to a request that is no JSON object with cmd");
	name = json_object_get_string(cmd);
	if (!strcmp(name, "list"))
		check_list(reply);
	else if (strcmp(name, "ping") && strcmp(name, "status"))
		check_file_reply(req, name, reply, payload, payload_len);
	json_object_put(req);
}

/* Walks the replies against the request lines of the input. */
static void
check_replies(const struct exchange *x)
{
	const char *in = (const char *)x->in, *p = x->out, *end = p + x->out_len;
	const char *nl, *req_nl;
	struct json_object *reply, *ev, *pl;
	size_t req = 0, req_len, payload;

	for (;;) {
		/* The next request line that gets a reply. */
		for (;;) {
			if (req >= x->in_len) {
				req_nl = NULL;
				break;
			}
			req_nl = memchr(in + req, '\n', x->in_len - req);
			req_len = (size_t)((req_nl ? req_nl : in + x->in_len) -
			    (in + req));
			if (req_nl == NULL && req_len <= PROTO_MAX_LINE) {
				req_nl = NULL;
				req = x->in_len;
				break;
			}
			if (req_len > 0)
				break;
			req = (size_t)(req_nl - in) + 1;
		}
		if (p == end) {
			FUZZ_CHECK(req >= x->in_len, "no reply to the request at "
			    "byte %zu", req);
			return;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		FUZZ_CHECK(nl != NULL, "reply without a newline");
		reply = fuzz_json_parse(p, (size_t)(nl - p));
		FUZZ_CHECK(reply && json_object_is_type(reply, json_type_object),
		    "reply is no JSON object: %.*s", (int)(nl - p), p);
		payload = 0;
		if (json_object_object_get_ex(reply, "payload", &pl)) {
			FUZZ_CHECK(json_object_is_type(pl, json_type_int) &&
			    json_object_get_int64(pl) >= 0, "bad payload");
			payload = (size_t)json_object_get_int64(pl);
			FUZZ_CHECK(payload <= (size_t)(end - nl - 1), "payload of "
			    "%zu bytes, %zu came", payload, (size_t)(end - nl - 1));
			/* Names and details may echo anything; file bytes
			   never hold the secret's. */
			FUZZ_CHECK(!fuzz_contains(nl + 1, payload, "SSSS"),
			    "a payload carries the outside secret's bytes");
		}
		if (!json_object_object_get_ex(reply, "ok", NULL)) {
			FUZZ_CHECK(json_object_object_get_ex(reply, "event", &ev) &&
			    json_object_is_type(ev, json_type_string),
			    "line with neither ok nor event");
		} else {
			FUZZ_CHECK(req < x->in_len, "a reply to no request");
			check_reply(in + req, req_len, reply, nl + 1, payload);
			req = req_nl ? (size_t)(req_nl - in) + 1 : x->in_len;
		}
		json_object_put(reply);
		p = nl + 1 + payload;
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_access = "unix";
	fuzz_daemon();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The reply buffer is kept: allocating it anew each time costs more
	   than the exchange. */
	static char *out;
	static size_t out_cap;
	struct exchange x = { .d = fuzz_daemon(), .in = data, .in_len = size,
	    .out = out, .out_cap = out_cap };

	exchange_run(&x);
	out = x.out;
	out_cap = x.out_cap;
	FUZZ_CHECK(server_client_count(x.d->server) == 0, "%zu clients left "
	    "after the connection closed", server_client_count(x.d->server));
	check_replies(&x);
	return 0;
}
