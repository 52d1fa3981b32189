/* Text encodings of file content: UTF-8 validation and boundaries, base64,
   JSON string literals. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/text.h"
#include "tests/unit/tap.h"
#include "tests/unit/utf8.h"

static void
test_utf8_valid(void)
{
	static const struct {
		const char	*bytes;
		size_t		 len;	/* 0: strlen(bytes) */
		int		 valid;
		const char	*what;
	} cases[] = {
		{ "", 0, 1, "empty text is valid" },
		{ "plain ASCII, print(1)\n", 0, 1, "ASCII is valid" },
		{ "a\0b", 3, 1, "NUL is valid UTF-8" },
		{ "caf\xc3\xa9", 0, 1, "2-byte e-acute is valid" },
		{ "\xe2\x82\xac", 0, 1, "3-byte euro sign is valid" },
		{ "\xf0\x9d\x84\x9e", 0, 1, "4-byte G clef is valid" },
		{ "\xc2\x80", 0, 1, "U+0080, the smallest 2-byte, is valid" },
		{ "\xe0\xa0\x80", 0, 1, "U+0800, the smallest 3-byte, is valid" },
		{ "\xef\xbf\xbf", 0, 1, "U+FFFF is valid" },
		{ "\xf0\x90\x80\x80", 0, 1, "U+10000, the smallest 4-byte, is valid" },
		{ "\xf4\x8f\xbf\xbf", 0, 1, "U+10FFFF is valid" },
		{ "\xed\x9f\xbf", 0, 1, "U+D7FF, just below the surrogates, is valid" },
		{ "\xee\x80\x80", 0, 1, "U+E000, just above the surrogates, is valid" },
		{ "\xc0\xaf", 0, 0, "overlong C0 AF is invalid" },
		{ "\xc1\xbf", 0, 0, "overlong C1 BF is invalid" },
		{ "\xe0\x80\xaf", 0, 0, "overlong E0 80 AF is invalid" },
		{ "\xe0\x9f\xbf", 0, 0, "overlong E0 9F BF is invalid" },
		{ "\xf0\x8f\xbf\xbf", 0, 0, "overlong F0 8F BF BF is invalid" },
		{ "\xed\xa0\x80", 0, 0, "surrogate ED A0 80 is invalid" },
		{ "\xed\xbf\xbf", 0, 0, "surrogate ED BF BF is invalid" },
		{ "\xf4\x90\x80\x80", 0, 0, "F4 90 80 80 (over U+10FFFF) is invalid" },
		{ "\xf5\x80\x80\x80", 0, 0, "lead byte F5 is invalid" },
		{ "\xff", 0, 0, "byte FF is invalid" },
		{ "\xfe", 0, 0, "byte FE is invalid" },
		{ "\xc3", 0, 0, "truncated 2-byte sequence is invalid" },
		{ "\xe2\x82", 0, 0, "truncated 3-byte sequence is invalid" },
		{ "\xf0\x9d\x84", 0, 0, "truncated 4-byte sequence is invalid" },
		{ "\xe2\x82x", 0, 0, "3-byte sequence cut by ASCII is invalid" },
		{ "\xe2\x82\xac\x82", 0, 0, "extra continuation byte is invalid" },
		{ "\x80", 0, 0, "stray continuation byte is invalid" },
		{ "a\xbf" "b", 0, 0, "stray continuation byte amid ASCII is invalid" },
		{ "abcdefg\xc3\xa9", 0, 1,
		    "2-byte char straddling the 8-byte fast path is valid" },
		{ "abcdefg\xf0\x9d\x84\x9e" "abcdefgh", 0, 1,
		    "4-byte char straddling the 8-byte fast path is valid" },
		{ "abcdefghijklmno\xe2\x82\xac", 0, 1,
		    "euro sign after two fast-path words is valid" },
		{ "abcdefg\xc3", 0, 0,
		    "truncated char at the end of the first word is invalid" },
		{ "abcdefgh\xe2\x82", 0, 0,
		    "truncated char after a fast-path word is invalid" },
		{ "abcdefg\xe0\x80\xaf" "abcdefgh", 0, 0,
		    "overlong straddling the fast path is invalid" },
		{ "abcdefghabcdefg\xed\xa0\x80", 0, 0,
		    "surrogate straddling the second word is invalid" },
		{ "\xc3\xa9" "abcdefghijklmnop\x80", 0, 0,
		    "stray byte after fast-path words is invalid" },
	};
	static char big[0x10000 * 4];
	char buf[64];
	size_t i, j, len, n;
	uint32_t cp;
	int bad;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].bytes);
		tap_is_int(text_utf8_valid(cases[i].bytes, len), cases[i].valid,
		    "%s", cases[i].what);
	}

	/* A high byte at every offset of an ASCII run: each position of the
	   fast path's words must be checked. */
	bad = 0;
	for (i = 0; i < 33; i++) {
		memset(buf, 'x', 33);
		buf[i] = (char)0x80;
		bad += text_utf8_valid(buf, 33) != 0;
		memset(buf, 'x', 34);
		buf[i] = (char)0xc3;
		buf[i + 1] = (char)0xa9;
		bad += text_utf8_valid(buf, 34) != 1;
	}
	tap_ok(bad == 0, "a bad or good byte is seen at every offset of 33");

	/* Every scalar value, in chunks, is valid; every surrogate is not. */
	bad = 0;
	for (cp = 0; cp <= 0x10ffff; ) {
		for (n = 0; n < sizeof(big) - 4 && cp <= 0x10ffff; cp++)
			if (cp < 0xd800 || cp > 0xdfff)
				n += utf8_encode(cp, big + n);
		bad += text_utf8_valid(big, n) != 1;
	}
	tap_ok(bad == 0, "every scalar value U+0000..U+10FFFF is valid");
	bad = 0;
	for (cp = 0xd800; cp <= 0xdfff; cp++) {
		n = utf8_encode(cp, buf);
		bad += text_utf8_valid(buf, n) != 0;
	}
	tap_ok(bad == 0, "every encoded surrogate is invalid");
	bad = 0;
	for (j = 0x90; j <= 0xbf; j++) {
		memcpy(buf, "\xf4\x80\x80\x80", 4);
		buf[1] = (char)j;
		bad += text_utf8_valid(buf, 4) != 0;
	}
	tap_ok(bad == 0, "every F4 9x/Ax/Bx sequence (over U+10FFFF) is invalid");
}

