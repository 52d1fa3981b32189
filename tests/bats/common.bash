# Sourced by every helper library (helpers.bash for the watcherd suites,
# web_helpers.bash for cgi.bats and lighttpd.bats, apache_helpers.bash for
# apache.bats): where the binaries are, the sanitizer settings, bounded
# waits, process handling, the private copy of the demo tree, starting
# and stopping watcherd, and requests on its socket.
#
# Environment: BUILD_DIR (default "build"; "build/asan" for the sanitizer
# run), relative to the repository root unless absolute.

# Paths: the repository, the build and the binaries in it.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in
/*) BUILD_PATH="$BUILD_DIR" ;;
*) BUILD_PATH="$REPO_ROOT/$BUILD_DIR" ;;
esac
WATCHERD="$BUILD_PATH/watcherd"
WATCHERCTL="$BUILD_PATH/watcherctl"
HANDLER="$BUILD_PATH/filehandler.fcgi"
# The demo proposal's amore directory, relative to the data tree.
DAMNIT_REL="SPB/202601/p001111/usr/Shared/amore"

# pid_alive and free_port.
source "$REPO_ROOT/tests/host.bash"

# The sanitizers: SANITIZED=1 under a sanitizer build. A process that
# exits by itself checks for leaks (ASAN_EXIT_OPTIONS); one that is killed
# by its parent cannot (ASAN_KILLED_OPTIONS). Any report fails the test.
SANITIZED=0
case "$BUILD_DIR" in
*asan*|*tsan*) SANITIZED=1 ;;
esac
# ThreadSanitizer (build/tsan): the first data race ends the process, and
# its report in the log fails the test.
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1"
ASAN_EXIT_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
ASAN_KILLED_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=99"
UBSAN_HALT_OPTIONS="print_stacktrace=1:halt_on_error=1"
SANITIZER_PATTERN='AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error'
# How long watcherd may take to exit (its leak check takes a moment).
WATCHERD_STOP_MS=5000
[ "$SANITIZED" = 1 ] && WATCHERD_STOP_MS=15000

# Prints its arguments on stderr and fails.
fail() {
	printf '%s\n' "$*" >&2
	return 1
}

# Wall-clock milliseconds, without a fork: fine for latencies and bounds.
now_ms() {
	# EPOCHREALTIME's separator follows the locale: keep the digits only.
	local us=${EPOCHREALTIME//[!0-9]/}
	if [ -z "$us" ]; then
		us=$(date +%s%N)
		us=$((us / 1000))
	fi
	echo $((us / 1000))
}

# wait_until TIMEOUT_MS COMMAND...: runs COMMAND every 20 ms until it
# succeeds (0) or the time is up (1).
wait_until() {
	local deadline=$(($(now_ms) + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}

# pid_gone PID: the opposite of pid_alive.
pid_gone() {
	! pid_alive "$1"
}

# end_pid PID [TIMEOUT_MS [SIGNAL [NAME]]]: SIGNAL (TERM), at most
# TIMEOUT_MS (5000) to go, then KILL; fails when KILL was needed. Sets
# END_PID_STATUS to the exit status (127 when PID is not our child).
end_pid() {
	local pid=$1 timeout_ms=${2:-5000} sig=${3:-TERM} name=${4:-process $1}
	END_PID_STATUS=
	[ -n "$pid" ] || return 0
	# A test that failed while the process was stopped leaves it stopped.
	# SIGCONT goes first: sent later it would discard the SIGSTOP with
	# which LeakSanitizer's exit-time check suspends the process, and
	# that check would then wait for ever.
	kill -CONT "$pid" 2>/dev/null || true
	kill "-$sig" "$pid" 2>/dev/null || true
	if ! wait_until "$timeout_ms" pid_gone "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait_until 2000 pid_gone "$pid" || true
		wait "$pid" 2>/dev/null || true
		fail "$name did not exit within $((timeout_ms / 1000)) s of SIG$sig"
		return 1
	fi
	END_PID_STATUS=0
	wait "$pid" 2>/dev/null || END_PID_STATUS=$?
}

# Starts "$@" in a process group of its own, stdin from /dev/null unless
# redirected by the caller, and records it in $T/pids for kill_spawned
# (which teardown calls). Sets SPAWNED.
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

# run_every COMMAND...: runs each COMMAND (a command line, split on
# blanks), the later ones also when an earlier one failed; fails when one
# did. For teardowns, which must end everything whatever went wrong.
run_every() {
	local command failed=0
	for command; do
		$command || failed=1
	done
	return "$failed"
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

# crc32 FILE: zlib's CRC-32 as 8 lowercase hex digits, computed
# independently of watcherd.
crc32() {
	python3 -c 'import sys, zlib
print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()))' "$1"
}

# no_sanitizer_report FILE: FILE holds no sanitizer report.
no_sanitizer_report() {
	! grep -Eq -- "$SANITIZER_PATTERN" "$1"
}

# need_executable PATH WHAT: fails unless PATH is an executable (built).
need_executable() {
	[ -x "$1" ] || fail "no $2 at $1 (run make first)"
}

# make_fixture_dir NAME: a new temporary directory in T (short, for socket
# paths) with a private copy of the demo tree; sets DAMNIT in it.
make_fixture_dir() {
	T="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")" ||
	    fail "cannot create a temporary directory" || return 1
	cp -a "$REPO_ROOT/data" "$T/data" ||
	    fail "cannot copy $REPO_ROOT/data to $T" || return 1
	DAMNIT="$T/data/$DAMNIT_REL"
}

# show_tail FILE...: the end of each FILE on stderr, for a failure report.
show_tail() {
	local f
	for f in "$@"; do
		echo "--- $f ---" >&2
		tail -n 60 "$f" >&2 2>/dev/null
	done
	return 0
}

# What an answer tells a browser (DESIGN.md section 7).

# csp_directive POLICY NAME: the value of directive NAME of the
# Content-Security-Policy POLICY; fails when it has none.
csp_directive() {
	local d
	local -a ds
	IFS=';' read -ra ds <<<"$1"
	for d in "${ds[@]}"; do
		d=${d#"${d%%[! ]*}"}
		if [ "${d%% *}" = "$2" ]; then
			printf '%s\n' "${d#"$2"}" | sed 's/^ *//'
			return 0
		fi
	done
	return 1
}

