/*
 * A minimal TAP producer for the unit tests: each check prints
 * "ok N - what" or "not ok N - what"; tap_done() prints the plan "1..N"
 * and returns the exit status (1 when anything failed).
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run, tap_failed;

static inline int
tap_vok(int cond, const char *fmt, va_list ap)
{
	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	vprintf(fmt, ap);
	putchar('\n');
	/* Flushed per line: the tests fork, and a child must not repeat it. */
	fflush(stdout);
	return cond;
}

static inline int tap_ok(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static inline int
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	return cond;
}

/* Both strings must be equal; NULL equals only NULL. */
static inline int tap_is_str(const char *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static inline int
tap_is_str(const char *got, const char *want, const char *fmt, ...)
{
	int cond = got && want ? strcmp(got, want) == 0 : got == want;
	va_list ap;

	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got: '%s'\n#  want: '%s'\n", got ? got : "(null)",
		    want ? want : "(null)");
	return cond;
}

static inline int tap_is_int(long long, long long, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static inline int
tap_is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vok(got == want, fmt, ap);
	va_end(ap);
	if (got != want)
		printf("#   got: %lld\n#  want: %lld\n", got, want);
	return got == want;
}

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_run);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif
