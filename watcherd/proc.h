/*
 * One child process, run from the event loop: argv without a shell, a
 * complete environment, optional bytes on stdin, optional capture of stdout
 * up to a cap, stderr lines to the log, a process group of its own that the
 * timeout kills whole. Nothing blocks the loop: our pipe ends are
 * non-blocking and the exit is seen through a pidfd (polled without one).
 * Queues are the owner's; a proc is one process, whose bounds on memory
 * and CPU time (when given) hold from its first instruction. The program
 * ignores SIGPIPE, as watcherd does: a child may stop reading its stdin.
 */
#ifndef PROC_H
#define PROC_H

#include <stddef.h>
#include <sys/types.h>

struct loop;
struct proc;

/* Where a command without '/' is looked up. watcherd's own environment is
   not passed on: owners give this as the child's PATH too. */
#define PROC_PATH	"/usr/local/bin:/usr/bin:/bin"

struct proc_spec {
	char *const	*argv;		/* argv[0] the command; NULL-terminated */
	char *const	*env;		/* the whole environment; NULL-terminated */
	const char	*input;		/* stdin, or NULL for /dev/null; read
					   until done is called or abandoned */
	size_t		 input_len;
	size_t		 output_max;	/* stdout bytes kept; 0: /dev/null */
	long long	 timeout_ms;	/* then SIGKILL to the group; > 0 */
	size_t		 memory_max;	/* bytes of data it may allocate
					   (RLIMIT_DATA); 0: watcherd's own */
	unsigned	 cpu_max_s;	/* seconds of CPU time (RLIMIT_CPU,
					   then SIGXCPU); 0: watcherd's own */
	const char	*stderr_event;	/* the first 20 stderr lines (256 bytes
					   each) are logged at info as
					   "event=<stderr_event> <log_fields>
					   line=\"...\"" (both copied) */
	const char	*log_fields;
};

enum proc_end {
	PROC_EXITED,		/* ran and was reaped: see status */
	PROC_TIMED_OUT,		/* killed with its group at the timeout */
	PROC_NOT_STARTED,	/* see error and reason */
	PROC_LOST,		/* not our child any more: no status */
};

/* What done is given; everything in it is valid during the call only. */
struct proc_result {
	enum proc_end	 end;
	int		 status;	/* PROC_EXITED: waitpid()'s status */
	int		 error;		/* PROC_NOT_STARTED: the errno */
	const char	*reason;	/* PROC_NOT_STARTED: strerror(error), or
					   that the command is not in PROC_PATH */
	long long	 duration_ms;	/* since the start */
	const char	*output;	/* stdout kept, output_len bytes, no NUL */
	size_t		 output_len;
	int		 output_cut;	/* more than output_max came (or more
					   than memory held); the rest was
					   read and dropped */
	unsigned long	 stderr_dropped;	/* lines beyond those logged */
};

typedef void proc_done_fn(void *arg, const struct proc_result *);

/*
 * Starts spec's process. done(arg, result) is called once, from the loop
 * and never from inside proc_start, also when the process could not start;
 * the proc is freed after it returns. Returns NULL with errno only when out
 * of memory (and then done is never called).
 */
struct proc	*proc_start(struct loop *, const struct proc_spec *,
		    proc_done_fn *done, void *arg);
/* The process id, or -1 when it did not start (done will say why). */
pid_t		 proc_pid(const struct proc *);
/* Kills the process group of p and frees p; done is not called (call it
   only before done). The process is reaped if it died at once, else by init
   once watcherd has exited: meant for shutdown. */
void		 proc_abandon(struct proc *);

#endif