# expect_browser_headers FILE api|page: the answer whose header lines are
# in FILE carries Content-Security-Policy, X-Content-Type-Options nosniff
# and Referrer-Policy same-origin, each once. The handler's answers (api)
# are data: their policy allows nothing. The page's (page) runs its own
# scripts only, none inline, talks to its own site only, and no other page
# may frame it; only style elements may be inline (the editor writes one).
expect_browser_headers() {
	local file=$1 kind=$2 name n csp v
	for name in Content-Security-Policy X-Content-Type-Options Referrer-Policy; do
		n=$(grep -ci "^$name:" "$file")
		[ "$n" = 1 ] || fail "$name $n times, not once" || return 1
	done
	v=$(sed -n 's/^x-content-type-options: *//Ip' "$file" | tr -d '\r')
	[ "$v" = nosniff ] || fail "X-Content-Type-Options is '$v'" || return 1
	v=$(sed -n 's/^referrer-policy: *//Ip' "$file" | tr -d '\r')
	[ "$v" = same-origin ] || fail "Referrer-Policy is '$v'" || return 1
	csp=$(sed -n 's/^content-security-policy: *//Ip' "$file" | tr -d '\r')
	if [ "$kind" = api ]; then
		[ "$csp" = "default-src 'none'; frame-ancestors 'none'" ] ||
		    fail "the handler's policy is '$csp'" || return 1
		return 0
	fi
	for name in default-src:"'none'" script-src:"'self'" \
	    connect-src:"'self'" style-src:"'self'" \
	    style-src-elem:"'self' 'unsafe-inline'" base-uri:"'none'" \
	    frame-ancestors:"'none'"; do
		v=$(csp_directive "$csp" "${name%%:*}") &&
		    [ "$v" = "${name#*:}" ] ||
		    fail "the page's ${name%%:*} is '$v', not ${name#*:}: $csp" ||
		    return 1
	done
	for name in script-src-elem script-src-attr style-src-attr; do
		! csp_directive "$csp" "$name" >/dev/null ||
		    fail "the page's policy has $name: $csp" || return 1
	done
	[[ "$csp" != *unsafe-eval* ]] || fail "the page's policy allows eval: $csp"
}

