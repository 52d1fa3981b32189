/*
 * The HTTP side: dispatch() run as plain CGI runs it (parameters
 * from the environment, the answer on stdout, here a memory file), asking
 * a real watcherd that runs on the fixture tree in a thread of its own.
 * The input is "METHOD\nREQUEST_URI\nIf-None-Match\nLast-Event-ID\n
 * REMOTE_USER", each line optional (QUERY_STRING is what follows '?' in
 * the URI). Held
 * answers (wait=, /events) get the 503 of a handler with no place for
 * them (max_held 0), so every input is answered at once. Checks:
 * - a well-formed CGI answer: a Status line with a known status, only
 *   the headers the handler writes (no CR or LF smuggled into one),
 *   application/json (the Prometheus text type for a 200 of /metrics),
 *   the browser headers of DESIGN.md section 7 (a policy that allows
 *   nothing, nosniff, same-origin referrer),
 *   Cache-Control no-cache exactly for /file_content's
 *   200 and 304, a Content-Length that is the body's (no body for HEAD
 *   and 304), Allow on 405, Retry-After on 503; never a 500; a PUT
 *   (no If-Match, no body in this input) is 428, or 411 or 400 before;
 * - the body is one JSON value; an error is {"detail":"<text>"}; a 200 of
 *   /metrics is Prometheus text: comments, and samples "name[{labels}]
 *   value", watcherd_up 1 among them;
 * - a 200 tells the truth about the file the query names: /file_content
 *   and /contextfile/content give its bytes (base64 decoded when so
 *   encoded), checksum (and ETag, X-Checksum) and size; /file_tail the
 *   bytes from offset to next_offset; /has_new_checksum true exactly when
 *   the file's CRC-32 differs; a 304 only for an If-None-Match that names
 *   the current checksum; the file is one policy_check_name and the allow
 *   patterns accept, opened beneath the proposal's folder;
 * - no content ever carries the outside secret's bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <zlib.h>

#include "cgi/http.h"
#include "cgi/query.h"
#include "cgi/request.h"
#include "cgi/dispatch.h"
#include "cgi/upstream.h"
#include "common/crc.h"
#include "common/policy.h"
#include "tests/fuzz/harness.h"

#define WATCHERD_TIMEOUT_MS	1000

static struct upstream up;
static struct request_limits limits;
static int out_fd;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_daemon_thread();
	upstream_init(&up, fuzz_tree()->socket, WATCHERD_TIMEOUT_MS);
	limits.threads = 1;
	limits.max_held = 0;
	limits.heartbeat_ms = 1000;
	atomic_init(&limits.held, 0);
	/* The answer goes to stdout, as in CGI: make that a memory file. */
	fflush(stdout);
	if ((out_fd = memfd_create("answer", MFD_CLOEXEC)) == -1 ||
	    dup2(out_fd, STDOUT_FILENO) == -1)
		fuzz_fail("memfd: %s", strerror(errno));
	return 0;
}

/* Sets or (value NULL) unsets CGI variable i. Through putenv() with
   strings of our own: setenv() keeps every value it was ever given. */
static void
cgi_var(size_t i, const char *name, const char *value)
{
	static char *vars[6];
	char *s = NULL;

	if (value) {
		if (asprintf(&s, "%s=%s", name, value) == -1 || putenv(s) != 0)
			fuzz_fail("out of memory");
	} else
		unsetenv(name);
	free(vars[i]);
	vars[i] = s;
}

/* The route a path names, as DESIGN.md says: the one its path (without
   the query, a trailing slash ignored) ends with. */
