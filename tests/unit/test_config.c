/* watcherd's configuration: defaults, file, environment and flags. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "tests/unit/fixture.h"
#include "tests/unit/tap.h"

#define MIB (1024 * 1024)

static char tmpdir[PATH_MAX];
static char err[1024];

/* Runs config_load on a NULL-terminated argument list (argv[0] added). */
static int
load(struct config *c, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = "watcherd";
	while (*args && argc < 31)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	err[0] = '\0';
	return config_load(c, argc, argv, err, sizeof(err));
}

#define LOAD(c, ...) load(c, (const char *const[]){ __VA_ARGS__, NULL })

/* The allow list joined by spaces. */
static const char *
allow_list(const struct config *c)
{
	static char buf[1024];
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < c->n_allow && used < sizeof(buf); i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s",
		    i ? " " : "", c->allow[i]);
	return buf;
}

static const char *
write_config(const char *name, const char *text)
{
	static char path[PATH_MAX];

	fixture_path(path, sizeof(path), "%s/%s", tmpdir, name);
	if (fixture_write(path, text, strlen(text)) == -1)
		tap_ok(0, "write %s", path);
	return path;
}

static void
test_defaults(void)
{
	struct config c;

	unsetenv("WATCHERD_SOCKET");
	unsetenv("XFEL_DATA_ROOT");
	tap_is_int(load(&c, (const char *const[]){ NULL }), 0,
	    "no arguments load the defaults");
	tap_is_str(c.socket_path, "/run/watcherd/watcherd.sock",
	    "default socket is /run/watcherd/watcherd.sock");
	tap_is_str(c.data_root, "/gpfs/exfel/exp",
	    "default data root is /gpfs/exfel/exp");
	tap_is_int(c.idle_timeout_s, 30, "default idle timeout is 30 s");
	tap_is_int(c.watch_mode, WATCH_MODE_AUTO, "default watch mode is auto");
	tap_is_str(config_watch_mode_name(c.watch_mode), "auto",
	    "the default watch mode is named auto");
	tap_is_int(c.poll_interval_ms, 1000, "default poll interval is 1000 ms");
	tap_is_int((long long)c.max_file_size, 16 * MIB,
	    "default max file size is 16 MiB");
	tap_is_str(allow_list(&c), "context.py *.log process_logs/*.out",
	    "default allow patterns are context.py, *.log, process_logs/*.out");
	tap_ok(c.config_file == NULL && !c.foreground && !c.verbose,
	    "no config file, not foreground, not verbose by default");
	config_free(&c);

	setenv("XFEL_DATA_ROOT", "/data/exp", 1);
	LOAD(&c, "--foreground");
	tap_is_str(c.data_root, "/data/exp", "XFEL_DATA_ROOT sets the data root");
	config_free(&c);
	setenv("XFEL_DATA_ROOT", "", 1);
	LOAD(&c, "--foreground");
	tap_is_str(c.data_root, "/gpfs/exfel/exp",
	    "an empty XFEL_DATA_ROOT is ignored");
	config_free(&c);
	unsetenv("XFEL_DATA_ROOT");

	tap_is_str(config_watch_mode_name(WATCH_MODE_INOTIFY), "inotify",
	    "watch mode inotify is named inotify");
	tap_is_str(config_watch_mode_name(WATCH_MODE_POLL), "poll",
	    "watch mode poll is named poll");
}

static const char full_file[] =
    "# watcherd configuration\n"
    "\n"
    "socket = /tmp/file.sock\n"
    "   # an indented comment\n"
    "data-root=/data/root\n"
    "idle_timeout = 60\n"
    "\twatch-mode\t=\tpoll  \n"
    "poll-interval = 250\n"
    "settle-time = 5\n"
    "max-file-size = 1k\n"
    "cache-size = 2M\n"
    "max-watches = 500\n"
    "max_clients = 7\n"
    "allow = *.py\n"
    "allow = logs/*.txt\n"
    "foreground = yes\n"
    "verbose = on\n"
    "\n";

