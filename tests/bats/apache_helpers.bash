# apache.bats's fixture: one Apache (apache-fcgid.conf.sample, verbatim)
# with mod_fcgid running filehandler.fcgi, in front of a real watcherd, both
# on a private copy of the demo tree, for the whole file. Tests talk HTTP to
# it with curl.
#
# Environment: BUILD_DIR (default "build", "build/asan" for the sanitizer
# run), relative to the repository root.
#
# State shared between setup_file, the tests and teardown_file lives in
# exported variables and, for what a test may change (watcherd's pid), in
# files under $T. What all suites share is in common.bash.

source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

APACHE_CONF="$REPO_ROOT/apache-fcgid.conf.sample"
# The account Apache runs the handler as when started by root (the
# sample's User and Group).
APACHE_USER=www-data

# watcherd.

# start_apache_watcherd [FLAGS...]: starts watcherd in the foreground on
# $SOCK and waits (at most 5 s) until the socket answers. As root it runs
# with the group of Apache's user, so that the socket (0660) lets the
# handler in.
start_apache_watcherd() {
	local rc=0
	local -a WATCHERD_WRAP=()
	[ "$(id -u)" = 0 ] && WATCHERD_WRAP=(setpriv --regid "$APACHE_USER" --clear-groups)
	launch_watcherd "$T/watcherd.log" "$@" || rc=$?
	[ -n "$LAUNCHED_PID" ] && echo "$LAUNCHED_PID" >"$T/watcherd.pid"
	return "$rc"
}

# stop_apache_watcherd [SIGNAL]: TERM (or SIGNAL) and a bounded wait for the exit.
stop_apache_watcherd() {
	stop_recorded_watcherd "$@"
}

# Restarts watcherd when a test left it stopped.
ensure_watcherd() {
	local pid
	pid=$(watcherd_pid)
	[ -n "$pid" ] && pid_alive "$pid" && return 0
	start_apache_watcherd
}

# Apache.

# start_apache [APACHE ARGS...]: starts Apache in the foreground from the
# sample (with -D defines or -C lines, when given) and waits (at most 5 s)
# for /health to answer 200. A port taken in between is retried.
start_apache() {
	local attempt pid
	local -a extra=()
	if [ "$SANITIZED" = 1 ]; then
		extra=(-c "FcgidInitialEnv ASAN_OPTIONS detect_leaks=0"
		    -c "FcgidInitialEnv UBSAN_OPTIONS print_stacktrace=1")
	fi
	for attempt in 1 2 3; do
		PORT=$(free_port)
		BASE_URL="http://127.0.0.1:$PORT/filehandler"
		FH_PORT=$PORT FH_RUN_DIR="$T/run" FH_HANDLER="$HANDLER" \
		    FH_DOCROOT="$REPO_ROOT/www" \
		    WATCHERD_SOCKET="$SOCK" apache2 -DFOREGROUND \
		    -f "$APACHE_CONF" "${extra[@]}" "$@" \
		    </dev/null >>"$T/apache.out" 2>&1 3>&- &
		pid=$!
		echo "$pid" >"$T/apache.pid"
		if wait_until 5000 health_is_ok; then
			export PORT BASE_URL
			return 0
		fi
		pid_alive "$pid" && break
		grep -q 'Address already in use' "$T/run/error.log" \
		    "$T/apache.out" 2>/dev/null || break
	done
	cat "$T/apache.out" "$T/run/error.log" >&2 2>/dev/null
	fail "Apache did not answer /health with 200 within 5 s"
}

health_is_ok() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
	    "$BASE_URL/health")" = 200 ]
}

# The handler processes of this fixture (the binary, with our socket in
# their environment; zombies have neither).
handler_pids() {
	local exe p want
	want=$(readlink -f "$HANDLER")
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		[ "$exe" = "$want" ] || continue
		tr '\0' '\n' 2>/dev/null <"$p/environ" |
		    grep -qxF "WATCHERD_SOCKET=$SOCK" && echo "${p#/proc/}"
	done
}

no_handler_left() {
	[ -z "$(handler_pids)" ]
}