static const char *
route_of(const char *uri, char *path, size_t size)
{
	static const char *const routes[] = { "/file_content",
	    "/has_new_checksum", "/file_tail", "/events", "/health",
	    "/metrics", "/contextfile/content", "/contextfile/last_modified",
	    "/file_history" };
	size_t n, i;

	if (uri == NULL)
		return NULL;
	snprintf(path, size, "%.*s", (int)strcspn(uri, "?"), uri);
	n = strlen(path);
	if (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (n >= strlen(routes[i]) &&
		    strcmp(path + n - strlen(routes[i]), routes[i]) == 0)
			return routes[i];
	return NULL;
}

struct answer {
	int		 status;
	const char	*head;		/* the header lines */
	size_t		 head_len;
	const char	*body;
	size_t		 body_len;
};

/* The value of header name, copied into buf; NULL when absent. */
static const char *
header(const struct answer *a, const char *name, char *buf, size_t len)
{
	const char *p = a->head, *end = a->head + a->head_len, *eol;
	size_t n = strlen(name);

	for (; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if ((size_t)(eol - p) > n + 2 && !strncasecmp(p, name, n) &&
		    p[n] == ':' && p[n + 1] == ' ') {
			snprintf(buf, len, "%.*s", (int)(eol - p - n - 2), p + n + 2);
			return buf;
		}
	}
	return NULL;
}

/* Splits and checks the form of the answer. */
static void
parse_answer(const char *out, size_t len, struct answer *a)
{
	static const char *const known[] = { "Status", "Content-Type",
	    "Cache-Control", "Content-Length", "Retry-After", "Allow", "ETag",
	    "X-Checksum", "X-Remote-User", "Content-Security-Policy",
	    "X-Content-Type-Options", "Referrer-Policy" };
	const char *p, *end, *eol, *colon;
	size_t i;
	int n = 0;

	FUZZ_CHECK(sscanf(out, "Status: %3d %n", &a->status, &n) == 1 && n > 0,
	    "answer does not begin with a Status line: %.40s", out);
	end = memmem(out, len, "\r\n\r\n", 4);
	FUZZ_CHECK(end != NULL, "answer has no end of headers");
	a->head = out;
	a->head_len = (size_t)(end - out) + 2;
	a->body = end + 4;
	a->body_len = len - (size_t)(a->body - out);
	for (p = out; p < end + 2; p = eol + 2) {
		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		FUZZ_CHECK(memchr(p, '\n', (size_t)(eol - p)) == NULL &&
		    memchr(p, '\r', (size_t)(eol - p)) == NULL,
		    "a header line holds a CR or LF");
		colon = memchr(p, ':', (size_t)(eol - p));
		FUZZ_CHECK(colon && colon[1] == ' ', "header line without a "
		    "name: %.*s", (int)(eol - p), p);
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if ((size_t)(colon - p) == strlen(known[i]) &&
			    !memcmp(p, known[i], strlen(known[i])))
				break;
		FUZZ_CHECK(i < sizeof(known) / sizeof(known[0]), "unknown "
		    "header %.*s", (int)(colon - p), p);
	}
}

/* The bytes a "content" value stands for (the caller frees them). */
static char *
content_bytes(struct json_object *v, const char *enc, size_t *len)
{
	char *copy;

	FUZZ_CHECK(v && json_object_is_type(v, json_type_string),
	    "content is no string");
	if (enc && !strcmp(enc, "base64")) {
		copy = (char *)fuzz_base64_decode(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v), len);
		FUZZ_CHECK(copy != NULL, "base64 content does not decode");
	} else {
		*len = (size_t)json_object_get_string_len(v);
		if ((copy = malloc(*len + 1)) == NULL)
			fuzz_fail("out of memory");
		memcpy(copy, json_object_get_string(v), *len);
	}
	/* Names and error details may echo anything; file bytes never hold
	   the secret's. */
	FUZZ_CHECK(!fuzz_contains(copy, *len, "SSSS"), "content carries the "
	    "outside secret's bytes");
	return copy;
}

static int
same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* 1 when the member key of body, a content value in body's encoding, is
   exactly the len bytes at want. */
static int
content_is(struct json_object *body, const char *key, const char *want,
    size_t len)
{
	struct json_object *v = NULL;
	size_t got_len;
	char *got;
	int same_bytes;

	json_object_object_get_ex(body, key, &v);
	got = content_bytes(v, fuzz_json_string(body, "encoding"), &got_len);
	same_bytes = got_len == len && !memcmp(got, want, len);
	free(got);
	return same_bytes;
}



