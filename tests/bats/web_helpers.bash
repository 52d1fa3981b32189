# Shared by the suites of the HTTP face (cgi.bats, lighttpd.bats): one
# temporary directory per test file with a copy of the demo tree, a real
# watcherd on a UNIX socket in it, the handler run as plain CGI or under a
# real lighttpd (lighttpd.conf.sample, verbatim) on a free loopback port,
# bounded waits, and a teardown that ends every process it started, checks
# that no handler process is left behind and fails on any sanitizer report.
#
# Environment: BUILD_DIR (default "build"; "build/asan" for the sanitizer
# run), relative to the repository root unless absolute.

WEB_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
case "${BUILD_DIR:-build}" in
/*) WEB_BUILD="${BUILD_DIR}" ;;
*) WEB_BUILD="$WEB_ROOT/${BUILD_DIR:-build}" ;;
esac
WATCHERD_BIN="$WEB_BUILD/watcherd"
HANDLER_BIN="$WEB_BUILD/filehandler.fcgi"
LIGHTTPD_CONF="$WEB_ROOT/lighttpd.conf.sample"
PREFIX=/filehandler
DAMNIT_REL="SPB/202601/p001111/usr/Shared/amore"
SANITIZER_PATTERN='AddressSanitizer|LeakSanitizer|runtime error'

# Under the sanitizer build: watcherd and the handler run as CGI check for
# leaks at exit; the handler under lighttpd is killed by lighttpd, so its
# leak check is off, but its reports still reach lighttpd's stderr
# ($T/lighttpd.out), which is checked like every log.
case "${BUILD_DIR:-build}" in
*asan*) WEB_SANITIZED=1 ;;
*) WEB_SANITIZED=0 ;;
esac
WEB_ASAN_EXIT="detect_leaks=1:abort_on_error=0:exitcode=99"
WEB_ASAN_KILLED="detect_leaks=0:abort_on_error=0:exitcode=99"
WEB_UBSAN="print_stacktrace=1:halt_on_error=1"

fail() {
	printf '%s\n' "$*" >&2
	return 1
}

now_ms() {
	local us=${EPOCHREALTIME/./}
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

# 0 while the process runs; a zombie counts as gone.
pid_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat:0:1}" != Z ]
}

pid_gone() {
	! pid_alive "$1"
}

# TERM, at most timeout_ms to go, then KILL. Fails when KILL was needed.
end_pid() {
	local pid=$1 timeout_ms=${2:-5000}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	if ! wait_until "$timeout_ms" pid_gone "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait_until 2000 pid_gone "$pid" || true
		wait "$pid" 2>/dev/null || true
		fail "process $pid did not end within $((timeout_ms / 1000)) s of SIGTERM"
		return 1
	fi
	wait "$pid" 2>/dev/null || true
}

# A TCP port nobody listens on at the moment.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The fixture: T (short, for socket paths), a copy of the demo tree, a file
# outside it whose marker must never be served, and the directories lighttpd
# needs. Everything is exported for the tests.
web_setup_file() {
	export T SOCK DAMNIT SECRET SECRET_MARKER
	T="$(mktemp -d "${TMPDIR:-/tmp}/fh-web.XXXXXX")"
	SOCK="$T/watcherd.sock"
	cp -a "$WEB_ROOT/data" "$T/data"
	DAMNIT="$T/data/$DAMNIT_REL"
	SECRET="$T/secret.log"
	SECRET_MARKER="SECRET-MARKER-$RANDOM$RANDOM"
	printf '%s\n' "$SECRET_MARKER" >"$SECRET"
	mkdir -m 0700 "$T/run" "$T/www"
	: >"$T/watcherd.log"
	: >"$T/cgi.log"
	[ -x "$WATCHERD_BIN" ] || fail "no watcherd at $WATCHERD_BIN (run make first)" || return 1
	[ -x "$HANDLER_BIN" ] || fail "no handler at $HANDLER_BIN (run make first)" || return 1
}

# Stops what runs, checks every log for sanitizer reports and removes T.
web_teardown_file() {
	local failed=0
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	stop_lighttpd || failed=1
	stop_watcherd || failed=1
	logs_clean all || failed=1
	rm -rf "$T"
	return "$failed"
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

watcherd_pid() {
	cat "$T/watcherd.pid" 2>/dev/null
}

watcherd_answers() {
	[ -S "$SOCK" ] || return 1
	printf '{"cmd":"ping"}\n' | socat -t 1 - "UNIX-CONNECT:$SOCK" 2>/dev/null |
	    grep -q '"ok":true'
}

# start_watcherd [flags...]: watcherd in the foreground on $SOCK and the
# test's tree; waits at most 5 s for it to answer a ping. Its pid is kept in
# a file, so that a test may restart it and teardown_file still ends it.
start_watcherd() {
	local pid deadline
	ASAN_OPTIONS="$WEB_ASAN_EXIT" UBSAN_OPTIONS="$WEB_UBSAN" \
	    "$WATCHERD_BIN" --foreground --socket "$SOCK" --data-root "$T/data" "$@" \
	    </dev/null >>"$T/watcherd.log" 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$T/watcherd.pid"
	printf '%s' "$*" >"$T/watcherd.flags"
	deadline=$(($(now_ms) + 5000))
	until watcherd_answers; do
		if pid_gone "$pid"; then
			tail -n 20 "$T/watcherd.log" >&2
			fail "watcherd $* exited at start-up"
			return 1
		fi
		if [ "$(now_ms)" -ge "$deadline" ]; then
			tail -n 20 "$T/watcherd.log" >&2
			fail "watcherd $* did not answer a ping within 5 s"
			return 1
		fi
		sleep 0.02
	done
}

# SIGTERM and a bounded wait (longer under the sanitizers, whose leak check
# takes a moment).
stop_watcherd() {
	local pid bound=5000
	pid=$(watcherd_pid) || return 0
	rm -f "$T/watcherd.pid"
	[ "$WEB_SANITIZED" = 1 ] && bound=15000
	end_pid "$pid" "$bound"
}

# restart_watcherd [flags...]: the same, with other flags.
restart_watcherd() {
	stop_watcherd && start_watcherd "$@"
}

# Back to a watcherd with the default flags, when a test left another one
# (or none) behind.
ensure_default_watcherd() {
	if [ -s "$T/watcherd.flags" ] || ! watcherd_answers; then
		restart_watcherd
	fi
}

# SIGKILL: no clean-up, the socket file stays behind.
kill_watcherd_hard() {
	local pid
	pid=$(watcherd_pid) || return 0
	rm -f "$T/watcherd.pid"
	kill -KILL "$pid"
	wait_until 2000 pid_gone "$pid"
}

# lighttpd.

lighttpd_pid() {
	cat "$T/lighttpd.pid.bats" 2>/dev/null
}

lighttpd_answers() {
	[ "$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' \
	    "http://127.0.0.1:$PORT$PREFIX/health")" = 200 ]
}

# Starts lighttpd -D with lighttpd.conf.sample on a free loopback port (a new
# one when another program took it meanwhile, three tries) and waits at most
# 5 s until /health answers 200. Exports PORT.
start_lighttpd() {
	local try pid deadline
	export PORT
	for try in 1 2 3; do
		PORT=$(free_port)
		FILEHANDLER_BIND=127.0.0.1 FILEHANDLER_PORT="$PORT" \
		    FILEHANDLER_BIN="$HANDLER_BIN" WATCHERD_SOCKET="$SOCK" \
		    FILEHANDLER_RUN_DIR="$T/run" FILEHANDLER_DOCROOT="$T/www" \
		    FILEHANDLER_ERROR_LOG="$T/lighttpd-error.log" \
		    ASAN_OPTIONS="$WEB_ASAN_KILLED" UBSAN_OPTIONS="$WEB_UBSAN" \
		    lighttpd -D -f "$LIGHTTPD_CONF" </dev/null >>"$T/lighttpd.out" 2>&1 3>&- &
		pid=$!
		echo "$pid" >"$T/lighttpd.pid.bats"
		deadline=$(($(now_ms) + 5000))
		until lighttpd_answers; do
			pid_alive "$pid" || break
			if [ "$(now_ms)" -ge "$deadline" ]; then
				tail -n 20 "$T/lighttpd.out" "$T/lighttpd-error.log" >&2
				fail "lighttpd did not answer /health within 5 s"
				return 1
			fi
			sleep 0.05
		done
		pid_alive "$pid" && return 0
		wait "$pid" 2>/dev/null || true
		rm -f "$T/lighttpd.pid.bats"
		grep -qs bind "$T/lighttpd.out" "$T/lighttpd-error.log" || break
	done
	tail -n 20 "$T/lighttpd.out" "$T/lighttpd-error.log" >&2
	fail "lighttpd -f $LIGHTTPD_CONF did not start"
}

# Stops lighttpd; it takes its FastCGI processes with it, which is checked:
# none may outlive it.
stop_lighttpd() {
	local pid children child failed=0
	pid=$(lighttpd_pid) || return 0
	rm -f "$T/lighttpd.pid.bats"
	children=$(pgrep -P "$pid" || true)
	end_pid "$pid" 5000 || failed=1
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
# is $SOCK unless a VAR says otherwise. Fails when the handler exits with
# a status other than 0.
cgi() {
	local method=$1 uri=$2 query="" rc=0
	shift 2
	[[ "$uri" == *\?* ]] && query=${uri#*\?}
	env -i PATH="$PATH" REQUEST_METHOD="$method" REQUEST_URI="$uri" \
	    QUERY_STRING="$query" GATEWAY_INTERFACE=CGI/1.1 \
	    SERVER_PROTOCOL=HTTP/1.1 WATCHERD_SOCKET="$SOCK" \
	    ASAN_OPTIONS="$WEB_ASAN_EXIT" UBSAN_OPTIONS="$WEB_UBSAN" "$@" \
	    "$HANDLER_BIN" </dev/null >"$T/out" 2>>"$T/cgi.log" || rc=$?
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

# crc32 FILE: the file's CRC-32, computed independently.
crc32() {
	python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()))' "$1"
}