# watcherd_answers: the watcherd on $SOCK answers a ping.
watcherd_answers() {
	[ -S "$SOCK" ] || return 1
	printf '{"cmd":"ping"}\n' | socat -t 1 - "UNIX-CONNECT:$SOCK" 2>/dev/null |
	    grep -q '"ok":true'
}

# launch_watcherd LOG [FLAGS...]: starts watcherd in the foreground on $SOCK
# and $T/data (through the command in the array WATCHERD_WRAP, if any; its
# stderr appended to LOG) and waits at most WATCHERD_START_MS (5000) until
# it answers a ping. Sets LAUNCHED_PID (empty when it exited at start-up).
launch_watcherd() {
	local log=$1 deadline start_ms=${WATCHERD_START_MS:-5000}
	shift
	ASAN_OPTIONS="$ASAN_EXIT_OPTIONS" UBSAN_OPTIONS="$UBSAN_HALT_OPTIONS" \
	    "${WATCHERD_WRAP[@]}" "$WATCHERD" --foreground --socket "$SOCK" \
	    --data-root "$T/data" --access open "$@" </dev/null >/dev/null \
	    2>>"$log" 3>&- &
	LAUNCHED_PID=$!
	deadline=$(($(now_ms) + start_ms))
	until watcherd_answers; do
		if pid_gone "$LAUNCHED_PID"; then
			wait "$LAUNCHED_PID" 2>/dev/null || true
			LAUNCHED_PID=
			show_tail "$log"
			fail "watcherd $* exited at start-up"
			return 1
		fi
		if [ "$(now_ms)" -ge "$deadline" ]; then
			show_tail "$log"
			fail "watcherd $* did not answer a ping within $((start_ms / 1000)) s"
			return 1
		fi
		sleep 0.02
	done
}

# watcherd_pid: the pid of the watcherd recorded in $T/watcherd.pid (the
# suites that share one watcherd per file, restarted by tests).
watcherd_pid() {
	cat "$T/watcherd.pid" 2>/dev/null
}

# stop_recorded_watcherd [SIGNAL]: ends the watcherd of $T/watcherd.pid with
# SIGNAL (TERM) and a bounded wait.
stop_recorded_watcherd() {
	local pid
	pid=$(watcherd_pid)
	[ -n "$pid" ] || return 0
	rm -f "$T/watcherd.pid"
	end_pid "$pid" "$WATCHERD_STOP_MS" "${1:-TERM}" watcherd
}

# The socket protocol, on $SOCK.

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

# subscribe FILE: a subscriber (socat, spawned) to FILE of $PROPOSAL (1111)
# whose lines go to SUB_OUT; waits (at most 2 s) for its reply. Sets
# SUB_OUT and SUB_PID.
SUB_COUNT=0
subscribe() {
	local request
	SUB_COUNT=$((SUB_COUNT + 1))
	SUB_OUT="$T/sub.$SUB_COUNT.out"
	request=$(req subscribe "${PROPOSAL:-1111}" "$1")
	spawn bash -c '{ printf "%s\n" "$1"; exec sleep 60; } |
	    exec socat -t 2 - "UNIX-CONNECT:$2"' _ "$request" "$SOCK" \
	    </dev/null >"$SUB_OUT" 2>&1
	SUB_PID=$SPAWNED
	wait_until 2000 grep -q '"ok"' "$SUB_OUT" ||
	    fail "the subscription to $1 got no reply: $(cat "$SUB_OUT")"
}

