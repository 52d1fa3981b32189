/*
 * Logging: one line per event on stderr, "level=L event=E key=value ...",
 * so journald and grep both read it. Nothing is logged per request unless
 * verbose. When stderr is the journal (JOURNAL_STREAM), each line starts
 * with its syslog priority ("<4>"), which journald takes as the level.
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the program name and the highest level printed (INFO, or DEBUG
   when verbose), and notices whether stderr is the journal. */
void	log_init(const char *program, int verbose);
/* Prints "<program>: level=<level> event=<event> <fields>"; fields is a
   printf format of key=value pairs. */
void	log_event(enum log_level, const char *event, const char *fields, ...)
	    __attribute__((format(printf, 3, 4)));
/* 1 when lines of this level are printed. */
int	log_enabled(enum log_level);

#define log_error(ev, ...)	log_event(LOG_LEVEL_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...)	log_event(LOG_LEVEL_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...)	log_event(LOG_LEVEL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...)	log_event(LOG_LEVEL_DEBUG, ev, __VA_ARGS__)

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
