/* The protocol's lines: each shape as common/msg.h writes it, byte for
   byte, and read back by common/fields.h into the same values. */
#include <string.h>

#include "common/fields.h"
#include "common/http_count.h"
#include "common/msg.h"
#include "tests/unit/tap.h"

static char line[MSG_LINE_MAX + 1];
static struct msg m;

/* A fresh line. */
static struct msg *
fresh(void)
{
	msg_init(&m, line, sizeof(line) - 1);
	return &m;
}

/* The line written, NUL-terminated. */
static const char *
written(void)
{
	line[m.len] = '\0';
	return line;
}

static const struct msg_state file = { .exists = 1, .crc = 0x0e6fd9b8,
    .size = 27019, .mtime = { 1764118861, 123456000 } };
static const struct msg_state big = { .exists = 1, .too_large = 1,
    .size = 1LL << 30, .mtime = { 1764118861, 0 } };
static const struct msg_state gone = { .exists = 0 };

static int
same_state(const struct msg_state *a, const struct msg_state *b)
{
	if (a->exists != b->exists)
		return 0;
	if (!a->exists)
		return 1;
	return a->too_large == b->too_large && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    (a->too_large || a->crc == b->crc);
}

static void
test_requests(void)
{
	struct msg_file f = { 1111, "context.py", 10, 1, "alice" };
	struct msg_file anon = { 1111, "a\"b", 3, 1, NULL };
	struct msg_file trusted = { 7, "run.log", 7, 0, NULL };
	struct http_count_table t = { 0 };
	char longname[POLICY_MAX_NAME + 10];

	msg_request(fresh(), "ping");
	tap_is_str(written(), "{\"cmd\":\"ping\"}", "a request about no file");
	msg_request_file(fresh(), "checksum", &f);
	tap_is_str(written(), "{\"cmd\":\"checksum\",\"proposal\":1111,"
	    "\"file_name\":\"context.py\",\"user\":\"alice\"}",
	    "a request about a file, for a user");
	msg_request_file(fresh(), "subscribe", &anon);
	tap_is_str(written(), "{\"cmd\":\"subscribe\",\"proposal\":1111,"
	    "\"file_name\":\"a\\\"b\",\"user\":null}",
	    "nobody logged in is \"user\":null; the name is escaped");
	msg_request_file(fresh(), "unwatch", &trusted);
	tap_is_str(written(), "{\"cmd\":\"unwatch\",\"proposal\":7,"
	    "\"file_name\":\"run.log\"}", "a trusted peer's request has no user");
	msg_request_content(fresh(), &f, 1);
	tap_is_str(written(), "{\"cmd\":\"content\",\"proposal\":1111,"
	    "\"file_name\":\"context.py\",\"user\":\"alice\","
	    "\"format\":\"json\"}", "content, as JSON");
	msg_request_content(fresh(), &trusted, 0);
	tap_is_str(written(), "{\"cmd\":\"content\",\"proposal\":7,"
	    "\"file_name\":\"run.log\",\"format\":\"raw\"}", "content, raw");
	msg_request_tail(fresh(), &f, 10, 4096, 1, "12-0");
	tap_is_str(written(), "{\"cmd\":\"tail\",\"proposal\":1111,"
	    "\"file_name\":\"context.py\",\"user\":\"alice\",\"offset\":10,"
	    "\"max_bytes\":4096,\"format\":\"json\",\"generation\":\"12-0\"}",
	    "tail with a generation");
	msg_request_tail(fresh(), &trusted, 0, 65536, 0, NULL);
	tap_is_str(written(), "{\"cmd\":\"tail\",\"proposal\":7,"
	    "\"file_name\":\"run.log\",\"offset\":0,\"max_bytes\":65536,"
	    "\"format\":\"raw\"}", "tail without one");
	msg_request_write(fresh(), &f, 0xabc, 42);
	tap_is_str(written(), "{\"cmd\":\"write\",\"proposal\":1111,"
	    "\"file_name\":\"context.py\",\"user\":\"alice\","
	    "\"if_checksum\":\"00000abc\",\"payload\":42}", "write");
	t.n[HTTP_COUNT_FILE_CONTENT][0] = 3;
	msg_request_http_count(fresh(), &t);
	tap_is_str(written(), "{\"cmd\":\"http_count\",\"counts\":"
	    "{\"file_content\":{\"200\":3}}}", "http_count with counts");

	memset(longname, 'x', sizeof(longname));
	f.name = longname;
	f.len = sizeof(longname);
	msg_request_file(fresh(), "checksum", &f);
	tap_ok(strstr(written(), "\"file_name\":\"") != NULL &&
	    strlen(strstr(line, "\"file_name\":\"")) == 13 + POLICY_MAX_NAME +
	    1 + 1 + 16, "a name too long is cut one byte past the longest");
}

