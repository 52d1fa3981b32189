#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/proto.h"

#define VERSION_TEXT "watcherd 1.0 (protocol 1)"

static const char usage_text[] =
"usage: watcherd [--config FILE] [--socket PATH] [--data-root DIR]\n"
"                [--idle-timeout SECONDS] [--watch-mode auto|inotify|poll]\n"
"                [--poll-interval MS] [--settle-time MS] [--fs-timeout MS]\n"
"                [--max-file-size BYTES]\n"
"                [--cache-size BYTES] [--max-watches N] [--max-clients N]\n"
"                [--allow PATTERN]... [--hook 'PATTERN COMMAND [ARG]...']...\n"
"                [--hook-match 'PATTERN REGEX']... [--hook-max-running N]\n"
"                [--hook-queue N] [--hook-timeout SECONDS]\n"
"                [--access unix|command|open] [--access-command 'COMMAND [ARG]...']\n"
"                [--access-cache-seconds SECONDS] [--min-uid UID]\n"
"                [--write] [--write-allow PATTERN]... [--write-memory BYTES]\n"
"                [--validate 'PATTERN COMMAND [ARG]...']...\n"
"                [--validate-memory BYTES] [--validate-cpu-seconds SECONDS]\n"
"                [--validate-per-user N] [--validate-max-running N]\n"
"                [--history-allow PATTERN]... [--history-dir NAME]\n"
"                [--history-keep N] [--history-max-bytes BYTES]\n"
"                [--foreground] [--verbose] [--version]";

static const char *const default_allow[] = {
	"context.py", "*.log", "process_logs/*.out",
};
static const char *const default_write_allow[] = { "context.py" };
static const char *const default_history_allow[] = { "context.py" };
/* Indexed by enum watch_mode and enum access_mode; NAMES() counts them. */
#define NAMES(a)	((int)(sizeof(a) / sizeof((a)[0])))
static const char *const watch_mode_names[] = { "auto", "inotify", "poll" };
static const char *const access_names[] = { "unix", "command", "open" };

const char *
config_watch_mode_name(enum watch_mode m)
{
	return watch_mode_names[m];
}

const char *
config_access_name(enum access_mode m)
{
	return access_names[m];
}

/* The index of value in names[n]; -1 when it is none of them. */
static int
parse_name(const char *value, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(value, names[i]) == 0)
			return i;
	return -1;
}

static void
clear_patterns(char **list, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++)
		free(list[i]);
	*n = 0;
}

/* Hooks, and validators, which have their shape. */
static void
clear_hooks(struct config_hook *hooks, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++)
		free(hooks[i].pattern);
	memset(hooks, 0, sizeof(*hooks) * CONFIG_MAX_HOOKS);
	*n = 0;
}

static void
clear_hook_matches(struct config *c)
{
	size_t i;

	for (i = 0; i < c->n_hook_matches; i++)
		free(c->hook_matches[i].pattern);
	memset(c->hook_matches, 0, sizeof(c->hook_matches));
	c->n_hook_matches = 0;
}

static void *
xmalloc(size_t len)
{
	void *p = malloc(len);

	if (p == NULL) {
		perror("malloc");
		exit(1);
	}
	return p;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		perror("strdup");
		exit(1);
	}
	return d;
}

static void
set_string(char **slot, const char *value)
{
	free(*slot);
	*slot = xstrdup(value);
}

