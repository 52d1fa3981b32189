#!/usr/bin/env bats
# Change hooks: the command a change of a watched file runs, its
# environment, hook_match's filter and stdin, the timeout, failures, and the
# bounds on running and queued hooks.

load helpers

setup() {
	common_setup
	OUT="$T/out"
	mkdir -p "$OUT" "$T/seen"
	LOGFILE="$DAMNIT/run.log"
	printf 'ERROR already there when the watch began\n' >"$LOGFILE"
	write_scripts
}

teardown() {
	local f
	# Whatever a hook left running, should watcherd not have ended it.
	for f in "$OUT"/*.pid; do
		[ -f "$f" ] || continue
		kill -KILL -- "-$(cat "$f")" 2>/dev/null || true
		kill -KILL "$(cat "$f")" 2>/dev/null || true
	done
	common_teardown
}

# The hook scripts, in T. Each writes what it saw into the directory given
# as its argument, under a name of its own, by rename so that a file that
# exists is complete.
write_scripts() {
	cat >"$T/record.sh" <<'EOF'
#!/bin/sh
env >"$1/.$$.env"
cat >"$1/.$$.in"
mv "$1/.$$.in" "$1/$$.in"
mv "$1/.$$.env" "$1/$$.env"
EOF
	cat >"$T/hang.sh" <<'EOF'
#!/bin/sh
sleep 1000 &
echo $! >"$1/child.pid"
echo $$ >"$1/hook.pid"
wait
EOF
	cat >"$T/fail.sh" <<'EOF'
#!/bin/sh
echo "cannot reach the mail server" >&2
echo 'second "quoted" line' >&2
exit 3
EOF
	# Holds its slot until $1/release exists (at most 20 s), and notes
	# in $1/overlaps when it found another one running.
	cat >"$T/gate.sh" <<'EOF'
#!/bin/sh
mkdir "$1/lock" 2>/dev/null || echo overlap >>"$1/overlaps"
echo $$ >>"$1/started"
i=0
while [ ! -e "$1/release" ] && [ $i -lt 400 ]; do
	sleep 0.05
	i=$((i + 1))
done
sleep 0.1
rmdir "$1/lock" 2>/dev/null
echo done >>"$1/done"
EOF
	chmod +x "$T"/*.sh
}

# start_with_config LINE...: watcherd with a config file of these lines.
start_with_config() {
	printf '%s\n' "$@" >"$T/watcherd.conf"
	start_test_watcherd --config "$T/watcherd.conf"
}

# caught_up FILE: watcherd's checksum of FILE is the file's (so every
# change before it has been seen, and its hooks started or queued).
caught_up() {
	[ "$(daemon_checksum "$1")" = "$(crc32 "$DAMNIT/$1")" ]
}

# watch_and_sync FILE: starts FILE's watch, or waits until it caught up.
watch_and_sync() {
	wait_until 5000 caught_up "$1" || fail "watcherd never caught up with $1"
}

status_is() {
	[ "$(status_of "$1")" = "$2" ]
}

# lines_at_least FILE N: FILE has N lines or more.
lines_at_least() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# files_at_least PATTERN N: N files in OUT match PATTERN.
files_at_least() {
	[ "$(count_files "$1")" -ge "$2" ]
}

count_files() {
	local pattern=$1 f n=0
	for f in "$OUT"/$pattern; do
		[ -e "$f" ] && n=$((n + 1))
	done
	echo "$n"
}

# next_run: waits (at most 5 s) for the one record.sh run to come, and moves
# its files to $T/seen/N.env and N.in; sets RUN to N.
RUN=0
next_run() {
	local f
	wait_until 5000 files_at_least '*.env' 1 ||
	    { show_log; fail "no hook run within 5 s"; return 1; }
	[ "$(count_files '*.env')" = 1 ] ||
	    fail "more than one run: $(ls "$OUT")" || return 1
	RUN=$((RUN + 1))
	f=$(ls "$OUT"/*.env)
	mv "$f" "$T/seen/$RUN.env"
	mv "${f%.env}.in" "$T/seen/$RUN.in"
}

# env_of N NAME: the value of NAME in run N's environment.
env_of() {
	sed -n "s/^$2=//p" "$T/seen/$1.env"
}

# checksum_error_is FILE CODE: a checksum request for FILE fails with CODE.
checksum_error_is() {
	[ "$(json_get "$(send "$(req checksum 1111 "$1")")" .error)" = "$2" ]
}

@test "a hook runs with the change's proposal, file, checksum and event, and no other environment" {
	export HOOK_TEST_CANARY=must-not-leak
	start_with_config "hook = *.log record.sh-is-not-in-path" \
	    "hook = *.log $T/record.sh $OUT"
	watch_and_sync run.log
	printf 'a new line\n' >>"$LOGFILE"
	watch_and_sync run.log
	next_run
	[ "$(env_of 1 PROPOSAL)" = 1111 ]
	[ "$(env_of 1 FILE_NAME)" = run.log ]
	[ "$(env_of 1 FILE_PATH)" = "$DAMNIT/run.log" ]
	[ "$(env_of 1 EVENT)" = changed ]
	[ "$(env_of 1 PATH)" = /usr/local/bin:/usr/bin:/bin ]
	sum=$(timeout 10 "$WATCHERCTL" --socket "$SOCK" checksum 1111 run.log |
	    cut -d' ' -f1)
	[ "$(env_of 1 CHECKSUM)" = "$sum" ]
	[ "$sum" = "$(crc32 "$LOGFILE")" ]
	# Only what watcherd sets (and PWD, which the shell adds itself).
	[ "$(cut -d= -f1 "$T/seen/1.env" | grep -vx PWD | sort | tr '\n' ' ')" = \
	    "CHECKSUM EVENT FILE_NAME FILE_PATH PATH PROPOSAL " ] ||
	    fail "environment: $(cat "$T/seen/1.env")"
	[ ! -s "$T/seen/1.in" ] || fail "stdin was not empty"
	log_has 'event=hook_exit hook="[^"]*record.sh" proposal=1111 file="run.log" change=changed status=0 duration_ms=[0-9]+'
	# A command without '/' is looked up in that PATH only.
	log_has 'event=hook_spawn_failed hook="record.sh-is-not-in-path".*reason="command not found'

	rm "$LOGFILE"
	next_run
	[ "$(env_of 2 EVENT)" = deleted ]
	[ "$(env_of 2 CHECKSUM)" = "" ]
	[ "$(env_of 2 FILE_NAME)" = run.log ]
	status_is hooks_run 2
	status_is hooks_failed 2
}

@test "a hook_match hook fires only when a matching line is appended, and gets exactly those lines" {
	start_with_config "hook_match = *.log ERROR|Traceback" \
	    "hook = *.log $T/record.sh $OUT"
	watch_and_sync run.log
	printf 'all good\nstill fine, no error here\n' >>"$LOGFILE"
	watch_and_sync run.log
	status_is hooks_run 0
	status_is hooks_queued 0
	[ "$(count_files '*')" = 0 ]

	printf 'ERROR: disk full\nfine again\nTraceback (most recent call last):\n' >>"$LOGFILE"
	watch_and_sync run.log
	next_run
	[ "$(cat "$T/seen/1.in")" = "$(printf 'ERROR: disk full\nTraceback (most recent call last):')" ]
	[ "$(tail -c 1 "$T/seen/1.in" | od -An -c | tr -d ' ')" = '\n' ]
	[ "$(env_of 1 EVENT)" = changed ]

	# A line counts once it is complete.
	printf 'ERROR: half' >>"$LOGFILE"
	watch_and_sync run.log
	status_is hooks_run 1
	printf ' a line\nok\n' >>"$LOGFILE"
	watch_and_sync run.log
	next_run
	[ "$(cat "$T/seen/2.in")" = "ERROR: half a line" ]

	# A deletion never fires a hook_match hook; a new file's lines are
	# all new.
	rm "$LOGFILE"
	wait_until 2000 checksum_error_is run.log not_found
	printf 'ok\nTraceback again\n' >"$T/new.log"
	mv "$T/new.log" "$LOGFILE"
	watch_and_sync run.log
	next_run
	[ "$(cat "$T/seen/3.in")" = "Traceback again" ]
	[ "$(env_of 3 EVENT)" = created ]
	status_is hooks_run 3
}

@test "a hanging hook is killed with its process group at hook-timeout, and the daemon serves meanwhile" {
	start_with_config "hook-timeout = 1" "hook_match = *.log ERROR" \
	    "hook = *.log $T/hang.sh $OUT"
	watch_and_sync run.log
	# Far more matching lines than a pipe holds, for a hook that never
	# reads them: watcherd must not wait for it.
	python3 -c 'import sys
open(sys.argv[1], "a").write("".join("ERROR %05d %s\n" % (i, "x" * 80)
    for i in range(2500)))' "$LOGFILE"
	wait_until 5000 [ -s "$OUT/hook.pid" ] || { show_log; fail "the hook did not start"; }
	wait_until 2000 [ -s "$OUT/child.pid" ]
	hook=$(cat "$OUT/hook.pid") child=$(cat "$OUT/child.pid")
	pid_alive "$hook"
	watcherd_answers
	watch_and_sync run.log
	[ "$(status_of hooks_running)" -ge 1 ]

	wait_until 5000 log_has 'event=hook_killed hook="[^"]*hang.sh" proposal=1111 file="run.log" change=changed reason=timeout timeout_s=1' ||
	    { show_log; fail "no hook_killed in the log"; }
	wait_until 2000 pid_gone "$hook" || fail "the hook $hook survived"
	wait_until 2000 pid_gone "$child" || fail "the hook's child $child survived"
	watcherd_answers
	wait_until 2000 status_is hooks_running 0
	[ "$(status_of hooks_killed)" = "$(status_of hooks_run)" ]
	[ "$(status_of hooks_killed)" -ge 1 ]
	status_is hooks_failed 0
	watch_and_sync run.log
}

@test "a failing hook is logged with its status and stderr, and the daemon keeps serving" {
	start_with_config "hook = *.log $T/fail.sh"
	watch_and_sync run.log
	printf 'one\n' >>"$LOGFILE"
	wait_until 5000 log_has 'event=hook_failed hook="[^"]*fail.sh" proposal=1111 file="run.log" change=changed status=3 duration_ms=[0-9]+' ||
	    { show_log; fail "no hook_failed with status 3"; }
	log_has 'event=hook_stderr hook="[^"]*fail.sh" proposal=1111 file="run.log" change=changed line="cannot reach the mail server"$'
	grep -qF 'line="second \"quoted\" line"' "$LOG" || { show_log; fail "stderr's quotes were not escaped"; }
	status_is hooks_failed 1
	watcherd_answers
	watch_and_sync run.log
	# It fires again for the next change.
	printf 'two\n' >>"$LOGFILE"
	wait_until 5000 status_is hooks_failed 2
	status_is hooks_running 0
	[ "$(daemon_checksum context.py)" = "$(crc32 "$DAMNIT/context.py")" ]
}

# change_log N: appends N lines, one change each, every one seen.
change_log() {
	local i
	for i in $(seq "$1"); do
		printf 'line %s\n' "$i" >>"$LOGFILE"
		watch_and_sync run.log
	done
}

@test "no more than hook-max-running hooks run at once; the others wait their turn" {
	start_with_config "hook-max-running = 1" "hook = *.log $T/gate.sh $OUT"
	watch_and_sync run.log
	change_log 3
	wait_until 5000 [ -s "$OUT/started" ]
	status_is hooks_running 1
	status_is hooks_queued 2
	[ "$(wc -l <"$OUT/started")" = 1 ]
	touch "$OUT/release"
	wait_until 10000 lines_at_least "$OUT/done" 3 ||
	    { show_log; fail "three runs did not finish"; }
	wait_until 2000 status_is hooks_running 0
	status_is hooks_run 3
	status_is hooks_queued 0
	[ ! -e "$OUT/overlaps" ] || fail "hooks overlapped"
}

@test "a run beyond hook-queue is dropped, logged and counted" {
	start_with_config "hook-max-running = 1" "hook-queue = 1" \
	    "hook = *.log $T/gate.sh $OUT"
	watch_and_sync run.log
	change_log 3
	status_is hooks_running 1
	status_is hooks_queued 1
	status_is hooks_dropped 1
	log_has 'level=warn event=hook_dropped hook="[^"]*gate.sh" proposal=1111 file="run.log" change=changed reason="hook-queue is full"'
	touch "$OUT/release"
	wait_until 10000 lines_at_least "$OUT/done" 2
	wait_until 2000 status_is hooks_running 0
	status_is hooks_run 2
	[ ! -e "$OUT/overlaps" ]
}

@test "a bad hook-match regex stops watcherd from starting, and a reload from replacing working hooks" {
	printf 'hook = *.log /bin/true\nhook_match = *.log ERROR(\n' >"$T/bad.conf"
	run timeout 10 "$WATCHERD" --foreground --socket "$SOCK" \
	    --data-root "$T/data" --config "$T/bad.conf"
	[ "$status" = 2 ]
	[[ "$output" == *"bad.conf:2: bad regex 'ERROR(' in hook-match"* ]] || fail "$output"
	[ ! -S "$SOCK" ]

	start_with_config "hook = *.log $T/record.sh $OUT"
	watch_and_sync run.log
	cp "$T/bad.conf" "$T/watcherd.conf"
	kill -HUP "$WATCHERD_PID"
	wait_until 2000 log_has 'event=reload_failed.*bad regex' || { show_log; false; }
	printf 'after the failed reload\n' >>"$LOGFILE"
	watch_and_sync run.log
	next_run
	# A good reload replaces the hooks.
	printf 'hook = context.py %s %s\n' "$T/record.sh" "$OUT" >"$T/watcherd.conf"
	kill -HUP "$WATCHERD_PID"
	wait_until 2000 log_has 'event=reloaded' || { show_log; false; }
	printf 'after the good reload\n' >>"$LOGFILE"
	watch_and_sync run.log
	status_is hooks_run 1
	[ "$(count_files '*')" = 0 ]
}