static void
test_replies(void)
{
	struct msg_tail t = { .offset = 5, .next_offset = 9, .size = 12,
	    .generation = "77-1", .generation_len = 4, .reset = 1,
	    .has_crc = 1, .crc = 0xff, .mtime = { 1, 500000000 } };
	struct http_count_table c = { 0 };
	static const char errors[] = "[{\"line\":1,\"column\":null,"
	    "\"message\":\"x\"}]";

	msg_state(fresh(), &file);
	tap_is_str(written(), "\"checksum\":\"0e6fd9b8\",\"size\":27019,"
	    "\"mtime\":1764118861.123456", "the state fields");
	msg_state(fresh(), &big);
	tap_is_str(written(), "\"checksum\":null,\"size\":1073741824,"
	    "\"mtime\":1764118861.000000,\"too_large\":true",
	    "a file too large has no checksum and says so");
	msg_state(fresh(), &gone);
	tap_is_str(written(), "\"checksum\":null,\"size\":null,\"mtime\":null",
	    "a file that does not exist");
	msg_reply_state(fresh(), &file, "inotify");
	tap_is_str(written(), "{\"ok\":true,\"checksum\":\"0e6fd9b8\","
	    "\"size\":27019,\"mtime\":1764118861.123456,\"mode\":\"inotify\"}",
	    "the checksum reply");
	msg_reply_content(fresh(), &file, "poll", 1, 36028);
	tap_is_str(written(), "{\"ok\":true,\"checksum\":\"0e6fd9b8\","
	    "\"size\":27019,\"mtime\":1764118861.123456,\"mode\":\"poll\","
	    "\"encoding\":\"base64\",\"payload\":36028}", "the content reply");
	msg_reply_tail(fresh(), &t, "inotify", 4);
	tap_is_str(written(), "{\"ok\":true,\"offset\":5,\"next_offset\":9,"
	    "\"size\":12,\"generation\":\"77-1\",\"reset\":true,"
	    "\"encoding\":\"utf-8\",\"checksum\":\"000000ff\","
	    "\"mtime\":1.500000,\"mode\":\"inotify\",\"payload\":4}",
	    "the tail reply");
	t.has_crc = 0;
	t.reset = 0;
	t.base64 = 1;
	msg_tail_fields(fresh(), &t);
	tap_is_str(written(), "\"offset\":5,\"next_offset\":9,\"size\":12,"
	    "\"generation\":\"77-1\",\"reset\":false,\"encoding\":\"base64\","
	    "\"checksum\":null,\"mtime\":1.500000",
	    "the tail fields, no checksum");
	msg_reply_ping(fresh(), "1.0.0");
	tap_is_str(written(), "{\"ok\":true,\"version\":\"1.0.0\","
	    "\"protocol\":1}", "the ping reply");
	msg_reply_unwatch(fresh(), 2);
	tap_is_str(written(), "{\"ok\":true,\"subscribers_dropped\":2}",
	    "the unwatch reply");
	msg_reply_http_count(fresh(), &c);
	tap_is_str(written(), "{\"ok\":true,\"counts\":{}}",
	    "the http_count reply, nothing counted");
	msg_reply_error(fresh(), PROTO_NOT_FOUND, "no \"such\" file");
	tap_is_str(written(), "{\"ok\":false,\"error\":\"not_found\","
	    "\"detail\":\"no \\\"such\\\" file\"}", "a refusal");
	msg_reply_write(fresh(), &(struct msg_write){ .st = file });
	tap_is_str(written(), "{\"ok\":true,\"checksum\":\"0e6fd9b8\","
	    "\"size\":27019,\"mtime\":1764118861.123456,\"warnings\":[]}",
	    "a write saved, no warnings");
	msg_reply_write(fresh(), &(struct msg_write){ .error = PROTO_CONFLICT,
	    .detail = "moved on", .has_current = 1, .current = 1 });
	tap_is_str(written(), "{\"ok\":false,\"error\":\"conflict\","
	    "\"detail\":\"moved on\",\"checksum\":\"00000001\"}",
	    "a write's conflict names the checksum the file has");
	msg_reply_write(fresh(), &(struct msg_write){ .error = PROTO_CONFLICT,
	    .detail = "gone" });
	tap_is_str(written(), "{\"ok\":false,\"error\":\"conflict\","
	    "\"detail\":\"gone\",\"checksum\":null}",
	    "a conflict with no checksum known");
	msg_reply_write(fresh(), &(struct msg_write){ .error = PROTO_INVALID,
	    .detail = "refused", .errors = { errors, sizeof(errors) - 1 } });
	tap_is_str(written(), "{\"ok\":false,\"error\":\"invalid\","
	    "\"detail\":\"refused\",\"errors\":[{\"line\":1,\"column\":null,"
	    "\"message\":\"x\"}],\"warnings\":[]}", "a write refused as invalid");
	msg_reply_write(fresh(), &(struct msg_write){ .error = PROTO_FORBIDDEN,
	    .detail = "no" });
	tap_is_str(written(), "{\"ok\":false,\"error\":\"forbidden\","
	    "\"detail\":\"no\"}", "any other refusal of a write");
}

