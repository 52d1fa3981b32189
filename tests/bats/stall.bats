#!/usr/bin/env bats
# A file system that stops answering (DESIGN.md section 6): proposal 2222
# lives on a FUSE mount (build/tools/stallfs) that the tests freeze, as a
# GPFS or NFS mount stalls, and thaw; proposal 1111 is on the local disk.
# A stalled mount must stall only its own files, and be served again, with
# no restart, once it answers.

load helpers

FS_TIMEOUT=500

setup() {
	common_setup || return 1
	mount_stallfs || return 1
	printf 'line 1\n' >"$BACKING/usr/Shared/amore/run.log"
}

teardown() {
	unmount_stallfs
	common_teardown
}

# timed LINE: sends one request; sets REPLY_LINE and ELAPSED_MS.
timed() {
	local t0
	t0=$(now_ms)
	REPLY_LINE=$(send "$1")
	ELAPSED_MS=$(($(now_ms) - t0))
}

# Stalls the mount as seen by watcherd: a request for 2222 that times out.
stall_2222() {
	freeze || return 1
	timed "$(req checksum 2222 context.py)"
	[ "$(json_get "$REPLY_LINE" .error)" = unavailable ] ||
	    fail "a request on the frozen mount got: $REPLY_LINE"
}

@test "files on a FUSE mount are served, polled, with their true checksum" {
	start_test_watcherd --fs-timeout "$FS_TIMEOUT"
	r=$(send "$(req checksum 2222 context.py)")
	[ "$(json_get "$r" .checksum)" = "$(crc32 "$FUSE_FILE")" ] ||
	    fail "checksum reply: $r"
	[ "$(json_get "$r" .mode)" = poll ]
	content_to context.py "$T/c" raw
	grep -q 'mount=.*p002222' "$LOG" ||
	    fail "no folder_found with the mount point in the log"
	PROPOSAL=2222 content_to context.py "$T/c2"
	cmp "$T/c2" "$FUSE_FILE"
	r=$(send "$(req checksum 2222 missing.py)")
	[ "$(json_get "$r" .error)" = forbidden ] || [ "$(json_get "$r" .error)" = not_found ]
	r=$(send "$(req checksum 2222 other.log)")
	[ "$(json_get "$r" .error)" = not_found ] || fail "missing file: $r"
}

@test "a request on a stalled mount is unavailable after fs-timeout, naming the proposal" {
	start_test_watcherd --fs-timeout "$FS_TIMEOUT"
	send "$(req checksum 2222 context.py)" >/dev/null
	stall_2222
	[ "$(json_get "$REPLY_LINE" .detail)" = \
	    "the file system of proposal 2222 is not responding" ]
	[ "$ELAPSED_MS" -ge $((FS_TIMEOUT - 50)) ] && [ "$ELAPSED_MS" -lt 1500 ] ||
	    fail "answered after $ELAPSED_MS ms (fs-timeout $FS_TIMEOUT)"
	first=$ELAPSED_MS
	# While it is stalled, the next one is refused at once.
	timed "$(req content 2222 context.py)"
	[ "$(json_get "$REPLY_LINE" .error)" = unavailable ]
	[ "$ELAPSED_MS" -lt 300 ] || fail "second request took $ELAPSED_MS ms"
	report_latency "unavailable: first request $first ms (fs-timeout $FS_TIMEOUT), next $ELAPSED_MS ms"
	[ "$(status_of fs_stalled)" = 1 ]
	[ "$(status_of fs_timeouts)" -ge 2 ]
	grep -q "event=fs_stalled.*mount=\"$MNT\"" "$LOG" ||
	    fail "no fs_stalled line naming $MNT: $(grep fs_ "$LOG")"
}

@test "a stalled mount stalls only its own files: ping, status, list and local files answer at once" {
	start_test_watcherd --fs-timeout "$FS_TIMEOUT"
	send "$(req checksum 1111 context.py)" >/dev/null
	send "$(req checksum 2222 context.py)" >/dev/null
	freeze
	# A client waiting on the frozen mount does not hold up the others.
	spawn bash -c 'printf "%s\n" "$1" | socat -t 3 - "UNIX-CONNECT:$2"' _ \
	    "$(req content 2222 context.py)" "$SOCK" >"$T/held.out" 2>&1
	sleep 0.1
	worst=0
	for line in '{"cmd":"ping"}' '{"cmd":"status"}' '{"cmd":"list"}' \
	    "$(req checksum 1111 context.py)" "$(req content 1111 context.py)"; do
		timed "$line"
		[ "$(json_get "$REPLY_LINE" .ok)" = true ] ||
		    fail "$line got $REPLY_LINE"
		[ "$ELAPSED_MS" -lt 300 ] || fail "$line took $ELAPSED_MS ms"
		[ "$ELAPSED_MS" -gt "$worst" ] && worst=$ELAPSED_MS
	done
	report_latency "slowest of ping, status, list, local checksum and content during the stall: $worst ms (a socat each)"
	wait_until 3000 grep -q unavailable "$T/held.out" ||
	    fail "the held request got: $(cat "$T/held.out")"
	# The local file's changes are still seen at once.
	printf 'changed = 1\n' >"$DAMNIT/context.py"
	wait_until 1000 test "$(daemon_checksum context.py)" = \
	    "$(crc32 "$DAMNIT/context.py")"
}

