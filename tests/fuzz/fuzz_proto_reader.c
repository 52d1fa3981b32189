/*
 * The protocol's line reader (common/proto.c) under arbitrary chunking:
 * fed through proto_reader_space()/commit() in chunks of pseudo-random
 * sizes, taken with proto_reader_next() after every chunk or only now and
 * then, every line must come out exactly as fed and in order, each line
 * over PROTO_MAX_LINE must give -1 exactly once (also when its newline
 * never comes) and be skipped, a last line without its newline never
 * comes out, and a reader drained after
 * every chunk never holds more than PROTO_MAX_LINE + 1 bytes.
 *
 * Input: 4 bytes of chunking seed and mode, then the stream, where a 0x00
 * byte, a 2-byte count k and a byte c stand for 4k copies of c (so that
 * small inputs make overlong lines).
 */
#include <string.h>

#include "common/proto.h"
#include "tests/fuzz/harness.h"

#define STREAM_MAX	(1 << 18)

static uint32_t
next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

struct expect {
	const char	*stream;
	size_t		 len;
	size_t		 pos;		/* start of the next line expected */
};

/* Checks one result of proto_reader_next against the stream. */
static void
check_line(struct expect *e, int r, const char *line, size_t len)
{
	const char *nl = memchr(e->stream + e->pos, '\n', e->len - e->pos);
	size_t want;

	/* An overlong line is refused as soon as it is known to be one, its
	   newline may never come. */
	want = nl ? (size_t)(nl - (e->stream + e->pos)) : e->len - e->pos;
	FUZZ_CHECK(nl != NULL || (r == -1 && want > PROTO_MAX_LINE),
	    "reader gave %s past the last newline", r == 1 ? "a line" : "-1");
	if (want > PROTO_MAX_LINE)
		FUZZ_CHECK(r == -1, "line of %zu bytes at %zu was not refused",
		    want, e->pos);
	else {
		FUZZ_CHECK(r == 1, "line of %zu bytes at %zu was refused", want,
		    e->pos);
		FUZZ_CHECK(len == want && memcmp(line, e->stream + e->pos,
		    len) == 0 && line[len] == '\0', "line at %zu comes out "
		    "as %zu other bytes", e->pos, len);
	}
	e->pos += nl ? want + 1 : want;
}

static void
drain(struct proto_reader *rd, struct expect *e)
{
	char *line;
	size_t len;
	int r;

	while ((r = proto_reader_next(rd, &line, &len)) != 0)
		check_line(e, r, line, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_reader rd;
	struct expect e = { 0 };
	static char stream[STREAM_MAX];
	char *space;
	size_t i, off, room, chunk, k;
	uint32_t seed;
	int always;

	if (size < 4)
		return 0;
	memcpy(&seed, data, 4);
	always = seed & 1;
	seed |= 1;
	for (i = 4; i < size && e.len < STREAM_MAX; i++) {
		if (data[i] != 0 || i + 3 >= size) {
			stream[e.len++] = (char)data[i];
			continue;
		}
		k = 4 * ((size_t)data[i + 1] << 8 | data[i + 2]);
		if (k > STREAM_MAX - e.len)
			k = STREAM_MAX - e.len;
		memset(stream + e.len, data[i + 3], k);
		e.len += k;
		i += 3;
	}
	e.stream = stream;

	proto_reader_init(&rd);
	for (off = 0; off < e.len; off += chunk) {
		room = proto_reader_space(&rd, &space);
		FUZZ_CHECK(room > 0, "no space in the reader");
		chunk = next_random(&seed) % 8 == 0 ? 1 + next_random(&seed) % 16 :
		    1 + next_random(&seed) % 70000;
		if (chunk > room)
			chunk = room;
		if (chunk > e.len - off)
			chunk = e.len - off;
		memcpy(space, stream + off, chunk);
		proto_reader_commit(&rd, chunk);
		if (always || next_random(&seed) % 4 == 0)
			drain(&rd, &e);
		if (always)
			FUZZ_CHECK(rd.cap <= PROTO_MAX_LINE + 1, "a drained reader "
			    "holds %zu bytes", rd.cap);
	}
	drain(&rd, &e);
	FUZZ_CHECK(memchr(stream + e.pos, '\n', e.len - e.pos) == NULL,
	    "the line at %zu never came out", e.pos);
	proto_reader_free(&rd);
	return 0;
}
