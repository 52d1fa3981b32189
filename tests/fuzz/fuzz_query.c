/*
 * The query-string parser (cgi/query.c) against a reference written here:
 * the input, up to its first NUL (as getenv gives it), split at '&' (empty
 * pieces skipped) and at the first '=', '+' and %XX decoded. query_parse
 * must fail exactly when the reference finds a query over QUERY_MAX_LEN,
 * more than QUERY_MAX_PARAMS parameters, a malformed escape or a name
 * given twice, with a message; else give every parameter once, in order,
 * decoded as the reference decodes it, its length bounded by the query's,
 * and query_get must find each.
 */
#include <stdlib.h>
#include <string.h>

#include "cgi/query.h"
#include "tests/fuzz/harness.h"

static int
hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes s[0..len) into out; returns the length or -1. */
static long
ref_decode(const char *s, size_t len, char *out)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (len - i < 3 || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
				return -1;
			out[n++] = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
			i += 2;
		} else
			out[n++] = s[i] == '+' ? ' ' : s[i];
	}
	out[n] = '\0';
	return (long)n;
}

struct ref_param {
	char	*name, *value;
	long	 value_len;
};

/* The reference parse: 0 with the parameters, or -1. */
static int
ref_parse(const char *qs, struct ref_param *out, size_t *n, char *buf)
{
	size_t len = strlen(qs), i, start, eq, k;
	long nl;

	*n = 0;
	if (len > QUERY_MAX_LEN)
		return -1;
	for (start = 0; start <= len; start = i + 1) {
		for (i = start; i < len && qs[i] != '&'; i++)
			;
		if (i == start)
			continue;
		if (*n == QUERY_MAX_PARAMS)
			return -1;
		for (eq = start; eq < i && qs[eq] != '='; eq++)
			;
		out[*n].name = buf;
		if ((nl = ref_decode(qs + start, eq - start, buf)) < 0)
			return -1;
		buf += nl + 1;
		out[*n].value = buf;
		out[*n].value_len = eq < i ? ref_decode(qs + eq + 1, i - eq - 1,
		    buf) : (*buf = '\0', 0);
		if (out[*n].value_len < 0)
			return -1;
		buf += out[*n].value_len + 1;
		/* Names are C strings: a %00 ends one. */
		for (k = 0; k < *n; k++)
			if (strcmp(out[k].name, out[*n].name) == 0)
				return -1;
		(*n)++;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ref_param want[QUERY_MAX_PARAMS];
	char *qs, *buf, err[256];
	const char *v;
	struct query q;
	size_t n, i, len;
	int r, ref;

	if ((qs = strndup((const char *)data, size)) == NULL ||
	    (buf = malloc(size * 2 + 2)) == NULL) {
		free(qs);
		return 0;
	}
	err[0] = '\0';
	/* An absent QUERY_STRING is NULL: the same as an empty one. */
	r = query_parse(&q, *qs || size % 2 ? qs : NULL, err, sizeof(err));
	ref = ref_parse(qs, want, &n, buf);
	FUZZ_CHECK(r == ref, "query_parse returned %d, the reference %d (%s)",
	    r, ref, err);
	if (r == -1) {
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)),
		    "a failed parse has no message");
	} else {
		FUZZ_CHECK(q.n == n, "%zu parameters, the reference %zu", q.n, n);
		for (i = 0; i < n; i++) {
			FUZZ_CHECK(strcmp(q.params[i].name, want[i].name) == 0,
			    "parameter %zu is named %s, not %s", i,
			    q.params[i].name, want[i].name);
			FUZZ_CHECK(q.params[i].value_len == (size_t)want[i].value_len &&
			    memcmp(q.params[i].value, want[i].value,
			    (size_t)want[i].value_len + 1) == 0,
			    "parameter %s has another value", want[i].name);
			FUZZ_CHECK(q.params[i].value_len <= strlen(qs),
			    "value longer than the query");
			v = query_get(&q, want[i].name, &len);
			FUZZ_CHECK(v == q.params[i].value && len == q.params[i].value_len,
			    "query_get does not find %s", want[i].name);
		}
	}
	query_free(&q);
	free(buf);
	free(qs);
	return 0;
}
