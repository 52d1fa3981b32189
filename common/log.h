/*
 * Logging: one line per event on stderr, "level=L event=E key=value ...",
 * so journald and grep both read it. Nothing is logged per request unless
 * verbose. When stderr is the journal (JOURNAL_STREAM), each line starts
 * with its syslog priority ("<4>"), which journald takes as the level.
 *
 * Values are logfmt: a number or a word of ours is written as it is,
 * anything that came from outside (a user, a file name, a path, a reason)
 * through log_str, quoted and escaped, so that no input can start a line
 * or forge a field.
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the program name and the highest level printed (INFO, or DEBUG
   when verbose), and notices whether stderr is the journal. */
void	log_init(const char *program, int verbose);
/* Prints "<program>: level=<level> event=<event> <fields>"; fields is a
   printf format of key=value pairs, each value from outside a %s of
   log_str. Whatever the caller passed, a control byte (a line break) is
   printed as \xHH: the line stays one line. */
void	log_event(enum log_level, const char *event, const char *fields, ...)
	    __attribute__((format(printf, 3, 4)));
/* 1 when lines of this level are printed. */
int	log_enabled(enum log_level);

/* The level is tested before the arguments are evaluated: a line not
   printed costs no formatting or quoting. */
#define log_at(level, ev, ...) do {					\
	if (log_enabled(level))						\
		log_event(level, ev, __VA_ARGS__);			\
} while (0)
#define log_error(ev, ...)	log_at(LOG_LEVEL_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...)	log_at(LOG_LEVEL_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...)	log_at(LOG_LEVEL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...)	log_at(LOG_LEVEL_DEBUG, ev, __VA_ARGS__)

/* Bytes of a value of log_value: a 256-byte name escaped in full (at most
   4 bytes a byte), its quotes, a cut mark and the NUL. */
#define LOG_VALUE_MAX		1040

/* log_str(s), log_strn(s, len): s (len bytes of it) as a logfmt value,
   quoted and escaped as log_quote does ("say \"hi\""), in a buffer of
   the calling block that lasts until the block ends: for a %s of
   log_event's fields, as in log_info("x", "file=%s", log_str(name)).
   NULL is -, no value. */
#define log_str(s)	log_value_str((char[LOG_VALUE_MAX]){ 0 },	\
			    LOG_VALUE_MAX, (s))
#define log_strn(s, len) log_value((char[LOG_VALUE_MAX]){ 0 },	\
			    LOG_VALUE_MAX, (s), (len))

/* Writes len bytes of s into out (outlen bytes, at least 8) as a quoted
   log value; a value that does not fit ends in ...", NULL is written as
   -. Returns out. log_str and log_strn are the short way. */
char	*log_value(char *out, size_t outlen, const char *s, size_t len);
/* log_value of the NUL-terminated s. */
char	*log_value_str(char *out, size_t outlen, const char *s);

/* Writes len bytes of s into out as the inside of a double-quoted log
   value: '"' and '\\' escaped with a backslash, bytes outside printable
   ASCII as \xHH (a value stays one line). Stops where out (outlen bytes,
   NUL included) is full; returns out. */
char	*log_quote(char *out, size_t outlen, const char *s, size_t len);

/* Prints "<program>: level=error event=fatal reason=\"<message>\"" and
   exits with status 1: start-up errors. */
void	log_fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
