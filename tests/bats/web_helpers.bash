# Shared by the suites of the HTTP face (cgi.bats, lighttpd.bats): one
# temporary directory per test file with a copy of the demo tree, a real
# watcherd on a UNIX socket in it, the handler run as plain CGI or under a
# real lighttpd (lighttpd.conf.sample, verbatim) on a free loopback port,
# and a teardown that ends every process it started, checks that no handler
# process is left behind and fails on any sanitizer report.
#
# What all suites share is in common.bash.
#
# Environment: BUILD_DIR (default "build"; "build/asan" for the sanitizer
# run), relative to the repository root unless absolute.

source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

LIGHTTPD_CONF="$REPO_ROOT/lighttpd.conf.sample"
PREFIX=/filehandler

# Under the sanitizer build: watcherd and the handler run as CGI check for
# leaks at exit (ASAN_EXIT_OPTIONS); the handler under lighttpd is killed by
# lighttpd, so its leak check is off (ASAN_KILLED_OPTIONS), but its reports
# still reach lighttpd's stderr ($T/lighttpd.out), which is checked like
# every log.

# The fixture: T (short, for socket paths), a copy of the demo tree, a file
# outside it whose marker must never be served, and the directories lighttpd
# needs. Everything is exported for the tests.
web_setup_file() {
	export T SOCK DAMNIT SECRET SECRET_MARKER
	need_executable "$WATCHERD" watcherd || return 1
	need_executable "$HANDLER" handler || return 1
	make_fixture_dir fh-web || return 1
	SOCK="$T/watcherd.sock"
	SECRET="$T/secret.log"
	SECRET_MARKER="SECRET-MARKER-$RANDOM$RANDOM"
	printf '%s\n' "$SECRET_MARKER" >"$SECRET"
	mkdir -m 0700 "$T/run" "$T/www"
	: >"$T/watcherd.log"
	: >"$T/cgi.log"
}

# Stops what runs, checks every log for sanitizer reports and removes T.
web_teardown_file() {
	local failed=0
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	stop_lighttpd || failed=1
	stop_web_watcherd || failed=1
	logs_clean all || failed=1
	rm -rf "$T"
	return "$failed"
}

# For the suites with a fresh tree and watcherd per test (faults.bats,
# socket_peers.bats): their setup and teardown.
web_setup_each() {
	web_setup_file && : >"$T/pids"
}

web_teardown_each() {
	[ -n "${T:-}" ] || return 0
	kill_spawned
	web_teardown_file
}

# web_default_hooks: defines the hooks of a suite whose tests share the
# tree and the processes its setup_file starts: teardown_file ends them
# (web_teardown_file), setup and teardown check each test's logs (web_setup,
# web_teardown). A suite calls it before its own hooks, which then replace
# these.
web_default_hooks() {
	teardown_file() { web_teardown_file; }
	setup() { web_setup; }
	teardown() { web_teardown; }
}

