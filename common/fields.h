/*
 * Reading the members of a protocol line without building a tree.
 * watcherd's replies and events are flat JSON objects (DESIGN.md section
 * 4) whose few members a reader wants as they stand: a checksum, an mtime
 * to copy into an answer. fields_get() finds one member and gives the raw
 * text of its value; a member whose value is an object or an array is
 * stepped over whole. Keys are compared as written (watcherd's keys have
 * no escapes). Nothing is allocated, and nothing past len is read.
 */
#ifndef FIELDS_H
#define FIELDS_H

#include <stddef.h>

/*
 * Finds the top-level member key of the JSON object in line (len bytes).
 * Returns 1 with *val and *vlen the value's text (a string with its
 * quotes), 0 when there is no such member, -1 when the line is not a
 * well-formed object as far as it was read.
 */
int	fields_get(const char *line, size_t len, const char *key,
	    const char **val, size_t *vlen);
/* The value of key as an integer: 0 with *v, -1 when absent or not an
   integer of at most 18 digits. */
int	fields_int(const char *line, size_t len, const char *key, long long *v);
/*
 * The value of key when it is a string of plain characters (letters,
 * digits, '_', '-', '.'; no escapes) shorter than size: copied into buf,
 * NUL-terminated. Returns 0, or -1 (absent, null, another type, other
 * characters, too long). Checksums, encodings, event and error names.
 */
int	fields_word(const char *line, size_t len, const char *key, char *buf,
	    size_t size);

#endif