@test "subscribers of local files keep getting events while another mount is stalled" {
	start_test_watcherd --fs-timeout "$FS_TIMEOUT" --poll-interval 100
	send "$(req checksum 2222 context.py)" >/dev/null
	subscribe context.py
	PROPOSAL=2222 subscribe context.py
	remote_out=$SUB_OUT
	stall_2222
	PROPOSAL=1111
	printf 'x = 2\n' >"$T/new.py"
	want=$(crc32 "$T/new.py")
	T0_MS=$(now_ms)
	cat "$T/new.py" >"$DAMNIT/context.py"
	wait_event "$T/sub.1.out" changed "$want" 2000
	report_latency "local event during a stall: $LATENCY_MS ms"
	# The subscription to the stalled file is still there, silent.
	! grep -q '"event"' "$remote_out"
}

@test "a mount that answers again is served again, and its subscribers hear what changed meanwhile" {
	start_test_watcherd --fs-timeout "$FS_TIMEOUT" --poll-interval 200
	PROPOSAL=2222 subscribe context.py
	stall_2222
	# Changed on the file server while this host could not see it.
	printf 'remote = 2  # changed during the stall\n' >"$FUSE_FILE"
	want=$(crc32 "$FUSE_FILE")
	T0_MS=$(now_ms)
	thaw
	wait_event "$SUB_OUT" changed "$want" 3000
	report_latency "thaw to changed event: $LATENCY_MS ms"
	wait_until 2000 test "$(status_of fs_stalled)" = 0
	r=$(send "$(req checksum 2222 context.py)")
	[ "$(json_get "$r" .checksum)" = "$want" ] || fail "after thaw: $r"
	grep -q "event=fs_recovered.*mount=\"$MNT\"" "$LOG" ||
	    fail "no fs_recovered line: $(grep fs_ "$LOG")"
	[ "$(grep -c "event=fs_stalled" "$LOG")" = 1 ]
}

@test "many clients of a stalled mount hold a bounded number of threads and all get an answer" {
	start_test_watcherd --fs-timeout "$FS_TIMEOUT"
	send "$(req checksum 2222 context.py)" >/dev/null
	send "$(req checksum 2222 run.log)" >/dev/null
	freeze
	for i in $(seq 1 40); do
		f=context.py
		[ $((i % 2)) = 0 ] && f=run.log
		spawn bash -c 'printf "%s\n" "$1" | socat -t 4 - "UNIX-CONNECT:$2"' _ \
		    "$(req tail 2222 "$f")" "$SOCK" >"$T/many.$i.out" 2>&1
	done
	sleep 0.2
	busy=$(status_of fs_threads_busy)
	[ "$busy" -le 4 ] || fail "$busy threads inside the frozen mount"
	timed '{"cmd":"ping"}'
	[ "$ELAPSED_MS" -lt 300 ]
	report_latency "40 clients on the frozen mount: $busy worker threads inside it, ping $ELAPSED_MS ms"
	for i in $(seq 1 40); do
		wait_until 3000 grep -q '"error":"unavailable"' "$T/many.$i.out" ||
		    fail "client $i got: $(cat "$T/many.$i.out")"
	done
	[ "$(status_of fs_timeouts)" -ge 40 ]
}

@test "the handler answers a stalled mount 503 with Retry-After and watcherd's detail" {
	start_test_watcherd --fs-timeout "$FS_TIMEOUT"
	send "$(req checksum 2222 context.py)" >/dev/null
	freeze
	t0=$(now_ms)
	env -i PATH="$PATH" REQUEST_METHOD=GET \
	    REQUEST_URI="/file_content?proposal=2222&file_name=context.py" \
	    QUERY_STRING="proposal=2222&file_name=context.py" \
	    GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
	    WATCHERD_SOCKET="$SOCK" ASAN_OPTIONS="$ASAN_EXIT_OPTIONS" \
	    "$HANDLER" </dev/null >"$T/http.out" 2>>"$T/cgi.log"
	elapsed=$(($(now_ms) - t0))
	grep -q '^Status: 503' "$T/http.out" || fail "$(cat "$T/http.out")"
	grep -qi '^Retry-After: [0-9]' "$T/http.out"
	grep -q '"detail":"the file system of proposal 2222 is not responding"' \
	    "$T/http.out" || fail "$(cat "$T/http.out")"
	[ "$elapsed" -lt 2500 ] || fail "took $elapsed ms"
}

