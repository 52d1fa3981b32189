#!/usr/bin/env bats
# Faults and limits, with the numbers that show how each is met: watcherd
# killed under HTTP load (ordinary requests and held long-polls) and
# restarted, files made unreadable, directories removed under watches, a
# file grown to 1 GiB, thousands of socket clients, more watches than
# --max-watches, and lighttpd killed under its handlers. A fresh demo tree
# and watcherd per test; the handler as CGI, or under lighttpd with
# lighttpd.conf.sample.

load web_helpers

WRK_LUA="$BATS_TEST_DIRNAME/wrk_status.lua"

setup() {
	web_setup_each
}

teardown() {
	web_teardown_each
}

# Answers on the socket.

# expect_reply_error REPLY CODE DETAIL_REGEX: a failed reply with that code
# and a detail that matches.
expect_reply_error() {
	[ "$(json_get "$1" .ok)" = false ] &&
	    [ "$(json_get "$1" .error)" = "$2" ] ||
	    fail "expected error $2, got: $1" || return 1
	grep -Eq -- "$3" <<<"$(json_get "$1" .detail)" ||
	    fail "detail of $1 does not match /$3/"
}

# checksum_reply FILE: watcherd's reply to checksum for FILE of 1111.
checksum_reply() {
	send "$(req checksum 1111 "$1")"
}

# status_is FIELD VALUE
status_is() {
	[ "$(status_of "$1")" = "$2" ]
}

# served FILE CRC: watcherd answers CRC as the checksum of FILE of 1111.
served() {
	[ "$(json_get "$(checksum_reply "$1")" .checksum)" = "$2" ]
}

# What a process holds.

fd_count() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l
}

# inotify_watch_count PID: the watches the kernel holds on the process's
# inotify instance(s).
inotify_watch_count() {
	local fd n=0
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" = anon_inode:inotify ] || continue
		n=$((n + $(grep -c '^inotify wd:' "/proc/$1/fdinfo/${fd##*/}")))
	done
	echo "$n"
}

# vm_hwm_kb PID: the peak resident set size, in kB.
vm_hwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# wrk_count FILE KEY...: the number after KEY in a wrk_status.lua report
# (0 when absent).
wrk_count() {
	local file=$1
	shift
	awk -v k="$*" '{ v = $NF; $NF = ""; sub(/ $/, ""); if ($0 == k) n = v }
	    END { print n + 0 }' "$file"
}

# probe_batch URL...: one GET of each URL; prints each HTTP status.
probe_batch() {
	local url args=()
	for url in "$@"; do
		args+=(-o /dev/null "$url")
	done
	curl -s --max-time 2 -w '%{http_code}\n' "${args[@]}" || true
}

# wrk_load NAME DURATION CONNECTIONS PATH...: wrk through lighttpd,
# requesting the PATHs in turn, in the background (sets SPAWNED); an
# answer slower than 2 s counts as a timeout. wrk_status.lua's report goes
# to $T/wrk.NAME.
wrk_load() {
	local name=$1 duration=$2 connections=$3
	shift 3
	WRK_STATUS_OUT="$T/wrk.$name" spawn wrk -t2 -c"$connections" \
	    -d"$duration" --timeout 2s -s "$WRK_LUA" "http://127.0.0.1:$PORT" \
	    -- "$@" >"$T/wrk.$name.out" 2>&1
}

# wrk_report NAME PID: waits (at most 10 s) for that wrk to end; sets
# W_TOTAL, W_200, W_503, W_HUNG (timeouts), W_ERRORS (socket errors) and
# W_SLOWEST_MS from its report.
wrk_report() {
	local r="$T/wrk.$1"
	wait_until 10000 pid_gone "$2" || fail "wrk $1 did not end" || return 1
	[ -s "$r" ] || fail "wrk $1 wrote no report: $(cat "$r.out")" || return 1
	W_TOTAL=$(wrk_count "$r" requests)
	W_200=$(wrk_count "$r" status 200)
	W_503=$(wrk_count "$r" status 503)
	W_HUNG=$(wrk_count "$r" timeout)
	W_ERRORS=$(($(wrk_count "$r" connect) + $(wrk_count "$r" read) +
	    $(wrk_count "$r" write)))
	W_SLOWEST_MS=$(wrk_count "$r" max_latency_ms)
	[ "$((W_200 + W_503))" = "$W_TOTAL" ] ||
	    fail "wrk $1: statuses other than 200 and 503: $(grep status "$r")"
}