/* A 200 or 304 about a file: the truth about a file watcherd may serve. */
static void
check_file_answer(const char *route, const struct answer *a,
    struct json_object *body, const char *qs, const char *inm)
{
	int context = !strncmp(route, "/contextfile/", 13);
	const char *p, *name, *why, *given, *crc;
	char want_crc[16], buf[256], etag[32];
	size_t len, plen, name_len;
	unsigned proposal;
	struct json_object *versions;
	char *file, err[256];
	int64_t off, next;
	struct query q;
	uint32_t want;

	FUZZ_CHECK(query_parse(&q, qs, err, sizeof(err)) == 0, "%d for a "
	    "query that does not parse", a->status);
	p = query_get(&q, context ? "proposal_number" : "proposal", &plen);
	FUZZ_CHECK(p && policy_parse_proposal(p, plen, &proposal) == 0,
	    "%d without a proposal", a->status);
	name = context ? "context.py" : query_get(&q, "file_name", &name_len);
	if (context)
		name_len = strlen(name);
	FUZZ_CHECK(name && policy_check_name(name, name_len, &why) ==
	    PROTO_OK && policy_allowed(fuzz_allow, fuzz_n_allow, name),
	    "%d for a refused file_name", a->status);
	file = fuzz_tree_read(proposal, name, &len);
	FUZZ_CHECK(file != NULL, "%d for %u '%s', which opens no file beneath "
	    "the folder", a->status, proposal, name);
	snprintf(want_crc, sizeof(want_crc), "%08lx",
	    crc32(0, (const unsigned char *)file, (unsigned)len));
	crc = header(a, "X-Checksum", buf, sizeof(buf));
	if (crc)
		FUZZ_CHECK(!strcmp(crc, want_crc), "X-Checksum %s, the file's "
		    "is %s", crc, want_crc);
	if (a->status == 304) {
		FUZZ_CHECK(same(route, "/file_content") && inm &&
		    (strstr(inm, want_crc) || strchr(inm, '*')),
		    "304 for If-None-Match %s, the checksum is %s",
		    inm ? inm : "(none)", want_crc);
	} else if (!strcmp(route, "/file_content")) {
		FUZZ_CHECK(same(fuzz_json_string(body, "checksum"), want_crc) &&
		    crc && header(a, "ETag", etag, sizeof(etag)) &&
		    etag[0] == '"' && !strncmp(etag + 1, want_crc, 8),
		    "checksum, X-Checksum or ETag is not the file's %s", want_crc);
		FUZZ_CHECK(fuzz_json_int(body, "size") == (int64_t)len &&
		    fuzz_json_int(body, "proposal") == proposal &&
		    same(fuzz_json_string(body, "file_name"), name),
		    "size, proposal or file_name is not the file's");
		FUZZ_CHECK(content_is(body, "content", file, len),
		    "content is not the file's bytes");
	} else if (!strcmp(route, "/contextfile/content")) {
		FUZZ_CHECK(content_is(body, "fileContent", file, len),
		    "fileContent is not context.py's bytes");
	} else if (!strcmp(route, "/has_new_checksum")) {
		given = query_get(&q, "checksum", NULL);
		FUZZ_CHECK(crc && given && crc_parse(given, &want) == 0 &&
		    json_object_is_type(body, json_type_boolean),
		    "has_new_checksum answer is not a boolean with X-Checksum");
		FUZZ_CHECK(json_object_get_boolean(body) ==
		    (want != (uint32_t)crc32(0, (const unsigned char *)file,
		    (unsigned)len)), "has_new_checksum says %d for %s, the "
		    "file's is %s", json_object_get_boolean(body), given,
		    want_crc);
	} else if (!strcmp(route, "/file_history")) {
		FUZZ_CHECK(fuzz_json_int(body, "proposal") == proposal &&
		    same(fuzz_json_string(body, "file_name"), name) &&
		    json_object_object_get_ex(body, "versions", &versions) &&
		    json_object_is_type(versions, json_type_array),
		    "file_history is not the file's list of versions");
	} else if (!strcmp(route, "/file_tail")) {
		off = fuzz_json_int(body, "offset");
		next = fuzz_json_int(body, "next_offset");
		FUZZ_CHECK(0 <= off && off <= next && next <= (int64_t)len,
		    "tail offsets %lld..%lld of %zu", (long long)off,
		    (long long)next, len);
		FUZZ_CHECK(content_is(body, "data", file + off,
		    (size_t)(next - off)),
		    "tail data is not the file's bytes %lld..%lld",
		    (long long)off, (long long)next);
	}
	free(file);
	query_free(&q);
}

