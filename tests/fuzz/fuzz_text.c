/*
 * The text encodings of file content (common/text.c), against references
 * written here:
 * - text_utf8_valid agrees with a plain decoder (overlongs, surrogates,
 *   beyond U+10FFFF, truncations refused);
 * - text_utf8_boundary never exceeds len, drops at most the 1 to 3 bytes
 *   of a sequence the end cuts short, never cuts inside a character the
 *   decoder finds, and on every cut of valid text returns the start of the
 *   cut character, a valid prefix;
 * - base64 decodes (decoder here) back to the bytes, in text_base64_len;
 * - text_json_escape writes text_json_len bytes, no raw control byte, and
 *   json-c parses it (exact length) back to exactly the bytes;
 * - text_content_literal is the JSON of the text, or of its base64 when
 *   the bytes are not UTF-8, and parses back to the bytes.
 * The first input byte picks raw bytes or valid text built from the rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/text.h"
#include "tests/fuzz/harness.h"
#include "tests/unit/utf8.h"

/* The length of the valid sequence at p (n bytes left), or 0. */
static size_t
ref_sequence(const unsigned char *p, size_t n)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int
ref_valid(const unsigned char *p, size_t len)
{
	size_t i, n;

	for (i = 0; i < len; i += n)
		if ((n = ref_sequence(p + i, len - i)) == 0)
			return 0;
	return 1;
}

static void
check_boundary(const unsigned char *p, size_t len)
{
	size_t b = text_utf8_boundary((const char *)p, len), i, n;

	FUZZ_CHECK(b <= len, "boundary %zu beyond len %zu", b, len);
	if (b < len) {
		/* Only a sequence the end cuts short may be held back. */
		n = p[b] >= 0xf0 ? 4 : p[b] >= 0xe0 ? 3 : 2;
		FUZZ_CHECK(p[b] >= 0xc2 && p[b] <= 0xf4 && len - b < n,
		    "boundary %zu of %zu holds back no cut sequence", b, len);
		for (i = b + 1; i < len; i++)
			FUZZ_CHECK((p[i] & 0xc0) == 0x80, "boundary %zu of %zu "
			    "holds back a byte that continues nothing", b, len);
	}
	/* Never inside a character the decoder finds. */
	for (i = 0; i < len; i += n ? n : 1) {
		n = ref_sequence(p + i, len - i);
		FUZZ_CHECK(!(i < b && b < i + n), "boundary %zu cuts the "
		    "character at %zu", b, i);
	}
}

/* Every cut of valid text: the boundary is the start of the character cut,
   and the prefix before it is valid. */
static void
check_cuts(const unsigned char *p, size_t len)
{
	size_t k, start = 0, n = 0, b;

	for (k = 0; k <= len; k++) {
		if (k == start + n) {
			start = k;
			n = k < len ? ref_sequence(p + k, len - k) : 0;
		}
		b = text_utf8_boundary((const char *)p, k);
		FUZZ_CHECK(b == start, "cut at %zu of valid text: boundary %zu, "
		    "character starts at %zu", k, b, start);
		if (len - k < 8)
			FUZZ_CHECK(text_utf8_valid((const char *)p, b),
			    "prefix %zu of valid text is not valid", b);
	}
}

static void
check_base64(const unsigned char *p, size_t len)
{
	size_t n = text_base64_len(len), back_len;
	char *out = malloc(n + 1);
	unsigned char *back;

	FUZZ_CHECK(out != NULL, "out of memory");
	FUZZ_CHECK(text_base64_encode(p, len, out) == n, "base64 length is "
	    "not text_base64_len");
	back = fuzz_base64_decode(out, n, &back_len);
	FUZZ_CHECK(back != NULL, "base64 of %zu bytes does not decode", len);
	FUZZ_CHECK(back_len == len && memcmp(back, p, len) == 0,
	    "base64 of %zu bytes decodes to other bytes", len);
	free(back);
	free(out);
}

