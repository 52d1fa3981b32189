#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include <json-c/json.h>

#include "common/config.h"
#include "common/log.h"
#include "watcherd/access/access.h"
#include "watcherd/work/creds.h"
#include "watcherd/daemon.h"
#include "watcherd/hook.h"
#include "watcherd/server.h"
#include "watcherd/watch/watch.h"

/* SIGHUP: read the config file again; what needs a restart says so. */
static void
reload(struct daemon *d)
{
	struct config fresh;
	char err[1024];

	if (config_load(&fresh, d->argc, d->argv, err, sizeof(err)) != 0) {
		log_error("reload_failed", "reason=%s action=kept_old_config",
		    log_str(err));
		config_free(&fresh);
		return;
	}
	if (strcmp(fresh.socket_path, d->cfg.socket_path) != 0)
		log_warn("reload_socket_ignored", "socket=%s "
		    "reason=\"the socket changes only on restart\"",
		    log_str(fresh.socket_path));
	free(fresh.socket_path);
	fresh.socket_path = d->cfg.socket_path;
	d->cfg.socket_path = NULL;
	config_free(&d->cfg);
	d->cfg = fresh;
	log_init("watcherd", d->cfg.verbose);
	/* Before the table: reconfiguring it may report changes. */
	hooks_reconfigure(d->hooks);
	access_reconfigure(d->access);
	watch_table_reconfigure(d->watches);
	log_info("reloaded", "config=%s data_root=%s idle_timeout=%u "
	    "watch_mode=%s access=%s", log_str(d->cfg.config_file),
	    log_str(d->cfg.data_root), d->cfg.idle_timeout_s,
	    config_watch_mode_name(d->cfg.watch_mode),
	    config_access_name(d->cfg.access));
}

static void
signal_event(void *arg, uint32_t events)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload(d);
		else {
			log_info("stopping", "signal=%s",
			    si.ssi_signo == SIGTERM ? "TERM" : "INT");
			loop_stop(d->loop);
		}
	}
}

static void
setup_signals(struct daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (d->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		log_fatal("signals: %s", strerror(errno));
	d->signal_io = (struct loop_io){ .fd = d->signal_fd, .events = EPOLLIN,
	    .fn = signal_event, .arg = d };
	if (loop_add(d->loop, &d->signal_io) == -1)
		log_fatal("epoll: %s", strerror(errno));
}

/* Goes to the background once the socket answers, so that a script that
   starts watcherd can use it as soon as the command returns. */
static void
detach(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	setsid();
	/* stdin and stdout are not ours to keep; stderr carries the log. */
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

/* Each client is a descriptor, and so are watched files while they are
   read and hooks' pipes: take what the hard limit allows rather than the
   customary soft 1024, and say so when it is still short of max-clients. */
static void
raise_fd_limit(const struct config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < cfg->max_clients + 64)
		log_warn("fd_limit", "limit=%llu max_clients=%u reason=\"fewer "
		    "descriptors than max-clients needs; raise LimitNOFILE or "
		    "ulimit -n\"", (unsigned long long)rl.rlim_cur,
		    cfg->max_clients);
}

int
main(int argc, char **argv)
{
	struct daemon d = { .argc = argc, .argv = argv, .signal_fd = -1 };
	char err[2048];
	int r;

	log_init("watcherd", 0);
	r = config_load(&d.cfg, argc, argv, err, sizeof(err));
	if (r != 0) {
		fprintf(r == 1 ? stdout : stderr, "%s%s\n",
		    r == 1 ? "" : "watcherd: ", err);
		config_free(&d.cfg);
		return r == 1 ? 0 : 2;
	}
	log_init("watcherd", d.cfg.verbose);
	raise_fd_limit(&d.cfg);
	creds_init();
	if (daemon_init(&d, err, sizeof(err)) == -1)
		log_fatal("%s", err);
	if (!d.cfg.foreground)
		detach();
	/* After detaching: a signalfd wakes the epoll of the process that
	   made it, not of a forked child. */
	setup_signals(&d);
	log_info("started", "version=%s socket=%s data_root=%s watch_mode=%s "
	    "access=%s idle_timeout=%u poll_interval=%u settle_time=%u pid=%d",
	    WATCHERD_VERSION, log_str(d.cfg.socket_path),
	    log_str(d.cfg.data_root),
	    config_watch_mode_name(d.cfg.watch_mode),
	    config_access_name(d.cfg.access), d.cfg.idle_timeout_s,
	    d.cfg.poll_interval_ms, d.cfg.settle_time_ms, (int)getpid());
	r = loop_run(d.loop);
	if (r == -1)
		log_error("loop_failed", "reason=%s", log_str(strerror(errno)));
	daemon_free(&d);
	close(d.signal_fd);
	config_free(&d.cfg);
	log_info("stopped", "%s", "");
	return r == -1 ? 1 : 0;
}