# checksum_is PROPOSAL FILE CRC: watcherd answers CRC for FILE now (a
# function, so that wait_until asks again each time).
checksum_is() {
	[ "$(json_get "$(send "$(req checksum "$1" "$2")")" .checksum)" = "$3" ]
}

# watched FILE [PROPOSAL]: list holds a watch for FILE of PROPOSAL (1111).
watched() {
	send '{"cmd":"list"}' | jq -e --arg f "$1" --argjson p "${2:-1111}" \
	    'any(.watches[]; .proposal == $p and .file_name == $f)' >/dev/null
}

# watcherd without root, for the suites where permissions must count (root
# bypasses them).

# The account: nobody and nogroup, by number.
UNPRIV_UID=65534
UNPRIV_GID=65534

# unprivileged_watcherd [SETPRIV_OPTION]...: launch_watcherd will start
# watcherd as UNPRIV_UID:UNPRIV_GID without supplementary groups, on a socket in
# $T/sock (a directory of that user; sets SOCK), with T and the data tree
# readable to it.
unprivileged_watcherd() {
	chmod 0755 "$T" && chmod -R a+rX "$T/data" || return 1
	mkdir -p "$T/sock" && chown "$UNPRIV_UID:$UNPRIV_GID" "$T/sock" ||
	    return 1
	SOCK="$T/sock/watcherd.sock"
	WATCHERD_WRAP=(setpriv --reuid="$UNPRIV_UID" --regid="$UNPRIV_GID"
	    --clear-groups "$@" --)
}

# unprivileged_watcherd_with_creds: the same, with CAP_SETUID and
# CAP_SETGID (ambient, as the shipped unit grants them) and no other
# capability, which access = unix needs.
unprivileged_watcherd_with_creds() {
	unprivileged_watcherd --inh-caps=-all,+setuid,+setgid \
	    --ambient-caps=-all,+setuid,+setgid --bounding-set=-all,+setuid,+setgid
}

# process_uid PID: the real uid a process runs as.
process_uid() {
	awk '/^Uid:/ { print $2 }' "/proc/$1/status"
}

# Access per proposal with real accounts (access = unix, DESIGN.md section
# 7), for the web suites on the demo tree. Every name starts with a PREFIX
# of the suite's own, so that suites running at once do not meet:
# PREFIXalice is a member of the proposal's group PREFIXp1111, PREFIXbob is
# not.

# unix_accounts_add PREFIX: the group and the accounts (no home, no shell,
# primary group "users"), after removing what an aborted run left.
unix_accounts_add() {
	unix_accounts_remove "$1" || return 1
	groupadd "${1}p1111" &&
	    useradd -M -N -g users -G "${1}p1111" -d /nonexistent \
	    -s /usr/sbin/nologin "${1}alice" &&
	    useradd -M -N -g users -d /nonexistent -s /usr/sbin/nologin "${1}bob"
}

# unix_accounts_remove PREFIX: removes them, whichever exist.
unix_accounts_remove() {
	local u failed=0
	for u in "${1}alice" "${1}bob"; do
		if getent passwd "$u" >/dev/null; then
			userdel "$u" || failed=1
		fi
	done
	if getent group "${1}p1111" >/dev/null; then
		groupdel "${1}p1111" || failed=1
	fi
	return "$failed"
}

# unix_proposals PREFIX: proposal 1111 for its group only (p001111
# root:PREFIXp1111, directories 2750 and files 0640 from it down; symbolic
# links keep pointing where they did), and proposal 2222 (p002222, one
# context.py of its own) open to everybody.
unix_proposals() {
	local p1=$T/data/SPB/202601/p001111 p2=$T/data/SPB/202601/p002222
	chown -R "root:${1}p1111" "$p1" &&
	    find "$p1" -type d -exec chmod 2750 {} + &&
	    find "$p1" -type f -exec chmod 0640 {} + || return 1
	mkdir -p "$p2/usr/Shared/amore" &&
	    printf '# proposal 2222: open to everybody\n' \
	    >"$p2/usr/Shared/amore/context.py" &&
	    chmod -R u=rwX,go=rX "$p2"
}

