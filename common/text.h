/*
 * Text encodings of file content: UTF-8 validation, base64, and the JSON
 * string literal that stands as a "content" value without re-escaping.
 */
#ifndef TEXT_H
#define TEXT_H

#include <stddef.h>

/* Returns 1 when the bytes are valid UTF-8 (no overlongs, no surrogates,
   nothing above U+10FFFF; NUL allowed), else 0. */
int	text_utf8_valid(const char *buf, size_t len);

/* The length of the longest prefix of buf that ends on a UTF-8 sequence
   boundary (a cut there never splits a character). */
size_t	text_utf8_boundary(const char *buf, size_t len);

/* Bytes needed for the base64 (RFC 4648, padded) of len bytes. */
size_t	text_base64_len(size_t len);
/* Writes the base64 of buf into out (text_base64_len(len) bytes, no NUL);
   returns the length written. */
size_t	text_base64_encode(const void *buf, size_t len, char *out);

/* The value of a hexadecimal digit (either case), or -1. */
int	text_hex_digit(char c);

/* Bytes needed for the JSON string literal of buf, quotes included. */
size_t	text_json_len(const char *buf, size_t len);
/* Writes the JSON string literal of buf (quotes, escapes for '"', '\\'
   and control bytes; other bytes as they are) into out; returns the length
   written, text_json_len(buf, len). */
size_t	text_json_escape(const char *buf, size_t len, char *out);

/*
 * The "content" value of a file: the JSON literal of the text when it is
 * valid UTF-8, else of its base64. Returns a malloc()ed literal (caller
 * frees) with its length in *out_len and sets *is_base64, or NULL when
 * memory is exhausted.
 */
char	*text_content_literal(const char *buf, size_t len, size_t *out_len,
	    int *is_base64);

#endif