/* A number a loaded config holds, and the one it must hold. */
struct number_check {
	long long	 got;
	long long	 want;
	const char	*what;
};

static void
check_numbers(const struct number_check *checks, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		tap_is_int(checks[i].got, checks[i].want, "%s", checks[i].what);
}

/* c is full_file (at path) loaded alone. */
static void
check_full_file(const struct config *c, const char *path)
{
	const struct number_check numbers[] = {
		{ c->idle_timeout_s, 60, "file sets idle_timeout (underscore)" },
		{ c->watch_mode, WATCH_MODE_POLL,
		    "file sets watch-mode, tabs and spaces trimmed" },
		{ c->poll_interval_ms, 250, "file sets poll-interval" },
		{ c->settle_time_ms, 5, "file sets settle-time" },
		{ (long long)c->max_file_size, 1024,
		    "file sets max-file-size with a k suffix" },
		{ (long long)c->cache_size, 2 * MIB,
		    "file sets cache-size with an M suffix" },
		{ c->max_watches, 500, "file sets max-watches" },
		{ c->max_clients, 7, "file sets max_clients (underscore)" },
	};

	tap_is_str(c->config_file, path, "the config file's name is kept");
	tap_is_str(c->socket_path, "/tmp/file.sock", "file sets socket");
	tap_is_str(c->data_root, "/data/root", "file sets data-root");
	check_numbers(numbers, sizeof(numbers) / sizeof(numbers[0]));
	tap_is_str(allow_list(c), "*.py logs/*.txt",
	    "allow lines in the file replace the default patterns");
	tap_ok(c->foreground == 1 && c->verbose == 1,
	    "file sets foreground = yes and verbose = on");
}

/* c is full_file loaded with the flags test_file gives on top of it. */
static void
check_flags_over_file(const struct config *c)
{
	const struct number_check numbers[] = {
		{ c->idle_timeout_s, 5, "--idle-timeout overrides the file" },
		{ c->watch_mode, WATCH_MODE_INOTIFY,
		    "--watch-mode overrides the file" },
		{ (long long)c->max_file_size, 16 * MIB,
		    "--max-file-size=16M overrides the file, as 16 MiB" },
		{ c->poll_interval_ms, 250,
		    "keys without a flag keep the file's value" },
		{ c->verbose, 0, "the last of two flags wins (--verbose=no)" },
	};

	check_numbers(numbers, sizeof(numbers) / sizeof(numbers[0]));
	tap_is_str(allow_list(c), "*.py logs/*.txt",
	    "without --allow, the file's patterns stay");
}

static void
test_file(void)
{
	const char *path = write_config("full.conf", full_file);
	struct config c;

	tap_is_int(LOAD(&c, "--config", path), 0,
	    "a file with comments, blank lines and every key loads");
	check_full_file(&c, path);
	config_free(&c);

	tap_is_int(LOAD(&c, "--verbose", "--config", path, "--idle-timeout",
	    "5", "--watch-mode", "inotify", "--max-file-size=16M",
	    "--verbose=no"), 0, "flags load on top of a file");
	check_flags_over_file(&c);
	config_free(&c);

	LOAD(&c, "--allow", "a.txt", "--config", path, "--allow=b/*.txt");
	tap_is_str(allow_list(&c), "a.txt b/*.txt",
	    "--allow flags replace the file's patterns, wherever --config is");
	config_free(&c);
}

static void
test_allow_flags(void)
{
	struct config c;

	LOAD(&c, "--allow", "*.txt");
	tap_is_str(allow_list(&c), "*.txt", "--allow replaces the default list");
	config_free(&c);
	LOAD(&c, "--allow", "*.txt", "--allow", "notes/*.md", "--allow=x.py");
	tap_is_str(allow_list(&c), "*.txt notes/*.md x.py",
	    "repeated --allow flags add up, in order");
	config_free(&c);
}

