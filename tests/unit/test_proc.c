/*
 * One child process from the loop: its exit status or signal, the timeout
 * that kills its whole process group, stdin, stdout and its cap, stderr in
 * the log, a command that cannot start, and abandoning a running one.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "common/log.h"
#include "watcherd/loop.h"
#include "watcherd/proc.h"
#include "tests/unit/fixture.h"
#include "tests/unit/tap.h"

#define WAIT_MS		10000	/* the most a run may take */
#define BIG		(1 << 20)	/* more than a pipe holds */

static struct loop *loop;
static char tmpdir[PATH_MAX];
static char *env[] = { "PATH=" PROC_PATH, "GREETING=hello", NULL };

/* What done was given, copied out of the call. */
struct outcome {
	int			 calls;
	struct proc_result	 res;
	char			*output;
	char			 reason[256];
};

static void
on_done(void *arg, const struct proc_result *res)
{
	struct outcome *o = arg;

	o->calls++;
	o->res = *res;
	free(o->output);
	if ((o->output = malloc(res->output_len + 1)) == NULL)
		abort();
	memcpy(o->output, res->output, res->output_len);
	o->output[res->output_len] = '\0';
	o->res.output = o->output;
	snprintf(o->reason, sizeof(o->reason), "%s",
	    res->reason ? res->reason : "");
	o->res.reason = o->reason;
	loop_stop(loop);
}

static void
time_is_up(void *arg)
{
	*(int *)arg = 1;
	loop_stop(loop);
}

/* Runs the loop for ms, or until done was called when o is set. Returns 0
   when done came (or, without o, when the time is up). */
static int
run_loop(struct outcome *o, long long ms)
{
	int up = 0;
	struct loop_timer timer = { .fn = time_is_up, .arg = &up };

	loop_timer_arm(loop, &timer, ms);
	while (!up && !(o && o->calls))
		if (loop_run(loop) == -1)
			abort();
	loop_timer_disarm(loop, &timer);
	return o ? !o->calls : 0;
}

static struct proc *
start(struct outcome *o, char *const *argv, const char *input,
    size_t input_len, size_t output_max, long long timeout_ms)
{
	struct proc_spec spec = {
		.argv = argv,
		.env = env,
		.input = input,
		.input_len = input_len,
		.output_max = output_max,
		.timeout_ms = timeout_ms,
		.stderr_event = "test_stderr",
		.log_fields = "test=unit",
	};
	struct proc *p;

	free(o->output);
	memset(o, 0, sizeof(*o));
	if ((p = proc_start(loop, &spec, on_done, o)) == NULL)
		abort();
	return p;
}

/* Runs /bin/sh -c script to its end (WAIT_MS at most). */
static void
sh(struct outcome *o, const char *script, const char *input,
    size_t input_len, size_t output_max, long long timeout_ms)
{
	char *argv[] = { "sh", "-c", (char *)script, NULL };

	start(o, argv, input, input_len, output_max, timeout_ms);
	if (run_loop(o, WAIT_MS))
		tap_ok(0, "sh -c '%s' ended within %d ms", script, WAIT_MS);
}

static int
exited_with(const struct outcome *o, int code)
{
	return o->calls == 1 && o->res.end == PROC_EXITED &&
	    WIFEXITED(o->res.status) && WEXITSTATUS(o->res.status) == code;
}

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void
test_exit(void)
{
	struct outcome o = { 0 };
	char *argv[] = { "sh", "-c", "exit 0", NULL };
	struct proc *p;

	p = start(&o, argv, NULL, 0, 0, WAIT_MS);
	tap_ok(proc_pid(p) > 0, "a started process has its pid");
	tap_is_int(o.calls, 0, "done is never called from inside proc_start");
	run_loop(&o, WAIT_MS);
	tap_ok(exited_with(&o, 0), "exit 0 is an exit with status 0, once");

	sh(&o, "exit 3", NULL, 0, 0, WAIT_MS);
	tap_ok(exited_with(&o, 3), "exit 3 is status 3");

	sh(&o, "kill -TERM $$", NULL, 0, 0, WAIT_MS);
	tap_ok(o.res.end == PROC_EXITED && WIFSIGNALED(o.res.status) &&
	    WTERMSIG(o.res.status) == SIGTERM, "a signal's death says which");
	free(o.output);
}