void
config_defaults(struct config *c)
{
	const char *root = getenv("XFEL_DATA_ROOT");
	size_t i;

	memset(c, 0, sizeof(*c));
	c->socket_path = xstrdup(PROTO_DEFAULT_SOCKET);
	c->data_root = xstrdup(root && *root ? root : "/gpfs/exfel/exp");
	c->idle_timeout_s = 30;
	c->watch_mode = WATCH_MODE_AUTO;
	c->poll_interval_ms = 1000;
	c->settle_time_ms = 20;
	c->fs_timeout_ms = 1000;
	c->max_file_size = 16u << 20;
	c->write_memory = 256u << 20;
	c->cache_size = 64u << 20;
	c->max_watches = 100000;
	c->max_clients = 4096;
	c->hook_max_running = 4;
	c->hook_queue = 64;
	c->hook_timeout_s = 10;
	c->validate_memory = 512u << 20;
	c->validate_cpu_s = 10;
	c->validate_per_user = 2;
	c->validate_max_running = 8;
	c->access = ACCESS_UNIX;
	c->access_cache_s = 60;
	c->min_uid = 1000;
	for (i = 0; i < sizeof(default_allow) / sizeof(default_allow[0]); i++)
		c->allow[c->n_allow++] = xstrdup(default_allow[i]);
	for (i = 0; i < sizeof(default_write_allow) /
	    sizeof(default_write_allow[0]); i++)
		c->write_allow[c->n_write_allow++] =
		    xstrdup(default_write_allow[i]);
	for (i = 0; i < sizeof(default_history_allow) /
	    sizeof(default_history_allow[0]); i++)
		c->history_allow[c->n_history_allow++] =
		    xstrdup(default_history_allow[i]);
	c->history_dir = xstrdup(".history");
	c->history_keep = 500;
	c->history_max_bytes = 64u << 20;
}

void
config_free(struct config *c)
{
	clear_patterns(c->allow, &c->n_allow);
	clear_patterns(c->write_allow, &c->n_write_allow);
	clear_patterns(c->history_allow, &c->n_history_allow);
	clear_hooks(c->hooks, &c->n_hooks);
	clear_hooks(c->validators, &c->n_validators);
	clear_hook_matches(c);
	free(c->access_command.pattern);
	free(c->history_dir);
	free(c->config_file);
	free(c->socket_path);
	free(c->data_root);
	memset(c, 0, sizeof(*c));
}

/* Parses a whole unsigned number within [min, max], with an optional
   k/M/G suffix when suffixes is set. */
static int
parse_number(const char *s, unsigned long long min, unsigned long long max,
    int suffixes, unsigned long long *out)
{
	unsigned long long v, mult = 1;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (suffixes && *end) {
		switch (*end++) {
		case 'k': case 'K': mult = 1ULL << 10; break;
		case 'm': case 'M': mult = 1ULL << 20; break;
		case 'g': case 'G': mult = 1ULL << 30; break;
		default: return -1;
		}
	}
	if (*end || v > max / mult || v * mult < min)
		return -1;
	*out = v * mult;
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	if (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "true") ||
	    !strcmp(s, "on"))
		*out = 1;
	else if (!strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "false") ||
	    !strcmp(s, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

/*
 * Copies the next blank-separated word of *sp to *op, without its double
 * quotes (which group blanks into the word; \" and \\ inside them stand
 * for " and \), NUL-terminated, and moves both on. Returns 1, 0 when no
 * word is left, -1 for an unterminated quote.
 */
static int
next_word(const char **sp, char **op)
{
	const char *s = *sp;
	char *o = *op;
	int quoted = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0') {
		*sp = s;
		return 0;
	}
	while (*s && (quoted || (*s != ' ' && *s != '\t'))) {
		if (*s == '"') {
			quoted = !quoted;
			s++;
			continue;
		}
		if (quoted && *s == '\\' && (s[1] == '"' || s[1] == '\\'))
			s++;
		*o++ = *s++;
	}
	if (quoted)
		return -1;
	*o++ = '\0';
	*sp = s;
	*op = o;
	return 1;
}

/* "PATTERN COMMAND [ARG]..." into h, or with what = "access-command"
   "COMMAND [ARG]..." (the pattern is then empty). Returns 0, or -1 with a
   message. */
static int
parse_hook(const char *what, const char *value, struct config_hook *h,
    char *err, size_t errlen)
{
	const char *p = value;
	char *buf, *out, *word;
	int r, patterned = strcmp(what, "access-command") != 0;

	memset(h, 0, sizeof(*h));
	/* Every word shrinks or keeps its length, and owes its NUL to the
	   blank or the end that closed it. */
	out = buf = xmalloc(strlen(value) + 2);
	if (!patterned) {
		*out++ = '\0';
		h->pattern = buf;
	}
	for (;;) {
		word = out;
		if ((r = next_word(&p, &out)) == 0)
			break;
		if (r == -1) {
			snprintf(err, errlen, "unterminated quote in %s '%s'",
			    what, value);
			goto fail;
		}
		if (h->pattern == NULL) {
			h->pattern = word;
			continue;
		}
		if (h->argc == CONFIG_MAX_HOOK_ARGS) {
			snprintf(err, errlen, "more than %d arguments in %s "
			    "'%s'", CONFIG_MAX_HOOK_ARGS - 1, what, value);
			goto fail;
		}
		h->argv[h->argc++] = word;
	}
	if (!patterned && (h->argc == 0 || *h->argv[0] == '\0')) {
		snprintf(err, errlen, "%s '%s' needs a command: %s = COMMAND "
		    "[ARG]...", what, value, what);
		goto fail;
	}
	if (patterned && (h->pattern == NULL || *h->pattern == '\0' ||
	    h->argc == 0 || *h->argv[0] == '\0')) {
		snprintf(err, errlen, "%s '%s' needs a file pattern and a "
		    "command: %s = PATTERN COMMAND [ARG]...", what, value, what);
		goto fail;
	}
	return 0;
fail:
	free(buf);
	memset(h, 0, sizeof(*h));
	return -1;
}