# Per test: remember how far every log goes, so that a sanitizer report
# fails the test that caused it and only that one.
declare -gA WEB_LOG_MARK
web_setup() {
	local f
	WEB_LOG_MARK=()
	for f in "$T"/*.log "$T"/*.out; do
		[ -f "$f" ] && WEB_LOG_MARK[$f]=$(stat -c %s "$f")
	done
	return 0
}

web_teardown() {
	logs_clean new
}

# logs_clean new|all: no sanitizer report in the logs (new: since
# web_setup). Prints the report otherwise.
logs_clean() {
	local f off bad=0
	for f in "$T"/*.log "$T"/*.out; do
		[ -f "$f" ] || continue
		off=0
		[ "$1" = new ] && off=${WEB_LOG_MARK[$f]:-0}
		if tail -c +"$((off + 1))" "$f" | grep -Eq "$SANITIZER_PATTERN"; then
			echo "--- sanitizer report in $f ---" >&2
			tail -c +"$((off + 1))" "$f" | grep -E -A 30 "$SANITIZER_PATTERN" | head -n 80 >&2
			bad=1
		fi
	done
	return "$bad"
}

# watcherd.

# start_web_watcherd [flags...]: watcherd in the foreground on $SOCK and the
# test's tree; waits at most 5 s for it to answer a ping. Its pid is kept in
# a file, so that a test may restart it and teardown_file still ends it.
start_web_watcherd() {
	local rc=0
	launch_watcherd "$T/watcherd.log" "$@" || rc=$?
	[ -n "$LAUNCHED_PID" ] && echo "$LAUNCHED_PID" >"$T/watcherd.pid"
	printf '%s' "$*" >"$T/watcherd.flags"
	return "$rc"
}

# SIGTERM and a bounded wait (longer under the sanitizers, whose leak check
# takes a moment).
stop_web_watcherd() {
	stop_recorded_watcherd
}

# restart_web_watcherd [flags...]: the same, with other flags.
restart_web_watcherd() {
	stop_web_watcherd && start_web_watcherd "$@"
}

# Back to a watcherd with the default flags, when a test left another one
# (or none) behind.
ensure_default_watcherd() {
	if [ -s "$T/watcherd.flags" ] || ! watcherd_answers; then
		restart_web_watcherd
	fi
}

# SIGKILL: no clean-up, the socket file stays behind.
kill_watcherd_hard() {
	stop_recorded_watcherd KILL
}

# lighttpd. The suites run one, "lighttpd"; scaleout.bats runs one per
# node, each with a NAME of its own: its pid in $T/NAME.pid.bats, its
# stdout and stderr in $T/NAME.out, its error log in $T/NAME-error.log and
# its FastCGI sockets in $T/NAME-run ($T/run for "lighttpd").

lighttpd_pid() {
	cat "$T/${1:-lighttpd}.pid.bats" 2>/dev/null
}

# The run directory of the lighttpd NAME.
lighttpd_run_dir() {
	if [ "${1:-lighttpd}" = lighttpd ]; then
		echo "$T/run"
	else
		echo "$T/$1-run"
	fi
}

lighttpd_answers() {
	[ "$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' \
	    "http://127.0.0.1:$PORT$PREFIX/health")" = 200 ]
}

# start_lighttpd [NAME]: starts lighttpd -D with lighttpd.conf.sample on a
# free loopback port (a new one when another program took it meanwhile,
# three tries), in front of the watcherd on $SOCK, and waits at most 5 s
# until /health answers 200. Exports PORT.
start_lighttpd() {
	local name=${1:-lighttpd} try pid deadline run out errlog
	export PORT
	run=$(lighttpd_run_dir "$name")
	out="$T/$name.out" errlog="$T/$name-error.log"
	[ -d "$run" ] || mkdir -m 0700 "$run" || return 1
	for try in 1 2 3; do
		PORT=$(free_port)
		FILEHANDLER_BIND=127.0.0.1 FILEHANDLER_PORT="$PORT" \
		    FILEHANDLER_BIN="$HANDLER" WATCHERD_SOCKET="$SOCK" \
		    FILEHANDLER_RUN_DIR="$run" FILEHANDLER_DOCROOT="$T/www" \
		    FILEHANDLER_ERROR_LOG="$errlog" \
		    ASAN_OPTIONS="$ASAN_KILLED_OPTIONS" UBSAN_OPTIONS="$UBSAN_HALT_OPTIONS" \
		    lighttpd -D -f "$LIGHTTPD_CONF" </dev/null >>"$out" 2>&1 3>&- &
		pid=$!
		echo "$pid" >"$T/$name.pid.bats"
		deadline=$(($(now_ms) + 5000))
		until lighttpd_answers; do
			pid_alive "$pid" || break
			if [ "$(now_ms)" -ge "$deadline" ]; then
				show_tail "$out" "$errlog"
				fail "lighttpd did not answer /health within 5 s"
				return 1
			fi
			sleep 0.05
		done
		pid_alive "$pid" && return 0
		wait "$pid" 2>/dev/null || true
		rm -f "$T/$name.pid.bats"
		grep -qs bind "$out" "$errlog" || break
	done
	show_tail "$out" "$errlog"
	fail "lighttpd -f $LIGHTTPD_CONF did not start"
}

# stop_lighttpd [NAME]: stops lighttpd; it takes its FastCGI processes with
# it, which is checked: none may outlive it.
stop_lighttpd() {
	local name=${1:-lighttpd} pid children child failed=0
	pid=$(lighttpd_pid "$name") || return 0
	rm -f "$T/$name.pid.bats"
	children=$(pgrep -P "$pid" || true)
	end_pid "$pid" 5000 TERM lighttpd || failed=1
	for child in $children; do
		if ! wait_until 2000 pid_gone "$child"; then
			kill -KILL "$child" 2>/dev/null || true
			fail "filehandler.fcgi $child outlived lighttpd"
			failed=1
		fi
	done
	return "$failed"
}

# The requests. Each one leaves its status in STATUS, its header lines in
# $T/h and its body in $T/b.

# header NAME: the value of the answer's header NAME (case-insensitive);
# fails when absent.
header() {
	local line name want=${1,,}
	while IFS= read -r line; do
		line=${line%$'\r'}
		[[ "$line" == *:* ]] || continue
		name=${line%%:*}
		if [ "${name,,}" = "$want" ]; then
			line=${line#*:}
			printf '%s\n' "${line# }"
			return 0
		fi
	done <"$T/h"
	return 1
}

body() {
	cat "$T/b"
}

# jqb FILTER: jq -r FILTER on the body.
jqb() {
	jq -r "$1" "$T/b"
}

expect_status() {
	[ "$STATUS" = "$1" ] ||
	    fail "expected status $1, got $STATUS: $(head -c 400 "$T/b")"
}

# expect_error STATUS REGEX: that status, a JSON body {"detail":...} whose
# detail matches REGEX (extended, case-insensitive), Content-Type JSON.
expect_error() {
	local detail
	expect_status "$1" || return 1
	detail=$(jq -r '.detail | strings' "$T/b" 2>/dev/null) ||
	    fail "the body is not {\"detail\":...}: $(head -c 400 "$T/b")" || return 1
	[ -n "$detail" ] || fail "no detail in: $(head -c 400 "$T/b")" || return 1
	grep -Eqi -- "$2" <<<"$detail" ||
	    fail "detail \"$detail\" does not match /$2/" || return 1
	[ "$(header Content-Type)" = application/json ] ||
	    fail "Content-Type is not application/json"
}

# expect_file_content_head CRC: the last answer (a file_content 200) has the
# contract's headers for a file whose CRC-32 is CRC and exactly its keys.
expect_file_content_head() {
	local crc=$1
	[ "$(header Content-Type)" = application/json ] ||
	    fail "Content-Type is '$(header Content-Type)', not application/json" || return 1
	[ "$(header Cache-Control)" = no-cache ] ||
	    fail "Cache-Control is '$(header Cache-Control)', not no-cache" || return 1
	[ "$(header ETag)" = "\"$crc\"" ] ||
	    fail "ETag is '$(header ETag)', not \"$crc\"" || return 1
	[ "$(header X-Checksum)" = "$crc" ] ||
	    fail "X-Checksum is '$(header X-Checksum)', not $crc" || return 1
	[ "$(header Content-Length)" = "$(stat -c %s "$T/b")" ] ||
	    fail "Content-Length '$(header Content-Length)' is not the body's size" || return 1
	jq -e 'keys == ["checksum","content","encoding","file_name","mtime","proposal","size"]' "$T/b" ||
	    fail "not exactly the contract's keys: $(head -c 400 "$T/b")"
}

# split_answer FILE: splits a whole answer (CGI's "Status:" head or an HTTP
# status line, then header lines, an empty line and the body) into $T/h and
# $T/b, and sets STATUS. Answers are text (JSON): no NUL in them.
split_answer() {
	local raw head
	raw=$(cat "$1"; echo .)
	raw=${raw%.}
	head=${raw%%$'\r\n\r\n'*}
	[ "$head" != "$raw" ] || fail "no end of headers in: $raw" || return 1
	printf '%s\r\n' "$head" >"$T/h"
	printf '%s' "${raw#*$'\r\n\r\n'}" >"$T/b"
	STATUS=$(sed -n -e '1s/^HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' \
	    -e 's/^Status: \([0-9][0-9][0-9]\).*/\1/p' "$T/h")
	[ -n "$STATUS" ] || fail "no status in: $head"
}

