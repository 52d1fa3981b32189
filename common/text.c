#include <stdint.h>
#include <stdlib.h>

#include "common/text.h"

/* The length of the UTF-8 sequence starting at p (at most n bytes), or 0
   when it is not a valid one. */
static size_t
utf8_sequence(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int
text_utf8_valid(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t i = 0, n;

	while (i < len) {
		/* ASCII runs are the common case: skip them eight at a time. */
		while (i + 8 <= len) {
			uint64_t w;

			__builtin_memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		if ((n = utf8_sequence(p + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

size_t
text_utf8_boundary(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t i, back, need;

	/* Look at most three bytes back for the lead byte of a sequence that
	   the end cuts short. */
	for (back = 1; back <= 4 && back <= len; back++) {
		i = len - back;
		if ((p[i] & 0xc0) == 0x80)
			continue;
		/* ASCII, or a byte that never starts a sequence: no cut. */
		if (p[i] < 0xc2 || p[i] > 0xf4)
			return len;
		need = p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2;
		return back < need ? i : len;
	}
	return len;
}

size_t
text_base64_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

size_t
text_base64_encode(const void *buf, size_t len, char *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = buf;
	char *o = out;
	uint32_t v;

	while (len >= 3) {
		v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
		p += 3;
		len -= 3;
	}
	if (len > 0) {
		v = (uint32_t)p[0] << 16 | (len > 1 ? (uint32_t)p[1] << 8 : 0);
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = len > 1 ? alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	return (size_t)(o - out);
}

/* The escape of byte c inside a JSON string, or NULL when it stands as it
   is; control bytes without a short form become \u00XX. */
static const char *
json_short_escape(unsigned char c)
{
	switch (c) {
	case '"':	return "\\\"";
	case '\\':	return "\\\\";
	case '\n':	return "\\n";
	case '\r':	return "\\r";
	case '\t':	return "\\t";
	case '\b':	return "\\b";
	case '\f':	return "\\f";
	default:	return NULL;
	}
}

int
text_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
text_json_len(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t n = 2, i;

	for (i = 0; i < len; i++) {
		if (json_short_escape(p[i]))
			n += 2;
		else if (p[i] < 0x20 || p[i] == 0x7f)
			n += 6;
		else
			n += 1;
	}
	return n;
}

size_t
text_json_escape(const char *buf, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)buf;
	const char *e;
	char *o = out;
	size_t i;

	*o++ = '"';
	for (i = 0; i < len; i++) {
		if ((e = json_short_escape(p[i])) != NULL) {
			*o++ = e[0];
			*o++ = e[1];
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			*o++ = '\\';
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[p[i] >> 4];
			*o++ = hex[p[i] & 15];
		} else
			*o++ = (char)p[i];
	}
	*o++ = '"';
	return (size_t)(o - out);
}

char *
text_content_literal(const char *buf, size_t len, size_t *out_len,
    int *is_base64)
{
	char *lit, *b64;
	size_t n;

	if (text_utf8_valid(buf, len)) {
		*is_base64 = 0;
		if ((lit = malloc(text_json_len(buf, len) + 1)) == NULL)
			return NULL;
		n = text_json_escape(buf, len, lit);
	} else {
		*is_base64 = 1;
		n = text_base64_len(len);
		if ((lit = malloc(n + 3)) == NULL)
			return NULL;
		b64 = lit + 1;
		lit[0] = '"';
		n = text_base64_encode(buf, len, b64) + 2;
		lit[n - 1] = '"';
	}
	lit[n] = '\0';
	*out_len = n;
	return lit;
}
