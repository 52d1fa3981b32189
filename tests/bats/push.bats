#!/usr/bin/env bats
# Changes pushed to HTTP clients through a real lighttpd (lighttpd.conf.sample
# as shipped, one handler process): long-polls (wait=S on /has_new_checksum
# and /file_tail) answered as soon as the file changes, many of them held at
# once while ordinary requests keep being answered, a bound beyond which a
# waiter gets 503, and the /events stream of server-sent events.

load web_helpers
web_default_hooks

setup_file() {
	web_setup_file
	write_clients
	# lighttpd inherits these and lighttpd.conf.sample hands them on: one
	# handler process (max-procs), a heartbeat every second.
	export FILEHANDLER_PROCS=1 FILEHANDLER_HEARTBEAT=1
	start_web_watcherd
	start_lighttpd
}

setup() {
	# A test that ran its own lighttpd leaves the port of the suite's new
	# one here.
	[ -f "$T/port" ] && PORT=$(cat "$T/port")
	web_setup
}

teardown() {
	kill_spawned
	run_every ensure_default_watcherd ensure_default_lighttpd web_teardown
}

# restart_lighttpd VAR=value...: lighttpd with these settings in its
# environment, for one test; teardown puts the suite's back.
restart_lighttpd() {
	local assignment
	stop_lighttpd || return 1
	for assignment in "$@"; do
		echo "${assignment%%=*}" >>"$T/lighttpd.custom"
		export "${assignment?}"
	done
	start_lighttpd
}

ensure_default_lighttpd() {
	local name failed=0
	[ -f "$T/lighttpd.custom" ] || return 0
	while read -r name; do
		unset "$name"
	done <"$T/lighttpd.custom"
	rm -f "$T/lighttpd.custom"
	stop_lighttpd || failed=1
	start_lighttpd || failed=1
	echo "$PORT" >"$T/port"
	return "$failed"
}