/* A 200 of /metrics: every line a comment or a sample "name[{...}] value"
   with a metric name and a number, and watcherd_up 1 among them. */
static void
check_metrics(const struct answer *a)
{
	const char *p = a->body, *end = a->body + a->body_len, *nl, *sp;
	char *num_end;
	int seen_up = 0;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		FUZZ_CHECK(nl != NULL, "/metrics does not end in a newline");
		if (*p == '#')
			continue;
		FUZZ_CHECK(strspn(p, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_:0123456789") > 0 &&
		    !(*p >= '0' && *p <= '9'), "/metrics line with no metric "
		    "name: %.*s", (int)(nl - p), p);
		sp = memrchr(p, ' ', (size_t)(nl - p));
		FUZZ_CHECK(sp != NULL, "/metrics sample without a value: %.*s",
		    (int)(nl - p), p);
		(void)strtod(sp + 1, &num_end);
		FUZZ_CHECK(num_end == nl, "/metrics value is no number: %.*s",
		    (int)(nl - p), p);
		if ((size_t)(nl - p) == strlen("watcherd_up 1") &&
		    !memcmp(p, "watcherd_up 1", (size_t)(nl - p)))
			seen_up = 1;
	}
	FUZZ_CHECK(seen_up, "/metrics without watcherd_up 1");
}