# unix_proposals_undo: proposal 1111 open again (as copied), 2222 gone.
unix_proposals_undo() {
	local p1=$T/data/SPB/202601/p001111
	rm -rf "$T/data/SPB/202601/p002222"
	[ -d "$p1" ] || return 0
	chown -R root:root "$p1" && chmod -R u=rwX,go=rX,g-s "$p1"
}

# save_leftovers DIR...: the temporary files of watcherd's saves
# (.NAME.save-XXXXXXXXXXXX, DESIGN.md section 8) in DIR and below, one a
# line; nothing when there are none.
save_leftovers() {
	find "$@" -name '.*.save-*' -print 2>/dev/null
}

# status_of KEY: one field of watcherd's status.
status_of() {
	json_get "$(send '{"cmd":"status"}')" ".$1"
}

# counters_are K=V...: status has these values.
counters_are() {
	local s kv
	s=$(send '{"cmd":"status"}')
	for kv in "$@"; do
		[ "$(json_get "$s" ".${kv%%=*}")" = "${kv#*=}" ] ||
		    fail "status ${kv%%=*} is $(json_get "$s" ".${kv%%=*}"), not ${kv#*=}" ||
		    return 1
	done
}

# log_has REGEX: watcherd's log ($LOG) has a line matching REGEX.
log_has() {
	grep -qE -- "$1" "$LOG"
}

# log_lines_whole FILE: every line of watcherd's log FILE is one of its
# own ("watcherd: level=", after a journal priority if any) and holds no
# control byte: nothing a request carried started a line or broke one.
log_lines_whole() {
	local stray
	! stray=$(LC_ALL=C grep -nvE '^(<[0-7]>)?watcherd: level=' "$1") ||
	    fail "lines watcherd did not start: $stray" || return 1
	! stray=$(LC_ALL=C grep -naP '[\x00-\x08\x0b-\x1f\x7f]' "$1") ||
	    fail "control bytes in the log: $stray"
}

# A file system that stops answering on demand (tests/tools/stallfs).

# mount_stallfs: proposal 2222 (SPB/202601/p002222) on a FUSE mount of
# $T/backing holding a context.py; waits (at most 5 s) for the mount.
# Sets STALLFS_PID, MNT, BACKING and FUSE_FILE; unmount_stallfs undoes it.
mount_stallfs() {
	local stallfs="$BUILD_PATH/tools/stallfs"
	need_executable "$stallfs" stallfs || return 1
	[ -c /dev/fuse ] || fail "no /dev/fuse on this machine" || return 1
	BACKING="$T/backing"
	MNT="$T/data/SPB/202601/p002222"
	mkdir -p "$BACKING/usr/Shared/amore" "$MNT"
	printf 'remote = 1\n' >"$BACKING/usr/Shared/amore/context.py"
	FUSE_FILE="$BACKING/usr/Shared/amore/context.py"
	spawn "$stallfs" "$BACKING" "$MNT" </dev/null 2>>"$T/stallfs.log"
	STALLFS_PID=$SPAWNED
	wait_until 5000 is_fuse "$MNT" ||
	    fail "stallfs did not mount $MNT: $(cat "$T/stallfs.log")"
}

is_fuse() {
	[ "$(stat -f -c %t "$1" 2>/dev/null)" = 65735546 ]
}

# freeze, thaw: the mount stops answering (until it is thawed).
freeze() {
	kill -USR1 "$STALLFS_PID"
	wait_until 2000 grep -q "frozen" "$T/stallfs.log"
}

thaw() {
	kill -USR2 "$STALLFS_PID"
}

# unmount_stallfs: whatever happened, thawed first so that nothing stays
# blocked in the mount, then unmounted.
unmount_stallfs() {
	[ -n "${STALLFS_PID:-}" ] || return 0
	kill -USR2 "$STALLFS_PID" 2>/dev/null || true
	umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
}