static void
test_utf8_boundary(void)
{
	static const char a_euro[] = "a\xe2\x82\xac";
	static const size_t a_euro_want[] = { 0, 1, 1, 1, 4 };
	static const char clef[] = "\xf0\x9d\x84\x9e";
	static const char mixed[] =
	    "x\xc3\xa9y\xe2\x82\xac\xf0\x9d\x84\x9ez\xc3\xa9\xf0\x9d\x84\x9e";
	static const struct {
		const char	*bytes;
		size_t		 len;
		size_t		 want;
		const char	*what;
	} cases[] = {
		{ "\xf0\x9d\x84\x9e", 4, 4, "a complete 4-byte char is kept" },
		{ "abc", 3, 3, "ASCII text is kept whole" },
		{ "ab\xc3", 3, 2,
		    "a 2-byte char cut after its lead byte is left out" },
		{ "abc\xff", 4, 4,
		    "a byte that never starts a character is not held back" },
		{ "ab\xc0", 3, 3, "an overlong lead byte is not held back" },
		{ "ab\xf5\x80", 4, 4,
		    "a lead byte beyond U+10FFFF is not held back" },
	};
	size_t i, b;
	int bad;

	for (i = 0; i <= 4; i++)
		tap_is_int((long long)text_utf8_boundary(a_euro, i),
		    (long long)a_euro_want[i],
		    "\"a\xe2\x82\xac\" cut at %zu bytes ends at %zu, never inside "
		    "the euro sign", i, a_euro_want[i]);
	for (i = 1; i <= 3; i++)
		tap_is_int((long long)text_utf8_boundary(clef, i), 0,
		    "a 4-byte char cut after %zu bytes is left out whole", i);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tap_is_int((long long)text_utf8_boundary(cases[i].bytes,
		    cases[i].len), (long long)cases[i].want, "%s", cases[i].what);

	bad = 0;
	for (i = 0; i <= sizeof(mixed) - 1; i++) {
		b = text_utf8_boundary(mixed, i);
		if (b > i || i - b > 3 || !text_utf8_valid(mixed, b))
			bad++;
	}
	tap_ok(bad == 0, "every cut of mixed text gives a valid prefix at most "
	    "3 bytes shorter");
}

