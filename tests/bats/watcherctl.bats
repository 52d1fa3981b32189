#!/usr/bin/env bats
# watcherctl, the ops command line, against a real watcherd.

load helpers

setup() {
	common_setup
	[ -x "$WATCHERCTL" ] || skip "no watcherctl at $WATCHERCTL"
}

teardown() {
	common_teardown
}

# ctl ARGS...: runs watcherctl (bounded); sets CTL_STATUS, with stdout in
# $T/ctl.out and stderr in $T/ctl.err.
ctl() {
	CTL_STATUS=0
	timeout 10 "$WATCHERCTL" "$@" >"$T/ctl.out" 2>"$T/ctl.err" || CTL_STATUS=$?
}

# ctl_fails STATUS PATTERN ARGS...: ctl ARGS, which must exit with STATUS
# and say PATTERN (grep) on stderr.
ctl_fails() {
	local want=$1 pattern=$2
	shift 2
	ctl "$@"
	[ "$CTL_STATUS" = "$want" ] ||
	    fail "watcherctl $*: status $CTL_STATUS, not $want: $(cat "$T/ctl.err")" ||
	    return 1
	grep -q -- "$pattern" "$T/ctl.err" ||
	    fail "watcherctl $*: no \"$pattern\" in: $(cat "$T/ctl.err")"
}

@test "watcherctl ping succeeds against a running daemon" {
	start_test_watcherd
	ctl --socket "$SOCK" ping
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	grep -q "protocol 1" "$T/ctl.out"
	grep -qF "$SOCK" "$T/ctl.out"
}

@test "watcherctl --json status prints watcherd's status as JSON" {
	start_test_watcherd
	send "$(req checksum 1111 context.py)" >/dev/null
	ctl --socket "$SOCK" --json status
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	[ "$(jq -r .ok "$T/ctl.out")" = true ]
	[ "$(jq -r .watches "$T/ctl.out")" = 1 ]
	[ "$(jq -r '.uptime_s | type' "$T/ctl.out")" = number ]
}

@test "watcherctl checksum prints the file's checksum and size" {
	start_test_watcherd
	ctl --socket "$SOCK" checksum 1111 context.py
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	read -r sum size _ <"$T/ctl.out"
	[ "$sum" = "$(crc32 "$DAMNIT/context.py")" ]
	[ "$size" = "$(stat -c %s "$DAMNIT/context.py")" ]
}

@test "watcherctl content writes the file's exact bytes" {
	printf 'caf\xe9 \x00\xff binary\n' >"$DAMNIT/binary.log"
	start_test_watcherd
	ctl --socket "$SOCK" content 1111 context.py
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	cmp "$T/ctl.out" "$DAMNIT/context.py"
	ctl --socket "$SOCK" content 1111 binary.log
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	cmp "$T/ctl.out" "$DAMNIT/binary.log"
}

@test "watcherctl without a daemon fails saying it is not running" {
	ctl_fails 1 "not running" --socket "$T/nobody.sock" ping
	[ ! -s "$T/ctl.out" ]
}

@test "watcherctl reports an error reply and fails" {
	start_test_watcherd
	ctl_fails 1 forbidden --socket "$SOCK" checksum 1111 notes.txt
	ctl_fails 1 not_found --socket "$SOCK" content 1111 missing.log
}

@test "watcherctl finds the socket through WATCHERD_SOCKET" {
	start_test_watcherd
	CTL_STATUS=0
	WATCHERD_SOCKET="$SOCK" timeout 10 "$WATCHERCTL" ping >"$T/ctl.out" \
	    2>"$T/ctl.err" || CTL_STATUS=$?
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	grep -qF "$SOCK" "$T/ctl.out"
	# And the variable is what it used: another value fails.
	CTL_STATUS=0
	WATCHERD_SOCKET="$T/other.sock" timeout 10 "$WATCHERCTL" ping \
	    >"$T/ctl.out" 2>"$T/ctl.err" || CTL_STATUS=$?
	[ "$CTL_STATUS" = 1 ]
	grep -qF "$T/other.sock" "$T/ctl.err"
}

@test "watcherctl subscribe prints a change as it happens" {
	start_test_watcherd --watch-mode inotify
	spawn timeout 20 "$WATCHERCTL" --socket "$SOCK" subscribe 1111 context.py \
	    >"$T/sub.out" 2>"$T/sub.err"
	wait_until 2000 grep -q '^subscribed' "$T/sub.out"
	printf '# edited\n' >>"$DAMNIT/context.py"
	want=$(crc32 "$DAMNIT/context.py")
	wait_until 1000 grep -q "^changed 1111 context.py $want " "$T/sub.out" ||
	    fail "got: $(cat "$T/sub.out" "$T/sub.err")"
}

