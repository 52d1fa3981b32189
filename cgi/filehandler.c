/*
 * filehandler.fcgi: the HTTP face of watcherd. Started by a web server as
 * FastCGI it answers requests on a pool of worker threads until the server
 * stops it; run by hand (or as plain CGI) it answers the one request its
 * environment describes.
 *
 * Each worker has its own request and its own watcherd connection. A
 * long-poll or an event stream holds its worker, so at most max_held
 * requests may be held at once and the other workers stay free for
 * ordinary requests.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include <fcgiapp.h>

#include "cgi/dispatch.h"
#include "cgi/gate.h"
#include "cgi/http.h"
#include "cgi/request.h"
#include "cgi/tally.h"
#include "cgi/upstream.h"
#include "common/proto.h"

/* A request never waits longer than this for watcherd: longer than
   watcherd's fs-timeout (at most 2000 ms), so that a client of a stalled
   file system gets watcherd's own answer. */
#define WATCHERD_TIMEOUT_MS	3000
/* The answers' count for /metrics is sent after the answer: a watcherd
   that does not take it within this loses it. */
#define TALLY_TIMEOUT_MS	1000
#define DEFAULT_MAX_HELD	256
/* Ordinary (not held) requests a process answers at once (cgi/gate.h):
   a few busy workers take the next connection without sleeping. */
#define DEFAULT_ORDINARY	4
#define DEFAULT_HEARTBEAT_S	15
/* A save's body is read whole before watcherd hears of it; watcherd's
   max-file-size says the rest. */
#define DEFAULT_MAX_BODY	(16L << 20)
#define MAX_MAX_BODY		(1L << 30)
/* A save waits for watcherd's answer longer than any other call: watcherd
   runs the file's validator (bounded by its hook-timeout, 10 s by
   default) and may wait out its fs-timeout (at most 2 s). */
#define DEFAULT_WRITE_TIMEOUT_S	15
#define WORKER_STACK		(256 * 1024)

struct worker {
	pthread_t		 thread;
	FCGX_Request		 req;
	struct upstream		 up;
	struct request_limits	*limits;
	struct tally		*tally;
	int			 slot;		/* its own in the tally */
	struct gate		*gate;
	struct gate_seat	 seat;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct http_exchange x;


	gate_take(w->gate, &w->seat);
	for (;;) {
		if (FCGX_Accept_r(&w->req) < 0)
			break;
		memset(&x, 0, sizeof(x));
		x.fcgi = &w->req;
		x.tally = w->tally;
		x.tally_slot = w->slot;
		dispatch(&x, &w->up, w->limits);
		FCGX_Finish_r(&w->req);
		/* A held answer gave its place up. */
		if (x.held)
			gate_take(w->gate, &w->seat);
	}
	gate_give(w->gate);
	upstream_close(&w->up);
	return NULL;
}

/* An integer from the environment, def when unset; exits with a message
   when it is not a number from min to max. */
static long
env_number(const char *name, long def, long min, long max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return def;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < min || v > max) {
		fprintf(stderr, "filehandler.fcgi: %s must be a number from %ld "
		    "to %ld\n", name, min, max);
		exit(1);
	}
	return v;
}