/* A text, and what an encoding of it must give. */
struct encoding_case {
	const char	*in;
	size_t		 len;	/* 0: strlen(in) */
	const char	*want;
	const char	*what;
};

static void
test_base64(void)
{
	static const struct encoding_case cases[] = {
		{ "", 0, "", "\"\"" },
		{ "f", 0, "Zg==", "\"f\"" },
		{ "fo", 0, "Zm8=", "\"fo\"" },
		{ "foo", 0, "Zm9v", "\"foo\"" },
		{ "foob", 0, "Zm9vYg==", "\"foob\"" },
		{ "fooba", 0, "Zm9vYmE=", "\"fooba\"" },
		{ "foobar", 0, "Zm9vYmFy", "\"foobar\"" },
		{ "\xff\xfe", 0, "//4=", "FF FE" },
		{ "\xfb\xff\xbf", 0, "+/+/", "FB FF BF" },
		{ "\0\0\0", 3, "AAAA", "three NULs" },
	};
	char out[64];
	size_t i, len, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		memset(out, 'X', sizeof(out));
		n = text_base64_encode(cases[i].in, len, out);
		out[n] = '\0';
		tap_is_str(out, cases[i].want, "base64 of %s is \"%s\"",
		    cases[i].what, cases[i].want);
		tap_is_int((long long)text_base64_len(len), (long long)n,
		    "text_base64_len(%zu) is the length written", len);
	}
}

/* Escapes buf and parses the literal back with json-c; 1 when the bytes
   come back exactly. */
static int
round_trip(const char *buf, size_t len)
{
	size_t need = text_json_len(buf, len), n;
	char *lit = malloc(need + 1);
	struct json_object *obj;
	int same;

	if (lit == NULL)
		return 0;
	n = text_json_escape(buf, len, lit);
	lit[n] = '\0';
	obj = json_tokener_parse(lit);
	same = n == need && obj && json_object_is_type(obj, json_type_string) &&
	    (size_t)json_object_get_string_len(obj) == len &&
	    memcmp(json_object_get_string(obj), buf, len) == 0;
	json_object_put(obj);
	free(lit);
	return same;
}

/* The JSON literal of a NUL-terminated text, or of len bytes. */
static const char *
escaped(const char *buf, size_t len, char *out)
{
	size_t n = text_json_escape(buf, len ? len : strlen(buf), out);

	out[n] = '\0';
	return out;
}

