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

@test "watcherctl ping succeeds against a running daemon" {
	start_watcherd
	ctl --socket "$SOCK" ping
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	grep -q "protocol 1" "$T/ctl.out"
	grep -qF "$SOCK" "$T/ctl.out"
}

@test "watcherctl --json status prints watcherd's status as JSON" {
	start_watcherd
	send "$(req checksum 1111 context.py)" >/dev/null
	ctl --socket "$SOCK" --json status
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	[ "$(jq -r .ok "$T/ctl.out")" = true ]
	[ "$(jq -r .watches "$T/ctl.out")" = 1 ]
	[ "$(jq -r '.uptime_s | type' "$T/ctl.out")" = number ]
}

@test "watcherctl checksum prints the file's checksum and size" {
	start_watcherd
	ctl --socket "$SOCK" checksum 1111 context.py
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	read -r sum size _ <"$T/ctl.out"
	[ "$sum" = "$(crc32 "$DAMNIT/context.py")" ]
	[ "$size" = "$(stat -c %s "$DAMNIT/context.py")" ]
}

@test "watcherctl content writes the file's exact bytes" {
	printf 'caf\xe9 \x00\xff binary\n' >"$DAMNIT/binary.log"
	start_watcherd
	ctl --socket "$SOCK" content 1111 context.py
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	cmp "$T/ctl.out" "$DAMNIT/context.py"
	ctl --socket "$SOCK" content 1111 binary.log
	[ "$CTL_STATUS" = 0 ] || fail "$(cat "$T/ctl.err")"
	cmp "$T/ctl.out" "$DAMNIT/binary.log"
}

@test "watcherctl without a daemon fails saying it is not running" {
	ctl --socket "$T/nobody.sock" ping
	[ "$CTL_STATUS" = 1 ]
	grep -q "not running" "$T/ctl.err"
	[ ! -s "$T/ctl.out" ]
}

@test "watcherctl reports an error reply and fails" {
	start_watcherd
	ctl --socket "$SOCK" checksum 1111 notes.txt
	[ "$CTL_STATUS" = 1 ]
	grep -q forbidden "$T/ctl.err"
	ctl --socket "$SOCK" content 1111 missing.log
	[ "$CTL_STATUS" = 1 ]
	grep -q not_found "$T/ctl.err"
}

@test "watcherctl finds the socket through WATCHERD_SOCKET" {
	start_watcherd
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
	start_watcherd --watch-mode inotify
	spawn timeout 20 "$WATCHERCTL" --socket "$SOCK" subscribe 1111 context.py \
	    >"$T/sub.out" 2>"$T/sub.err"
	wait_until 2000 grep -q '^subscribed' "$T/sub.out"
	printf '# edited\n' >>"$DAMNIT/context.py"
	want=$(crc32 "$DAMNIT/context.py")
	wait_until 1000 grep -q "^changed 1111 context.py $want " "$T/sub.out" ||
	    fail "got: $(cat "$T/sub.out" "$T/sub.err")"
}