# The HTTP clients that measure: a long-poll's latency from the write to
# the answer, and a crowd of waiters. Both know when the handler holds a
# request: watcherd then lists a subscriber for the file.
write_clients() {
	cat >"$T/push.py" <<'EOF'
import http.client, json, os, statistics, sys, threading, time, zlib

from watcherd_socket import ask

PORT, PREFIX, SOCK = int(os.environ["PORT"]), os.environ["PREFIX"], os.environ["SOCK"]
DAMNIT = os.environ["DAMNIT"]

def get(path, timeout):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    c.request("GET", PREFIX + path)
    r = c.getresponse()
    body = r.read()
    done = time.monotonic()
    headers = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return {"status": r.status, "headers": headers, "body": body.decode(), "t": done}

def subscribers(name):
    return sum(w["subscribers"] for w in ask(SOCK, {"cmd": "list"}, 2)["watches"]
               if w["proposal"] == 1111 and w["file_name"] == name)

def wait_subscribers(name, want, timeout, alive=lambda: True):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        have = subscribers(name)
        if have == want:
            return
        if not alive():
            sys.exit("the request was answered before any change (%d subscribers)" % have)
        time.sleep(0.005)
    sys.exit("%d subscribers to %s after %d s, not %d" % (have, name, timeout, want))

def crc(path):
    return "%08x" % zlib.crc32(open(path, "rb").read())

def in_thread(fn, *args):
    box = {}
    def run():
        try:
            box["r"] = fn(*args)
        except Exception as e:
            box["e"] = repr(e)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box

# latency ROUTE NAME TRIES: TRIES long-polls of ROUTE (has_new_checksum or
# file_tail) on NAME, each answered by an append written once the request
# is held; prints each latency (write to answer) and the median, in ms.
def latency(route, name, tries):
    path = os.path.join(DAMNIT, name)
    got = []
    for i in range(tries):
        wait_subscribers(name, 0, 5)
        size = os.path.getsize(path)
        if route == "has_new_checksum":
            q = "/has_new_checksum?proposal=1111&file_name=%s&checksum=%s&wait=10" % (name, crc(path))
        else:
            q = "/file_tail?proposal=1111&file_name=%s&offset=%d&wait=10" % (name, size)
        t, box = in_thread(get, q, 20)
        wait_subscribers(name, 1, 5, t.is_alive)
        line = "line %d written while %s waits: caf\u00e9\n" % (i, route)
        t0 = time.monotonic()
        with open(path, "ab") as f:
            f.write(line.encode())
        t.join(15)
        if "r" not in box:
            sys.exit("try %d: no answer: %s" % (i, box.get("e", "timeout")))
        r = box["r"]
        if r["status"] != 200:
            sys.exit("try %d: status %d: %s" % (i, r["status"], r["body"]))
        if route == "has_new_checksum":
            if r["body"] != "true" or r["headers"].get("x-checksum") != crc(path):
                sys.exit("try %d: %s, X-Checksum %s; the file's is %s" %
                         (i, r["body"], r["headers"].get("x-checksum"), crc(path)))
        else:
            a = json.loads(r["body"])
            if (a["data"], a["offset"], a["next_offset"], a["reset"]) != \
                    (line, size, size + len(line.encode()), False):
                sys.exit("try %d: not the appended line: %s" % (i, r["body"]))
        ms = (r["t"] - t0) * 1000
        got.append(ms)
        print("# %s try %d: %.1f ms from the write to the answer" % (route, i + 1, ms))
    print("%.1f" % statistics.median(got))

# ask_again_while_false PATH BUDGET: a long-poll asked again, as the page
# does, each time its wait ends with no change ("false"), for at most
# BUDGET seconds; the last answer.
def ask_again_while_false(path, budget):
    end = time.monotonic() + budget
    while True:
        r = get(path, max(1, end - time.monotonic()))
        if r["body"] != "false" or time.monotonic() >= end:
            return r

# crowd N NAME CHECKSUM OUT: N clients wait on has_new_checksum for NAME
# (wait=30, asked again when it ends with no change, so that a slow
# machine's setup outlasting one wait does not count) at once; OUT.ready
# appears once watcherd lists all N as subscribers, OUT (one JSON row per
# client) once every one is answered.
def crowd(n, name, checksum, out):
    q = "/has_new_checksum?proposal=1111&file_name=%s&checksum=%s&wait=30" % (name, checksum)
    clients = [in_thread(ask_again_while_false, q, 90) for _ in range(n)]
    wait_subscribers(name, n, 60, lambda: all(t.is_alive() for t, _ in clients))
    open(out + ".ready", "w").close()
    rows = []
    for t, box in clients:
        t.join(100)
        r = box.get("r") or {"status": 0, "body": box.get("e", "no answer"), "headers": {}, "t": 0}
        rows.append({"status": r["status"], "body": r["body"],
                     "checksum": r["headers"].get("x-checksum"),
                     "t": r["t"] - time.monotonic() + time.time()})
    with open(out + ".tmp", "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    os.rename(out + ".tmp", out)

if sys.argv[1] == "latency":
    latency(sys.argv[2], sys.argv[3], int(sys.argv[4]))
elif sys.argv[1] == "crowd":
    crowd(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
EOF
}

# push_py ARGS...: runs the client script with what it needs to know.
push_py() {
	PORT="$PORT" PREFIX="$PREFIX" SOCK="$SOCK" DAMNIT="$DAMNIT" \
	    PYTHONPATH="$BATS_TEST_DIRNAME" python3 "$T/push.py" "$@"
}

# start_crowd N FILE CHECKSUM: N waiting clients in the background; waits
# (at most 60 s) until all are held. Sets CROWD_OUT.
start_crowd() {
	local pid deadline=$(($(now_ms) + 60000))
	CROWD_OUT="$T/crowd.$BATS_TEST_NUMBER"
	spawn env PORT="$PORT" PREFIX="$PREFIX" SOCK="$SOCK" DAMNIT="$DAMNIT" \
	    PYTHONPATH="$BATS_TEST_DIRNAME" python3 "$T/push.py" crowd "$@" "$CROWD_OUT" </dev/null >"$CROWD_OUT.log" 2>&1
	pid=$SPAWNED
	until [ -e "$CROWD_OUT.ready" ]; do
		pid_alive "$pid" && [ "$(now_ms)" -lt "$deadline" ] ||
		    fail "the $1 waiters were not all held: $(cat "$CROWD_OUT.log")" || return 1
		sleep 0.05
	done
}

# crowd_all_true N CHECKSUM: the crowd's N answers (waited for at most 20 s)
# are all 200 true with X-Checksum CHECKSUM.
crowd_all_true() {
	wait_until 20000 test -e "$CROWD_OUT" ||
	    fail "the waiters were not all answered: $(cat "$CROWD_OUT.log")" || return 1
	[ "$(wc -l <"$CROWD_OUT")" = "$1" ] || fail "$(wc -l <"$CROWD_OUT") answers, not $1" || return 1
	jq -se --arg c "$2" 'all(.status == 200 and .body == "true" and .checksum == $c)' \
	    "$CROWD_OUT" >/dev/null ||
	    fail "not all 200 true with X-Checksum $2: $(jq -c 'select(.status != 200 or .body != "true" or .checksum != "'"$2"'")' "$CROWD_OUT" | head -n 5)"
}

# handler_processes: the handler processes lighttpd runs.
handler_processes() {
	local child n=0
	for child in $(pgrep -P "$(lighttpd_pid)"); do
		[[ "$(cat "/proc/$child/comm" 2>/dev/null)" == filehandler* ]] && n=$((n + 1))
	done
	echo "$n"
}

# The server-sent events.

# sse_start QUERY [curl options...]: a client of /events?QUERY (curl -N in
# the background, its headers in SSE_OUT.h and body in SSE_OUT); waits (at
# most 5 s) until the stream has begun. Sets SSE_OUT.
SSE_COUNT=0
sse_start() {
	local query=$1
	shift
	SSE_COUNT=$((SSE_COUNT + 1))
	SSE_OUT="$T/sse.$BATS_TEST_NUMBER.$SSE_COUNT"
	spawn curl -sS -N --max-time 60 -D "$SSE_OUT.h" -o "$SSE_OUT" "$@" \
	    "http://127.0.0.1:$PORT$PREFIX/events?$query" </dev/null 2>"$SSE_OUT.err"
	wait_until 5000 grep -qs '^retry: ' "$SSE_OUT" ||
	    fail "the stream did not begin: $(cat "$SSE_OUT.h" "$SSE_OUT" "$SSE_OUT.err" 2>/dev/null)"
}

# sse_blocks FILE: one JSON object per complete block of the stream (ended
# by an empty line): {"event","id","data","retry","comments"}.
sse_blocks() {
	python3 - "$1" <<'EOF'
import json, sys
text = open(sys.argv[1], "rb").read().decode("utf-8")
for block in text.split("\n\n")[:-1]:
    b = {"event": None, "id": None, "data": None, "retry": None, "comments": []}
    for line in block.split("\n"):
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "":
            b["comments"].append(value)
        elif field in ("event", "id", "retry"):
            b[field] = value
        elif field == "data":
            b["data"] = value if b["data"] is None else b["data"] + "\n" + value
    print(json.dumps(b))
EOF
}

# heartbeats FILE N: FILE has at least N heartbeat comments.
heartbeats() {
	[ "$(grep -cx ': heartbeat' "$1")" -ge "$2" ]
}

# sse_count FILE JQ_CONDITION: how many blocks meet the condition.
sse_count() {
	sse_blocks "$1" | jq -c "select($2)" | wc -l
}

sse_has() {
	[ "$(sse_count "$1" "$2")" -gt 0 ]
}

# wait_sse FILE JQ_CONDITION TIMEOUT_MS: waits for such a block.
wait_sse() {
	wait_until "$3" sse_has "$1" "$2" ||
	    fail "no block with $2 within $3 ms; the stream: $(cat "$1")"
}

# x_checksum FILE: the checksum /has_new_checksum reports for FILE.
x_checksum() {
	http "/has_new_checksum?proposal=1111&file_name=$1&checksum=00000000" >/dev/null &&
	    header X-Checksum
}

# long_poll_within_50ms ROUTE FILE: push.py's latency run of ROUTE?wait
# on FILE; reports its lines and the median from the write to the answer,
# which must be under 50 ms.
long_poll_within_50ms() {
	local out median
	out=$(push_py latency "$1" "$2" 5) || fail "$out" || return 1
	grep '^# ' <<<"$out" >&3
	median=${out##*$'\n'}
	echo "# $1?wait: median $median ms from the write to the answer" >&3
	awk -v m="$median" 'BEGIN { exit !(m < 50) }' || fail "median $median ms"
}

# seen_then_appended FILE FIRST MORE: FILE in the DAMNIT folder holds the
# line FIRST, whose checksum as has_new_checksum reports it is SEEN; then
# the line MORE is appended, and NOW is the file's checksum.
seen_then_appended() {
	printf '%s\n' "$2" >"$DAMNIT/$1"
	SEEN=$(x_checksum "$1") || return 1
	printf '%s\n' "$3" >>"$DAMNIT/$1"
	NOW=$(crc32 "$DAMNIT/$1")
}

# answered_after_wait SECONDS: the last request (http) took SECONDS and
# less than one more.
answered_after_wait() {
	[ "$TIME_MS" -ge $(($1 * 1000)) ] && [ "$TIME_MS" -lt $(($1 * 1000 + 1000)) ] ||
	    fail "wait=$1 answered after $TIME_MS ms"
}

# answered_at_once: the last request (http) took less than a second.
answered_at_once() {
	[ "$TIME_MS" -lt 1000 ] || fail "answered after $TIME_MS ms"
}

@test "a long-poll on has_new_checksum is answered within 50 ms of a change" {
	printf 'waited on\n' >"$DAMNIT/lp.log"
	long_poll_within_50ms has_new_checksum lp.log
}

@test "a long-poll on has_new_checksum without a change answers false after wait seconds" {
	printf 'quiet\n' >"$DAMNIT/quiet.log"
	crc=$(crc32 "$DAMNIT/quiet.log")
	for s in 1 2; do
		http "/has_new_checksum?proposal=1111&file_name=quiet.log&checksum=$crc&wait=$s"
		expect_status 200
		[ "$(body)" = false ]
		[ "$(header X-Checksum)" = "$crc" ]
		echo "# has_new_checksum?wait=$s answered false after $TIME_MS ms" >&3
		answered_after_wait "$s"
	done
	# A checksum that already differs is answered at once.
	http "/has_new_checksum?proposal=1111&file_name=quiet.log&checksum=00000000&wait=5"
	[ "$(body)" = true ]
	answered_at_once
	http "/has_new_checksum?proposal=1111&file_name=quiet.log&checksum=$crc&wait=31"
	expect_error 400 "wait must be a whole number from 0 to 30"
}

@test "a long-poll on file_tail delivers appended bytes within 50 ms" {
	printf 'tailed\n' >"$DAMNIT/lpt.log"
	long_poll_within_50ms file_tail lpt.log
}

@test "a long-poll on file_tail without new bytes answers no data after wait seconds" {
	printf 'nothing more\n' >"$DAMNIT/quiet-tail.log"
	size=$(stat -c %s "$DAMNIT/quiet-tail.log")
	for s in 1 2; do
		http "/file_tail?proposal=1111&file_name=quiet-tail.log&offset=$size&wait=$s"
		expect_status 200
		jq -e --argjson s "$size" '.offset == $s and .next_offset == $s and
		    .data == "" and .reset == false' "$T/b" || fail "$(body)"
		echo "# file_tail?wait=$s answered without data after $TIME_MS ms" >&3
		answered_after_wait "$s"
	done
	# Bytes already there, or a reset, are answered at once.
	http "/file_tail?proposal=1111&file_name=quiet-tail.log&offset=3&wait=5"
	[ "$(jqb .data)" = "hing more" ]
	answered_at_once
	http "/file_tail?proposal=1111&file_name=quiet-tail.log&offset=$size&generation=0-0&wait=5"
	jq -e '.reset == true and .offset == 0' "$T/b"
	answered_at_once
	http "/file_tail?proposal=1111&file_name=quiet-tail.log&offset=0&wait=31"
	expect_error 400 "wait must be a whole number from 0 to 30"
}

@test "one handler process holds 200 waiters, answers file_content meanwhile, then all of them" {
	printf 'crowded\n' >"$DAMNIT/crowd.log"
	crc=$(crc32 "$DAMNIT/crowd.log")
	start_crowd 200 crowd.log "$crc"
	[ "$(handler_processes)" = 1 ] || fail "$(handler_processes) handler processes"
	slowest=0
	for i in $(seq 50); do
		http "/file_content?proposal=1111&file_name=context.py"
		expect_status 200 || fail "request $i"
		[ "$(jqb .checksum)" = "$(crc32 "$DAMNIT/context.py")" ]
		[ "$TIME_MS" -gt "$slowest" ] && slowest=$TIME_MS
	done
	echo "# 50 file_content while 200 wait: slowest $slowest ms" >&3
	[ "$slowest" -lt 1000 ] || fail "a file_content took $slowest ms"
	[ "$(handler_processes)" = 1 ]
	t0=$(now_ms)
	printf 'changed once\n' >>"$DAMNIT/crowd.log"
	crowd_all_true 200 "$(crc32 "$DAMNIT/crowd.log")"
	last=$(jq -s 'map(.t) | max * 1000 | floor' "$CROWD_OUT")
	echo "# the 200 waiters answered within $((last - t0)) ms of the change" >&3
}

@test "beyond FILEHANDLER_MAX_HELD a waiter gets 503 with Retry-After while other routes answer" {
	restart_lighttpd FILEHANDLER_MAX_HELD=5 FILEHANDLER_THREADS=8
	printf 'five at most\n' >"$DAMNIT/held.log"
	crc=$(crc32 "$DAMNIT/held.log")
	start_crowd 5 held.log "$crc"
	q="proposal=1111&file_name=held.log"
	http "/has_new_checksum?$q&checksum=$crc&wait=5"
	expect_error 503 "too many clients"
	[ "$(header Retry-After)" = 1 ]
	[ "$TIME_MS" -lt 1000 ] || fail "the 503 took $TIME_MS ms"
	http "/file_tail?$q&offset=0&wait=5"
	expect_error 503 "too many clients"
	http "/events?$q"
	expect_error 503 "too many clients"
	[ "$(header Retry-After)" = 1 ]
	for i in 1 2 3 4 5 6 7 8 9 10; do
		http "/file_content?$q"
		expect_status 200 || fail "file_content $i"
		http "/has_new_checksum?$q&checksum=$crc"
		expect_status 200 || fail "has_new_checksum $i"
		[ "$(body)" = false ]
		http "/file_tail?$q&offset=5"
		expect_status 200 || fail "file_tail $i"
	done
	http /health
	expect_status 200
	printf 'and a change\n' >>"$DAMNIT/held.log"
	new=$(crc32 "$DAMNIT/held.log")
	crowd_all_true 5 "$new"
	# Their places are free again.
	http "/has_new_checksum?$q&checksum=$new&wait=1"
	expect_status 200
	[ "$(body)" = false ]
	[ "$TIME_MS" -ge 1000 ] || fail "answered after $TIME_MS ms"
}

@test "/events starts with retry, is an event stream and sends a heartbeat" {
	printf 'streamed\n' >"$DAMNIT/sse0.log"
	sse_start "proposal=1111&file_name=sse0.log"
	head -n 1 "$SSE_OUT" | grep -qx 'retry: 2000' || fail "first line: $(head -n 1 "$SSE_OUT")"
	grep -qi '^Content-Type: text/event-stream' "$SSE_OUT.h" || fail "$(cat "$SSE_OUT.h")"
	grep -q '^HTTP/1.1 200' "$SSE_OUT.h"
	wait_until 2500 heartbeats "$SSE_OUT" 1 || fail "no heartbeat: $(cat "$SSE_OUT")"
	wait_until 5000 heartbeats "$SSE_OUT" 3 ||
	    fail "fewer than 3 heartbeats in 5 s: $(cat "$SSE_OUT")"
	[ "$(sse_count "$SSE_OUT" '.event != null')" = 0 ] ||
	    fail "an event without a change: $(cat "$SSE_OUT")"
}

@test "/events sends changed for an in-place save and a rename-over save, the new checksum as id" {
	f="$DAMNIT/sse1.log"
	printf 'first\n' >"$f"
	sse_start "proposal=1111&file_name=sse1.log"
	printf 'second\n' 1<>"$f"
	crc=$(crc32 "$f")
	wait_sse "$SSE_OUT" ".event == \"changed\" and .id == \"$crc\"" 3000
	[ "$(x_checksum sse1.log)" = "$crc" ]
	sse_blocks "$SSE_OUT" | jq -se --arg c "$crc" --argjson size "$(stat -c %s "$f")" '
	    map(select(.event == "changed")) | length == 1 and (.[0].data | fromjson |
	    .event == "changed" and .proposal == 1111 and .file_name == "sse1.log" and
	    .checksum == $c and .size == $size and (.generation | type) == "string")' ||
	    fail "$(cat "$SSE_OUT")"
	gen=$(sse_blocks "$SSE_OUT" | jq -r 'select(.event == "changed") | .data | fromjson | .generation')
	# An editor's save: a new file renamed over the old one.
	printf 'third, saved by an editor\n' >"$DAMNIT/.sse1.log.swp"
	mv "$DAMNIT/.sse1.log.swp" "$f"
	crc2=$(crc32 "$f")
	wait_sse "$SSE_OUT" ".event == \"changed\" and .id == \"$crc2\"" 3000
	[ "$(x_checksum sse1.log)" = "$crc2" ]
	[ "$(sse_count "$SSE_OUT" '.event == "changed"')" = 2 ] || fail "$(cat "$SSE_OUT")"
	sse_blocks "$SSE_OUT" | jq -se --arg c "$crc2" --arg g "$gen" '
	    map(select(.event == "changed"))[1].data | fromjson |
	    .checksum == $c and .generation != $g' || fail "$(cat "$SSE_OUT")"
}

@test "/events with Last-Event-ID: an old checksum gets changed at once, the current one nothing" {
	seen_then_appended sse2.log before after
	sse_start "proposal=1111&file_name=sse2.log" -H "Last-Event-ID: $SEEN"
	wait_sse "$SSE_OUT" ".event == \"changed\" and .id == \"$NOW\"" 2000
	# Right after the retry line, before any heartbeat.
	[ "$(sse_blocks "$SSE_OUT" | sed -n 2p | jq -r .event)" = changed ] || fail "$(cat "$SSE_OUT")"
	old_stream=$SSE_OUT
	sse_start "proposal=1111&file_name=sse2.log&last_event_id=$SEEN"
	wait_sse "$SSE_OUT" ".event == \"changed\" and .id == \"$NOW\"" 2000
	# The current checksum: heartbeats only.
	sse_start "proposal=1111&file_name=sse2.log" -H "Last-Event-ID: $NOW"
	wait_until 5000 heartbeats "$SSE_OUT" 2 ||
	    fail "no heartbeats: $(cat "$SSE_OUT")"
	[ "$(sse_count "$SSE_OUT" '.event != null')" = 0 ] || fail "$(cat "$SSE_OUT")"
	[ "$(sse_count "$old_stream" '.event != null')" = 1 ] || fail "$(cat "$old_stream")"
}

@test "/events: a reconnection's Last-Event-ID wins over the first connection's last_event_id" {
	seen_then_appended sse2b.log first second
	first=$SEEN second=$NOW
	# Seen "second" on the stream, reconnecting while the file is back
	# at "first": the browser's URL still says first.
	printf 'first\n' >"$DAMNIT/sse2b.log"
	[ "$(x_checksum sse2b.log)" = "$first" ]
	sse_start "proposal=1111&file_name=sse2b.log&last_event_id=$first" -H "Last-Event-ID: $second"
	wait_sse "$SSE_OUT" ".event == \"changed\" and .id == \"$first\"" 2000
}

@test "/events sends deleted (no id) for a deleted file and created when it is back" {
	f="$DAMNIT/sse3.log"
	printf 'here\n' >"$f"
	sse_start "proposal=1111&file_name=sse3.log"
	rm "$f"
	wait_sse "$SSE_OUT" '.event == "deleted"' 3000
	sse_blocks "$SSE_OUT" | jq -se 'map(select(.event == "deleted")) | length == 1 and
	    .[0].id == null and (.[0].data | fromjson | .event == "deleted" and
	    .checksum == null and .file_name == "sse3.log")' || fail "$(cat "$SSE_OUT")"
	printf 'back again\n' >"$f"
	crc=$(crc32 "$f")
	wait_sse "$SSE_OUT" ".event == \"created\" and .id == \"$crc\"" 3000
	[ "$(x_checksum sse3.log)" = "$crc" ]
}

@test "/events for a missing file is a 404 JSON answer, not a stream" {
	http "/events?proposal=1111&file_name=never.log"
	expect_error 404 "not found"
	http "/events?proposal=1111&file_name=notes.txt"
	expect_error 403 "."
	http "/events?proposal=1111"
	expect_error 400 "file_name is missing"
}

@test "/events says unavailable while watcherd is down, then available and what changed" {
	printf 'steady\n' >"$DAMNIT/sse4.log"
	printf 'will change\n' >"$DAMNIT/sse5.log"
	sse_start "proposal=1111&file_name=sse4.log"
	steady=$SSE_OUT
	sse_start "proposal=1111&file_name=sse5.log"
	kill_watcherd_hard
	wait_sse "$steady" '.event == "unavailable"' 3000
	wait_sse "$SSE_OUT" '.event == "unavailable"' 3000
	printf 'changed while nobody watched\n' >>"$DAMNIT/sse5.log"
	crc=$(crc32 "$DAMNIT/sse5.log")
	start_web_watcherd
	wait_sse "$SSE_OUT" '.event == "available"' 5000
	wait_sse "$SSE_OUT" ".event == \"changed\" and .id == \"$crc\"" 3000
	wait_sse "$steady" '.event == "available"' 5000
	# Still followed after the restart.
	printf 'and after\n' >>"$DAMNIT/sse4.log"
	crc4=$(crc32 "$DAMNIT/sse4.log")
	wait_sse "$steady" ".event == \"changed\" and .id == \"$crc4\"" 3000
	sse_blocks "$steady" | jq -se 'map(.event | select(. != null)) ==
	    ["unavailable", "available", "changed"]' || fail "$(cat "$steady")"
	sse_blocks "$SSE_OUT" | jq -se 'map(.event | select(. != null)) ==
	    ["unavailable", "available", "changed"]' || fail "$(cat "$SSE_OUT")"
}