static void
test_json_escape(void)
{
	static const struct encoding_case cases[] = {
		{ "say \"hi\"", 0, "\"say \\\"hi\\\"\"", "quotes are escaped" },
		{ "C:\\dir", 0, "\"C:\\\\dir\"", "a backslash is escaped" },
		{ "a\nb\tc", 0, "\"a\\nb\\tc\"",
		    "newline and tab get short escapes" },
		{ "\r\b\f", 0, "\"\\r\\b\\f\"",
		    "CR, backspace and form feed get short escapes" },
		{ "\x01", 0, "\"\\u0001\"", "control byte 0x01 becomes \\u0001" },
		{ "\x1f", 0, "\"\\u001f\"", "control byte 0x1f becomes \\u001f" },
		{ "\x7f", 0, "\"\\u007f\"", "DEL 0x7f becomes \\u007f" },
		{ "a\0b", 3, "\"a\\u0000b\"", "NUL becomes \\u0000" },
		{ "", 0, "\"\"", "empty text is \"\"" },
		{ "/caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e", 0,
		    "\"/caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e\"",
		    "slash and multi-byte UTF-8 stand as they are" },
	};
	char out[4096], buf[2048];
	size_t n, i;
	uint32_t cp, seed = 12345;
	int bad;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tap_is_str(escaped(cases[i].in, cases[i].len, out), cases[i].want,
		    "%s", cases[i].what);

	for (i = 0; i < 0x80; i++)
		buf[i] = (char)i;
	tap_ok(round_trip(buf, 0x80),
	    "all bytes 0x00-0x7f escape and parse back exactly with json-c");
	bad = 0;
	for (i = 0; i < 0x80; i++)
		bad += !round_trip(buf + i, 1);
	tap_ok(bad == 0, "each byte 0x00-0x7f alone round-trips");

	/* Pseudo-random scalar values, weighted towards the edges. */
	bad = 0;
	for (i = 0; i < 200; i++) {
		for (n = 0; n < sizeof(buf) - 4; ) {
			seed = seed * 1103515245u + 12345u;
			switch (seed >> 28 & 3) {
			case 0: cp = seed >> 8 & 0x7f; break;
			case 1: cp = 0x80 + (seed >> 8 & 0x77f); break;
			case 2: cp = 0x800 + (seed >> 4 & 0xf7ff); break;
			default: cp = 0x10000 + (seed >> 4 & 0xfffff); break;
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				continue;
			n += utf8_encode(cp, buf + n);
		}
		if (!text_utf8_valid(buf, n) || !round_trip(buf, n))
			bad++;
	}
	tap_ok(bad == 0, "200 random valid UTF-8 texts round-trip through "
	    "json-c exactly");
}

static void
test_content_literal(void)
{
	static const char text[] = "print(\"h\xc3\xa9llo\")\n";
	char bytes[256];
	char *lit, *b64;
	size_t len, i, n;
	int is_base64;

	is_base64 = -1;
	lit = text_content_literal(text, strlen(text), &len, &is_base64);
	tap_ok(lit && is_base64 == 0, "valid UTF-8 content is not base64");
	tap_is_str(lit, "\"print(\\\"h\xc3\xa9llo\\\")\\n\"",
	    "valid UTF-8 content is its JSON literal");
	tap_ok(lit && len == strlen(lit), "the literal's length is reported");
	free(lit);

	is_base64 = -1;
	lit = text_content_literal("\xff\xfe", 2, &len, &is_base64);
	tap_ok(lit && is_base64 == 1, "bytes FF FE are base64");
	tap_is_str(lit, "\"//4=\"", "bytes FF FE are the literal \"//4=\"");
	tap_is_int(lit ? (long long)len : -1, 6,
	    "the base64 literal's length is reported");
	free(lit);

	is_base64 = -1;
	lit = text_content_literal("", 0, &len, &is_base64);
	tap_ok(lit && is_base64 == 0 && len == 2 && strcmp(lit, "\"\"") == 0,
	    "empty content is the literal \"\"");
	free(lit);

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (char)i;
	lit = text_content_literal(bytes, sizeof(bytes), &len, &is_base64);
	b64 = malloc(text_base64_len(sizeof(bytes)) + 1);
	n = b64 ? text_base64_encode(bytes, sizeof(bytes), b64) : 0;
	tap_ok(lit && b64 && is_base64 == 1 && len == n + 2 &&
	    lit[0] == '"' && lit[len - 1] == '"' && lit[len] == '\0' &&
	    memcmp(lit + 1, b64, n) == 0,
	    "all 256 byte values are the quoted base64 of the bytes");
	free(b64);
	free(lit);

	lit = text_content_literal(bytes, 0x80, &len, &is_base64);
	tap_ok(lit && is_base64 == 0 && len == text_json_len(bytes, 0x80) &&
	    lit[len] == '\0', "ASCII with control bytes stays UTF-8, "
	    "NUL-terminated");
	free(lit);
}

int
main(void)
{
	test_utf8_valid();
	test_utf8_boundary();
	test_base64();
	test_json_escape();
	test_content_literal();
	return tap_done();
}
