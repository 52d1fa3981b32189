/* The quoting of log values: one line, unambiguous, bounded. */
#include <string.h>

#include "common/log.h"
#include "tests/unit/tap.h"

static void
test_quote(void)
{
	char out[64];

	tap_is_str(log_quote(out, sizeof(out), "mail server down", 16),
	    "mail server down", "printable ASCII stays as it is");
	tap_is_str(log_quote(out, sizeof(out), "say \"hi\" \\ bye", 14),
	    "say \\\"hi\\\" \\\\ bye", "quotes and backslashes are escaped");
	tap_is_str(log_quote(out, sizeof(out), "a\nb\tc\x7f", 6),
	    "a\\x0ab\\x09c\\x7f", "control bytes and DEL are \\xHH: one line");
	tap_is_str(log_quote(out, sizeof(out), "caf\xc3\xa9", 5),
	    "caf\\xc3\\xa9", "bytes beyond ASCII are \\xHH");
	tap_is_str(log_quote(out, sizeof(out), "a\0b", 3), "a\\x00b",
	    "a NUL inside the value is written, not an end");
	tap_is_str(log_quote(out, sizeof(out), "xyz", 2), "xy",
	    "only len bytes are read");
	tap_is_str(log_quote(out, 8, "abcdefghij", 10), "abcd",
	    "the output stops where it is full, with a NUL");
	tap_is_str(log_quote(out, 8, "\n\n\n", 3), "\\x0a",
	    "an escape is never cut in half");
	tap_is_int((long long)strlen(log_quote(out, 1, "abc", 3)), 0,
	    "a one-byte output holds the NUL alone");
}

int
main(void)
{
	test_quote();
	return tap_done();
}