@test "a watch whose stat is unchanged is not read again at each poll" {
	start_test_watcherd --poll-interval 50
	send "$(req checksum 2222 context.py)" >/dev/null
	# Once the first read's racy window has passed, count what the
	# polls ask of the file server: stats of the file, and no opens.
	sleep 0.3
	strace -f -qq -e trace=openat,newfstatat,statx -p "$STALLFS_PID" \
	    -o "$T/strace.out" &
	tracer=$!
	sleep 1
	kill "$tracer"
	wait "$tracer" 2>/dev/null || true
	stats=$(grep -c 'context.py' "$T/strace.out" || true)
	opens=$(grep 'openat(' "$T/strace.out" | grep -c 'context.py' || true)
	[ "$stats" -ge 5 ] || fail "only $stats stats in 1 s of polls: $(head "$T/strace.out")"
	[ "$opens" = 0 ] || fail "$opens opens of an unchanged file"
	printf 'remote = 3\n' >>"$FUSE_FILE"
	wait_until 2000 test "$(json_get "$(send "$(req checksum 2222 context.py)")" .checksum)" = \
	    "$(crc32 "$FUSE_FILE")"
}

# many_requests LINE...: one connection for each LINE, all sent at once;
# prints each reply's error, or "ok".
many_requests() {
	PYTHONPATH="$BATS_TEST_DIRNAME" python3 - "$SOCK" "$@" <<'EOF'
import sys
from watcherd_socket import connect, read_reply
path, lines = sys.argv[1], sys.argv[2:]
conns = []
for line in lines:
    s = connect(path, 10)
    s.sendall(line.encode() + b"\n")
    conns.append(s)
for s in conns:
    reply = read_reply(s)
    print("ok" if reply.get("ok") else reply.get("error"))
EOF
}

changes_at_least() {
	[ "$(status_of changes)" -ge "$1" ]
}

@test "a poll of many files on a mount reaches every file and leaves the mount to requests" {
	local i n=600 lines=()
	mkdir -p "$BACKING/usr/Shared/amore/many"
	for i in $(seq -w 1 $n); do
		printf 'file %s\n' "$i" >"$BACKING/usr/Shared/amore/many/f$i.log"
	done
	start_test_watcherd --poll-interval 100 --fs-timeout 2000 \
	    --allow context.py --allow 'many/*.log'
	for i in $(seq -w 1 $n); do
		lines+=("$(jq -cn --arg f "many/f$i.log" \
		    '{cmd:"checksum",proposal:2222,file_name:$f}')")
	done
	# 50 at a time: the mount takes 4 running and 64 waiting.
	: >"$T/first"
	for i in $(seq 0 50 $((n - 1))); do
		many_requests "${lines[@]:$i:50}" >>"$T/first"
	done
	[ "$(grep -cx ok "$T/first")" = $n ] ||
	    fail "watching $n files: $(sort "$T/first" | uniq -c)"
	# While the polls go on, 60 requests at once all get their answer.
	lines=()
	for i in $(seq 60); do
		lines+=("$(req checksum 2222 context.py)")
	done
	for i in 1 2 3; do
		many_requests "${lines[@]}" >"$T/answers"
		[ "$(grep -cx ok "$T/answers")" = 60 ] ||
		    fail "60 requests during polls: $(sort "$T/answers" | uniq -c)"
	done
	# The first, a middle and the last file change: the polls reach all
	# of them, though nobody asks.
	before=$(status_of changes)
	for i in 001 300 600; do
		printf 'file %s, changed\n' "$i" \
		    >"$BACKING/usr/Shared/amore/many/f$i.log"
	done
	wait_until 5000 changes_at_least $((before + 3)) ||
	    fail "changes seen by polls: $(($(status_of changes) - before)) of 3"
	[ "$(status_of fs_stalled)" = 0 ]
}

@test "on a mount, a removed DAMNIT folder is not_found, and served again once it is back" {
	start_test_watcherd --poll-interval 100
	PROPOSAL=2222 subscribe context.py
	want=$(crc32 "$FUSE_FILE")
	cp -a "$BACKING/usr/Shared/amore" "$T/saved"
	rm -rf "$BACKING/usr/Shared/amore"
	wait_event "$SUB_OUT" deleted null 3000 ||
	    fail "no deleted event: $(cat "$SUB_OUT")"
	reply=$(send "$(req checksum 2222 context.py)")
	[ "$(json_get "$reply" .error)" = not_found ] || fail "$reply"
	mv "$T/saved" "$BACKING/usr/Shared/amore"
	wait_until 4000 checksum_is 2222 context.py "$want" ||
	    fail "not served again: $(send "$(req checksum 2222 context.py)")"
	wait_event "$SUB_OUT" created "$want" 3000 ||
	    fail "no created event: $(cat "$SUB_OUT")"
}