/* "PATTERN REGEX" into m, the regex checked. Returns 0, or -1 with a
   message. */
static int
parse_hook_match(struct config *c, const char *value,
    struct config_hook_match *m, char *err, size_t errlen)
{
	const char *p = value;
	char *buf, *out, msg[256];
	regex_t re;
	size_t i;
	int r;

	memset(m, 0, sizeof(*m));
	out = buf = xmalloc(strlen(value) + 2);
	if ((r = next_word(&p, &out)) == -1) {
		snprintf(err, errlen, "unterminated quote in hook-match '%s'",
		    value);
		goto fail;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (r == 0 || *buf == '\0' || *p == '\0') {
		snprintf(err, errlen, "hook-match '%s' needs a file pattern and "
		    "a regex: hook-match = PATTERN REGEX", value);
		goto fail;
	}
	m->pattern = buf;
	m->regex = strcpy(out, p);
	for (i = 0; i < c->n_hook_matches; i++)
		if (strcmp(c->hook_matches[i].pattern, m->pattern) == 0) {
			snprintf(err, errlen, "a second hook-match for '%s' "
			    "(join the regexes with |)", m->pattern);
			goto fail;
		}
	if ((r = regcomp(&re, m->regex, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(r, &re, msg, sizeof(msg));
		snprintf(err, errlen, "bad regex '%s' in hook-match: %s",
		    m->regex, msg);
		goto fail;
	}
	regfree(&re);
	return 0;
fail:
	free(buf);
	memset(m, 0, sizeof(*m));
	return -1;
}

/* Every hook-match restricts some hook: one that restricts none is a typo
   that would silently never fire. */
static int
check_hook_matches(const struct config *c, char *err, size_t errlen)
{
	size_t i, j;

	for (i = 0; i < c->n_hook_matches; i++) {
		for (j = 0; j < c->n_hooks; j++)
			if (strcmp(c->hooks[j].pattern,
			    c->hook_matches[i].pattern) == 0)
				break;
		if (j == c->n_hooks) {
			snprintf(err, errlen, "hook-match for '%s', but no hook "
			    "has that pattern", c->hook_matches[i].pattern);
			return -1;
		}
	}
	return 0;
}

enum key_type { KEY_STRING, KEY_UINT, KEY_SIZE, KEY_BOOL, KEY_ENUM, KEY_ALLOW,
	KEY_HOOK, KEY_HOOK_MATCH, KEY_COMMAND, KEY_WRITE_ALLOW,
	KEY_VALIDATE, KEY_HISTORY_ALLOW, KEY_NAME };

static const struct config_key {
	const char		*name;
	enum key_type		 type;
	size_t			 offset;
	unsigned long long	 min, max;
} config_keys[] = {
	{ "socket", KEY_STRING, offsetof(struct config, socket_path), 0, 0 },
	{ "data-root", KEY_STRING, offsetof(struct config, data_root), 0, 0 },
	{ "idle-timeout", KEY_UINT, offsetof(struct config, idle_timeout_s), 1, 86400 * 365 },
	{ "watch-mode", KEY_ENUM, offsetof(struct config, watch_mode), 0, 0 },
	{ "poll-interval", KEY_UINT, offsetof(struct config, poll_interval_ms), 10, 3600000 },
	{ "settle-time", KEY_UINT, offsetof(struct config, settle_time_ms), 0, 10000 },
	{ "fs-timeout", KEY_UINT, offsetof(struct config, fs_timeout_ms), 10, 2000 },
	{ "max-file-size", KEY_SIZE, offsetof(struct config, max_file_size), 1, 1ULL << 32 },
	{ "cache-size", KEY_SIZE, offsetof(struct config, cache_size), 0, 1ULL << 36 },
	{ "max-watches", KEY_UINT, offsetof(struct config, max_watches), 1, 10000000 },
	{ "max-clients", KEY_UINT, offsetof(struct config, max_clients), 1, 1000000 },
	{ "allow", KEY_ALLOW, 0, 0, 0 },
	{ "hook", KEY_HOOK, 0, 0, 0 },
	{ "hook-match", KEY_HOOK_MATCH, 0, 0, 0 },
	{ "hook-max-running", KEY_UINT, offsetof(struct config, hook_max_running), 1, 1024 },
	{ "hook-queue", KEY_UINT, offsetof(struct config, hook_queue), 0, 100000 },
	{ "hook-timeout", KEY_UINT, offsetof(struct config, hook_timeout_s), 1, 86400 },
	{ "access", KEY_ENUM, offsetof(struct config, access), 0, 0 },
	{ "access-command", KEY_COMMAND, offsetof(struct config, access_command), 0, 0 },
	{ "access-cache-seconds", KEY_UINT, offsetof(struct config, access_cache_s), 0, 86400 },
	{ "min-uid", KEY_UINT, offsetof(struct config, min_uid), 1, 4000000000U },
	{ "write", KEY_BOOL, offsetof(struct config, write), 0, 0 },
	{ "write-memory", KEY_SIZE, offsetof(struct config, write_memory), 1, 1ULL << 40 },
	{ "write-allow", KEY_WRITE_ALLOW, 0, 0, 0 },
	{ "validate", KEY_VALIDATE, 0, 0, 0 },
	{ "validate-memory", KEY_SIZE, offsetof(struct config, validate_memory), 1u << 20, 1ULL << 40 },
	{ "validate-cpu-seconds", KEY_UINT, offsetof(struct config, validate_cpu_s), 1, 86400 },
	{ "validate-per-user", KEY_UINT, offsetof(struct config, validate_per_user), 1, 1024 },
	{ "validate-max-running", KEY_UINT, offsetof(struct config, validate_max_running), 1, 1024 },
	{ "history-allow", KEY_HISTORY_ALLOW, 0, 0, 0 },
	{ "history-dir", KEY_NAME, offsetof(struct config, history_dir), 0, 0 },
	{ "history-keep", KEY_UINT, offsetof(struct config, history_keep), 1, 100000 },
	{ "history-max-bytes", KEY_SIZE, offsetof(struct config, history_max_bytes), 1, 1ULL << 40 },
	{ "foreground", KEY_BOOL, offsetof(struct config, foreground), 0, 0 },
	{ "verbose", KEY_BOOL, offsetof(struct config, verbose), 0, 0 },
};

/* The names of a KEY_ENUM key's values, by the key's offset. */
static const struct enum_names {
	size_t			 offset;
	const char *const	*names;
	int			 n;
	const char		*one_of;	/* for an error */
} enum_names[] = {
	{ offsetof(struct config, watch_mode), watch_mode_names,
	    NAMES(watch_mode_names), "auto, inotify, poll" },
	{ offsetof(struct config, access), access_names, NAMES(access_names),
	    "unix, command, open" },
};

static const struct enum_names *
enum_of(const struct config_key *k)
{
	size_t i;

	for (i = 0; i < NAMES(enum_names) - 1; i++)
		if (enum_names[i].offset == k->offset)
			break;
	return &enum_names[i];
}

/* Repeatable keys: given as flags, or in the file over the defaults, their
   first occurrence replaces the list. */
static int
is_list(enum key_type type)
{
	return type == KEY_ALLOW || type == KEY_WRITE_ALLOW ||
	    type == KEY_HISTORY_ALLOW || type == KEY_HOOK ||
	    type == KEY_HOOK_MATCH || type == KEY_VALIDATE;
}

static void
clear_list(struct config *c, enum key_type type)
{
	if (type == KEY_ALLOW)
		clear_patterns(c->allow, &c->n_allow);
	else if (type == KEY_WRITE_ALLOW)
		clear_patterns(c->write_allow, &c->n_write_allow);
	else if (type == KEY_HISTORY_ALLOW)
		clear_patterns(c->history_allow, &c->n_history_allow);
	else if (type == KEY_HOOK)
		clear_hooks(c->hooks, &c->n_hooks);
	else if (type == KEY_VALIDATE)
		clear_hooks(c->validators, &c->n_validators);
	else if (type == KEY_HOOK_MATCH)
		clear_hook_matches(c);
}

/* Appends a pattern to an allow list. Returns 0, or -1 with a message. */
static int
add_pattern(char **list, size_t *n, const char *name, const char *value,
    char *err, size_t errlen)
{
	if (*value == '\0') {
		snprintf(err, errlen, "bad value '' for %s", name);
		return -1;
	}
	if (*n == CONFIG_MAX_ALLOW) {
		snprintf(err, errlen, "more than %d %s patterns",
		    CONFIG_MAX_ALLOW, name);
		return -1;
	}
	list[(*n)++] = xstrdup(value);
	return 0;
}

/* Appends a hook or a validator. Returns 0, or -1 with a message. */
static int
add_hook(struct config_hook *hooks, size_t *n, const char *name,
    const char *value, char *err, size_t errlen)
{
	if (*n == CONFIG_MAX_HOOKS) {
		snprintf(err, errlen, "more than %d %s lines",
		    CONFIG_MAX_HOOKS, name);
		return -1;
	}
	if (parse_hook(name, value, &hooks[*n], err, errlen) == -1)
		return -1;
	(*n)++;
	return 0;
}

static const struct config_key *
find_key(const char *key)
{
	char norm[64];
	size_t i;

	for (i = 0; key[i] && i < sizeof(norm) - 1; i++)
		norm[i] = key[i] == '_' ? '-' : key[i];
	norm[i] = '\0';
	for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
		if (strcmp(norm, config_keys[i].name) == 0)
			return &config_keys[i];
	return NULL;
}

int
config_set(struct config *c, const char *key, const char *value, char *err,
    size_t errlen)
{
	const struct config_key *k = find_key(key);
	unsigned long long v;
	char *slot = (char *)c;
	const struct enum_names *e;
	int b, i;

	if (k == NULL) {
		snprintf(err, errlen, "unknown setting '%s'", key);
		return -1;
	}
	switch (k->type) {
	case KEY_STRING:
		if (*value == '\0')
			goto bad;
		set_string((char **)(slot + k->offset), value);
		return 0;
	case KEY_UINT:
		if (parse_number(value, k->min, k->max, 0, &v) == -1)
			goto bad;
		*(unsigned *)(slot + k->offset) = (unsigned)v;
		return 0;
	case KEY_SIZE:
		if (parse_number(value, k->min, k->max, 1, &v) == -1)
			goto bad;
		*(size_t *)(slot + k->offset) = (size_t)v;
		return 0;
	case KEY_BOOL:
		if (parse_bool(value, &b) == -1)
			goto bad;
		*(int *)(slot + k->offset) = b;
		return 0;
	case KEY_ENUM:
		/* An enum's value: its name's index (enums are ints). */
		e = enum_of(k);
		if ((i = parse_name(value, e->names, e->n)) == -1)
			goto bad;
		*(int *)(slot + k->offset) = i;
		return 0;
	case KEY_COMMAND:
		free(c->access_command.pattern);
		return parse_hook(k->name, value, &c->access_command, err,
		    errlen);
	case KEY_ALLOW:
		return add_pattern(c->allow, &c->n_allow, k->name, value, err,
		    errlen);
	case KEY_WRITE_ALLOW:
		return add_pattern(c->write_allow, &c->n_write_allow, k->name,
		    value, err, errlen);
	case KEY_HISTORY_ALLOW:
		return add_pattern(c->history_allow, &c->n_history_allow,
		    k->name, value, err, errlen);
	case KEY_NAME:
		/* One name in the DAMNIT folder: no path, no dot entries. */
		if (*value == '\0' || strchr(value, '/') ||
		    !strcmp(value, ".") || !strcmp(value, ".."))
			goto bad;
		set_string((char **)(slot + k->offset), value);
		return 0;
	case KEY_HOOK:
		return add_hook(c->hooks, &c->n_hooks, k->name, value, err,
		    errlen);
	case KEY_VALIDATE:
		return add_hook(c->validators, &c->n_validators, k->name, value,
		    err, errlen);
	case KEY_HOOK_MATCH:
		if (c->n_hook_matches == CONFIG_MAX_HOOKS) {
			snprintf(err, errlen, "more than %d hook-match lines",
			    CONFIG_MAX_HOOKS);
			return -1;
		}
		if (parse_hook_match(c, value,
		    &c->hook_matches[c->n_hook_matches], err, errlen) == -1)
			return -1;
		c->n_hook_matches++;
		return 0;
	}
bad:
	if (k->type == KEY_UINT || k->type == KEY_SIZE)
		snprintf(err, errlen, "bad value '%s' for %s (a whole number "
		    "from %llu to %llu%s)", value, k->name, k->min, k->max,
		    k->type == KEY_SIZE ? ", k/M/G suffixes allowed" : "");
	else if (k->type == KEY_ENUM)
		snprintf(err, errlen, "bad value '%s' for %s (one of %s)", value,
		    k->name, enum_of(k)->one_of);
	else
		snprintf(err, errlen, "bad value '%s' for %s", value, k->name);
	return -1;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Reads "key = value" lines. allow lines replace the defaults as a whole. */
static int
load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	const struct config_key *k;
	char line[4096], msg[512], *key, *value, *eq;
	unsigned saw = 0;
	int lineno = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "cannot read config file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto fail;
		}
		key = trim(line);
		if (*key == '#' || *key == '\0')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'",
			    path, lineno);
			goto fail;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		if ((k = find_key(key)) && is_list(k->type) &&
		    !(saw & 1u << k->type)) {
			clear_list(c, k->type);
			saw |= 1u << k->type;
		}
		if (config_set(c, key, value, msg, sizeof(msg)) == -1) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			goto fail;
		}
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	return -1;
}