static void
test_socket_precedence(void)
{
	const char *path = write_config("socket.conf",
	    "socket = /tmp/file.sock\n");
	const struct {
		const char	*env;		/* WATCHERD_SOCKET; NULL: unset */
		const char	*args[5];	/* NULL-terminated */
		const char	*want;
		const char	*what;
	} cases[] = {
		{ NULL, { "--config", path }, "/tmp/file.sock",
		    "the file's socket is used without environment or flag" },
		{ "/tmp/env.sock", { "--config", path }, "/tmp/env.sock",
		    "WATCHERD_SOCKET overrides the file" },
		{ "/tmp/env.sock",
		    { "--socket", "/tmp/flag.sock", "--config", path },
		    "/tmp/flag.sock", "--socket overrides WATCHERD_SOCKET" },
		{ "/tmp/env.sock", { "--foreground" }, "/tmp/env.sock",
		    "WATCHERD_SOCKET overrides the default" },
		{ "", { "--config", path }, "/tmp/file.sock",
		    "an empty WATCHERD_SOCKET is ignored" },
	};
	struct config c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].env == NULL)
			unsetenv("WATCHERD_SOCKET");
		else
			setenv("WATCHERD_SOCKET", cases[i].env, 1);
		load(&c, cases[i].args);
		tap_is_str(c.socket_path, cases[i].want, "%s", cases[i].what);
		config_free(&c);
	}
	unsetenv("WATCHERD_SOCKET");
}

/* Loads args, expecting -1 and a message that contains w1 and, unless
   it is NULL, w2. */
static void
expect_error(const char *what, const char *const *args, const char *w1,
    const char *w2)
{
	struct config c;
	int r = load(&c, args);

	tap_ok(r == -1 && strstr(err, w1) && (w2 == NULL || strstr(err, w2)),
	    "%s is refused, saying \"%.*s\"", what, (int)strcspn(err, "\n"),
	    err);
	config_free(&c);
}

#define BAD(what, w1, w2, ...) \
	expect_error(what, (const char *const[]){ __VA_ARGS__, NULL }, w1, w2)

/* Command lines that must be refused: what they are, and one or two
   words (w2 may be NULL) the message must hold. */
static const struct refused_args {
	const char	*what;
	const char	*w1, *w2;
	const char	*args[3];	/* NULL-terminated */
} refused_args[] = {
	{ "--idle-timeout abc", "abc", "idle-timeout",
	    { "--idle-timeout", "abc" } },
	{ "--idle-timeout 0", "idle-timeout", "from 1",
	    { "--idle-timeout", "0" } },
	{ "--idle-timeout -1", "idle-timeout", NULL,
	    { "--idle-timeout", "-1" } },
	{ "--idle-timeout ' 5'", "idle-timeout", NULL,
	    { "--idle-timeout", " 5" } },
	{ "--idle-timeout 99999999999999999999999", "idle-timeout", NULL,
	    { "--idle-timeout", "99999999999999999999999" } },
	{ "--poll-interval 5 (below 10 ms)", "poll-interval", NULL,
	    { "--poll-interval", "5" } },
	{ "--watch-mode sometimes", "sometimes", "watch-mode",
	    { "--watch-mode", "sometimes" } },
	{ "--max-file-size 16MB", "16MB", "suffix",
	    { "--max-file-size", "16MB" } },
	{ "--max-file-size 5G (over 4 GiB)", "max-file-size", NULL,
	    { "--max-file-size", "5G" } },
	{ "--max-file-size 0", "max-file-size", NULL,
	    { "--max-file-size", "0" } },
	{ "--foreground=maybe", "maybe", "foreground",
	    { "--foreground=maybe" } },
	{ "--socket ''", "socket", NULL, { "--socket", "" } },
	{ "--allow ''", "allow", NULL, { "--allow", "" } },
	{ "unknown flag --bogus", "unknown option '--bogus'", "usage",
	    { "--bogus" } },
	{ "a bare argument", "unexpected argument 'stray'", NULL,
	    { "--foreground", "stray" } },
	{ "--socket without a value", "'--socket' needs a value", NULL,
	    { "--socket" } },
};

