#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"

/* Set once at start-up, read everywhere: the one piece of process-wide
   state, as stderr itself is. */
static const char	*log_program = "watcherd";
static enum log_level	 log_max = LOG_LEVEL_INFO;
static int		 log_to_journal;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/* syslog priorities: err, warning, info, debug. */
static const int level_priorities[] = {
	[LOG_LEVEL_ERROR] = 3,
	[LOG_LEVEL_WARN] = 4,
	[LOG_LEVEL_INFO] = 6,
	[LOG_LEVEL_DEBUG] = 7,
};

/* systemd names the journal stream it connects to stderr in JOURNAL_STREAM
   ("device:inode"); stderr redirected elsewhere since does not match. */
static int
stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	char end;

	if (env == NULL ||
	    sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(fileno(stderr), &sb) == -1)
		return 0;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

void
log_init(const char *program, int verbose)
{
	log_program = program;
	log_max = verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO;
	log_to_journal = stderr_is_journal();
}

int
log_enabled(enum log_level level)
{
	return level <= log_max;
}

/* Writes one line: "<program>: level=L event=E" and the fields, if any
   (preceded by the line's syslog priority, "<N>", for the journal). */
static void
log_line(enum log_level level, const char *event, const char *fields)
{
	char prio[8] = "";

	if (log_to_journal)
		snprintf(prio, sizeof(prio), "<%d>", level_priorities[level]);
	fprintf(stderr, "%s%s: level=%s event=%s%s%s\n", prio, log_program,
	    level_names[level], event, *fields ? " " : "", fields);
}

void
log_event(enum log_level level, const char *event, const char *fields, ...)
{
	char line[2048];
	va_list ap;

	if (level > log_max)
		return;
	line[0] = '\0';
	if (fields) {
		va_start(ap, fields);
		vsnprintf(line, sizeof(line), fields, ap);
		va_end(ap);
	}
	log_line(level, event, line);
}

char *
log_quote(char *out, size_t outlen, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char ch;

	for (i = 0; i < len && o + 5 <= outlen; i++) {
		ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 0xf];
		} else
			out[o++] = (char)ch;
	}
	if (outlen > 0)
		out[o] = '\0';
	return out;
}

void
log_fatal(const char *fmt, ...)
{
	char msg[2048], quoted[sizeof(msg) * 4 + 1], line[sizeof(quoted) + 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "reason=\"%s\"",
	    log_quote(quoted, sizeof(quoted), msg, strlen(msg)));
	log_line(LOG_LEVEL_ERROR, "fatal", line);
	exit(1);
}
