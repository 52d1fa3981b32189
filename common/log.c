#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"

/* Set once at start-up, read everywhere: the one piece of process-wide
   state, as stderr itself is. */
static const char	*log_program = "watcherd";
static enum log_level	 log_max = LOG_LEVEL_INFO;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void
log_init(const char *program, int verbose)
{
	log_program = program;
	log_max = verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO;
}

int
log_enabled(enum log_level level)
{
	return level <= log_max;
}

void
log_event(enum log_level level, const char *event, const char *fields, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (level > log_max)
		return;
	n = snprintf(line, sizeof(line), "%s: level=%s event=%s", log_program,
	    level_names[level], event);
	if (n < 0)
		return;
	if (fields && *fields && (size_t)n < sizeof(line) - 1) {
		line[n++] = ' ';
		va_start(ap, fields);
		vsnprintf(line + n, sizeof(line) - n, fields, ap);
		va_end(ap);
	}
	fprintf(stderr, "%s\n", line);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", log_program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}