static void
test_errors(void)
{
	const char *path;
	char want[PATH_MAX + 16];
	struct config c;
	size_t i;

	for (i = 0; i < sizeof(refused_args) / sizeof(refused_args[0]); i++)
		expect_error(refused_args[i].what, refused_args[i].args,
		    refused_args[i].w1, refused_args[i].w2);

	BAD("an empty --config=", "cannot read config file", NULL,
	    "--config=");
	fixture_path(want, sizeof(want), "%s/missing.conf", tmpdir);
	BAD("a missing config file", "cannot read config file", "missing.conf",
	    "--config", want);

	path = write_config("unknown.conf",
	    "# comment\n\nidle-timeout = 10\nbogus = 1\n");
	fixture_path(want, sizeof(want), "%s:4:", path);
	BAD("an unknown key in the file", want, "unknown setting 'bogus'",
	    "--config", path);

	path = write_config("noequals.conf", "socket /tmp/x.sock\n");
	fixture_path(want, sizeof(want), "%s:1:", path);
	BAD("a file line without '='", want, "key = value", "--config", path);

	path = write_config("badvalue.conf", "\n\nwatch-mode = sometimes\n");
	fixture_path(want, sizeof(want), "%s:3:", path);
	BAD("a bad value in the file", want, "sometimes", "--config", path);

	tap_is_int(LOAD(&c, "--help"), 1, "--help returns 1");
	tap_ok(strstr(err, "usage: watcherd") != NULL,
	    "--help leaves the usage text");
	config_free(&c);
	tap_is_int(LOAD(&c, "--foreground", "--version"), 1,
	    "--version returns 1");
	tap_ok(strstr(err, "watcherd") && strstr(err, "protocol 1"),
	    "--version names the protocol (%s)", err);
	config_free(&c);
}

static void
test_set(void)
{
	struct config c;
	char msg[256];
	size_t i;
	int r = 0;

	config_defaults(&c);
	tap_ok(config_set(&c, "idle_timeout", "45", msg, sizeof(msg)) == 0 &&
	    c.idle_timeout_s == 45, "config_set takes idle_timeout");
	tap_ok(config_set(&c, "max-file-size", "16M", msg, sizeof(msg)) == 0 &&
	    c.max_file_size == 16 * MIB, "size suffix 16M is 16 MiB");
	tap_ok(config_set(&c, "max-file-size", "2g", msg, sizeof(msg)) == 0 &&
	    c.max_file_size == 2048LL * MIB, "size suffix 2g is 2 GiB");
	tap_ok(config_set(&c, "max-file-size", "4G", msg, sizeof(msg)) == 0 &&
	    c.max_file_size == 4096LL * MIB, "4G, the largest size, is taken");
	tap_ok(config_set(&c, "cache-size", "512K", msg, sizeof(msg)) == 0 &&
	    c.cache_size == 512 * 1024, "size suffix 512K is 512 KiB");
	tap_ok(config_set(&c, "nope", "1", msg, sizeof(msg)) == -1 &&
	    strstr(msg, "unknown setting 'nope'"),
	    "config_set refuses an unknown key");

	/* allow patterns are bounded. */
	for (i = c.n_allow; i < CONFIG_MAX_ALLOW && r == 0; i++)
		r = config_set(&c, "allow", "*.x", msg, sizeof(msg));
	tap_ok(r == 0 && c.n_allow == CONFIG_MAX_ALLOW &&
	    config_set(&c, "allow", "*.y", msg, sizeof(msg)) == -1 &&
	    strstr(msg, "allow patterns"),
	    "more than %d allow patterns are refused", CONFIG_MAX_ALLOW);
	config_free(&c);
	tap_ok(c.socket_path == NULL && c.n_allow == 0,
	    "config_free leaves a zeroed config");
}

/* The words of hook i joined by '|'. */
static const char *
hook_words(const struct config *c, size_t i)
{
	static char buf[1024];
	size_t j, used;

	used = (size_t)snprintf(buf, sizeof(buf), "%s", c->hooks[i].pattern);
	for (j = 0; j < c->hooks[i].argc && used < sizeof(buf); j++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "|%s",
		    c->hooks[i].argv[j]);
	return buf;
}

