# Sourced by the benchmarks that run servers (http, push, soak): stopping
# them with bounded waits, so that nothing they started outlives them.

# pid_alive PID: 0 while it runs (a zombie does not count).
pid_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat:0:1}" != Z ]
}

# stop PID: TERM, up to 5 s for the exit, then KILL.
stop() {
	local i
	kill -TERM "$1" 2>/dev/null || return 0
	for i in $(seq 50); do
		pid_alive "$1" || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# stop_tree PID: stops PID, then each process that was its child when
# asked. lighttpd ends its FastCGI processes itself, but not when it has
# to be KILLed: they would run on, orphaned.
stop_tree() {
	local child children
	children=$(pgrep -P "$1" || true)
	stop "$1"
	for child in $children; do
		stop "$child"
	done
}

# marked_pids VAR=VALUE...: the processes whose environment holds one of
# these exact entries (a run's own socket or file path).
marked_pids() {
	local p
	for p in /proc/[0-9]*; do
		tr '\0' '\n' 2>/dev/null <"$p/environ" |
			grep -qxF "${@/#/-e}" && echo "${p#/proc/}"
	done
	return 0
}

# stop_marked VAR=VALUE...: stops every process marked_pids finds, should
# one have escaped stop_tree (started while its parent was stopping).
stop_marked() {
	local pid
	for pid in $(marked_pids "$@"); do
		[ "$pid" = "$$" ] || stop "$pid"
	done
}
