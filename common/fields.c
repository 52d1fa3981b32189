#include <string.h>

#include "common/crc.h"
#include "common/fields.h"
#include "common/text.h"

static size_t
skip_space(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
	    s[i] == '\n'))
		i++;
	return i;
}

/* One past the string that starts at s[i] ('"'), or 0 when it does not
   end within n. */
static size_t
skip_string(const char *s, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return 0;
}

/* One past the value that starts at s[i], or 0 when it is malformed or
   does not end within n. Scalars run to the next delimiter. */
static size_t
skip_value(const char *s, size_t i, size_t n)
{
	size_t depth = 0, j;

	if (i >= n)
		return 0;
	if (s[i] == '"')
		return skip_string(s, i, n);
	if (s[i] != '{' && s[i] != '[') {
		for (j = i; j < n && strchr(",}] \t\r\n", s[j]) == NULL; j++)
			if (s[j] == '\0' || s[j] == '"' || s[j] == '{' ||
			    s[j] == '[' || s[j] == ':')
				return 0;
		return j > i ? j : 0;
	}
	while (i < n) {
		if (s[i] == '"') {
			if ((i = skip_string(s, i, n)) == 0)
				return 0;
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return 0;
}

int
fields_get(const char *line, size_t len, const char *key, const char **val,
    size_t *vlen)
{
	size_t klen = strlen(key), i, kend, vend;

	i = skip_space(line, 0, len);
	if (i >= len || line[i] != '{')
		return -1;
	i = skip_space(line, i + 1, len);
	if (i < len && line[i] == '}')
		return 0;
	for (;;) {
		if (i >= len || line[i] != '"' ||
		    (kend = skip_string(line, i, len)) == 0)
			return -1;
		/* The key's text is line[i + 1 .. kend - 2]. */
		vend = skip_space(line, kend, len);
		if (vend >= len || line[vend] != ':')
			return -1;
		vend = skip_space(line, vend + 1, len);
		*val = line + vend;
		if ((vend = skip_value(line, vend, len)) == 0)
			return -1;
		if (kend - i - 2 == klen && memcmp(line + i + 1, key, klen) == 0) {
			*vlen = (size_t)(line + vend - *val);
			return 1;
		}
		i = skip_space(line, vend, len);
		if (i < len && line[i] == '}')
			return 0;
		if (i >= len || line[i] != ',')
			return -1;
		i = skip_space(line, i + 1, len);
	}
}

/* The value of the n decimal digits at p, 1 to max of them: 0 with *v,
   or -1. */
static int
decimal(const char *p, size_t n, size_t max, long long *v)
{
	long long x = 0;
	size_t i;

	if (n == 0 || n > max)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		x = x * 10 + (p[i] - '0');
	}
	*v = x;
	return 0;
}

/* The value of key when it is a number, its sign taken off: *p and *n the
   rest, *neg its sign. 0, or -1 when absent. */
static int
number(const char *line, size_t len, const char *key, const char **p,
    size_t *n, int *neg)
{
	if (fields_get(line, len, key, p, n) != 1)
		return -1;
	*neg = *n > 0 && (*p)[0] == '-';
	*p += *neg;
	*n -= (size_t)*neg;
	return 0;
}

int
fields_int(const char *line, size_t len, const char *key, long long *v)
{
	const char *p;
	long long x;
	size_t n;
	int neg;

	if (number(line, len, key, &p, &n, &neg) == -1 ||
	    decimal(p, n, 18, &x) == -1)
		return -1;
	*v = neg ? -x : x;
	return 0;
}

int
fields_word(const char *line, size_t len, const char *key, char *buf,
    size_t size)
{
	const char *p;
	size_t n;

	if (fields_get(line, len, key, &p, &n) != 1 || n < 2 || p[0] != '"' ||
	    n - 2 >= size)
		return -1;
	if (strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-.") != n - 2)
		return -1;
	memcpy(buf, p + 1, n - 2);
	buf[n - 2] = '\0';
	return 0;
}

/* The code unit of the \uXXXX at s (past the "\u"), or -1. */
static long
code_unit(const char *s, size_t left)
{
	long v = 0;
	size_t i;
	int d;

	if (left < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((d = text_hex_digit(s[i])) == -1)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Writes code point c as UTF-8 into out; returns its length. */
static size_t
utf8_put(unsigned long c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3f));
	out[2] = (char)(0x80 | (c >> 6 & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* The escape at s[i] (past the backslash) into out: its length, with *i
   past it; 0 when it is malformed. A lone surrogate becomes U+FFFD. */
static size_t
unescape(const char *s, size_t n, size_t *i, char *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	long hi, lo;

	if (*i >= n)
		return 0;
	if (s[*i] != 'u') {
		if ((e = strchr(from, s[*i])) == NULL || s[*i] == '\0')
			return 0;
		out[0] = to[e - from];
		(*i)++;
		return 1;
	}
	if ((hi = code_unit(s + *i + 1, n - *i - 1)) == -1)
		return 0;
	*i += 5;
	if (hi >= 0xd800 && hi < 0xdc00 && n - *i >= 6 && s[*i] == '\\' &&
	    s[*i + 1] == 'u' && (lo = code_unit(s + *i + 2, n - *i - 2)) >=
	    0xdc00 && lo < 0xe000) {
		*i += 6;
		return utf8_put(0x10000 + ((unsigned long)(hi - 0xd800) << 10) +
		    (unsigned long)(lo - 0xdc00), out);
	}
	if (hi >= 0xd800 && hi < 0xe000)
		hi = 0xfffd;
	return utf8_put((unsigned long)hi, out);
}

int
fields_string(const char *line, size_t len, const char *key, char *buf,
    size_t size)
{
	const char *p;
	char one[4];
	size_t n, i, k, o = 0;
	int cut = 0;

	if (size == 0 || fields_get(line, len, key, &p, &n) != 1 || n < 2 ||
	    p[0] != '"')
		return -1;
	for (i = 1; i < n - 1;) {
		if (p[i] == '\\') {
			i++;
			if ((k = unescape(p, n - 1, &i, one)) == 0)
				return -1;
		} else {
			one[0] = p[i++];
			k = 1;
		}
		if (!cut && k < size - o) {
			memcpy(buf + o, one, k);
			o += k;
		} else
			cut = 1;
	}
	if (cut)
		o = text_utf8_boundary(buf, o);
	buf[o] = '\0';
	return 0;
}

/* Whether the value of key is the literal lit. */
static int
is_literal(const char *line, size_t len, const char *key, const char *lit)
{
	const char *v;
	size_t n;

	return fields_get(line, len, key, &v, &n) == 1 && n == strlen(lit) &&
	    memcmp(v, lit, n) == 0;
}

int
fields_ok(const char *line, size_t len)
{
	if (is_literal(line, len, "ok", "true"))
		return 1;
	return is_literal(line, len, "ok", "false") ? 0 : -1;
}

/* A checksum member: 0 with *crc, -1 when it is no checksum. */
static int
read_crc(const char *line, size_t len, const char *key, uint32_t *crc)
{
	char hex[CRC_HEX_LEN + 1];

	if (fields_word(line, len, key, hex, sizeof(hex)) == -1 ||
	    strlen(hex) != CRC_HEX_LEN)
		return -1;
	return crc_parse(hex, crc);
}

/* A time as msg_time() writes it, seconds and up to nine decimals: 0
   with *t, or -1. */
static int
read_time(const char *line, size_t len, const char *key, struct timespec *t)
{
	const char *p, *dot;
	long long sec, frac = 0;
	size_t n, whole, i;
	int neg;

	if (number(line, len, key, &p, &n, &neg) == -1)
		return -1;
	dot = memchr(p, '.', n);
	whole = dot ? (size_t)(dot - p) : n;
	if (decimal(p, whole, 18, &sec) == -1 ||
	    (dot && decimal(dot + 1, n - whole - 1, 9, &frac) == -1))
		return -1;
	for (i = dot ? n - whole - 1 : 9; i < 9; i++)
		frac *= 10;
	t->tv_sec = (time_t)(neg ? -sec : sec);
	t->tv_nsec = (long)frac;
	return 0;
}

int
fields_state(const char *line, size_t len, struct msg_state *st)
{
	memset(st, 0, sizeof(*st));
	if (is_literal(line, len, "size", "null"))
		return is_literal(line, len, "checksum", "null") &&
		    is_literal(line, len, "mtime", "null") ? 0 : -1;
	st->exists = 1;
	if (fields_int(line, len, "size", &st->size) == -1 ||
	    read_time(line, len, "mtime", &st->mtime) == -1)
		return -1;
	if (is_literal(line, len, "checksum", "null")) {
		st->too_large = 1;
		return 0;
	}
	return read_crc(line, len, "checksum", &st->crc);
}

int
fields_reply_state(const char *line, size_t len, struct msg_state *st,
    char *mode, size_t size)
{
	if (fields_word(line, len, "mode", mode, size) == -1)
		mode[0] = '\0';
	return fields_state(line, len, st);
}

void
fields_refusal(const char *line, size_t len, struct fields_refusal *r)
{
	if (fields_word(line, len, "error", r->code, sizeof(r->code)) == -1)
		r->code[0] = '\0';
	r->error = proto_error_from_code(r->code);
	if (r->error == PROTO_OK)
		r->error = PROTO_INTERNAL;
	r->has_detail = fields_string(line, len, "detail", r->detail,
	    sizeof(r->detail)) == 0;
	if (!r->has_detail)
		r->detail[0] = '\0';
}

/* "encoding": 1 for "base64", 0 for "utf-8", -1 for anything else. */
static int
read_encoding(const char *line, size_t len)
{
	char enc[8];

	if (fields_word(line, len, "encoding", enc, sizeof(enc)) == -1)
		return -1;
	if (strcmp(enc, "base64") == 0)
		return 1;
	return strcmp(enc, "utf-8") == 0 ? 0 : -1;
}

int
fields_content(const char *line, size_t len, struct msg_state *st,
    int *base64)
{
	if (fields_state(line, len, st) == -1 ||
	    (*base64 = read_encoding(line, len)) == -1)
		return -1;
	return 0;
}

/* A word member (plain characters, as fields_word() takes them) in place:
   0 with *s into line and *n, or -1. */
static int
read_word_in_place(const char *line, size_t len, const char *key,
    size_t max, const char **s, size_t *n)
{
	char word[MSG_GENERATION_MAX];

	if (max > sizeof(word) || fields_word(line, len, key, word, max) == -1 ||
	    fields_get(line, len, key, s, n) != 1)
		return -1;
	(*s)++;
	*n -= 2;
	return 0;
}

int
fields_tail(const char *line, size_t len, struct msg_tail *t)
{
	memset(t, 0, sizeof(*t));
	if (fields_int(line, len, "offset", &t->offset) == -1 ||
	    fields_int(line, len, "next_offset", &t->next_offset) == -1 ||
	    fields_int(line, len, "size", &t->size) == -1 ||
	    t->offset < 0 || t->next_offset < t->offset || t->size < 0 ||
	    read_word_in_place(line, len, "generation", MSG_GENERATION_MAX,
	    &t->generation, &t->generation_len) == -1 ||
	    t->generation_len == 0 ||
	    (t->base64 = read_encoding(line, len)) == -1 ||
	    read_time(line, len, "mtime", &t->mtime) == -1)
		return -1;
	if (is_literal(line, len, "reset", "true"))
		t->reset = 1;
	else if (!is_literal(line, len, "reset", "false"))
		return -1;
	t->has_crc = read_crc(line, len, "checksum", &t->crc) == 0;
	return t->has_crc || is_literal(line, len, "checksum", "null") ? 0 : -1;
}

int
fields_event(const char *line, size_t len, struct fields_event *ev)
{
	long long proposal;

	memset(ev, 0, sizeof(*ev));
	if (fields_word(line, len, "event", ev->name, sizeof(ev->name)) == -1)
		return -1;
	if (fields_int(line, len, "proposal", &proposal) == 0 &&
	    proposal >= 0 && proposal <= POLICY_MAX_PROPOSAL)
		ev->proposal = (unsigned)proposal;
	if (fields_string(line, len, "file_name", ev->file_name,
	    sizeof(ev->file_name)) == -1)
		ev->file_name[0] = '\0';
	ev->has_state = fields_state(line, len, &ev->st) == 0;
	if (read_word_in_place(line, len, "generation", MSG_GENERATION_MAX,
	    &ev->generation, &ev->generation_len) == -1)
		ev->generation = NULL;
	return 0;
}

/* An array member as it stands, or NULL text. */
static struct msg_json
read_array(const char *line, size_t len, const char *key)
{
	struct msg_json j = { NULL, 0 };

	if (fields_get(line, len, key, &j.text, &j.len) != 1 || j.len == 0 ||
	    j.text[0] != '[') {
		j.text = NULL;
		j.len = 0;
	}
	return j;
}

int
fields_write(const char *line, size_t len, struct msg_write *w)
{
	struct fields_refusal r;
	int ok;

	memset(w, 0, sizeof(*w));
	if ((ok = fields_ok(line, len)) == -1)
		return -1;
	w->warnings = read_array(line, len, "warnings");
	if (ok)
		return fields_state(line, len, &w->st);
	fields_refusal(line, len, &r);
	w->error = r.error;
	w->has_current = read_crc(line, len, "checksum", &w->current) == 0;
	w->errors = read_array(line, len, "errors");
	return 0;
}

int
fields_history(const char *line, size_t len, int *kept, long long *count)
{
	const char *v;
	size_t vlen;

	if (fields_get(line, len, "kept", &v, &vlen) != 1 ||
	    fields_int(line, len, "count", count) == -1)
		return -1;
	if (vlen == 4 && memcmp(v, "true", 4) == 0)
		*kept = 1;
	else if (vlen == 5 && memcmp(v, "false", 5) == 0)
		*kept = 0;
	else
		return -1;
	return 0;
}

void
fields_ping(const char *line, size_t len, char *version, size_t size,
    long long *protocol)
{
	if (fields_string(line, len, "version", version, size) == -1)
		version[0] = '\0';
	if (fields_int(line, len, "protocol", protocol) == -1)
		*protocol = -1;
}
