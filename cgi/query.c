#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/query.h"
#include "common/text.h"

/* Decodes [s, end) in place into dst (never longer than the source);
   returns the decoded length or -1 for a malformed escape. */
static long
decode(const char *s, const char *end, char *dst)
{
	char *d = dst;
	int hi, lo;

	while (s < end) {
		if (*s == '+') {
			*d++ = ' ';
			s++;
		} else if (*s == '%') {
			if (end - s < 3 || (hi = text_hex_digit(s[1])) < 0 ||
			    (lo = text_hex_digit(s[2])) < 0)
				return -1;
			*d++ = (char)(hi << 4 | lo);
			s += 3;
		} else
			*d++ = *s++;
	}
	*d = '\0';
	return d - dst;
}

int
query_parse(struct query *q, const char *qs, char *err, size_t errlen)
{
	const char *p, *amp, *eq, *end;
	char *out;
	long nlen, vlen;
	size_t i, len;

	memset(q, 0, sizeof(*q));
	if (qs == NULL)
		qs = "";
	if ((len = strlen(qs)) > QUERY_MAX_LEN) {
		snprintf(err, errlen, "query string longer than %d bytes",
		    QUERY_MAX_LEN);
		return -1;
	}
	/* Decoded text never outgrows its source: one buffer holds all,
	   with room for a NUL after each name and value. */
	if ((q->buf = out = malloc(len * 2 + 2)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (p = qs; *p; p = *amp ? amp + 1 : amp) {
		if ((amp = strchr(p, '&')) == NULL)
			amp = p + strlen(p);
		if (amp == p)
			continue;	/* "a=1&&b=2" */
		eq = memchr(p, '=', (size_t)(amp - p));
		end = eq ? eq : amp;
		if (q->n == QUERY_MAX_PARAMS) {
			snprintf(err, errlen, "more than %d query parameters",
			    QUERY_MAX_PARAMS);
			return -1;
		}
		if ((nlen = decode(p, end, out)) < 0) {
			snprintf(err, errlen, "malformed %%-escape in a "
			    "parameter name");
			return -1;
		}
		q->params[q->n].name = out;
		out += nlen + 1;
		vlen = eq ? decode(eq + 1, amp, out) : (*out = '\0', 0);
		if (vlen < 0) {
			snprintf(err, errlen, "malformed %%-escape in parameter "
			    "%.64s", q->params[q->n].name);
			return -1;
		}
		q->params[q->n].value = out;
		q->params[q->n].value_len = (size_t)vlen;
		out += vlen + 1;
		for (i = 0; i < q->n; i++)
			if (strcmp(q->params[i].name, q->params[q->n].name) == 0) {
				snprintf(err, errlen, "parameter %.64s is given "
				    "more than once", q->params[q->n].name);
				return -1;
			}
		q->n++;
	}
	return 0;
}

void
query_free(struct query *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

const char *
query_get(const struct query *q, const char *name, size_t *len)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->params[i].name, name) == 0) {
			if (len)
				*len = q->params[i].value_len;
			return q->params[i].value;
		}
	return NULL;
}