@test "watcherctl subscribe prints the unwatch that ends it and exits 0" {
	start_test_watcherd
	spawn "$WATCHERCTL" --socket "$SOCK" subscribe 1111 context.py \
	    </dev/null >"$T/sub.out" 2>"$T/sub.err"
	sub=$SPAWNED
	wait_until 2000 grep -q '^subscribed' "$T/sub.out" ||
	    fail "no subscription: $(cat "$T/sub.err")"
	ctl --socket "$SOCK" --json unwatch 1111 context.py
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	[ "$(jq -r .subscribers_dropped "$T/ctl.out")" = 1 ]
	wait_until 5000 pid_gone "$sub" ||
	    fail "subscribe outlived its subscription: $(cat "$T/sub.out")"
	end_pid "$sub" 1000
	[ "$END_PID_STATUS" = 0 ] ||
	    fail "subscribe exited with $END_PID_STATUS: $(cat "$T/sub.err")"
	[ "$(tail -n 1 "$T/sub.out")" = "unwatched 1111 context.py - -" ] ||
	    fail "got: $(cat "$T/sub.out")"
	[ ! -s "$T/sub.err" ]
	# With --json, the event as watcherd sent it.
	spawn "$WATCHERCTL" --socket "$SOCK" --json subscribe 1111 context.py \
	    </dev/null >"$T/sub.out" 2>"$T/sub.err"
	sub=$SPAWNED
	wait_until 2000 grep -q '"ok":true' "$T/sub.out" ||
	    fail "no subscription: $(cat "$T/sub.err")"
	ctl --socket "$SOCK" unwatch 1111 context.py
	wait_until 5000 pid_gone "$sub" ||
	    fail "subscribe --json outlived its subscription"
	end_pid "$sub" 1000
	[ "$END_PID_STATUS" = 0 ]
	[ "$(tail -n 1 "$T/sub.out" | jq -c .)" = \
	    '{"event":"unwatched","proposal":1111,"file_name":"context.py"}' ]
}

# tail.

# has_bytes FILE FORMAT: FILE holds exactly the bytes of printf FORMAT.
has_bytes() {
	# shellcheck disable=SC2059
	cmp -s "$1" <(printf "$2")
}

# follow_start FIRST ARGS...: watcherctl tail -f ARGS in the background,
# stdout in $T/tail.out and stderr in $T/tail.err; waits (at most 5 s)
# until it has printed the bytes of printf format FIRST. Sets TAIL_PID.
follow_start() {
	local first=$1
	shift
	spawn "$WATCHERCTL" --socket "$SOCK" tail -f "$@" \
	    </dev/null >"$T/tail.out" 2>"$T/tail.err"
	TAIL_PID=$SPAWNED
	wait_until 5000 has_bytes "$T/tail.out" "$first" ||
	    fail "tail -f $* printed: $(od -c "$T/tail.out" | head -20)" \
	    "$(cat "$T/tail.err")"
}

# follow_wait FORMAT: waits (at most 5 s) until tail -f has printed exactly
# the bytes of printf format FORMAT.
follow_wait() {
	wait_until 5000 has_bytes "$T/tail.out" "$1" ||
	    fail "tail -f printed: $(od -c "$T/tail.out" | head -20)" \
	    "$(cat "$T/tail.err")"
}

# follow_stop: SIGTERM ends tail -f with status 0 (and, under the
# sanitizers, no report: a leak would make the status 99).
follow_stop() {
	end_pid "$TAIL_PID" "$WATCHERD_STOP_MS" TERM "watcherctl tail -f" ||
	    return 1
	[ "$END_PID_STATUS" = 0 ] ||
	    fail "tail -f exited with $END_PID_STATUS: $(cat "$T/tail.err")"
}