@test "watcherd SIGKILLed under load: only 200 and 503, none hangs, all 200 within 1 s of its restart" {
	start_web_watcherd
	start_lighttpd
	crc=$(crc32 "$DAMNIT/context.py")
	q=proposal=1111
	paths=("$PREFIX/has_new_checksum?$q&file_name=context.py&checksum=$crc"
	    "$PREFIX/file_content?$q&file_name=context.py"
	    "$PREFIX/file_content?$q&file_name=damnit.log"
	    "$PREFIX/has_new_checksum?$q&file_name=damnit.log&checksum=00000000")
	urls=("${paths[@]/#/http://127.0.0.1:$PORT}")
	wrk_load kill 5s 8 "${paths[@]}"
	wrk_pid=$SPAWNED
	# Long-polls held across the kill: each waits 1 s for a change.
	wrk_load held 5s 4 "$PREFIX/has_new_checksum?$q&file_name=context.py&checksum=$crc&wait=1"
	held_pid=$SPAWNED
	sleep 1.5
	web_pid=$(lighttpd_pid)
	handlers=$(pgrep -P "$web_pid" | sort)
	[ -n "$handlers" ] || fail "lighttpd runs no handler"
	kill_watcherd_hard
	# While watcherd is down: a prompt 503 that says so.
	http "/has_new_checksum?$q&file_name=context.py&checksum=$crc"
	expect_error 503 "not available"
	[ "$(header Retry-After)" = 1 ]
	down_ms=$TIME_MS
	sleep 0.3
	start_web_watcherd
	up_ms=$(now_ms)
	# Probe for 2 s: recovered_ms is when the run of all-200 batches that
	# lasts to the end began.
	recovered_at=$up_ms batches=0 bad_batches=0
	while [ "$(now_ms)" -lt $((up_ms + 2000)) ]; do
		codes=$(probe_batch "${urls[@]}")
		batches=$((batches + 1))
		if [ "$(grep -cx 200 <<<"$codes")" != "${#urls[@]}" ]; then
			bad_batches=$((bad_batches + 1))
			recovered_at=$(now_ms)
		fi
	done
	recovered_ms=$((recovered_at - up_ms))
	wrk_report held "$held_pid"
	echo "# held long-polls: $W_TOTAL answers, $W_200 200, $W_503 503," \
	    "$W_HUNG over 2 s, $W_ERRORS socket errors, slowest $W_SLOWEST_MS ms" >&3
	[ "$W_503" -gt 0 ] || fail "no long-poll saw watcherd go"
	[ "$W_200" -gt 0 ]
	[ "$W_HUNG" = 0 ]
	[ "$W_ERRORS" = 0 ]
	wrk_report kill "$wrk_pid"
	echo "# under load: $W_TOTAL answers, $W_200 200, $W_503 503," \
	    "$W_HUNG over 2 s, $W_ERRORS socket errors, slowest $W_SLOWEST_MS ms" >&3
	echo "# watcherd down: 503 in $down_ms ms; all 200 $recovered_ms ms" \
	    "after its first ping ($batches probe batches, $bad_batches with" \
	    "another status)" >&3
	[ "$W_503" -gt 0 ] || fail "the load never saw watcherd down"
	[ "$W_200" -gt 0 ]
	[ "$W_HUNG" = 0 ]
	[ "$W_ERRORS" = 0 ]
	[ "$recovered_ms" -le 1000 ]
	# The web server and its handlers were not touched.
	[ "$(lighttpd_pid)" = "$web_pid" ]
	pid_alive "$web_pid"
	for pid in $handlers; do
		pid_alive "$pid" || fail "handler $pid did not survive"
	done
	# Then a load run of its own: all 200.
	wrk_load after 2s 8 "${paths[@]}"
	wrk_report after "$SPAWNED"
	echo "# then: $W_200 of $W_TOTAL answers 200" >&3
	[ "$W_TOTAL" -gt 0 ]
	[ "$W_200" = "$W_TOTAL" ]
	[ "$W_HUNG" = 0 ]
}

