#!/usr/bin/env bats
# The daemon's life: its socket, stale and live sockets, signals, going to
# the background, bad flags and the client limit.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

# signal_and_wait SIGNAL: sends SIGNAL to the foreground daemon and waits
# (bounded) for its exit; sets EXIT_STATUS.
signal_and_wait() {
	local pid=$WATCHERD_PID
	WATCHERD_PID=
	kill -"$1" "$pid"
	wait_until 10000 pid_gone "$pid" || {
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		fail "watcherd did not exit after SIG$1"
	}
	EXIT_STATUS=0
	wait "$pid" || EXIT_STATUS=$?
}

ping_ok() {
	[ "$(json_get "$(send '{"cmd":"ping"}')" .ok)" = true ]
}

@test "the socket is created with mode 0660" {
	start_test_watcherd
	[ -S "$SOCK" ]
	[ "$(stat -c %a "$SOCK")" = 660 ]
}

@test "a stale socket left by a killed daemon is replaced" {
	start_test_watcherd
	kill_watcherd_hard
	[ -S "$SOCK" ]
	if watcherd_answers; then
		fail "the killed daemon's socket still answers"
	fi
	start_test_watcherd
	ping_ok
	[ "$(stat -c %a "$SOCK")" = 660 ]
}

@test "a second daemon on a live socket refuses with 'already running'" {
	start_test_watcherd
	run timeout 10 "$WATCHERD" --foreground --socket "$SOCK" --data-root "$T/data"
	[ "$status" != 0 ]
	[ "$status" != 124 ] || fail "the second daemon kept running"
	[[ "$output" == *"already running"* ]] || fail "$output"
	[[ "$output" != *Sanitizer* ]] || fail "$output"
	[ -S "$SOCK" ]
	ping_ok
}

@test "a file at the socket path that is not a socket is left alone" {
	echo precious >"$SOCK"
	run timeout 10 "$WATCHERD" --foreground --socket "$SOCK" --data-root "$T/data"
	[ "$status" != 0 ]
	[ "$status" != 124 ] || fail "the daemon started"
	[[ "$output" == *"not a socket"* ]] || fail "$output"
	[ "$(cat "$SOCK")" = precious ]
}

@test "SIGTERM exits 0 and removes the socket" {
	start_test_watcherd
	signal_and_wait TERM
	[ "$EXIT_STATUS" = 0 ]
	[ ! -e "$SOCK" ]
	log_is_clean || { show_log; false; }
}

@test "SIGINT exits 0 and removes the socket" {
	start_test_watcherd
	send "$(req checksum 1111 context.py)" >/dev/null
	signal_and_wait INT
	[ "$EXIT_STATUS" = 0 ]
	[ ! -e "$SOCK" ]
	log_is_clean || { show_log; false; }
}

context_forbidden() {
	[ "$(json_get "$(send "$(req checksum 1111 context.py)")" .error)" = forbidden ]
}

@test "SIGHUP re-reads the config file" {
	printf '# watcherd test config\nidle-timeout = 30\n' >"$T/watcherd.conf"
	start_test_watcherd --config "$T/watcherd.conf"
	[ "$(daemon_checksum context.py)" = "$(crc32 "$DAMNIT/context.py")" ]
	printf 'idle-timeout = 30\nallow = process_logs/*.out\n' >"$T/watcherd.conf"
	kill -HUP "$WATCHERD_PID"
	wait_until 1000 context_forbidden
	[ "$(daemon_checksum process_logs/r0012-p1111.out)" = \
	    "$(crc32 "$DAMNIT/process_logs/r0012-p1111.out")" ]
	ping_ok
}

# start_background: runs watcherd without --foreground, bounded; sets BG_PID
# to the daemon it left running (found by its unique socket path).
start_background() {
	local rc=0
	timeout 10 "$WATCHERD" --socket "$SOCK" --data-root "$T/data" \
	    --access open "$@" \
	    </dev/null >/dev/null 2>>"$LOG" 3>&- || rc=$?
	[ "$rc" = 0 ] || fail "watcherd exited $rc"
	BG_PID=$(pgrep -f -- "--socket $SOCK")
	[ -n "$BG_PID" ] || fail "no watcherd left running"
	echo "$BG_PID" >>"$T/pids"
}

@test "without --foreground the daemon answers as soon as the command returns" {
	start_background
	# No wait: the command returned once the socket answered.
	ping_ok
	[ "$(ps -o ppid= -p "$BG_PID" | tr -d ' ')" != $$ ]
	[ "$(ps -o sid= -p "$BG_PID" | tr -d ' ')" = "$BG_PID" ]
	[ "$(daemon_checksum context.py)" = "$(crc32 "$DAMNIT/context.py")" ]
}

@test "a daemon in the background exits on SIGTERM and removes its socket" {
	start_background
	ping_ok
	kill -TERM "$BG_PID"
	wait_until 5000 pid_gone "$BG_PID" ||
	    fail "the background watcherd ignored SIGTERM"
	[ ! -e "$SOCK" ]
	log_is_clean || { show_log; false; }
}

@test "a daemon in the background re-reads its config file on SIGHUP" {
	printf 'idle-timeout = 30\n' >"$T/watcherd.conf"
	start_background --config "$T/watcherd.conf"
	[ "$(daemon_checksum context.py)" = "$(crc32 "$DAMNIT/context.py")" ]
	printf 'allow = process_logs/*.out\n' >"$T/watcherd.conf"
	kill -HUP "$BG_PID"
	wait_until 1000 context_forbidden ||
	    fail "the background watcherd ignored SIGHUP"
}

@test "an unknown flag exits 2 with the usage" {
	run timeout 10 "$WATCHERD" --no-such-flag
	[ "$status" = 2 ]
	[[ "$output" == *"usage: watcherd"* ]] || fail "$output"
	[[ "$output" == *"--no-such-flag"* ]] || fail "$output"
	run timeout 10 "$WATCHERD" --idle-timeout soon
	[ "$status" = 2 ]
	[[ "$output" == *idle-timeout* ]] || fail "$output"
}

@test "over --max-clients a client is refused as unavailable until others leave" {
	start_test_watcherd --max-clients 5
	for i in 1 2 3 4 5; do
		spawn bash -c '{ printf "{\"cmd\":\"ping\"}\n"; exec sleep 30; } |
		    exec socat -t 2 - "UNIX-CONNECT:$1"' _ "$SOCK" >"$T/holder.$i" 2>&1
	done
	for i in 1 2 3 4 5; do
		wait_until 2000 grep -q '"protocol":1' "$T/holder.$i" ||
		    fail "holder $i got no answer: $(cat "$T/holder.$i")"
	done
	# The refusal comes unasked: read only, so that the closed
	# connection cannot fail a write first.
	reply=$(timeout 5 socat -u "UNIX-CONNECT:$SOCK" -) || true
	[ "$(json_get "$reply" .ok)" = false ] || fail "$reply"
	[ "$(json_get "$reply" .error)" = unavailable ]
	[[ "$(json_get "$reply" .detail)" == *max-clients* ]]
	kill_spawned
	wait_until 2000 watcherd_answers
	ping_ok
}