static const char hooks_file[] =
    "hook = *.log /usr/local/bin/notify-errors\n"
    "hook_match = *.log ERROR|Traceback \\(most recent\n"
    "hook =\tprocess_logs/*.out   mail  --to \"ops team\" -s \"say \\\"hi\\\"\" \"\"\n"
    "hook = context.py a\"b c\"d\n"
    "hook-max-running = 2\n"
    "hook_queue = 0\n"
    "hook-timeout = 30\n";

static void
test_hooks(void)
{
	const char *path = write_config("hooks.conf", hooks_file);
	struct config c;

	LOAD(&c, "--foreground");
	tap_ok(c.n_hooks == 0 && c.n_hook_matches == 0,
	    "no hooks by default");
	tap_is_int(c.hook_max_running, 4, "default hook-max-running is 4");
	tap_is_int(c.hook_queue, 64, "default hook-queue is 64");
	tap_is_int(c.hook_timeout_s, 10, "default hook-timeout is 10 s");
	config_free(&c);

	tap_is_int(LOAD(&c, "--config", path), 0, "a file with hooks loads");
	tap_is_int((long long)c.n_hooks, 3, "three hooks");
	tap_is_str(hook_words(&c, 0), "*.log|/usr/local/bin/notify-errors",
	    "hook = PATTERN COMMAND");
	tap_is_str(hook_words(&c, 1),
	    "process_logs/*.out|mail|--to|ops team|-s|say \"hi\"|",
	    "hook words split on blanks; quotes group them, \\\" inside "
	    "quotes is a quote, \"\" is an empty argument");
	tap_ok(c.hooks[1].argc == 6 && c.hooks[1].argv[6] == NULL,
	    "a hook's argv is NULL-terminated");
	tap_is_str(hook_words(&c, 2), "context.py|ab cd",
	    "quotes inside a word join it with its neighbours");
	tap_is_int((long long)c.n_hook_matches, 1, "one hook_match (underscore)");
	tap_is_str(c.hook_matches[0].pattern, "*.log", "hook_match pattern");
	tap_is_str(c.hook_matches[0].regex, "ERROR|Traceback \\(most recent",
	    "hook_match regex is the rest of the line, blanks kept");
	tap_ok(c.hook_max_running == 2 && c.hook_queue == 0 &&
	    c.hook_timeout_s == 30,
	    "file sets hook-max-running, hook_queue (0 allowed), hook-timeout");
	config_free(&c);

	LOAD(&c, "--config", path, "--hook", "*.log /bin/true",
	    "--hook-match=*.log x+");
	tap_ok(c.n_hooks == 1 && c.n_hook_matches == 1 &&
	    strcmp(hook_words(&c, 0), "*.log|/bin/true") == 0 &&
	    strcmp(c.hook_matches[0].regex, "x+") == 0,
	    "--hook and --hook-match flags replace the file's");
	config_free(&c);
	LOAD(&c, "--hook", "a.log /bin/a", "--hook", "b.log /bin/b");
	tap_ok(c.n_hooks == 2 && strcmp(c.hooks[1].pattern, "b.log") == 0,
	    "repeated --hook flags add up");
	config_free(&c);
}