@test "a watched file made unreadable is 403, and its watch ends" {
	unprivileged_watcherd
	start_web_watcherd
	[ "$(process_uid "$(watcherd_pid)")" = "$UNPRIV_UID" ] ||
	    fail "watcherd runs as root: permissions would not count"
	f="$DAMNIT/damnit.log"
	crc=$(crc32 "$f")
	[ "$(json_get "$(checksum_reply damnit.log)" .checksum)" = "$crc" ]
	watched damnit.log
	chmod 000 "$f"
	expect_reply_error "$(checksum_reply damnit.log)" forbidden "not readable"
	! watched damnit.log || fail "the unreadable file is still watched"
	expect_reply_error "$(send "$(req content 1111 damnit.log)")" \
	    forbidden "not readable"
	cgi GET "/file_content?proposal=1111&file_name=damnit.log"
	expect_error 403 "not readable"
	[ "$(status_of watches)" = 0 ]
	# Readable again: served and watched again.
	chmod 644 "$f"
	[ "$(json_get "$(checksum_reply damnit.log)" .checksum)" = "$crc" ]
	watched damnit.log
	# Never readable: refused, never watched.
	chmod 000 "$DAMNIT/context.py"
	expect_reply_error "$(checksum_reply context.py)" forbidden "not readable"
	! watched context.py || fail "an unreadable file is watched"
	# A directory made unreadable hides the files in it.
	chmod 000 "$DAMNIT/process_logs"
	expect_reply_error "$(checksum_reply process_logs/r0012-p1111.out)" \
	    forbidden "not readable"
	[ "$(status_of watches)" = 1 ]
	# A subscriber keeps the watch, is told the file went, and came back.
	subscribe damnit.log
	chmod 000 "$f"
	expect_reply_error "$(checksum_reply damnit.log)" forbidden "not readable"
	watched damnit.log || fail "the subscribed watch ended"
	wait_until 2000 grep -q '"event":"deleted"' "$SUB_OUT" ||
	    fail "no deleted event: $(cat "$SUB_OUT")"
	chmod 644 "$f"
	wait_until 2000 grep -q "\"event\":\"created\".*\"checksum\":\"$crc\"" \
	    "$SUB_OUT" || fail "no created event: $(cat "$SUB_OUT")"
	echo "# watcherd as uid $UNPRIV_UID: 403 for an unreadable file," \
	    "directory and watched file, whose watch ends; a subscriber's stays" \
	    "and hears deleted, then created" >&3
}

@test "a watched file's directory removed 50 times: 404, no watch or descriptor left" {
	start_web_watcherd
	pid=$(watcherd_pid)
	f=process_logs/r0012-p1111.out
	want=$(crc32 "$DAMNIT/$f")
	cp -a "$DAMNIT" "$T/amore.orig"
	[ "$(json_get "$(checksum_reply context.py)" .ok)" = true ]
	base_fds=$(fd_count "$pid")
	base_inotify=$(inotify_watch_count "$pid")
	base_dirs=$(status_of directories)
	max_fds=0 max_inotify=0 removed_folders=0
	for i in $(seq 1 50); do
		# Served and watched (after a removed folder, once watcherd
		# looks for it again).
		wait_until 4000 served "$f" "$want" ||
		    fail "round $i: $f not served: $(checksum_reply "$f")"
		watched "$f"
		n=$(fd_count "$pid")
		if [ "$n" -gt "$max_fds" ]; then max_fds=$n; fi
		n=$(inotify_watch_count "$pid")
		if [ "$n" -gt "$max_inotify" ]; then max_inotify=$n; fi
		if [ $((i % 10)) = 0 ]; then
			# Every tenth round the whole DAMNIT folder goes.
			rm -rf "$DAMNIT"
			removed_folders=$((removed_folders + 1))
			reason="DAMNIT folder"
		else
			rm -rf "$DAMNIT/process_logs"
			reason="not found"
		fi
		expect_reply_error "$(checksum_reply "$f")" not_found "$reason"
		! watched "$f" || fail "round $i: $f is still watched"
		if [ $((i % 10)) = 1 ]; then
			cgi GET "/file_content?proposal=1111&file_name=$f"
			expect_error 404 "."
		fi
		rm -rf "$DAMNIT"
		cp -a "$T/amore.orig" "$DAMNIT"
	done
	wait_until 4000 served context.py "$(crc32 "$DAMNIT/context.py")"
	end_fds=$(fd_count "$pid")
	end_inotify=$(inotify_watch_count "$pid")
	end_dirs=$(status_of directories)
	echo "# 50 removals ($removed_folders of the whole folder):" \
	    "descriptors $base_fds before, at most $max_fds, $end_fds after;" \
	    "inotify watches $base_inotify, at most $max_inotify, $end_inotify;" \
	    "watched directories $base_dirs, $end_dirs" >&3
	[ "$end_fds" = "$base_fds" ]
	[ "$max_fds" -le "$base_fds" ]
	[ "$end_inotify" = "$base_inotify" ]
	[ "$max_inotify" -le $((base_inotify + 2)) ]
	[ "$end_dirs" = "$base_dirs" ]
	[ "$(status_of watches)" = 1 ]
}