int
config_load(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	const struct config_key *k;
	const char *env, *opt, *value;
	char name[64], msg[512];
	unsigned saw = 0;
	int i, pass;

	config_defaults(c);
	/* Pass 0 finds --config, --help and --version; pass 1 applies the
	   other flags over the file. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 1; i < argc; i++) {
			opt = argv[i];
			if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
				snprintf(err, errlen, "%s", usage_text);
				return 1;
			}
			if (!strcmp(opt, "--version")) {
				snprintf(err, errlen, "%s", VERSION_TEXT);
				return 1;
			}
			if (strncmp(opt, "--", 2) != 0) {
				snprintf(err, errlen, "unexpected argument '%s'\n%s",
				    opt, usage_text);
				return -1;
			}
			opt += 2;
			value = strchr(opt, '=');
			snprintf(name, sizeof(name), "%.*s",
			    value ? (int)(value - opt) : (int)strlen(opt), opt);
			if (strcmp(name, "config") != 0 && find_key(name) == NULL) {
				snprintf(err, errlen, "unknown option '--%s'\n%s",
				    name, usage_text);
				return -1;
			}
			k = find_key(name);
			if (value)
				value++;
			else if (k && k->type == KEY_BOOL)
				value = "1";
			else if (i + 1 < argc)
				value = argv[++i];
			else {
				snprintf(err, errlen, "option '--%s' needs a value",
				    name);
				return -1;
			}
			if (strcmp(name, "config") == 0) {
				if (pass == 0)
					set_string(&c->config_file, value);
				continue;
			}
			if (pass == 0)
				continue;
			if (is_list(k->type) && !(saw & 1u << k->type)) {
				clear_list(c, k->type);
				saw |= 1u << k->type;
			}
			if (config_set(c, name, value, msg, sizeof(msg)) == -1) {
				snprintf(err, errlen, "%s", msg);
				return -1;
			}
		}
		if (pass == 0) {
			if (c->config_file &&
			    load_file(c, c->config_file, err, errlen) == -1)
				return -1;
			if ((env = getenv("WATCHERD_SOCKET")) && *env)
				set_string(&c->socket_path, env);
		}
	}
	if (c->access == ACCESS_COMMAND && c->access_command.argc == 0) {
		snprintf(err, errlen, "access = command needs an "
		    "access-command = COMMAND [ARG]...");
		return -1;
	}
	return check_hook_matches(c, err, errlen);
}