static void
test_hook_errors(void)
{
	char many[64 * 4], want[PATH_MAX + 16];
	const char *path;
	struct config c;
	char msg[256];
	size_t i;
	int r = 0;

	BAD("a hook without a command", "needs a file pattern and a command",
	    NULL, "--hook", "*.log");
	BAD("an empty hook", "hook", "needs a file pattern", "--hook", "");
	BAD("a hook with an empty command", "needs a file pattern", NULL,
	    "--hook", "*.log \"\"");
	BAD("a hook with an unterminated quote", "unterminated quote", NULL,
	    "--hook", "*.log /bin/echo \"oops");
	BAD("a bad hook-match regex", "bad regex 'ERROR(' in hook-match", NULL,
	    "--hook", "*.log /bin/true", "--hook-match", "*.log ERROR(");
	BAD("a hook-match without a regex", "needs a file pattern and a regex",
	    NULL, "--hook", "*.log /bin/true", "--hook-match", "*.log  ");
	BAD("a second hook-match for one pattern", "a second hook-match for "
	    "'*.log'", NULL, "--hook", "*.log /bin/true", "--hook-match",
	    "*.log a", "--hook-match", "*.log b");
	BAD("a hook-match that no hook's pattern has", "hook-match for "
	    "'*.txt', but no hook has that pattern", NULL, "--hook",
	    "*.log /bin/true", "--hook-match", "*.txt a");
	BAD("--hook-max-running 0", "hook-max-running", "from 1",
	    "--hook-max-running", "0");
	BAD("--hook-timeout 0", "hook-timeout", "from 1",
	    "--hook-timeout", "0");
	BAD("--hook-queue -1", "hook-queue", NULL, "--hook-queue", "-1");

	path = write_config("badregex.conf",
	    "hook = *.log /bin/true\nhook_match = *.log [unclosed\n");
	fixture_path(want, sizeof(want), "%s:2:", path);
	BAD("a bad regex in the file", want, "bad regex", "--config", path);

	strcpy(many, "*.log /bin/echo");
	for (i = 0; i < CONFIG_MAX_HOOK_ARGS; i++)
		strcat(many, " a");
	BAD("a hook with too many arguments", "more than", "arguments",
	    "--hook", many);

	config_defaults(&c);
	for (i = 0; i < CONFIG_MAX_HOOKS && r == 0; i++)
		r = config_set(&c, "hook", "*.x /bin/true", msg, sizeof(msg));
	tap_ok(r == 0 && c.n_hooks == CONFIG_MAX_HOOKS &&
	    config_set(&c, "hook", "*.y /bin/true", msg, sizeof(msg)) == -1 &&
	    strstr(msg, "32 hook lines"), "more than %d hooks are refused",
	    CONFIG_MAX_HOOKS);
	config_free(&c);
	tap_ok(c.n_hooks == 0 && c.hooks[0].pattern == NULL,
	    "config_free frees the hooks");
}

static void
test_access(void)
{
	struct config c;

	LOAD(&c, "--foreground");
	tap_is_str(config_access_name(c.access), "unix",
	    "access is unix by default");
	tap_is_int(c.access_cache_s, 60, "default access-cache-seconds is 60");
	tap_ok(c.access_command.argc == 0, "no access-command by default");
	config_free(&c);
	tap_is_int(LOAD(&c, "--access", "open"), 0, "--access open loads");
	tap_is_str(config_access_name(c.access), "open", "access open");
	config_free(&c);
	tap_is_int(LOAD(&c, "--access", "command", "--access-command",
	    "/usr/bin/member \"a b\" --db=x", "--access-cache-seconds", "0"),
	    0, "--access command with a command loads");
	tap_ok(c.access == ACCESS_COMMAND && c.access_command.argc == 3 &&
	    strcmp(c.access_command.argv[0], "/usr/bin/member") == 0 &&
	    strcmp(c.access_command.argv[1], "a b") == 0 &&
	    strcmp(c.access_command.argv[2], "--db=x") == 0 &&
	    c.access_command.argv[3] == NULL && c.access_cache_s == 0,
	    "access-command words split like a hook's, no pattern");
	config_free(&c);
	tap_ok(c.access_command.pattern == NULL,
	    "config_free frees the access command");
	BAD("access = command without a command", "access = command needs an "
	    "access-command", NULL, "--access", "command");
	BAD("an unknown access", "bad value 'ldap' for access", NULL,
	    "--access", "ldap");
	BAD("an empty access-command", "access-command", "needs a command",
	    "--access-command", " ");
	BAD("an unknown access", "(one of unix, command, open)", NULL,
	    "--access", "members");
}

int
main(void)
{
	fixture_tmpdir(tmpdir, sizeof(tmpdir));
	test_defaults();
	test_file();
	test_allow_flags();
	test_socket_precedence();
	test_errors();
	test_set();
	test_hooks();
	test_hook_errors();
	test_access();
	fixture_rmtree(tmpdir);
	return tap_done();
}
