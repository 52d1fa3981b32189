/* The vocabulary of http_count: parsing a counts object strictly, adding
   without overflow, and writing it back. */
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "common/http_count.h"
#include "tests/unit/tap.h"

/* Parses text as a counts object with the bound max; returns what
   http_count_parse returned and sets *why ("" on success). */
static int
parse(const char *text, uint64_t max, struct http_count_table *t,
    const char **why)
{
	struct json_object *o = json_tokener_parse(text);
	int rc;

	*why = "";
	rc = http_count_parse(o, max, t, why);
	json_object_put(o);
	return rc;
}

static void
test_parse(void)
{
	static const struct {
		const char	*text;
		const char	*why;	/* a word of the refusal */
	} bad[] = {
		{ "[]", "object" },
		{ "{\"nope\":{\"200\":1}}", "unknown route" },
		{ "{\"file_content\":{\"201\":1}}", "status" },
		{ "{\"file_content\":{\"0200\":1}}", "status" },
		{ "{\"file_content\":{\" 200\":1}}", "status" },
		{ "{\"file_content\":1}", "object of statuses" },
		{ "{\"file_content\":{\"200\":-1}}", "whole number" },
		{ "{\"file_content\":{\"200\":1.5}}", "whole number" },
		{ "{\"file_content\":{\"200\":\"1\"}}", "whole number" },
		{ "{\"file_content\":{\"200\":1000000001}}", "whole number" },
		{ "{\"health\":{\"200\":1},\"bogus\":{\"200\":1}}", "unknown route" },
	};
	struct http_count_table t;
	const char *why;
	size_t i;
	int rc;

	tap_is_int(parse("{}", HTTP_COUNT_MAX_ADD, &t, &why), 0,
	    "an empty counts object is valid");
	tap_is_int(parse("{\"file_content\":{\"200\":12,\"304\":3},"
	    "\"contextfile/last_modified\":{\"503\":1000000000},"
	    "\"unknown\":{\"404\":0}}", HTTP_COUNT_MAX_ADD, &t, &why), 0,
	    "known routes and statuses are read");
	tap_is_int((long long)t.n[HTTP_COUNT_FILE_CONTENT][http_count_column(200)],
	    12, "file_content 200 is 12");
	tap_is_int((long long)t.n[HTTP_COUNT_FILE_CONTENT][http_count_column(304)],
	    3, "file_content 304 is 3");
	tap_is_int((long long)t.n[HTTP_COUNT_CONTEXT_LAST_MODIFIED]
	    [http_count_column(503)], 1000000000,
	    "the largest count one request may add is accepted");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = parse(bad[i].text, HTTP_COUNT_MAX_ADD, &t, &why);
		tap_ok(rc == -1 && strstr(why, bad[i].why) != NULL,
		    "%s is refused: %s", bad[i].text, why);
	}
	tap_is_int(parse("{\"events\":{\"200\":9223372036854775807}}",
	    HTTP_COUNT_MAX_TOTAL, &t, &why), 0, "a total may be 2^63 - 1");
	tap_is_int(http_count_column(302), -1, "302 has no column");
}

static void
test_add_and_format(void)
{
	struct http_count_table a, b;
	char buf[HTTP_COUNT_JSON_MAX];
	const char *why;
	size_t len;
	int r, s;

	memset(&a, 0, sizeof(a));
	len = http_count_format(&a, buf, sizeof(buf));
	tap_is_str(buf, "{}", "an empty table is {}");
	tap_is_int((long long)len, 2, "its length is returned");
	a.n[HTTP_COUNT_HEALTH][http_count_column(200)] = 2;
	a.n[HTTP_COUNT_UNKNOWN][http_count_column(404)] = 1;
	a.n[HTTP_COUNT_UNKNOWN][http_count_column(405)] = 7;
	http_count_format(&a, buf, sizeof(buf));
	tap_is_str(buf, "{\"health\":{\"200\":2},\"unknown\":{\"404\":1,"
	    "\"405\":7}}", "only the cells that are not zero are written");
	tap_ok(parse(buf, HTTP_COUNT_MAX_ADD, &b, &why) == 0 &&
	    memcmp(&a, &b, sizeof(a)) == 0, "what is written parses back");
	/* Every cell at its largest: the bound of the text holds. */
	for (r = 0; r < HTTP_COUNT_ROUTES; r++)
		for (s = 0; s < HTTP_COUNT_STATUSES; s++)
			a.n[r][s] = HTTP_COUNT_MAX_TOTAL;
	len = http_count_format(&a, buf, sizeof(buf));
	tap_ok(len < sizeof(buf) && parse(buf, HTTP_COUNT_MAX_TOTAL, &b,
	    &why) == 0 && memcmp(&a, &b, sizeof(a)) == 0,
	    "a full table of the largest totals fits (%zu bytes) and parses "
	    "back", len);
	memset(&b, 0, sizeof(b));
	b.n[HTTP_COUNT_EVENTS][0] = 5;
	http_count_add(&a, &b);
	tap_is_int((long long)a.n[HTTP_COUNT_EVENTS][0],
	    (long long)HTTP_COUNT_MAX_TOTAL, "a total stops at 2^63 - 1");
	memset(&a, 0, sizeof(a));
	http_count_add(&a, &b);
	http_count_add(&a, &b);
	tap_is_int((long long)a.n[HTTP_COUNT_EVENTS][0], 10, "counts add up");
}

int
main(void)
{
	test_parse();
	test_add_and_format();
	return tap_done();
}
