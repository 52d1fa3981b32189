#!/usr/bin/env bats
# watcherd under valgrind's memcheck (the plain build: valgrind cannot run
# an ASan binary) through a scripted session (session.py): every socket
# command, requests judged by access = unix, saves through the write
# command (one refused by the validator, one in conflict), subscriptions,
# saves in each way, a delete and a recreate, a file
# over max-file-size, hooks, a SIGHUP reload, bad and overflowing input,
# then SIGTERM. No memory error, no leak, no descriptor left open, exit 0.
# Then the same on a FUSE mount (stall_session.py), where the work is the
# worker threads'. tests/run-all runs it once, after the plain
# build.

load ../bats/common

VALGRIND=(valgrind --tool=memcheck --leak-check=full
	--show-leak-kinds=definite,indirect,possible
	--errors-for-leak-kinds=definite,indirect,possible
	--error-exitcode=99 --track-fds=yes)

setup() {
	need_executable "$WATCHERD" watcherd || return 1
	[ "$SANITIZED" = 0 ] || fail "memcheck needs the plain build, not $BUILD_DIR" || return 1
	make_fixture_dir memcheck || return 1
	SOCK="$T/w.sock"
	DAMNIT="$T/data/$DAMNIT_REL"
	: >"$T/pids"
	cat >"$T/hook.sh" <<EOF
#!/bin/sh
cat >/dev/null
echo "\$EVENT \$FILE_NAME \$CHECKSUM" >>"$T/hook.out"
EOF
	chmod +x "$T/hook.sh"
	cat >"$T/watcherd.conf" <<EOF
max_file_size = 8192
settle_time = 20
hook = context.py $T/hook.sh
hook = *.log $T/hook.sh
hook_match = *.log ERROR
EOF
}

teardown() {
	local pid
	[ -n "${STALLFS_PID:-}" ] && thaw
	pid=$(cat "$T/watcherd.pid" 2>/dev/null) || pid=
	[ -n "$pid" ] && end_pid "$pid" 120000 TERM "watcherd under valgrind"
	unmount_stallfs
	kill_spawned
	rm -rf "$T"
}

# launch_under_valgrind FLAGS...: watcherd under memcheck, its log in
# $T/watcherd.log, valgrind's in $T/valgrind.log.
launch_under_valgrind() {
	# valgrind starts watcherd 20-50 times slower: a minute to answer.
	WATCHERD_WRAP=("${VALGRIND[@]}" "--log-file=$T/valgrind.log")
	WATCHERD_START_MS=60000 launch_watcherd "$T/watcherd.log" "$@"
	echo "$LAUNCHED_PID" >"$T/watcherd.pid"
}

# session SCRIPT ARGS...: runs the scripted session against it.
session() {
	run timeout 600 python3 "$BATS_TEST_DIRNAME/$1" "$SOCK" "${@:2}"
	printf '%s\n' "${lines[@]}" >&3
	[ "$status" -eq 0 ] || { show_tail "$T/watcherd.log"; fail "the session failed"; }
}

# stopped_clean: SIGTERM, then exit 0, no memory error, no leak, and no
# descriptor of its own left open.
stopped_clean() {
	rm -f "$T/watcherd.pid"
	end_pid "$LAUNCHED_PID" 120000 TERM "watcherd under valgrind"
	echo "# watcherd exited with status $END_PID_STATUS" >&3
	grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|no leaks are possible|FILE DESCRIPTORS' \
	    "$T/valgrind.log" | sed 's/^==[0-9]*== */# /' >&3
	[ "$END_PID_STATUS" = 0 ] || { cat "$T/valgrind.log" >&2; fail "exit status $END_PID_STATUS"; }
	grep -q 'ERROR SUMMARY: 0 errors' "$T/valgrind.log" ||
	    { cat "$T/valgrind.log" >&2; fail "memcheck found errors"; }
	! grep -Eq '(definitely|indirectly|possibly) lost: [1-9]' "$T/valgrind.log" ||
	    { cat "$T/valgrind.log" >&2; fail "memcheck found leaks"; }
	# Every descriptor open at exit came from the parent (bats's own and
	# valgrind's log): watcherd closed all it opened.
	own=$(own_open_fds "$T/valgrind.log")
	echo "# descriptors watcherd opened and left open at exit: $own" >&3
	[ "$own" = 0 ] || { cat "$T/valgrind.log" >&2; fail "descriptors left open at exit"; }
	grep -q 'event=stopped' "$T/watcherd.log"
}

# own_open_fds LOG: how many of the descriptors --track-fds lists as open
# at exit were not inherited from the parent.
own_open_fds() {
	sed 's/^==[0-9]*== *//' "$1" | awk '
		/^Open (file descriptor|AF_)/ { pending = 1; next }
		pending && NF { if ($0 !~ /inherited from parent/) n++; pending = 0 }
		END { print n + 0 }'
}

@test "watcherd under memcheck: a whole session, then no error, no leak, no open descriptor" {
	launch_under_valgrind --config "$T/watcherd.conf" \
	    --access unix --min-uid 1 --write --validate "context.py $REPO_ROOT/dist/validate-context"
	session session.py "$DAMNIT" "$T/hook.out" "$LAUNCHED_PID"
	grep -q '^changed context.py [0-9a-f]\{8\}$' "$T/hook.out" ||
	    fail "the hook did not run: $(cat "$T/hook.out" 2>/dev/null)"
	grep -q 'event=reloaded' "$T/watcherd.log" || fail "no reload in the log"
	stopped_clean
}

@test "watcherd under memcheck on a FUSE mount: worker threads, batched polls, a subscriber, a save" {
	mount_stallfs || return 1
	launch_under_valgrind --poll-interval 200 --fs-timeout 2000 --write \
	    --allow context.py --allow 'many/*.log'
	session stall_session.py "$BACKING/usr/Shared/amore"
	grep -q 'event=file_written.*proposal=2222' "$T/watcherd.log" ||
	    fail "no save in the log"
	stopped_clean
}