@test "watcherctl tail prints the last 10 lines, or as many as -n says" {
	seq -f 'line %g' 25 >"$DAMNIT/run.log"
	start_test_watcherd
	ctl --socket "$SOCK" tail 1111 run.log
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	diff <(seq -f 'line %g' 16 25) "$T/ctl.out"
	ctl --socket "$SOCK" tail -n 3 1111 run.log
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	has_bytes "$T/ctl.out" 'line 23\nline 24\nline 25\n'
	# More lines than the file has: all of it; a last line without its
	# newline counts and comes as it is.
	printf 'line 26' >>"$DAMNIT/run.log"
	ctl --socket "$SOCK" tail -n 2 1111 run.log
	has_bytes "$T/ctl.out" 'line 25\nline 26'
	ctl --socket "$SOCK" tail -n 1000 1111 run.log
	cmp "$T/ctl.out" "$DAMNIT/run.log"
	ctl --socket "$SOCK" tail 1111 damnit.log
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	cmp "$T/ctl.out" <(tail -n 10 "$DAMNIT/damnit.log")
}

@test "watcherctl tail finds the last lines of a log larger than watcherd reads whole" {
	python3 -c 'import sys
with open(sys.argv[1], "w") as f:
    for i in range(20000):
        f.write("%d %s\n" % (i, "x" * (i * 7 % 150)))' "$DAMNIT/big.log"
	start_test_watcherd --max-file-size 65536
	ctl --socket "$SOCK" tail -n 5000 1111 big.log
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	cmp "$T/ctl.out" <(tail -n 5000 "$DAMNIT/big.log")
	ctl --socket "$SOCK" tail 1111 big.log
	cmp "$T/ctl.out" <(tail -n 10 "$DAMNIT/big.log")
}

@test "watcherctl tail -f prints appended lines in order" {
	printf 'first\nsecond\n' >"$DAMNIT/run.log"
	start_test_watcherd
	follow_start 'first\nsecond\n' 1111 run.log
	for i in 1 2 3 4 5; do
		printf 'appended %s\n' "$i" >>"$DAMNIT/run.log"
	done
	printf 'half a line' >>"$DAMNIT/run.log"
	follow_wait 'first\nsecond\nappended 1\nappended 2\nappended 3\nappended 4\nappended 5\nhalf a line'
	printf ', then its end\n' >>"$DAMNIT/run.log"
	follow_wait 'first\nsecond\nappended 1\nappended 2\nappended 3\nappended 4\nappended 5\nhalf a line, then its end\n'
	follow_stop
	[ ! -s "$T/tail.err" ]
}

@test "watcherctl tail -f reports a truncation and prints the new content" {
	printf 'one\ntwo\nthree\n' >"$DAMNIT/run.log"
	start_test_watcherd
	follow_start 'one\ntwo\nthree\n' 1111 run.log
	printf 'new\n' >"$DAMNIT/run.log"
	follow_wait 'one\ntwo\nthree\nnew\n'
	grep -qx 'watcherctl: run.log: file truncated' "$T/tail.err"
	printf 'after\n' >>"$DAMNIT/run.log"
	follow_wait 'one\ntwo\nthree\nnew\nafter\n'
	follow_stop
}

@test "watcherctl tail -f follows the name across a rotation" {
	printf 'old 1\nold 2\n' >"$DAMNIT/run.log"
	start_test_watcherd
	follow_start 'old 1\nold 2\n' 1111 run.log
	mv "$DAMNIT/run.log" "$DAMNIT/run.log.1"
	wait_until 5000 grep -qx \
	    'watcherctl: run.log: has been deleted; following the name' \
	    "$T/tail.err" || fail "no deletion reported: $(cat "$T/tail.err")"
	# The file moved away is not followed any more; the new one is, from
	# its start.
	printf 'old 3\n' >>"$DAMNIT/run.log.1"
	printf 'new 1\n' >"$DAMNIT/run.log"
	follow_wait 'old 1\nold 2\nnew 1\n'
	printf 'new 2\n' >>"$DAMNIT/run.log"
	follow_wait 'old 1\nold 2\nnew 1\nnew 2\n'
	follow_stop
	grep -q 'has appeared' "$T/tail.err"
}

@test "watcherctl tail -f keeps following when an unwatch ends its subscription" {
	printf 'a\n' >"$DAMNIT/run.log"
	start_test_watcherd
	follow_start 'a\n' 1111 run.log
	ctl --socket "$SOCK" --json unwatch 1111 run.log
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	[ "$(jq -r .subscribers_dropped "$T/ctl.out")" = 1 ]
	printf 'b\n' >>"$DAMNIT/run.log"
	follow_wait 'a\nb\n'
	# The line came through the new subscription (or the catch-up right
	# after it), which a second unwatch ends in turn.
	ctl --socket "$SOCK" --json unwatch 1111 run.log
	[ "$(jq -r .subscribers_dropped "$T/ctl.out")" = 1 ]
	printf 'c\n' >>"$DAMNIT/run.log"
	follow_wait 'a\nb\nc\n'
	follow_stop
	[ ! -s "$T/tail.err" ]
}

