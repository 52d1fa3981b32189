/*
 * watcherd's configuration: built-in defaults, then the config file
 * ("key = value" lines, '#' comments, keys named like the long options),
 * then $WATCHERD_SOCKET for the socket, then the command line.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_ALLOW 64
#define CONFIG_MAX_HOOKS 32		/* hook lines, and hook-match lines */
#define CONFIG_MAX_HOOK_ARGS 32		/* words of a hook's command line */

enum watch_mode { WATCH_MODE_AUTO, WATCH_MODE_INOTIFY, WATCH_MODE_POLL };

/* Who may read a proposal's files (DESIGN.md section 7). */
enum access_mode { ACCESS_UNIX, ACCESS_COMMAND, ACCESS_OPEN };

/*
 * "hook = PATTERN COMMAND [ARG]...": words split on blanks, double quotes
 * group words with blanks in them (\" and \\ inside quotes). pattern and
 * the strings of argv point into one allocation that starts at pattern.
 * "validate = PATTERN COMMAND [ARG]..." is read the same way, and
 * "access-command = COMMAND [ARG]..." into the same shape with an empty
 * pattern; argc is 0 while none is set.
 */
struct config_hook {
	char	*pattern;			/* fnmatch, on file_name */
	char	*argv[CONFIG_MAX_HOOK_ARGS + 1];	/* NULL-terminated */
	size_t	 argc;
};

/* "hook-match = PATTERN REGEX": the hooks with exactly this pattern fire
   only for appended lines that match regex (POSIX extended). */
struct config_hook_match {
	char	*pattern;
	char	*regex;				/* in the same allocation */
};

struct config {
	char		*config_file;	/* NULL: none */
	char		*socket_path;
	char		*data_root;
	unsigned	 idle_timeout_s;
	enum watch_mode	 watch_mode;
	unsigned	 poll_interval_ms;
	unsigned	 settle_time_ms;
	unsigned	 fs_timeout_ms;	/* then a request on a file system that
					   does not answer is unavailable; at
					   most 2000, below the handler's own
					   bound on a call */
	size_t		 max_file_size;
	size_t		 write_memory;	/* bytes of new content held at once
					   by the saves under way */
	size_t		 cache_size;	/* bytes of the content cache */
	unsigned	 max_watches;
	unsigned	 max_clients;
	char		*allow[CONFIG_MAX_ALLOW];
	size_t		 n_allow;
	struct config_hook hooks[CONFIG_MAX_HOOKS];
	size_t		 n_hooks;
	struct config_hook_match hook_matches[CONFIG_MAX_HOOKS];
	size_t		 n_hook_matches;
	unsigned	 hook_max_running;	/* hook processes at once */
	unsigned	 hook_queue;		/* runs waiting for a slot */
	unsigned	 hook_timeout_s;	/* then the hook is killed */
	int		 write;		/* saves from clients are taken */
	char		*write_allow[CONFIG_MAX_ALLOW];	/* what may be saved */
	size_t		 n_write_allow;
	struct config_hook validators[CONFIG_MAX_HOOKS];	/* validate */
	size_t		 n_validators;
	size_t		 validate_memory;	/* bytes of data a validator
						   may allocate */
	unsigned	 validate_cpu_s;	/* seconds of CPU time it may
						   use */
	unsigned	 validate_per_user;	/* validators running at once
						   for one user */
	unsigned	 validate_max_running;	/* ... for everybody */
	enum access_mode access;
	struct config_hook access_command;
	unsigned	 access_cache_s;	/* answers of access-command
						   are believed this long */
	unsigned	 min_uid;		/* accounts below are refused */
	char		*history_allow[CONFIG_MAX_ALLOW];	/* files whose
						   versions are kept */
	size_t		 n_history_allow;
	char		*history_dir;		/* in the DAMNIT folder */
	unsigned	 history_keep;		/* versions of a file, at most */
	size_t		 history_max_bytes;	/* ... and their bytes */
	int		 foreground;
	int		 verbose;
};

/* Fills in the defaults of DESIGN.md section 4 (data_root from
   $XFEL_DATA_ROOT, else /gpfs/exfel/exp). */
void	config_defaults(struct config *);
/* Frees every string the config owns and zeroes it. */
void	config_free(struct config *);
/*
 * Builds the whole configuration from argv: defaults, the file named by
 * --config, $WATCHERD_SOCKET, then the other flags. Repeatable keys (allow,
 * hook, hook-match) given as flags replace the file's. Returns 0; -1 with a
 * message in err for a bad flag, value or file, or a hook-match whose
 * pattern no hook has; 1 when --help or --version was asked (the text is
 * in err).
 */
int	config_load(struct config *, int argc, char **argv, char *err,
	    size_t errlen);
/* Sets one key ("idle-timeout" or "idle_timeout") to a value, as the file
   and flags do. Returns 0, or -1 with a message in err. */
int	config_set(struct config *, const char *key, const char *value,
	    char *err, size_t errlen);
/* "auto", "inotify" or "poll". */
const char *config_watch_mode_name(enum watch_mode);
/* "unix", "command" or "open". */
const char *config_access_name(enum access_mode);

#endif