# Stops Apache (TERM to the parent, a bounded wait) and checks that its
# handler processes went with it.
stop_apache() {
	local pid
	pid=$(cat "$T/apache.pid" 2>/dev/null)
	[ -n "$pid" ] || return 0
	rm -f "$T/apache.pid"
	end_pid "$pid" 10000 TERM Apache || return 1
	if ! wait_until 5000 no_handler_left; then
		fail "filehandler.fcgi processes left after Apache stopped:" \
		    "$(handler_pids | tr '\n' ' ')"
		kill -KILL $(handler_pids) 2>/dev/null || true
		return 1
	fi
}

# The whole fixture.

apache_setup_file() {
	local who=$APACHE_USER
	need_executable "$WATCHERD" watcherd || return 1
	need_executable "$HANDLER" handler || return 1
	command -v apache2 >/dev/null || { fail "apache2 is not installed"; return 1; }
	if [ "$(id -u)" = 0 ] && ! setpriv --reuid "$who" --regid "$who" \
	    --clear-groups test -x "$HANDLER" 2>/dev/null; then
		fail "$who (Apache's user) cannot run $HANDLER:" \
		    "make its directories searchable"
		return 1
	fi
	export T SOCK
	make_fixture_dir apache-bats || return 1
	SOCK="$T/w.sock"
	mkdir "$T/run"
	: >"$T/watcherd.log"
	# As root, Apache's user must reach the socket (and nothing else here).
	[ "$(id -u)" = 0 ] && chmod 0711 "$T"
	start_apache_watcherd && start_apache
}

apache_teardown_file() {
	local failed=0
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	stop_apache || failed=1
	stop_apache_watcherd || failed=1
	if [ "$SANITIZED" = 1 ]; then
		no_sanitizer_report "$T/watcherd.log" ||
		    { cat "$T/watcherd.log" >&2; failed=1; }
		no_sanitizer_report "$T/run/error.log" ||
		    { cat "$T/run/error.log" >&2; failed=1; }
	fi
	rm -rf "$T"
	return "$failed"
}

# HTTP.

# get [CURL ARGS...] PATH: one request to $BASE_URL/PATH. Sets STATUS, TIME
# (seconds) and SIZE (body bytes received); the body is in $T/body (with -I,
# the headers), the headers in $T/headers.
get() {
	local out path=${!#}
	# curl leaves the output file alone when no body comes.
	: >"$T/body"
	out=$(curl -sS --max-time 5 -o "$T/body" -D "$T/headers" \
	    -w '%{http_code} %{time_total} %{size_download}' "${@:1:$#-1}" \
	    "$BASE_URL/$path") || {
		fail "curl failed for $path: $out"
		return 1
	}
	read -r STATUS TIME SIZE <<<"$out"
}

# header NAME: the value of a header of the last answer, or nothing.
header() {
	awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
	    { sub(/\r$/, "") }
	    tolower(substr($0, 1, length(n) + 1)) == n ":" {
		v = substr($0, length(n) + 2); sub(/^[ \t]+/, "", v); print v }' \
	    "$T/headers"
}

# body_json FILTER: jq -r FILTER on the last body.
body_json() {
	jq -r "$1" "$T/body"
}

# expect STATUS: the last answer had that status and a JSON body with the
# contract's Content-Type; an error answer carries a detail.
expect() {
	[ "$STATUS" = "$1" ] || {
		fail "expected status $1, got $STATUS: $(head -c 300 "$T/body")"
		return 1
	}
	[[ "$(header Content-Type)" == application/json* ]] ||
	    fail "Content-Type is '$(header Content-Type)', not application/json"
	if [ "$1" -ge 400 ]; then
		[ -n "$(body_json '.detail | strings')" ] ||
		    fail "no detail in the $1 answer: $(head -c 300 "$T/body")"
	fi
}

# get_stream SECONDS [CURL ARGS...] PATH: like get, for an answer that may
# be a stream (/events): curl ends it after SECONDS, and that is no
# failure. Sets STATUS.
get_stream() {
	local secs=$1 path out rc=0
	shift
	path=${!#}
	: >"$T/body"
	out=$(curl -sS -N --max-time "$secs" -o "$T/body" -D "$T/headers" \
	    -w '%{http_code}' "${@:1:$#-1}" "$BASE_URL/$path" 2>/dev/null) ||
	    rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 28 ] ||
	    fail "curl $path failed with status $rc" || return 1
	STATUS=$out
}
