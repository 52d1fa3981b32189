#include <string.h>

#include "common/fields.h"

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

int
fields_int(const char *line, size_t len, const char *key, long long *v)
{
	const char *p;
	size_t n, i = 0;
	long long x = 0;
	int neg = 0;

	if (fields_get(line, len, key, &p, &n) != 1)
		return -1;
	if (n > 0 && p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (n == i || n - i > 18)
		return -1;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		x = x * 10 + (p[i] - '0');
	}
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