int
main(void)
{
	struct request_limits limits;
	struct http_exchange x;
	struct tally tally;
	struct gate gate;
	struct worker *workers;
	pthread_attr_t attr;
	sigset_t stop;
	pid_t parent = getppid();
	long i, n, ordinary;
	int sig;

	/* A web server that goes away mid-answer is no reason to die. */
	signal(SIGPIPE, SIG_IGN);
	limits.max_held = (int)env_number("FILEHANDLER_MAX_HELD",
	    DEFAULT_MAX_HELD, 0, 100000);
	ordinary = env_number("FILEHANDLER_ORDINARY", DEFAULT_ORDINARY, 1, 1000);
	n = env_number("FILEHANDLER_THREADS", limits.max_held + ordinary, 1,
	    100000);
	limits.threads = 1;
	limits.heartbeat_ms = 1000 * (int)env_number("FILEHANDLER_HEARTBEAT",
	    DEFAULT_HEARTBEAT_S, 1, 3600);
	limits.max_body = (size_t)env_number("FILEHANDLER_MAX_BODY",
	    DEFAULT_MAX_BODY, 0, MAX_MAX_BODY);
	limits.write_timeout_ms = 1000 * (int)env_number(
	    "FILEHANDLER_WRITE_TIMEOUT", DEFAULT_WRITE_TIMEOUT_S, 1, 3600);
	atomic_init(&limits.held, 0);
	limits.gate = NULL;
	if (FCGX_Init() != 0) {
		fprintf(stderr, "filehandler.fcgi: cannot initialise libfcgi\n");
		return 1;
	}
	/* A plain CGI process answers one request, in one slot. */
	if (tally_init(&tally, FCGX_IsCGI() ? 1 : (int)n,
	    proto_default_socket(), TALLY_TIMEOUT_MS) == -1) {
		fprintf(stderr, "filehandler.fcgi: out of memory\n");
		return 1;
	}
	if (FCGX_IsCGI()) {
		struct upstream up;

		upstream_init(&up, proto_default_socket(), WATCHERD_TIMEOUT_MS);
		memset(&x, 0, sizeof(x));
		x.tally = &tally;
		dispatch(&x, &up, &limits);
		upstream_close(&up);
		/* The answer is complete at the web server before watcherd
		   hears of it. */
		fclose(stdout);
		tally_flush(&tally);
		tally_free(&tally);
		return 0;
	}
	if (limits.max_held >= n) {
		fprintf(stderr, "filehandler.fcgi: FILEHANDLER_MAX_HELD (%d) must "
		    "be less than FILEHANDLER_THREADS (%ld), so that ordinary "
		    "requests always find a worker\n", limits.max_held, n);
		return 1;
	}
	limits.threads = (int)n;
	if ((workers = calloc((size_t)n, sizeof(*workers))) == NULL) {
		fprintf(stderr, "filehandler.fcgi: out of memory\n");
		return 1;
	}
	/* The web server stops its FastCGI processes with a signal. Only one
	   thread would see it (and libfcgi's handler only makes that
	   thread's accept fail), so the workers block it and the main
	   thread waits for it and ends the process. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	/* A web server killed outright sends no signal: have its death send
	   one, or the process would wait on its FastCGI socket for ever. If
	   it died before this, the handler was already reparented. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		fprintf(stderr, "filehandler.fcgi: prctl: %s; this process will "
		    "outlive a web server that is killed\n", strerror(errno));
	else if (getppid() != parent)
		_exit(0);
	if (tally_start(&tally) == -1) {
		fprintf(stderr, "filehandler.fcgi: cannot start the thread that "
		    "counts answers\n");
		return 1;
	}
	gate_init(&gate, (int)ordinary);
	limits.gate = &gate;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	for (i = 0; i < n; i++) {
		workers[i].limits = &limits;
		workers[i].tally = &tally;
		workers[i].slot = (int)i;
		workers[i].gate = &gate;
		gate_seat_init(&workers[i].seat);
		upstream_init(&workers[i].up, proto_default_socket(),
		    WATCHERD_TIMEOUT_MS);
		if (FCGX_InitRequest(&workers[i].req, 0, 0) != 0) {
			fprintf(stderr, "filehandler.fcgi: cannot set up a "
			    "request\n");
			return 1;
		}
		if (pthread_create(&workers[i].thread, &attr, worker_run,
		    &workers[i]) != 0) {
			fprintf(stderr, "filehandler.fcgi: cannot start worker "
			    "%ld of %ld\n", i + 1, n);
			return 1;
		}
	}
	pthread_attr_destroy(&attr);
	sigwait(&stop, &sig);
	/* Held requests end with the process; the web server is going. What
	   was answered is told first, so that the counts outlive it. */
	tally_flush(&tally);
	_exit(0);
}