static void
test_events(void)
{
	msg_event_state(fresh(), "changed", 1111, "context.py", 10, &file,
	    "5-0");
	tap_is_str(written(), "{\"event\":\"changed\",\"proposal\":1111,"
	    "\"file_name\":\"context.py\",\"checksum\":\"0e6fd9b8\","
	    "\"size\":27019,\"mtime\":1764118861.123456,\"generation\":\"5-0\"}",
	    "a changed event");
	msg_event_state(fresh(), "unwatched", 1, "a.log", 5, NULL, NULL);
	tap_is_str(written(), "{\"event\":\"unwatched\",\"proposal\":1,"
	    "\"file_name\":\"a.log\"}", "an event without state");
	msg_event_error(fresh(), "forbidden", 1, "a.log", 5, PROTO_FORBIDDEN,
	    "bob may not");
	tap_is_str(written(), "{\"event\":\"forbidden\",\"proposal\":1,"
	    "\"file_name\":\"a.log\",\"error\":\"forbidden\","
	    "\"detail\":\"bob may not\"}", "an event that ends a subscription");
}

static void
test_read_back(void)
{
	const struct msg_state *states[] = { &file, &big, &gone };
	struct msg_tail t = { .offset = 0, .next_offset = 3, .size = 3,
	    .generation = "9-2", .generation_len = 3, .base64 = 1,
	    .mtime = { 1764118861, 5000 } }, tr;
	struct fields_refusal ref;
	struct fields_event ev;
	struct msg_state st;
	struct msg_write w;
	char version[16], buf[8];
	long long protocol;
	size_t i;
	int base64;

	for (i = 0; i < 3; i++) {
		msg_reply_state(fresh(), states[i], "poll");
		tap_ok(fields_state(line, m.len, &st) == 0 &&
		    same_state(&st, states[i]), "a state reads back (%zu)", i);
	}
	tap_ok(fields_ok(line, m.len) == 1, "ok:true reads as 1");
	msg_reply_content(fresh(), &file, "poll", 1, 10);
	tap_ok(fields_content(line, m.len, &st, &base64) == 0 &&
	    same_state(&st, &file) && base64 == 1, "a content reply reads back");

	msg_reply_tail(fresh(), &t, "poll", 3);
	tap_ok(fields_tail(line, m.len, &tr) == 0 && tr.offset == 0 &&
	    tr.next_offset == 3 && tr.size == 3 && tr.generation_len == 3 &&
	    memcmp(tr.generation, "9-2", 3) == 0 && !tr.reset && tr.base64 &&
	    !tr.has_crc && tr.mtime.tv_nsec == 5000,
	    "a tail reply reads back");
	tap_ok(fields_tail("{\"ok\":true,\"offset\":5,\"next_offset\":4}", 38,
	    &tr) == -1, "a tail reply whose offsets do not add up is refused");

	msg_reply_error(fresh(), PROTO_UNAVAILABLE, "\x01 caf\xc3\xa9 \"x\"\n");
	fields_refusal(line, m.len, &ref);
	tap_ok(fields_ok(line, m.len) == 0, "ok:false reads as 0");
	tap_ok(ref.error == PROTO_UNAVAILABLE && strcmp(ref.code,
	    "unavailable") == 0 && ref.has_detail, "a refusal's code");
	tap_is_str(ref.detail, "\x01 caf\xc3\xa9 \"x\"\n",
	    "a refusal's detail, escapes undone");
	fields_refusal("{\"ok\":false,\"error\":\"new_code\"}", 32, &ref);
	tap_ok(ref.error == PROTO_INTERNAL && !ref.has_detail,
	    "an unknown code is internal, no detail is none");

	tap_ok(fields_string("{\"k\":\"\\u00e9\\ud83d\\ude00\\u0041\"}", 32, "k",
	    buf, sizeof(buf)) == 0 && strcmp(buf, "\xc3\xa9\xf0\x9f\x98\x80"
	    "A") == 0, "\\u escapes and a surrogate pair become UTF-8");
	tap_ok(fields_string("{\"k\":\"\\u00e9\\u00e9\\u00e9\\u00e9\"}", 32, "k",
	    buf, sizeof(buf)) == 0 && strcmp(buf, "\xc3\xa9\xc3\xa9\xc3\xa9") ==
	    0, "a string too long is cut on a character boundary");
	tap_ok(fields_string("{\"k\":\"\\x\"}", 10, "k", buf, sizeof(buf)) ==
	    -1, "a bad escape is refused");

	msg_event_state(fresh(), "changed", 1111, "d\xc3\xa9j\xc3\xa0.log", 10,
	    &big, "12-3");
	tap_ok(fields_event(line, m.len, &ev) == 0 &&
	    strcmp(ev.name, "changed") == 0 && ev.proposal == 1111 &&
	    strcmp(ev.file_name, "d\xc3\xa9j\xc3\xa0.log") == 0 &&
	    ev.has_state && same_state(&ev.st, &big) && ev.generation &&
	    ev.generation_len == 4 && memcmp(ev.generation, "12-3", 4) == 0,
	    "an event reads back");
	msg_event_state(fresh(), "unwatched", 1, "a", 1, NULL, NULL);
	tap_ok(fields_event(line, m.len, &ev) == 0 && !ev.has_state &&
	    ev.generation == NULL, "an event without state reads back");
	tap_ok(fields_event("{\"ok\":true}", 11, &ev) == -1,
	    "a reply is no event");

	msg_reply_write(fresh(), &(struct msg_write){ .st = file,
	    .warnings = { "[1]", 3 } });
	tap_ok(fields_write(line, m.len, &w) == 0 && w.error == PROTO_OK &&
	    same_state(&w.st, &file) && w.warnings.len == 3 &&
	    memcmp(w.warnings.text, "[1]", 3) == 0, "a save reads back");
	msg_reply_write(fresh(), &(struct msg_write){ .error = PROTO_CONFLICT,
	    .detail = "d", .has_current = 1, .current = 7 });
	tap_ok(fields_write(line, m.len, &w) == 0 &&
	    w.error == PROTO_CONFLICT && w.has_current && w.current == 7,
	    "a conflict reads back");
	msg_reply_write(fresh(), &(struct msg_write){ .error = PROTO_INVALID,
	    .detail = "d", .errors = { "[2]", 3 } });
	tap_ok(fields_write(line, m.len, &w) == 0 && w.error == PROTO_INVALID &&
	    w.errors.len == 3 && w.warnings.len == 2, "an invalid save reads back");

	msg_reply_ping(fresh(), "1.0.0");
	fields_ping(line, m.len, version, sizeof(version), &protocol);
	tap_ok(strcmp(version, "1.0.0") == 0 && protocol == PROTO_VERSION,
	    "a ping reply reads back");
}

static void
test_full(void)
{
	char small[16];

	msg_init(&m, small, sizeof(small));
	msg_reply_state(&m, &file, "poll");
	tap_ok(m.full && m.len == sizeof(small),
	    "a line that does not fit is marked full and keeps what fitted");
}

int
main(void)
{
	test_requests();
	test_replies();
	test_events();
	test_read_back();
	test_full();
	return tap_done();
}