# cgi METHOD URI [VAR=value...]: one request to the handler run as plain
# CGI, as a web server would: QUERY_STRING is URI's query, WATCHERD_SOCKET
# is $SOCK unless a VAR says otherwise; through the command in the array
# CGI_WRAP, if any. Fails when the handler exits with a status other
# than 0.
cgi() {
	local method=$1 uri=$2 query="" rc=0
	shift 2
	[[ "$uri" == *\?* ]] && query=${uri#*\?}
	env -i PATH="$PATH" REQUEST_METHOD="$method" REQUEST_URI="$uri" \
	    QUERY_STRING="$query" GATEWAY_INTERFACE=CGI/1.1 \
	    SERVER_PROTOCOL=HTTP/1.1 WATCHERD_SOCKET="$SOCK" \
	    ASAN_OPTIONS="$ASAN_EXIT_OPTIONS" UBSAN_OPTIONS="$UBSAN_HALT_OPTIONS" "$@" \
	    "${CGI_WRAP[@]}" "$HANDLER" </dev/null >"$T/out" 2>>"$T/cgi.log" || rc=$?
	[ "$rc" = 0 ] || fail "filehandler.fcgi exited with status $rc" || return 1
	split_answer "$T/out"
}

# raw_http METHOD PATH: one HTTP/1.0 request to lighttpd written by hand, so
# that every byte of the answer is seen (curl hides a body sent to HEAD).
raw_http() {
	printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" "$PREFIX$2" |
	    socat -t 2 -T 5 - "TCP:127.0.0.1:$PORT" >"$T/out" || return 1
	split_answer "$T/out"
}

# http [curl options...] PATH: one request through lighttpd to PATH (with
# its query) below the mount point; sets STATUS and TIME_MS (curl's total).
http() {
	local path=${!#} out
	rm -f "$T/b"
	out=$(curl -sS --path-as-is --max-time 5 -D "$T/h" -o "$T/b" \
	    -w '%{http_code} %{time_total}' "${@:1:$#-1}" \
	    "http://127.0.0.1:$PORT$PREFIX$path") || {
		fail "curl $* failed: $out"
		return 1
	}
	[ -f "$T/b" ] || : >"$T/b"
	STATUS=${out%% *}
	TIME_MS=$(awk -v t="${out#* }" 'BEGIN { printf "%d", t * 1000 }')
}

# decode_content OUT: writes the bytes the body's "content" stands for
# (per its "encoding") to OUT and prints their CRC-32 (zlib, 8 hex digits),
# computed here, independently of watcherd.
decode_content() {
	python3 - "$T/b" "$1" <<'EOF'
import base64, json, sys, zlib
answer = json.load(open(sys.argv[1], encoding="utf-8"))
if answer["encoding"] == "utf-8":
    data = answer["content"].encode("utf-8")
elif answer["encoding"] == "base64":
    data = base64.b64decode(answer["content"], validate=True)
else:
    sys.exit("unknown encoding " + answer["encoding"])
open(sys.argv[2], "wb").write(data)
print("%08x" % zlib.crc32(data))
EOF
}

# http_stream SECONDS [curl options...] PATH: like http, for an answer
# that may be a stream (/events): curl ends it after SECONDS, and that is no
# failure. Sets STATUS.
http_stream() {
	local secs=$1 path out rc=0
	shift
	path=${!#}
	rm -f "$T/b"
	out=$(curl -sS -N --path-as-is --max-time "$secs" -D "$T/h" -o "$T/b" \
	    -w '%{http_code}' "${@:1:$#-1}" "http://127.0.0.1:$PORT$PREFIX$path" \
	    2>/dev/null) || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 28 ] ||
	    fail "curl $path failed with status $rc" || return 1
	[ -f "$T/b" ] || : >"$T/b"
	STATUS=$out
}
