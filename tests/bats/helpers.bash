# Shared by the watcherd suites (lifecycle, protocol, saves, watches,
# watcherctl): a private copy of the demo tree per test, a real watcherd on a
# UNIX socket in it, small clients (socat, jq), and a teardown that ends
# every process the test started. What all suites share is in common.bash.
#
# Environment: BUILD_DIR (default "build", "build/asan" for the sanitizer
# run), relative to the repository root.

source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

PROPOSAL=1111

# Under the sanitizer build every leak or error turns into a failed test:
# the options reach every binary a test runs (watcherd, watcherctl).
if [ "$SANITIZED" = 1 ]; then
	export ASAN_OPTIONS="$ASAN_EXIT_OPTIONS"
	export UBSAN_OPTIONS="$UBSAN_HALT_OPTIONS"
fi

# Per test: T with the demo tree, the socket and log paths, no daemon yet.
common_setup() {
	WATCHERD_PID=
	need_executable "$WATCHERD" watcherd || return 1
	make_fixture_dir watcherd-bats || return 1
	SOCK="$T/w.sock"
	LOG="$T/watcherd.log"
	: >"$T/pids"
	: >"$LOG"
}

# The log shows no sanitizer report.
log_is_clean() {
	no_sanitizer_report "$LOG"
}

# The end of the log on stderr.
show_log() {
	show_tail "$LOG"
}

# launch_watcherd_as VAR LOG [flags...]: launch_watcherd with its log in
# LOG, its pid in the variable VAR even when it did not come up, so that
# stop_watcherd_in VAR ends it.
launch_watcherd_as() {
	local var=$1 rc=0
	shift
	launch_watcherd "$@" || rc=$?
	printf -v "$var" '%s' "$LAUNCHED_PID"
	return "$rc"
}

# stop_watcherd_in VAR LOG NAME: sends SIGTERM to the watcherd whose pid
# is in the variable VAR, empties VAR and waits (bounded) for the exit:
# status 0 and, under the sanitizers, a clean LOG. Shows LOG otherwise.
stop_watcherd_in() {
	local pid=${!1} log=$2 name=$3
	[ -n "$pid" ] || return 0
	printf -v "$1" '%s' ""
	if ! end_pid "$pid" "$WATCHERD_STOP_MS" TERM "$name"; then
		show_tail "$log"
		return 1
	fi
	if [ "$END_PID_STATUS" != 0 ]; then
		show_tail "$log"
		fail "$name exited with status $END_PID_STATUS after SIGTERM"
		return 1
	fi
	if ! no_sanitizer_report "$log"; then
		show_tail "$log"
		fail "the sanitizers reported errors in $log"
		return 1
	fi
}

# start_test_watcherd [flags...]: starts watcherd in the foreground on the test's
# socket and data tree, and waits (at most 5 s) until it answers a ping.
# Sets WATCHERD_PID.
start_test_watcherd() {
	launch_watcherd_as WATCHERD_PID "$LOG" "$@"
}

stop_test_watcherd() {
	stop_watcherd_in WATCHERD_PID "$LOG" watcherd
}

# Kills the daemon without letting it clean up (for stale-socket tests).
kill_watcherd_hard() {
	local pid=$WATCHERD_PID
	WATCHERD_PID=
	end_pid "$pid" 2000 KILL watcherd
}

common_teardown() {
	local failed=0
	[ -n "${T:-}" ] || return 0
	kill_spawned
	stop_test_watcherd || failed=1
	restore_max_queued_events
	rm -rf "$T"
	return "$failed"
}

# inotify's queue limit, lowered by the overflow test; put back as soon as
# watcherd has its instance, and again here whatever happened.
restore_max_queued_events() {
	if [ -n "${T:-}" ] && [ -f "$T/max_queued_events.orig" ]; then
		cat "$T/max_queued_events.orig" >/proc/sys/fs/inotify/max_queued_events
		rm -f "$T/max_queued_events.orig"
	fi
}

# The protocol (send, req, json_get: common.bash).

# daemon_checksum FILE: watcherd's checksum of FILE in the test proposal.
daemon_checksum() {
	json_get "$(send "$(req checksum "$PROPOSAL" "$1")")" .checksum
}

# content_to FILE OUT [FORMAT]: the content reply's line in OUT.hdr and its
# payload in OUT.
content_to() {
	local hdrlen
	send_to_file "$2.raw" "$(req content "$PROPOSAL" "$1" "${3:-raw}")"
	head -n 1 "$2.raw" >"$2.hdr"
	hdrlen=$(wc -c <"$2.hdr")
	tail -c +"$((hdrlen + 1))" "$2.raw" >"$2"
	rm -f "$2.raw"
}

# Subscriptions.

# subscribe: common.bash.

# The subscription's reply line.
sub_reply() {
	head -n 1 "$1"
}

# event_seen OUT EVENT CHECKSUM: OUT has that event (EVENT may be a regex
# like "changed|created"; CHECKSUM "null" for none).
event_seen() {
	jq -cR --arg e "$2" --arg c "$3" 'fromjson? | select(.event != null and
	    (.event | test("^(" + $e + ")$")) and ((.checksum // "null") == $c))' \
	    "$1" | grep -q .
}

# wait_event OUT EVENT CHECKSUM TIMEOUT_MS: waits for that event; sets
# LATENCY_MS (from the caller's T0_MS) when it comes.
wait_event() {
	local deadline=$(($(now_ms) + $4)) seen
	while :; do
		# A cheap grep first, so that the latency is measured finely.
		if grep -qF "$3" "$1"; then
			seen=$(now_ms)
			if event_seen "$1" "$2" "$3"; then
				LATENCY_MS=$((seen - ${T0_MS:-0}))
				return 0
			fi
		fi
		[ "$(now_ms)" -lt "$deadline" ] || break
		sleep 0.005
	done
	fail "no \"$2\" event with checksum $3 within $4 ms; got: $(cat "$1")"
}

# Reports a measured latency as a TAP comment.
report_latency() {
	echo "# latency $*" >&3
}
