/*
 * Reading the protocol's lines without building a tree. watcherd's
 * replies and events are flat JSON objects (DESIGN.md section 4):
 * fields_get() finds one member and gives the raw text of its value (a
 * member whose value is an object or an array is stepped over whole), and
 * on it one reader per shape fills the struct that common/msg.h writes
 * the shape from: a state, a refusal, an event, a content, tail, write or
 * ping reply. Keys are compared as written (watcherd's keys have no
 * escapes). Nothing is allocated, and nothing past len is read.
 */
#ifndef FIELDS_H
#define FIELDS_H

#include <stddef.h>

#include "common/msg.h"
#include "common/policy.h"
#include "common/proto.h"

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

/*
 * The value of key when it is a string: its text with the escapes undone
 * into buf (size bytes, NUL-terminated), cut on a character boundary when
 * it is longer. Returns 0, or -1 (absent, null, another type, a bad
 * escape). Details and file names.
 */
int	fields_string(const char *line, size_t len, const char *key, char *buf,
	    size_t size);

/* 1 for a reply of "ok":true, 0 for "ok":false, -1 for a line without
   "ok" (an event, or no object at all). */
int	fields_ok(const char *line, size_t len);

/* The state fields of a reply or an event (msg_state()) into *st.
   Returns 0, or -1 when they are missing or not as msg_state() writes
   them. */
int	fields_state(const char *line, size_t len, struct msg_state *st);

/* The checksum and subscribe reply (msg_reply_state()): its state, and
   its mode into mode (size bytes; "" when missing). Returns 0, or -1 as
   fields_state(). */
int	fields_reply_state(const char *line, size_t len, struct msg_state *st,
	    char *mode, size_t size);

/* A refusal, {"ok":false,"error":CODE,"detail":DETAIL}. */
struct fields_refusal {
	enum proto_error error;		/* PROTO_INTERNAL when the code is
					   unknown or missing */
	char		 code[32];	/* as written; "" when missing */
	int		 has_detail;
	char		 detail[MSG_DETAIL_MAX + 1];
};
/* Reads a refusal's code and detail (of any line: a reply that is no
   refusal gives PROTO_INTERNAL and no detail). */
void	fields_refusal(const char *line, size_t len, struct fields_refusal *);

/* The content reply (msg_reply_content()): its state, and *base64 for
   "encoding":"base64". Returns 0, or -1 when a member is missing. */
int	fields_content(const char *line, size_t len, struct msg_state *st,
	    int *base64);

/* The tail reply (msg_reply_tail()) into *t, t->generation pointing into
   line. Returns 0, or -1 when a member is missing, offsets do not add up
   (0 <= offset <= next_offset) or the generation is no word shorter than
   MSG_GENERATION_MAX. */
int	fields_tail(const char *line, size_t len, struct msg_tail *t);

/* An event (msg_event_state(); of msg_event_error() the head). */
struct fields_event {
	char		 name[32];	/* "changed", "deleted", ... */
	unsigned	 proposal;	/* 0 when missing */
	char		 file_name[POLICY_MAX_NAME + 1];	/* "" when
					   missing */
	int		 has_state;	/* the state fields were there */
	struct msg_state st;
	const char	*generation;	/* into line; NULL when none */
	size_t		 generation_len;
};
/* Returns 0, or -1 for a line without an "event" word. */
int	fields_event(const char *line, size_t len, struct fields_event *);

/* The write reply (msg_reply_write()): w->error PROTO_OK with w->st and
   the warnings, or the refusal's code in w->error (details by
   fields_refusal()), with its checksum or findings. Arrays that are
   missing or not arrays are left NULL. Returns 0, or -1 when the line has
   no "ok", or a saved file's state is missing. */
int	fields_write(const char *line, size_t len, struct msg_write *w);

/* The ping reply: its version (into version, size bytes; "" when
   missing) and protocol (-1 when missing). */
/* The history reply (msg_reply_history()): whether versions are kept,
   and how many. 0, or -1 for another shape. */
int	fields_history(const char *line, size_t len, int *kept,
	    long long *count);
void	fields_ping(const char *line, size_t len, char *version, size_t size,
	    long long *protocol);

#endif