static void
check_answer(const char *method, const char *uri, const char *qs,
    const char *inm, const char *out, size_t len)
{
	struct json_object *body, *detail;
	char buf[256], path[QUERY_MAX_LEN + 64];
	const char *route = route_of(uri, path, sizeof(path)), *v;
	int head = method && !strcmp(method, "HEAD"), metrics;
	struct answer a;

	parse_answer(out, len, &a);
	FUZZ_CHECK(a.status == 200 || a.status == 304 || a.status == 400 ||
	    a.status == 403 || a.status == 404 || a.status == 405 ||
	    a.status == 411 || a.status == 413 || a.status == 428 ||
	    a.status == 503, "status %d", a.status);
	metrics = same(route, "/metrics") && a.status == 200;
	v = header(&a, "Content-Type", buf, sizeof(buf));
	FUZZ_CHECK(v && !strcmp(v, metrics ?
	    "text/plain; version=0.0.4; charset=utf-8" : "application/json"),
	    "Content-Type %s for %d of %s", v ? v : "missing", a.status,
	    route ? route : "no route");
	v = header(&a, "Cache-Control", buf, sizeof(buf));
	FUZZ_CHECK(v && !strcmp(v, route && !strcmp(route, "/file_content") &&
	    (a.status == 200 || a.status == 304) ? "no-cache" : "no-store"),
	    "Cache-Control %s for %d of %s", v ? v : "missing", a.status,
	    route ? route : "no route");
	v = header(&a, "Content-Security-Policy", buf, sizeof(buf));
	FUZZ_CHECK(v && !strcmp(v, "default-src 'none'; frame-ancestors 'none'"),
	    "Content-Security-Policy %s for %d", v ? v : "missing", a.status);
	v = header(&a, "X-Content-Type-Options", buf, sizeof(buf));
	FUZZ_CHECK(v && !strcmp(v, "nosniff"), "X-Content-Type-Options %s "
	    "for %d", v ? v : "missing", a.status);
	v = header(&a, "Referrer-Policy", buf, sizeof(buf));
	FUZZ_CHECK(v && !strcmp(v, "same-origin"), "Referrer-Policy %s for %d",
	    v ? v : "missing", a.status);
	v = header(&a, "Content-Length", buf, sizeof(buf));
	if (a.status == 304)
		FUZZ_CHECK(v == NULL && a.body_len == 0, "304 with a body");
	else
		FUZZ_CHECK(v && strtoull(v, NULL, 10) == (head ? strtoull(v,
		    NULL, 10) : a.body_len) && (!head || a.body_len == 0),
		    "Content-Length %s for a body of %zu bytes%s", v ? v : "-",
		    a.body_len, head ? " (HEAD)" : "");
	if (a.status == 405)
		FUZZ_CHECK(header(&a, "Allow", buf, sizeof(buf)) != NULL,
		    "405 without Allow");
	if (a.status == 503)
		FUZZ_CHECK(header(&a, "Retry-After", buf, sizeof(buf)) != NULL,
		    "503 without Retry-After");
	if (head || a.status == 304) {
		if (a.status == 304) {
			FUZZ_CHECK(same(route, "/file_content"), "304 for %s",
			    route ? route : "no route");
			check_file_answer(route, &a, NULL, qs, inm);
		}
		return;
	}
	if (metrics) {
		check_metrics(&a);
		return;
	}
	body = fuzz_json_parse(a.body, a.body_len);
	FUZZ_CHECK(body != NULL, "%d body is no JSON: %.*s", a.status,
	    (int)a.body_len, a.body);
	if (a.status >= 400) {
		FUZZ_CHECK(json_object_is_type(body, json_type_object) &&
		    json_object_object_length(body) == 1 &&
		    json_object_object_get_ex(body, "detail", &detail) &&
		    json_object_is_type(detail, json_type_string) &&
		    json_object_get_string_len(detail) > 0,
		    "%d body is not {\"detail\":text}: %.*s", a.status,
		    (int)a.body_len, a.body);
	} else {
		FUZZ_CHECK(route != NULL, "200 for no route");
		if (strcmp(route, "/health") && strcmp(route,
		    "/contextfile/last_modified"))
			check_file_answer(route, &a, body, qs, inm);
	}
	json_object_put(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *fields[5] = { NULL }, *input, *p, *nl, *out;
	struct http_exchange x;
	const char *qs;
	struct stat st;
	size_t i;

	if ((input = strndup((const char *)data, size)) == NULL)
		return 0;
	for (i = 0, p = input; i < 5 && p; i++) {
		fields[i] = p;
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		p = nl;
	}
	qs = fields[1] && strchr(fields[1], '?') ? strchr(fields[1], '?') + 1 :
	    NULL;
	cgi_var(0, "REQUEST_METHOD", fields[0]);
	cgi_var(1, "REQUEST_URI", fields[1]);
	cgi_var(2, "QUERY_STRING", qs);
	cgi_var(3, "HTTP_IF_NONE_MATCH", fields[2]);
	cgi_var(4, "HTTP_LAST_EVENT_ID", fields[3]);
	cgi_var(5, "REMOTE_USER", fields[4]);

	if (ftruncate(out_fd, 0) == -1 || lseek(out_fd, 0, SEEK_SET) == -1)
		fuzz_fail("memfd: %s", strerror(errno));
	memset(&x, 0, sizeof(x));
	dispatch(&x, &up, &limits);
	fflush(stdout);
	FUZZ_CHECK(fstat(out_fd, &st) == 0 && st.st_size > 0, "no answer");
	if ((out = malloc((size_t)st.st_size + 1)) == NULL)
		fuzz_fail("out of memory");
	FUZZ_CHECK(pread(out_fd, out, (size_t)st.st_size, 0) == st.st_size,
	    "cannot read the answer back");
	out[st.st_size] = '\0';
	check_answer(fields[0], fields[1], qs, fields[2], out,
	    (size_t)st.st_size);
	FUZZ_CHECK(atomic_load(&limits.held) == 0, "a held place was not "
	    "given back");
	free(out);
	free(input);
	return 0;
}