static void
test_environment(void)
{
	struct outcome o = { 0 };
	char *argv[] = { "env", NULL };

	start(&o, argv, NULL, 0, 4096, WAIT_MS);
	run_loop(&o, WAIT_MS);
	tap_ok(exited_with(&o, 0), "a command without '/' is found in PROC_PATH");
	tap_is_str(o.output, "PATH=" PROC_PATH "\nGREETING=hello\n",
	    "the environment is the one given, nothing else");
	free(o.output);
}

static void
test_stdin(void)
{
	struct outcome o = { 0 };
	char *big;
	size_t i;

	if ((big = malloc(BIG)) == NULL)
		abort();
	for (i = 0; i < BIG; i++)
		big[i] = (char)('a' + i % 26);

	sh(&o, "cat", "one\ntwo\n", 8, 4096, WAIT_MS);
	tap_ok(exited_with(&o, 0), "cat reads its stdin to the end");
	tap_is_str(o.output, "one\ntwo\n", "stdin is the input given");

	sh(&o, "cat", big, BIG, 2 * BIG, WAIT_MS);
	tap_ok(exited_with(&o, 0) && o.res.output_len == BIG &&
	    memcmp(o.output, big, BIG) == 0 && !o.res.output_cut,
	    "a megabyte goes through stdin and back through stdout whole");

	sh(&o, "exit 0", big, BIG, 0, WAIT_MS);
	tap_ok(exited_with(&o, 0),
	    "a child that reads none of its input still ends as it exits");

	sh(&o, "cat; echo end", NULL, 0, 4096, WAIT_MS);
	tap_is_str(o.output, "end\n", "no input: stdin is /dev/null");
	free(o.output);
	free(big);
}

static void
test_stdout(void)
{
	struct outcome o = { 0 };

	sh(&o, "echo hi", NULL, 0, 0, WAIT_MS);
	tap_ok(exited_with(&o, 0) && o.res.output_len == 0 &&
	    !o.res.output_cut, "output_max 0: stdout goes to /dev/null");

	sh(&o, "printf abcd", NULL, 0, 4, WAIT_MS);
	tap_ok(!strcmp(o.output, "abcd") && !o.res.output_cut,
	    "output of exactly the cap is whole");

	sh(&o, "printf abcdefghij", NULL, 0, 4, WAIT_MS);
	tap_ok(!strcmp(o.output, "abcd") && o.res.output_cut,
	    "output beyond the cap is cut there, and says so");

	sh(&o, "head -c 10000000 /dev/zero", NULL, 0, 10, WAIT_MS);
	tap_ok(exited_with(&o, 0) && o.res.output_len == 10 &&
	    o.res.output_cut,
	    "a child writing far beyond the cap is drained and exits");
	free(o.output);
}

/* Reaps pid (a child of ours, as we are a subreaper) within WAIT_MS.
   Returns its status, or -1. */
