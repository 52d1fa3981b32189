/* The table of watcherd's counters that status and /metrics both read. */
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "common/status.h"
#include "tests/unit/tap.h"

/* A Prometheus metric name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static int
metric_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_' && *s != ':')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != ':')
			return 0;
	return 1;
}

static void
test_rows(void)
{
	const struct status_field *f, *g;
	size_t i, j;
	int ok;

	for (i = 0; i < STATUS_COUNTERS; i++) {
		f = &status_fields[i];
		/* A hole in the designated initializers is a NULL key. */
		if (!tap_ok(f->key != NULL && f->key[0] != '\0',
		    "row %zu has its status member", i))
			continue;
		for (ok = 1, j = 0; j < i; j++)
			if (status_fields[j].key &&
			    strcmp(status_fields[j].key, f->key) == 0)
				ok = 0;
		tap_ok(ok, "%s is the member of one row only", f->key);
		if (f->metric == NULL)
			continue;
		tap_ok(metric_name(f->metric) &&
		    (strcmp(f->type, "counter") == 0) ==
		    (strlen(f->metric) > 6 &&
		    strcmp(f->metric + strlen(f->metric) - 6, "_total") == 0),
		    "%s is a metric name, _total exactly when a counter",
		    f->metric);
	}
	/* A family's rows are consecutive, and its first says what it is. */
	for (i = 0; i < STATUS_COUNTERS; i++) {
		f = &status_fields[i];
		if (f->metric == NULL)
			continue;
		for (g = NULL, j = 0; j < i; j++)
			if (status_fields[j].metric &&
			    strcmp(status_fields[j].metric, f->metric) == 0)
				g = &status_fields[j];
		if (g == NULL)
			tap_ok(f->help[0] != '\0', "%s has its help", f->metric);
		else
			tap_ok(g == &status_fields[i - 1] &&
			    strcmp(g->type, f->type) == 0, "%s%s follows the "
			    "family's row, of the same type", f->metric,
			    f->labels);
	}
}

int
main(void)
{
	test_rows();
	return tap_done();
}