@test "watcherctl tail --match prints only the matching lines" {
	printf 'INFO a\nERROR b\nINFO c\nERROR d\nWARNING e\n' >"$DAMNIT/run.log"
	start_test_watcherd
	# The last 3 lines of the file, filtered.
	ctl --socket "$SOCK" tail -n 3 --match 'ERROR|WARN' 1111 run.log
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	has_bytes "$T/ctl.out" 'ERROR d\nWARNING e\n'
	follow_start 'ERROR d\n' -n 2 --match '^ERROR' 1111 run.log
	# A line is judged whole, even when it comes in two appends.
	printf 'INFO f\nERR' >>"$DAMNIT/run.log"
	sleep 0.3
	printf 'OR g\nINFO ERROR h\n' >>"$DAMNIT/run.log"
	printf 'ERROR i\n' >>"$DAMNIT/run.log"
	follow_wait 'ERROR d\nERROR g\nERROR i\n'
	follow_stop
}

@test "watcherctl tail -f prints a UTF-8 character split across two appends whole and once" {
	printf 'start\n' >"$DAMNIT/run.log"
	start_test_watcherd
	follow_start 'start\n' 1111 run.log
	printf 'caf\xc3' >>"$DAMNIT/run.log"
	# The character's first byte is held back until the rest comes.
	follow_wait 'start\ncaf'
	printf '\xa9 cr\xc3\xa8me\n' >>"$DAMNIT/run.log"
	follow_wait 'start\ncaf\xc3\xa9 cr\xc3\xa8me\n'
	follow_stop
}

@test "watcherctl tail of an unknown file fails saying so" {
	start_test_watcherd
	ctl_fails 1 not_found --socket "$SOCK" tail 1111 missing.log
	[ ! -s "$T/ctl.out" ]
	ctl_fails 1 not_found --socket "$SOCK" tail -f 1111 missing.log
	ctl_fails 1 forbidden --socket "$SOCK" tail 1111 notes.txt
}

@test "watcherctl tail refuses bad options with status 2" {
	ctl_fails 2 '--lines' --socket "$SOCK" tail -n many 1111 damnit.log
	ctl_fails 2 '--match' --socket "$SOCK" tail --match '(' 1111 damnit.log
	ctl --socket "$SOCK" -f checksum 1111 damnit.log
	[ "$CTL_STATUS" = 2 ]
	ctl --socket "$SOCK" --json tail 1111 damnit.log
	[ "$CTL_STATUS" = 2 ]
}

@test "watcherctl tail -f ends with an error when watcherd goes away" {
	printf 'a\n' >"$DAMNIT/run.log"
	start_test_watcherd
	follow_start 'a\n' 1111 run.log
	stop_test_watcherd
	wait_until 5000 pid_gone "$TAIL_PID" || fail "tail -f outlived watcherd"
	end_pid "$TAIL_PID" 1000
	[ "$END_PID_STATUS" = 1 ]
	[ "$(wc -l <"$T/tail.err")" = 1 ]
	grep -q 'watcherd closed the connection' "$T/tail.err"
}

@test "watcherctl tail -f ends quietly when its reader goes away" {
	printf 'a\nb\n' >"$DAMNIT/run.log"
	start_test_watcherd
	spawn bash -c 'set -o pipefail
	    "$1" --socket "$2" tail -f -n 100 1111 run.log 2>"$3/pipe.err" |
	    head -n 3 >"$3/pipe.out"
	    echo "$?" >"$3/pipe.status"' _ "$WATCHERCTL" "$SOCK" "$T" </dev/null
	# head takes a third line and exits (its output shows only then); a
	# later write meets a closed pipe. Whenever tail -f started, its first
	# three lines are the file's.
	for i in $(seq 50); do
		[ -s "$T/pipe.status" ] && break
		printf 'more %s\n' "$i" >>"$DAMNIT/run.log"
		sleep 0.1
	done
	[ -s "$T/pipe.status" ] || fail "tail -f | head -n 3 did not end: " \
	    "$(cat "$T/pipe.out" "$T/pipe.err")"
	[ "$(cat "$T/pipe.status")" = 0 ] ||
	    fail "status $(cat "$T/pipe.status"): $(cat "$T/pipe.err")"
	has_bytes "$T/pipe.out" 'a\nb\nmore 1\n'
	[ ! -s "$T/pipe.err" ]
}