/* Parses a literal as a JSON string and compares it with want. */
static void
check_string(const char *lit, size_t n, const void *want, size_t len,
    const char *what)
{
	struct json_object *o = fuzz_json_parse(lit, n);

	FUZZ_CHECK(o != NULL && json_object_is_type(o, json_type_string),
	    "%s of %zu bytes is no JSON string", what, len);
	FUZZ_CHECK((size_t)json_object_get_string_len(o) == len &&
	    memcmp(json_object_get_string(o), want, len) == 0,
	    "%s of %zu bytes parses to other bytes", what, len);
	json_object_put(o);
}

static void
check_json(const unsigned char *p, size_t len)
{
	size_t n = text_json_len((const char *)p, len), i, m;
	char *lit = malloc(n + 1);

	FUZZ_CHECK(lit != NULL, "out of memory");
	m = text_json_escape((const char *)p, len, lit);
	FUZZ_CHECK(m == n, "text_json_escape wrote %zu bytes, text_json_len "
	    "said %zu", m, n);
	for (i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)lit[i] >= 0x20 && lit[i] != 0x7f,
		    "raw control byte at %zu of a JSON literal", i);
	FUZZ_CHECK(!ref_valid(p, len) || ref_valid((unsigned char *)lit, n),
	    "JSON literal of valid UTF-8 is not valid UTF-8");
	check_string(lit, n, p, len, "JSON literal");
	free(lit);
}

static void
check_content(const unsigned char *p, size_t len)
{
	size_t n, back_len;
	unsigned char *back;
	struct json_object *o;
	int is_base64;
	char *lit;

	lit = text_content_literal((const char *)p, len, &n, &is_base64);
	FUZZ_CHECK(lit != NULL, "out of memory");
	FUZZ_CHECK(lit[n] == '\0', "content literal is not NUL-terminated");
	FUZZ_CHECK(is_base64 == !ref_valid(p, len), "is_base64 %d for %s bytes",
	    is_base64, is_base64 ? "valid" : "invalid");
	if (!is_base64)
		check_string(lit, n, p, len, "content literal");
	else {
		o = fuzz_json_parse(lit, n);
		FUZZ_CHECK(o && json_object_is_type(o, json_type_string),
		    "base64 content literal is no JSON string");
		back = fuzz_base64_decode(json_object_get_string(o),
		    (size_t)json_object_get_string_len(o), &back_len);
		FUZZ_CHECK(back && back_len == len && memcmp(back, p, len) == 0,
		    "base64 content literal decodes to other bytes");
		free(back);
		json_object_put(o);
	}
	free(lit);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *text;
	size_t i, len = 0;
	uint32_t cp;

	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0) {
		data++;
		size--;
		FUZZ_CHECK(text_utf8_valid((const char *)data, size) ==
		    ref_valid(data, size), "text_utf8_valid says %d",
		    text_utf8_valid((const char *)data, size));
		check_boundary(data, size);
		check_base64(data, size);
		check_json(data, size);
		check_content(data, size);
		return 0;
	}
	/* Valid text: each 3 bytes a code point (surrogates moved above). */
	if ((text = malloc(size / 3 * 4 + 1)) == NULL)
		return 0;
	for (i = 1; i + 3 <= size; i += 3) {
		cp = ((uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 |
		    data[i + 2]) % 0x110000;
		/* Small code points are the common case in real text. */
		if (data[i] & 0x80)
			cp &= 0x7ff;
		if (cp >= 0xd800 && cp <= 0xdfff)
			cp += 0x800;
		len += utf8_encode(cp, (char *)text + len);
	}
	FUZZ_CHECK(text_utf8_valid((char *)text, len), "valid text of %zu "
	    "bytes is not text_utf8_valid", len);
	check_cuts(text, len);
	check_content(text, len);
	free(text);
	return 0;
}
