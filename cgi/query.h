/*
 * The query string of a request: split at '&' and '=', '+' and %XX
 * decoded, each parameter named at most once. Errors say which parameter
 * is wrong, for the 400 answer.
 */
#ifndef QUERY_H
#define QUERY_H

#include <stddef.h>

#define QUERY_MAX_PARAMS	32
#define QUERY_MAX_LEN		8192	/* bytes of the whole query string */

struct query_param {
	char	*name;		/* decoded, NUL-terminated */
	char	*value;		/* decoded, NUL-terminated; may hold NULs */
	size_t	 value_len;
};

struct query {
	struct query_param	 params[QUERY_MAX_PARAMS];
	size_t			 n;
	char			*buf;		/* owns every string above */
};

/*
 * Parses qs (NULL is empty). Returns 0, or -1 with a message for a person
 * in err (malformed %XX, a repeated parameter, too many parameters, a query
 * too long). query_free() in both cases.
 */
int	query_parse(struct query *, const char *qs, char *err, size_t errlen);
void	query_free(struct query *);
/* The parameter's value and length, or NULL when it is absent. */
const char *query_get(const struct query *, const char *name, size_t *len);

#endif
