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

/* Escapes len bytes of s into out (outlen bytes, NUL included) as
   \xHH: control bytes and DEL always, and with quoting also '"' and '\\'
   (as \" and \\) and bytes beyond ASCII. Never cuts an escape in half;
   returns the number of bytes of s written. */
static size_t
escape(char *out, size_t outlen, const char *s, size_t len, int quoting)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0, width;
	unsigned char ch;

	for (i = 0; i < len && outlen > 0; i++) {
		ch = (unsigned char)s[i];
		if (quoting && (ch == '"' || ch == '\\'))
			width = 2;
		else if (ch < 0x20 || ch == 0x7f || (quoting && ch > 0x7f))
			width = 4;
		else
			width = 1;
		if (o + width >= outlen)
			break;
		if (width == 1)
			out[o++] = (char)ch;
		else if (width == 2) {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 0xf];
		}
	}
	if (outlen > 0)
		out[o] = '\0';
	return i;
}

/* Writes one line: "<program>: level=L event=E" and the fields, if any
   (preceded by the line's syslog priority, "<N>", for the journal). The
   event and fields are escaped again: a caller that forgot log_str still
   cannot break the line. */
static void
log_line(enum log_level level, const char *event, const char *fields)
{
	char prio[8] = "", raw[4096], line[sizeof(raw)];
	int n;

	if (log_to_journal)
		snprintf(prio, sizeof(prio), "<%d>", level_priorities[level]);
	n = snprintf(raw, sizeof(raw), "%s%s%s", event, *fields ? " " : "",
	    fields);
	if (n < 0)
		return;
	escape(line, sizeof(line), raw,
	    (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1, 0);
	fprintf(stderr, "%s%s: level=%s event=%s\n", prio, log_program,
	    level_names[level], line);
}

void
log_event(enum log_level level, const char *event, const char *fields, ...)
{
	char line[4096];
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
	escape(out, outlen, s, len, 1);
	return out;
}

char *
log_value(char *out, size_t outlen, const char *s, size_t len)
{
	size_t o;
	int cut;

	if (s == NULL) {
		snprintf(out, outlen, "-");
		return out;
	}
	/* Room is kept for the quotes, the cut mark and the NUL. */
	out[0] = '"';
	cut = escape(out + 1, outlen - 5, s, len, 1) < len;
	o = 1 + strlen(out + 1);
	snprintf(out + o, outlen - o, "%s\"", cut ? "..." : "");
	return out;
}

char *
log_value_str(char *out, size_t outlen, const char *s)
{
	return log_value(out, outlen, s, s ? strlen(s) : 0);
}

void
log_fatal(const char *fmt, ...)
{
	char msg[2048], value[sizeof(msg) * 4 + 8], line[sizeof(value) + 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "reason=%s",
	    log_value(value, sizeof(value), msg, strlen(msg)));
	log_line(LOG_LEVEL_ERROR, "fatal", line);
	exit(1);
}
