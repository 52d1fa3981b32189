/* The quoting of log values: one line, unambiguous, bounded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	tap_is_str(log_quote(out, 8, "abcdefghij", 10), "abcdefg",
	    "the output stops where it is full, with a NUL");
	tap_is_str(log_quote(out, 8, "\n\n\n", 3), "\\x0a",
	    "an escape is never cut in half");
	tap_is_int((long long)strlen(log_quote(out, 1, "abc", 3)), 0,
	    "a one-byte output holds the NUL alone");
}

static void
test_value(void)
{
	char out[16], big[LOG_VALUE_MAX], name[256];

	tap_is_str(log_value(out, sizeof(out), "alice", 5), "\"alice\"",
	    "a value is in double quotes");
	tap_is_str(log_value(out, sizeof(out), "a\"b\\", 4), "\"a\\\"b\\\\\"",
	    "a quote or backslash inside cannot end the value");
	tap_is_str(log_value(out, sizeof(out), "", 0), "\"\"",
	    "an empty value is two quotes");
	tap_is_str(log_value(out, sizeof(out), NULL, 0), "-",
	    "no value is -, told apart from \"-\"");
	tap_is_str(log_value_str(out, sizeof(out), "x\ny"), "\"x\\x0ay\"",
	    "a line break is \\x0a inside the quotes");
	tap_is_str(log_value(out, sizeof(out), "abcdefghijklmnop", 16),
	    "\"abcdefghij...\"", "a value cut to fit ends in ... and its quote");
	tap_is_str(log_value(out, sizeof(out), "\n\n\n\n", 4),
	    "\"\\x0a\\x0a...\"", "a cut never halves an escape");
	memset(name, '\n', sizeof(name));
	log_value(big, sizeof(big), name, sizeof(name));
	tap_is_int((long long)strlen(big), 2 + 4 * (long long)sizeof(name),
	    "a 256-byte name of control bytes fits LOG_VALUE_MAX whole");
	tap_is_str(log_str("context.py"), "\"context.py\"",
	    "log_str quotes a string in a buffer of its own");
	tap_is_str(log_strn("context.py", 7), "\"context\"",
	    "log_strn quotes len bytes");
}

/* Runs log_event with stderr on a temporary file; returns what it printed
   (static, up to 4 KiB). */
static const char *
logged(const char *fields, const char *value)
{
	static char text[4096];
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n = 0;

	text[0] = '\0';
	if (tmp == NULL || saved == -1)
		return text;
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	log_event(LOG_LEVEL_WARN, "test", "%s=%s", fields, value);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(text, 1, sizeof(text) - 1, tmp);
	text[n] = '\0';
	fclose(tmp);
	return text;
}

static void
test_event(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init("watcherd", 0);
	tap_is_str(logged("file", log_str("a\nwatcherd: level=error")),
	    "watcherd: level=warn event=test file=\"a\\x0awatcherd: "
	    "level=error\"\n", "a quoted value stays on its line");
	tap_is_str(logged("file", "a\nwatcherd: level=error event=forged\r\x1b"),
	    "watcherd: level=warn event=test file=a\\x0awatcherd: level=error "
	    "event=forged\\x0d\\x1b\n",
	    "a value passed raw still cannot start a line: control bytes "
	    "are \\xHH");
	tap_is_str(logged("user", "caf\xc3\xa9 \"x\""),
	    "watcherd: level=warn event=test user=caf\xc3\xa9 \"x\"\n",
	    "the last pass leaves other bytes alone: quoted fields stay "
	    "readable");
}

int
main(void)
{
	test_quote();
	test_value();
	test_event();
	return tap_done();
}
