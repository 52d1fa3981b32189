# Sourced by the benchmarks that run servers (http, push, soak, fs):
# waiting for them to answer, starting lighttpd with the sample
# configuration, and stopping them with bounded waits, so that nothing they
# started outlives them.

# pid_alive and free_port.
source "$(dirname "${BASH_SOURCE[0]}")/../host.bash"

# wait_for SECONDS CMD...: runs CMD every 50 ms until it succeeds.
wait_for() {
	local tries=$(($1 * 20))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		tries=$((tries - 1))
		sleep 0.05
	done
	return 1
}

# watcherd_up SOCKET: 0 once watcherd answers a ping on SOCKET.
watcherd_up() {
	[ -S "$1" ] && python3 - "$1" 2>/dev/null <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(1)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"ping"}\n')
sys.exit(0 if b'"ok":true' in s.recv(4096) else 1)
EOF
}

# answers_200 URL [CURL FLAGS...]: 0 when URL answers 200 within a second.
answers_200() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$@")" = 200 ]
}

# serve_sample PORT SOCKET DIR: lighttpd with lighttpd.conf.sample on
# 127.0.0.1:PORT, its handlers asking the watcherd at SOCKET, its run
# directory, document root and logs in DIR. Sets lighttpd_pid; returns once
# /filehandler/health answers, or fails.
serve_sample() {
	mkdir -p "$3/www"
	mkdir -m 0700 "$3/run"
	FILEHANDLER_BIND=127.0.0.1 FILEHANDLER_PORT=$1 FILEHANDLER_BIN=$handler \
		WATCHERD_SOCKET=$2 FILEHANDLER_RUN_DIR=$3/run \
		FILEHANDLER_DOCROOT=$3/www FILEHANDLER_ERROR_LOG=$3/lighttpd.log \
		lighttpd -D -f "$top/lighttpd.conf.sample" \
		</dev/null >"$3/lighttpd.out" 2>&1 &
	lighttpd_pid=$!
	wait_for 5 answers_200 "http://127.0.0.1:$1/filehandler/health" || {
		cat "$3/lighttpd.out" "$3/lighttpd.log" >&2 2>/dev/null
		fail "lighttpd did not answer /filehandler/health within 5 s"
	}
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