@test "a watched file grown to 1 GiB is too_large and 413, and is never read" {
	for mode in inotify poll; do
		restart_web_watcherd --watch-mode "$mode" --poll-interval 100
		pid=$(watcherd_pid)
		f="$DAMNIT/big.log"
		printf 'small\n' >"$f"
		[ "$(json_get "$(checksum_reply big.log)" .checksum)" = "$(crc32 "$f")" ]
		before=$(vm_hwm_kb "$pid")
		truncate -s 1G "$f"
		# Let the poll see it first, in poll mode.
		sleep 0.3
		expect_reply_error "$(checksum_reply big.log)" too_large max-file-size
		expect_reply_error "$(send "$(req content 1111 big.log)")" \
		    too_large max-file-size
		send '{"cmd":"list"}' | jq -e '.watches[] | select(.file_name ==
		    "big.log") | .checksum == null and .size == 1073741824' >/dev/null
		cgi GET "/file_content?proposal=1111&file_name=big.log"
		expect_error 413 "max-file-size"
		cgi GET "/has_new_checksum?proposal=1111&file_name=big.log&checksum=00000000"
		expect_error 413 "max-file-size"
		after=$(vm_hwm_kb "$pid")
		echo "# $mode: 1048576 kB file; watcherd's peak RSS $before kB" \
		    "before, $after kB after" >&3
		[ $((after - before)) -lt 16384 ] ||
		    fail "$mode: peak RSS grew by $((after - before)) kB"
		rm -f "$f"
	done
}

