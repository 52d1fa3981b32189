# Shared by every suite: a private copy of the demo tree per test, a real
# watcherd on a UNIX socket in it, small clients (socat, jq), bounded waits,
# and a teardown that ends every process the test started.
#
# Environment: BUILD_DIR (default "build", "build/asan" for the sanitizer
# run), relative to the repository root.

REPO_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in
/*) BUILD_PATH="$BUILD_DIR" ;;
*) BUILD_PATH="$REPO_ROOT/$BUILD_DIR" ;;
esac
WATCHERD="$BUILD_PATH/watcherd"
WATCHERCTL="$BUILD_PATH/watcherctl"
PROPOSAL=1111
DAMNIT_REL="SPB/202601/p001111/usr/Shared/amore"

# Under the sanitizer build every leak or error turns into a failed test.
SANITIZED=0
case "$BUILD_DIR" in
*asan*)
	SANITIZED=1
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
	;;
esac

fail() {
	printf '%s\n' "$*" >&2
	return 1
}

# Wall-clock milliseconds: fine for latencies and bounds of a few seconds.
now_ms() {
	local ns
	ns=$(date +%s%N)
	echo $((ns / 1000000))
}

# Runs "$@" every 20 ms until it succeeds or timeout_ms have passed.
wait_until() {
	local timeout_ms=$1 deadline
	shift
	deadline=$(($(now_ms) + timeout_ms))
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}

# 0 while pid runs (a zombie does not count).
pid_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat:0:1}" != Z ]
}

pid_gone() {
	! pid_alive "$1"
}

common_setup() {
	T="$(mktemp -d "${TMPDIR:-/tmp}/watcherd-bats.XXXXXX")"
	SOCK="$T/w.sock"
	LOG="$T/watcherd.log"
	cp -a "$REPO_ROOT/data" "$T/data"
	DAMNIT="$T/data/$DAMNIT_REL"
	WATCHERD_PID=
	: >"$T/pids"
	: >"$LOG"
	[ -x "$WATCHERD" ] || fail "no watcherd at $WATCHERD (run make first)"
}

# Starts "$@" in a process group of its own, stdin from /dev/null unless
# redirected by the caller, and records it for teardown. Sets SPAWNED.
spawn() {
	setsid "$@" 3>&- &
	SPAWNED=$!
	echo "$SPAWNED" >>"$T/pids"
}

# Ends a spawned process group: TERM, a bounded wait, then KILL.
kill_group() {
	local pid=$1
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	if ! wait_until 2000 pid_gone "$pid"; then
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# Ends every spawned process.
kill_spawned() {
	local pid
	[ -f "$T/pids" ] || return 0
	while read -r pid; do
		[ -n "$pid" ] && kill_group "$pid"
	done <"$T/pids"
	: >"$T/pids"
}

# The log shows no sanitizer report.
log_is_clean() {
	! grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
	    -e 'LeakSanitizer' "$LOG"
}

show_log() {
	echo "--- $LOG ---" >&2
	tail -n 60 "$LOG" >&2
}

# start_watcherd [flags...]: starts watcherd in the foreground on the test's
# socket and data tree, and waits (at most 5 s) until it answers a ping.
start_watcherd() {
	"$WATCHERD" --foreground --socket "$SOCK" --data-root "$T/data" "$@" \
	    </dev/null >/dev/null 2>>"$LOG" 3>&- &
	WATCHERD_PID=$!
	local deadline=$(($(now_ms) + 5000))
	until watcherd_answers; do
		if ! pid_alive "$WATCHERD_PID"; then
			wait "$WATCHERD_PID" 2>/dev/null || true
			WATCHERD_PID=
			show_log
			fail "watcherd $* exited at start-up"
			return 1
		fi
		if [ "$(now_ms)" -ge "$deadline" ]; then
			show_log
			fail "watcherd $* did not answer a ping within 5 s"
			return 1
		fi
		sleep 0.02
	done
}

watcherd_answers() {
	[ -S "$SOCK" ] || return 1
	send '{"cmd":"ping"}' 2>/dev/null | grep -q '"ok":true'
}

# Sends SIGTERM and waits for the exit: 0, the socket removed and, under
# the sanitizers, a clean log.
stop_watcherd() {
	local pid=$WATCHERD_PID rc=0 bound=5000
	[ -n "$pid" ] || return 0
	WATCHERD_PID=
	[ "$SANITIZED" = 1 ] && bound=15000
	# A test that failed while the daemon was stopped leaves it stopped.
	# SIGCONT goes first: sent later it would discard the SIGSTOP with
	# which LeakSanitizer's exit-time check suspends the process, and
	# that check would then wait for ever.
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_until "$bound" pid_gone "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		show_log
		fail "watcherd did not exit within $((bound / 1000)) s of SIGTERM"
		return 1
	fi
	wait "$pid" || rc=$?
	if [ "$rc" != 0 ]; then
		show_log
		fail "watcherd exited with status $rc after SIGTERM"
		return 1
	fi
	if ! log_is_clean; then
		show_log
		fail "the sanitizers reported errors in $LOG"
		return 1
	fi
}

# Kills the daemon without letting it clean up (for stale-socket tests).
kill_watcherd_hard() {
	local pid=$WATCHERD_PID
	WATCHERD_PID=
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
}

common_teardown() {
	local failed=0
	[ -n "${T:-}" ] || return 0
	kill_spawned
	stop_watcherd || failed=1
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

# The protocol.

# send LINE: one request on a fresh connection; prints the reply.
send() {
	printf '%s\n' "$1" | socat -t 2 - "UNIX-CONNECT:$SOCK"
}

# send_to_file OUT LINE: like send, the reply's bytes in OUT.
send_to_file() {
	printf '%s\n' "$2" | socat -t 2 - "UNIX-CONNECT:$SOCK" >"$1"
}

# req CMD [PROPOSAL FILE [FORMAT]]: a request line.
req() {
	if [ $# -eq 1 ]; then
		jq -cn --arg c "$1" '{cmd:$c}'
	elif [ $# -eq 3 ]; then
		jq -cn --arg c "$1" --argjson p "$2" --arg f "$3" \
		    '{cmd:$c,proposal:$p,file_name:$f}'
	else
		jq -cn --arg c "$1" --argjson p "$2" --arg f "$3" --arg fmt "$4" \
		    '{cmd:$c,proposal:$p,file_name:$f,format:$fmt}'
	fi
}

# json_get JSON FILTER: jq -r FILTER on the first line of JSON.
json_get() {
	printf '%s\n' "$1" | head -n 1 | jq -r "$2"
}

# daemon_checksum FILE: watcherd's checksum of FILE in the test proposal.
daemon_checksum() {
	json_get "$(send "$(req checksum "$PROPOSAL" "$1")")" .checksum
}

# crc32 FILE: zlib's CRC-32, computed independently of watcherd (gzip's
# trailer holds the CRC of the uncompressed bytes).
crc32() {
	gzip -c <"$1" | tail -c 8 | od -An -N4 -tx4 | tr -d ' \n'
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

# subscribe FILE: a subscriber (socat) whose lines go to SUB_OUT; waits (at
# most 2 s) for its reply. Sets SUB_OUT and SUB_PID.
SUB_COUNT=0
subscribe() {
	local request
	SUB_COUNT=$((SUB_COUNT + 1))
	SUB_OUT="$T/sub.$SUB_COUNT.out"
	request=$(req subscribe "$PROPOSAL" "$1")
	spawn bash -c '{ printf "%s\n" "$1"; exec sleep 60; } |
	    exec socat -t 2 - "UNIX-CONNECT:$2"' _ "$request" "$SOCK" \
	    </dev/null >"$SUB_OUT" 2>&1
	SUB_PID=$SPAWNED
	wait_until 2000 grep -q '"ok"' "$SUB_OUT" ||
	    fail "the subscription to $1 got no reply: $(cat "$SUB_OUT")"
}

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