static int
reap(pid_t pid)
{
	int status, i;

	for (i = 0; i < WAIT_MS / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	return -1;
}

static void
test_timeout(void)
{
	struct outcome o = { 0 };
	long pid;
	int status;

	/* The orphaned grandchild comes to us, to be reaped and looked at. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sh(&o, "sleep 1000 >/dev/null & echo $!; wait", NULL, 0, 64, 300);
	tap_ok(o.res.end == PROC_TIMED_OUT, "a hanging child is killed at the "
	    "timeout");
	tap_ok(o.res.duration_ms >= 300 && o.res.duration_ms < WAIT_MS,
	    "not before the timeout (%lld ms)", o.res.duration_ms);
	pid = strtol(o.output, NULL, 10);
	status = pid > 0 ? reap((pid_t)pid) : -1;
	tap_ok(status != -1 && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGKILL,
	    "what it started in its process group is killed too");
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	free(o.output);
}

static void
test_stderr(void)
{
	struct outcome o = { 0 };
	char path[PATH_MAX], line[2048], *want;
	int saved, fd, lines = 0, first = 0, long_line = 0, last = 0;
	FILE *f;

	fixture_path(path, sizeof(path), "%s/stderr.log", tmpdir);
	fflush(stderr);
	saved = dup(2);
	if (saved == -1 || (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
	    0644)) == -1 || dup2(fd, 2) == -1)
		abort();
	close(fd);
	sh(&o, "printf 'first \"quoted\"\\n' >&2; i=0; "
	    "while [ $i -lt 25 ]; do echo line $i >&2; i=$((i + 1)); done",
	    NULL, 0, 0, WAIT_MS);
	tap_is_int((long long)o.res.stderr_dropped, 6,
	    "stderr lines beyond 20 are counted, not logged");
	sh(&o, "head -c 300 /dev/zero | tr '\\0' x >&2; echo >&2; "
	    "printf last >&2", NULL, 0, 0, WAIT_MS);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	if ((f = fopen(path, "r")) == NULL)
		abort();
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "level=info event=test_stderr test=unit line=\""))
			lines++;
		first |= strstr(line, " line=\"first \\\"quoted\\\"\"\n") != NULL;
		last |= strstr(line, " line=\"last\"\n") != NULL;
		if ((want = strstr(line, " line=\"x")) != NULL)
			long_line = strspn(want + 7, "x") == 256 &&
			    !strcmp(want + 7 + 256, "...\"\n");
	}
	fclose(f);
	tap_is_int(lines, 20 + 2, "each stderr line is logged with the "
	    "event and fields given");
	tap_ok(first, "a line's quotes are escaped");
	tap_ok(long_line, "a long line is cut at 256 bytes, with ...");
	tap_ok(last, "a last line without a newline is logged");
	free(o.output);
}

static void
test_not_started(void)
{
	struct outcome o = { 0 };
	char path[PATH_MAX];
	char *missing[] = { "no-such-command-for-test-proc", NULL };
	char *absent[] = { "/nonexistent/test-proc", NULL };
	char *plain[] = { path, NULL };
	struct proc *p;

	p = start(&o, missing, "input", 5, 64, WAIT_MS);
	tap_ok(proc_pid(p) == -1 && o.calls == 0,
	    "a command not found: no pid, and done not called yet");
	run_loop(&o, WAIT_MS);
	tap_ok(o.calls == 1 && o.res.end == PROC_NOT_STARTED &&
	    o.res.error == ENOENT, "then done says it did not start, once");
	tap_is_str(o.res.reason, "command not found in " PROC_PATH,
	    "and that it is not in PROC_PATH");

	start(&o, absent, NULL, 0, 0, WAIT_MS);
	run_loop(&o, WAIT_MS);
	tap_ok(o.res.end == PROC_NOT_STARTED && o.res.error == ENOENT &&
	    !strcmp(o.res.reason, strerror(ENOENT)),
	    "a path that does not exist: %s", o.res.reason);

	fixture_path(path, sizeof(path), "%s/not-executable", tmpdir);
	if (fixture_write(path, "#!/bin/sh\n", 10) == -1)
		abort();
	start(&o, plain, NULL, 0, 64, WAIT_MS);
	run_loop(&o, WAIT_MS);
	tap_ok(o.res.end == PROC_NOT_STARTED && o.res.error == EACCES,
	    "a file that is not executable: %s", o.res.reason);
	free(o.output);
}

static void
test_abandon(void)
{
	struct outcome o = { 0 };
	char *argv[] = { "sh", "-c", "exec sleep 1000", NULL };
	struct proc *p;
	pid_t pid;
	int status, i;

	p = start(&o, argv, "input", 5, 64, WAIT_MS);
	pid = proc_pid(p);
	run_loop(NULL, 100);
	proc_abandon(p);
	run_loop(NULL, 200);
	tap_is_int(o.calls, 0, "an abandoned process calls done no more");
	/* Reaped by proc_abandon if it died at once, else ours to reap. */
	for (i = 0; i < WAIT_MS / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) != 0)
			break;
		usleep(10000);
	}
	tap_ok(kill(pid, 0) == -1 && errno == ESRCH,
	    "an abandoned process is killed");
}

int
main(void)
{
	int fds;

	signal(SIGPIPE, SIG_IGN);
	log_init("test_proc", 0);
	fixture_tmpdir(tmpdir, sizeof(tmpdir));
	if ((loop = loop_new()) == NULL)
		abort();
	fds = open_fds();
	test_exit();
	test_environment();
	test_stdin();
	test_stdout();
	test_timeout();
	test_stderr();
	test_not_started();
	test_abandon();
	tap_is_int(open_fds(), fds, "every descriptor is closed again");
	loop_free(loop);
	fixture_rmtree(tmpdir);
	return tap_done();
}