@test "2,000 clients at once over --max-clients 1000: exactly 1000 served, the rest told why" {
	start_web_watcherd --max-clients 1000
	python3 - "$SOCK" 2000 10 >"$T/clients.json" <<'EOF'
import json, resource, socket, sys, time

path, total, early = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def connect():
    """A full listen backlog says EAGAIN (the socket has a timeout, so
    it is non-blocking): try again until watcherd has accepted more."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    deadline = time.time() + 10
    while True:
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            if time.time() > deadline:
                raise
            time.sleep(0.001)

def line(s):
    """One reply line, or what came before EOF or an error."""
    buf = b""
    try:
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except OSError:
        pass
    return buf.decode(errors="replace").strip()

def ask(s, request):
    try:
        s.sendall((json.dumps(request) + "\n").encode())
    except OSError:
        pass  # refused and closed: its reason is still to be read
    return line(s)

def ping_ok(s):
    reply = ask(s, {"cmd": "ping"})
    return reply.startswith("{") and json.loads(reply).get("protocol") == 1

out = {}
held = [connect() for _ in range(early)]
out["early_ok"] = sum(ping_ok(s) for s in held)
flood = [connect() for _ in range(total - early)]
served = refused = other = 0
details = set()
for s in flood:
    reply = ask(s, {"cmd": "ping"})
    r = json.loads(reply) if reply.startswith("{") else {}
    if r.get("ok") is True and r.get("protocol") == 1:
        served += 1
    elif r.get("ok") is False and r.get("error") == "unavailable":
        refused += 1
        details.add(r.get("detail"))
    else:
        other += 1
out.update(served=served + out["early_ok"], refused=refused, other=other,
           details=sorted(details))
out["early_ok_while_full"] = sum(ping_ok(s) for s in held)
status = json.loads(ask(held[0], {"cmd": "status"}))
out["clients_while_full"] = status["clients"]
for s in flood:
    s.close()
deadline = time.time() + 5
while time.time() < deadline:
    status = json.loads(ask(held[0], {"cmd": "status"}))
    if status["clients"] == early:
        break
    time.sleep(0.05)
out["clients_after_close"] = status["clients"]
fresh = [connect() for _ in range(early)]
out["fresh_ok"] = sum(ping_ok(s) for s in fresh)
print(json.dumps(out))
EOF
	r=$(cat "$T/clients.json")
	echo "# 2000 clients, max-clients 1000: $(json_get "$r" .served) served," \
	    "$(json_get "$r" .refused) refused ($(json_get "$r" '.details | join("; ")'))," \
	    "$(json_get "$r" .other) other; clients while full" \
	    "$(json_get "$r" .clients_while_full), after closing" \
	    "$(json_get "$r" .clients_after_close)" >&3
	[ "$(json_get "$r" .served)" = 1000 ] || fail "$r"
	[ "$(json_get "$r" .refused)" = 1000 ] || fail "$r"
	[ "$(json_get "$r" .other)" = 0 ]
	[ "$(json_get "$r" '.details | length')" = 1 ]
	[[ "$(json_get "$r" '.details[0]')" == *max-clients* ]]
	[ "$(json_get "$r" .early_ok)" = 10 ]
	[ "$(json_get "$r" .early_ok_while_full)" = 10 ]
	[ "$(json_get "$r" .clients_while_full)" = 1000 ]
	[ "$(json_get "$r" .clients_after_close)" = 10 ]
	[ "$(json_get "$r" .fresh_ok)" = 10 ]
	watcherd_answers
}

@test "over --max-watches a file is unavailable and 503, and nothing else is affected" {
	for i in 1 2 3 4 5; do
		printf 'file %s\n' "$i" >"$DAMNIT/extra$i.log"
	done
	# Idle long enough that the three stay watched through what follows
	# on a loaded machine, short enough to see them expire.
	start_web_watcherd --max-watches 3 --idle-timeout 8
	for i in 1 2 3; do
		[ "$(json_get "$(checksum_reply "extra$i.log")" .checksum)" = \
		    "$(crc32 "$DAMNIT/extra$i.log")" ]
	done
	for i in 4 5; do
		expect_reply_error "$(checksum_reply "extra$i.log")" unavailable \
		    max-watches
		! watched "extra$i.log" || fail "extra$i.log is watched"
	done
	cgi GET "/file_content?proposal=1111&file_name=extra4.log"
	expect_error 503 "max-watches"
	[ "$(header Retry-After)" = 1 ]
	# The watched files, ping and status answer as before.
	for i in 1 2 3; do
		cgi GET "/file_content?proposal=1111&file_name=extra$i.log"
		expect_status 200
		[ "$(jqb .checksum)" = "$(crc32 "$DAMNIT/extra$i.log")" ]
	done
	cgi GET /health
	expect_status 200
	[ "$(jqb .watcherd.watches)" = 3 ]
	[ "$(jqb .watcherd.max_watches)" = 3 ]
	# A freed place takes a new file: after unwatch...
	[ "$(json_get "$(send "$(req unwatch 1111 extra1.log)")" .ok)" = true ]
	[ "$(json_get "$(checksum_reply extra4.log)" .ok)" = true ]
	expect_reply_error "$(checksum_reply extra5.log)" unavailable max-watches
	# ... and after the idle timeout.
	wait_until 12000 status_is watches 0 || fail "the watches did not expire"
	[ "$(json_get "$(checksum_reply extra5.log)" .ok)" = true ]
	echo "# max-watches 3: 3 watched, 2 refused (503), 1 freed by unwatch" \
	    "and all 3 by the idle timeout; watches now $(status_of watches)" >&3
}

@test "lighttpd SIGKILLed: its handler processes do not outlive it" {
	start_web_watcherd
	start_lighttpd
	http "/file_content?proposal=1111&file_name=context.py"
	expect_status 200
	web_pid=$(lighttpd_pid)
	handlers=$(pgrep -P "$web_pid")
	[ -n "$handlers" ] || fail "lighttpd runs no handler"
	# Ended by teardown if they stay.
	printf '%s\n' $handlers >>"$T/pids"
	kill -KILL "$web_pid"
	rm -f "$T/lighttpd.pid.bats"
	wait "$web_pid" 2>/dev/null || true
	T0_MS=$(now_ms)
	for pid in $handlers; do
		wait_until 2000 pid_gone "$pid" ||
		    fail "filehandler.fcgi $pid outlived lighttpd by 2 s"
	done
	echo "# $(wc -w <<<"$handlers") handler(s) gone $(($(now_ms) - T0_MS)) ms" \
	    "after lighttpd's SIGKILL" >&3
}
