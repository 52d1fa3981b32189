#!/usr/bin/env bats
# Following a log: watcherd's tail command over its socket, and /file_tail
# with the handler run as plain CGI. A follower keeps the offset and the
# generation from answer to answer, as a client does, and must end up with
# every byte of the log exactly once, in order, told to start over exactly
# when the log was truncated, rotated or replaced.

load web_helpers
web_default_hooks

setup_file() {
	web_setup_file
	write_follower
	start_web_watcherd
}

teardown() {
	kill_spawned
	run_every ensure_default_watcherd web_teardown
}

# The follower: one client that asks until an answer brings nothing new.
# Its state (offset, generation, which stream) lives in a directory, so that
# each call goes on where the last one stopped. Every reset starts a new
# stream file: stream.0, stream.1, ... hold the bytes of each generation as
# delivered. It checks each answer on the way (a reset starts from 0, an
# answer starts at the offset asked for, the bytes are next_offset - offset
# long, a "utf-8" chunk is valid UTF-8, so never ends inside a character)
# and prints what the catch-up saw:
#   resets answers cuts base64 offset generation stream size checksum
# (cuts: answers cut back short of max_bytes and of the end of the file).
write_follower() {
	cat >"$T/follow.py" <<'EOF'
import base64, json, os, re, socket, subprocess, sys, urllib.parse

via, name, state_dir, max_bytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
HTTP_KEYS = sorted(["proposal", "file_name", "offset", "next_offset", "size",
                    "generation", "reset", "encoding", "checksum", "mtime", "data"])

def die(msg):
    print("follower: " + msg)
    sys.exit(3)

def decode_literal(text, encoding):
    if encoding == "utf-8":
        return text.encode("utf-8")
    if encoding == "base64":
        return base64.b64decode(text, validate=True)
    die("unknown encoding %r" % encoding)

def ask_socket(offset, generation, fmt):
    req = {"cmd": "tail", "proposal": 1111, "file_name": name,
           "offset": offset, "max_bytes": max_bytes, "format": fmt}
    if generation is not None:
        req["generation"] = generation
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(os.environ["SOCK"])
    s.sendall(json.dumps(req).encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            die("connection closed before the reply line: %r" % buf)
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    reply = json.loads(line)
    if not reply.get("ok"):
        die("refused: %s" % line.decode(errors="replace"))
    while len(rest) < reply["payload"]:
        chunk = s.recv(65536)
        if not chunk:
            die("payload cut short: %d of %d bytes" % (len(rest), reply["payload"]))
        rest += chunk
    s.close()
    if len(rest) != reply["payload"]:
        die("%d bytes after a payload of %d" % (len(rest), reply["payload"]))
    if fmt == "json":
        return reply, decode_literal(json.loads(rest.decode("utf-8")), reply["encoding"])
    if reply["encoding"] == "utf-8":
        rest.decode("utf-8")    # raises on a chunk cut inside a character
    return reply, rest

def ask_http(offset, generation):
    query = [("proposal", "1111"), ("file_name", name), ("offset", str(offset)),
             ("max_bytes", str(max_bytes))]
    if generation is not None:
        query.append(("generation", generation))
    qs = urllib.parse.urlencode(query)
    env = {"PATH": os.environ["PATH"], "REQUEST_METHOD": "GET",
           "REQUEST_URI": "/filehandler/file_tail?" + qs, "QUERY_STRING": qs,
           "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
           "WATCHERD_SOCKET": os.environ["SOCK"],
           "ASAN_OPTIONS": os.environ["ASAN_EXIT_OPTIONS"],
           "UBSAN_OPTIONS": os.environ["UBSAN_HALT_OPTIONS"]}
    with open(os.environ["T"] + "/cgi.log", "ab") as log:
        run = subprocess.run([os.environ["HANDLER"]], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=log, timeout=30)
    if run.returncode != 0:
        die("the handler exited with status %d" % run.returncode)
    head, body = run.stdout.split(b"\r\n\r\n", 1)
    status = re.search(rb"^Status: (\d+)", head, re.M)
    if status is None or status.group(1) != b"200":
        die("answer %s: %s" % (head.split(b"\r\n")[0], body[:300]))
    answer = json.loads(body.decode("utf-8"))
    if sorted(answer) != HTTP_KEYS:
        die("not the contract's keys: %s" % sorted(answer))
    if answer["proposal"] != 1111 or answer["file_name"] != name:
        die("another file's answer: %r" % answer)
    crc = re.search(rb"^X-Checksum: (\S+)", head, re.M)
    if (crc.group(1).decode() if crc else None) != answer["checksum"]:
        die("X-Checksum %r for checksum %r" % (crc and crc.group(1), answer["checksum"]))
    return answer, decode_literal(answer["data"], answer["encoding"])

state_path = os.path.join(state_dir, "state")
if os.path.exists(state_path):
    state = json.load(open(state_path))
else:
    state = {"offset": 0, "generation": None, "stream": 0}
    open(os.path.join(state_dir, "stream.0"), "wb").close()
resets = answers = cuts = b64 = 0
while True:
    if answers == 10000:
        die("no end after 10000 answers")
    asked = state["offset"]
    if via == "http":
        reply, data = ask_http(asked, state["generation"])
    else:
        reply, data = ask_socket(asked, state["generation"], via.split("-")[1])
    answers += 1
    off, nxt, size = reply["offset"], reply["next_offset"], reply["size"]
    if reply["reset"]:
        resets += 1
        if off != 0:
            die("a reset answer starts at %d, not 0" % off)
        state["stream"] += 1
        open(os.path.join(state_dir, "stream.%d" % state["stream"]), "wb").close()
    elif off != asked:
        die("asked for offset %d, got %d without a reset" % (asked, off))
    if len(data) != nxt - off or not off <= nxt <= size:
        die("offset %d, next_offset %d, size %d with %d bytes" % (off, nxt, size, len(data)))
    if reply["encoding"] == "base64":
        b64 += 1
    elif nxt - off < min(max_bytes, size - off):
        cuts += 1
    with open(os.path.join(state_dir, "stream.%d" % state["stream"]), "ab") as out:
        out.write(data)
    state["offset"], state["generation"] = nxt, reply["generation"]
    if nxt == off and not reply["reset"]:
        break
json.dump(state, open(state_path, "w"))
print(resets, answers, cuts, b64, state["offset"], state["generation"],
      state["stream"], size, reply["checksum"] or "null")
EOF
}

# follow VIA FILE MAX_BYTES: the follower of FILE through VIA (socket-raw,
# socket-json: watcherd's socket with that format; http: /file_tail run as
# CGI) catches up, max_bytes at a time. Sets RESETS, ANSWERS, CUTS, BASE64,
# OFFSET, GEN, STREAM (the number of the stream being written), SIZE,
# CHECKSUM (the last answer's), STREAM_FILE and STREAM_DIR.
follow() {
	local out
	STREAM_DIR="$T/follow/$1/${2//\//_}"
	mkdir -p "$STREAM_DIR"
	out=$(env SOCK="$SOCK" T="$T" HANDLER="$HANDLER" ASAN_EXIT_OPTIONS="$ASAN_EXIT_OPTIONS" \
	    UBSAN_HALT_OPTIONS="$UBSAN_HALT_OPTIONS" \
	    python3 "$T/follow.py" "$1" "$2" "$STREAM_DIR" "$3") ||
	    fail "following $2 through $1: $out" || return 1
	read -r RESETS ANSWERS CUTS BASE64 OFFSET GEN STREAM SIZE CHECKSUM <<<"$out"
	STREAM_FILE="$STREAM_DIR/stream.$STREAM"
}

# caught_up EXPECTED [RESETS [STREAM]]: the last catch-up ended at the end of
# the file, with that many resets (default 0), writing stream STREAM
# (default 0), and that stream is exactly the EXPECTED bytes.
caught_up() {
	local want_resets=${2:-0} want_stream=${3:-0}
	[ "$RESETS" = "$want_resets" ] ||
	    fail "$RESETS answers said reset, $want_resets expected" || return 1
	[ "$STREAM" = "$want_stream" ] ||
	    fail "writing stream $STREAM, not $want_stream" || return 1
	[ "$OFFSET" = "$SIZE" ] ||
	    fail "stopped at offset $OFFSET of $SIZE bytes" || return 1
	cmp "$STREAM_FILE" "$1" ||
	    fail "the bytes delivered differ from the bytes written"
}

# add FILE EXPECTED FORMAT [ARG...]: printf's bytes appended in one write to
# the log FILE (in the DAMNIT folder) and to the EXPECTED byte stream.
add() {
	local f=$1 exp=$2
	shift 2
	# shellcheck disable=SC2059
	printf -- "$@" >"$T/piece"
	cat "$T/piece" >>"$DAMNIT/$f"
	cat "$T/piece" >>"$exp"
}

# sock LINE: one request to watcherd; its reply line in REPLY_LINE (and
# $T/r.hdr), its payload in $T/r.payload.
sock() {
	local hdrlen
	printf '%s\n' "$1" | socat -t 2 - "UNIX-CONNECT:$SOCK" >"$T/r.raw" ||
	    fail "socat failed" || return 1
	head -n 1 "$T/r.raw" >"$T/r.hdr"
	hdrlen=$(wc -c <"$T/r.hdr")
	tail -c +"$((hdrlen + 1))" "$T/r.raw" >"$T/r.payload"
	REPLY_LINE=$(cat "$T/r.hdr")
}

# rj FILTER: jq -r FILTER on the last reply line.
rj() {
	jq -r "$1" "$T/r.hdr"
}

# subscriber FILE: a watcherd subscription to FILE whose lines go to SUB_OUT;
# waits (at most 2 s) for its reply.
subscriber() {
	SUB_OUT="$T/sub.$BATS_TEST_NUMBER.out"
	spawn bash -c '{ printf "{\"cmd\":\"subscribe\",\"proposal\":1111,\"file_name\":\"%s\"}\n" "$1"
	    exec sleep 60; } | exec socat -t 2 - "UNIX-CONNECT:$2"' _ "$1" "$SOCK" \
	    </dev/null >"$SUB_OUT" 2>&1
	wait_until 2000 grep -q '"ok"' "$SUB_OUT" ||
	    fail "the subscription to $1 got no reply: $(cat "$SUB_OUT")"
}

# sub_event_with OUT JQ_CONDITION: OUT has an event line meeting the condition.
sub_event_with() {
	sub_events_at_least "$1" "$2" 1
}

# sub_events_at_least OUT JQ_CONDITION N: OUT has N such event lines or more.
sub_events_at_least() {
	[ "$(jq -cR "fromjson? | select(.event != null) | select($2)" "$1" | wc -l)" -ge "$3" ]
}

# A log written a line at a time, in several writes, with characters of
# two, three and four bytes, followed max_bytes 4 to 7 at a time: chunks are
# cut back inside characters, nothing is ever reset, nothing lost.
growing_log_is_followed() {
	local via=$1 f="grow-$1.log" exp="$T/grow-$1.exp" i gen cuts=0
	: >"$exp"
	add "$f" "$exp" 'start: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n'
	follow "$via" "$f" 5
	caught_up "$exp"
	cuts=$((cuts + CUTS))
	gen=$GEN
	for i in 1 2 3 4 5 6; do
		add "$f" "$exp" 'line %d: na\xc3\xafve ' "$i"
		add "$f" "$exp" '\xe2\x82\xac%d \xf0\x9f\x98\x80\xf0\x9f\x8e\x89\n' "$i"
		follow "$via" "$f" $((4 + i % 4))
		caught_up "$exp" || fail "after line $i"
		cuts=$((cuts + CUTS))
		[ "$GEN" = "$gen" ] || fail "the generation moved from $gen to $GEN on growth"
	done
	[ "$cuts" -gt 0 ] || fail "no chunk was ever cut back inside a character"
	[ "$CHECKSUM" = "$(crc32 "$DAMNIT/$f")" ] ||
	    fail "checksum $CHECKSUM is not the file's $(crc32 "$DAMNIT/$f")"
	# A follower starting late, a MiB at a time, gets it all in one go.
	cp "$DAMNIT/$f" "$DAMNIT/late-$f"
	follow "$via" "late-$f" 1048576
	caught_up "$exp"
	[ "$ANSWERS" = 2 ] || fail "$ANSWERS answers for the whole file"
}

@test "socket, raw: a growing log is followed byte for byte, never reset" {
	growing_log_is_followed socket-raw
}
@test "socket, json: a growing log is followed byte for byte, never reset" {
	growing_log_is_followed socket-json
}
@test "/file_tail: a growing log is followed byte for byte, never reset" {
	growing_log_is_followed http
}

# A writer that appends half a character, then the rest: the half is held
# back until the character is whole.
half_character_waits() {
	local via=$1 f="half-$1.log" exp="$T/half-$1.exp"
	: >"$exp"
	add "$f" "$exp" 'abc'
	follow "$via" "$f" 16
	caught_up "$exp"
	add "$f" "$exp" '\xf0\x9f'
	follow "$via" "$f" 16
	[ "$OFFSET" = 3 ] && [ "$SIZE" = 5 ] ||
	    fail "half an emoji: stopped at $OFFSET of $SIZE, not 3 of 5"
	cmp "$STREAM_FILE" <(printf 'abc')
	add "$f" "$exp" '\x98\x80 and \xe2'
	follow "$via" "$f" 16
	[ "$OFFSET" = $((SIZE - 1)) ] ||
	    fail "the first byte of a euro sign: stopped at $OFFSET of $SIZE"
	add "$f" "$exp" '\x82\xac\n'
	follow "$via" "$f" 16
	caught_up "$exp"
	[ "$BASE64" = 0 ] || fail "$BASE64 chunks of valid UTF-8 came as base64"
}

@test "socket: half a character appended is held back until the rest arrives" {
	half_character_waits socket-raw
}
@test "/file_tail: half a character appended is held back until the rest arrives" {
	half_character_waits http
}

@test "max_bytes that ends inside é, € or an emoji cuts back to the character before" {
	# a, é (2 bytes), € (3), 😀 (4): 10 bytes.
	printf 'a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80' >"$DAMNIT/cut.log"
	# offset max_bytes -> next_offset
	for step in "0 4 3" "3 4 6" "6 4 10" "1 4 3" "1 5 6" "0 10 10" "6 7 10" "0 6 6"; do
		read -r off max next <<<"$step"
		sock "{\"cmd\":\"tail\",\"proposal\":1111,\"file_name\":\"cut.log\",\"offset\":$off,\"max_bytes\":$max}"
		[ "$(rj .ok)" = true ] || fail "$REPLY_LINE"
		[ "$(rj .next_offset)" = "$next" ] && [ "$(rj .encoding)" = utf-8 ] ||
		    fail "offset $off max_bytes $max: $REPLY_LINE (want next_offset $next)"
		cmp "$T/r.payload" <(tail -c +$((off + 1)) "$DAMNIT/cut.log" | head -c $((next - off))) ||
		    fail "offset $off max_bytes $max: wrong bytes"
		cgi GET "/file_tail?proposal=1111&file_name=cut.log&offset=$off&max_bytes=$max"
		expect_status 200
		[ "$(jqb .next_offset)" = "$next" ] || fail "/file_tail offset $off max_bytes $max: $(body)"
		cmp <(jq -j .data "$T/b") "$T/r.payload"
	done
}

# A log truncated and written again: the follower is told to reset and gets
# the new content from 0; after a truncation that watcherd saw, even a log
# grown past the follower's offset resets it (a new generation), and the
# subscription's event names that generation.
truncated_log_resets() {
	local via=$1 f="trunc-$1.log" gen0 gen1 evgen
	: >"$T/t0.exp"
	for i in 1 2 3 4 5; do
		add "$f" "$T/t0.exp" 'entry %d: r\xc3\xa9sultat \xe2\x82\xac\n' "$i"
	done
	follow "$via" "$f" 7
	caught_up "$T/t0.exp"
	gen0=$GEN
	subscriber "$f"
	printf 'restarted \xf0\x9f\x98\x80\n' >"$DAMNIT/$f"
	printf 'restarted \xf0\x9f\x98\x80\n' >"$T/t1.exp"
	follow "$via" "$f" 7
	caught_up "$T/t1.exp" 1 1
	cmp "$STREAM_DIR/stream.0" "$T/t0.exp"
	gen1=$GEN
	[ "$gen1" != "$gen0" ] || fail "the generation $gen0 survived a truncation"
	add "$f" "$T/t1.exp" 'grows again: \xc3\xa9\n'
	follow "$via" "$f" 7
	caught_up "$T/t1.exp" 0 1
	[ "$GEN" = "$gen1" ]
	# Emptied; once watcherd has seen it shrink, refilled past the
	# follower's offset.
	: >"$DAMNIT/$f"
	wait_until 2000 sub_event_with "$SUB_OUT" '.size == 0' ||
	    fail "no event for the truncation to 0: $(cat "$SUB_OUT")"
	evgen=$(jq -rR 'fromjson? | select(.event != null and .size == 0) | .generation' "$SUB_OUT" | tail -n 1)
	[ -n "$evgen" ] && [ "$evgen" != null ] || fail "no generation in the event: $(cat "$SUB_OUT")"
	[ "$evgen" != "$gen1" ] || fail "the event kept the old generation $gen1"
	: >"$T/t2.exp"
	for i in 1 2 3 4 5 6 7 8; do
		add "$f" "$T/t2.exp" 'after the second truncation, line %d \xe2\x82\xac\n' "$i"
	done
	[ "$(stat -c %s "$DAMNIT/$f")" -gt "$OFFSET" ]
	follow "$via" "$f" 7
	caught_up "$T/t2.exp" 1 2
	[ "$GEN" = "$evgen" ] || fail "the tail's generation $GEN is not the event's $evgen"
	cmp "$STREAM_DIR/stream.1" "$T/t1.exp"
}

@test "socket: a truncated log resets the follower, and only then" {
	truncated_log_resets socket-raw
}
@test "/file_tail: a truncated log resets the follower, and only then" {
	truncated_log_resets http
}

# logrotate's way: the log renamed away and a new one created (longer than
# the follower's offset): a reset, then only the new file's bytes.
rotated_log_resets() {
	local via=$1 f="rot-$1.log" gen0
	: >"$T/r0.exp"
	add "$f" "$T/r0.exp" 'old log \xc3\xa9\n'
	add "$f" "$T/r0.exp" 'old log, second line\n'
	follow "$via" "$f" 6
	caught_up "$T/r0.exp"
	gen0=$GEN
	mv "$DAMNIT/$f" "$DAMNIT/$f.1"
	: >"$T/r1.exp"
	for i in 1 2 3 4; do
		add "$f" "$T/r1.exp" 'new log line %d \xf0\x9f\x8e\x89\n' "$i"
	done
	[ "$(stat -c %s "$DAMNIT/$f")" -gt "$OFFSET" ]
	follow "$via" "$f" 6
	caught_up "$T/r1.exp" 1 1
	[ "$GEN" != "$gen0" ] || fail "the generation $gen0 survived the rotation"
	cmp "$STREAM_DIR/stream.0" "$DAMNIT/$f.1"
	# The old file still written to is no longer followed.
	printf 'late line in the old file\n' >>"$DAMNIT/$f.1"
	add "$f" "$T/r1.exp" 'new log, more\n'
	follow "$via" "$f" 6
	caught_up "$T/r1.exp" 0 1
}

@test "socket: a rotated log (renamed away, recreated) resets the follower" {
	rotated_log_resets socket-json
}
@test "/file_tail: a rotated log (renamed away, recreated) resets the follower" {
	rotated_log_resets http
}

@test "a log deleted, seen gone, then recreated resets the follower" {
	f=reborn.log
	printf 'first life\n' >"$T/exp"
	cp "$T/exp" "$DAMNIT/$f"
	follow http "$f" 64
	caught_up "$T/exp"
	subscriber "$f"
	for round in 1 2 3; do
		rm "$DAMNIT/$f"
		wait_until 2000 sub_events_at_least "$SUB_OUT" '.event == "deleted"' "$round" ||
		    fail "no deleted event: $(cat "$SUB_OUT")"
		cgi GET "/file_tail?proposal=1111&file_name=$f&offset=$OFFSET&generation=$GEN"
		expect_error 404 "not found"
		printf 'life number %d, as long\n' "$round" >"$T/exp"
		cp "$T/exp" "$DAMNIT/$f"
		follow http "$f" 64
		caught_up "$T/exp" 1 "$round" || fail "round $round"
	done
}

@test "a log deleted and at once recreated resets the follower" {
	# ext4 tends to give the new file the inode the old one just freed;
	# five rounds make that case come up.
	f=recreated.log
	printf 'first version\n' >"$T/exp"
	cp "$T/exp" "$DAMNIT/$f"
	follow socket-raw "$f" 64
	caught_up "$T/exp"
	for round in 1 2 3 4 5; do
		old_inode=$(stat -c %i "$DAMNIT/$f")
		rm "$DAMNIT/$f"
		printf 'version %d, recreated and longer than before\n' "$round" >"$T/exp"
		cp "$T/exp" "$DAMNIT/$f"
		follow socket-raw "$f" 64
		caught_up "$T/exp" 1 "$round" ||
		    fail "round $round: deleted (inode $old_inode) and recreated (inode $(stat -c %i "$DAMNIT/$f")), the generation stayed $GEN and the follower went on from its old offset: it has '$(cat "$STREAM_FILE")'"
	done
}

@test "socket, raw: a tail with nothing new answers payload 0 and the connection goes on" {
	printf 'all read\n' >"$DAMNIT/end.log"
	{
		printf '%s\n' '{"cmd":"tail","proposal":1111,"file_name":"end.log","offset":9}'
		printf '%s\n' '{"cmd":"ping"}'
	} | socat -t 2 - "UNIX-CONNECT:$SOCK" >"$T/out"
	[ "$(wc -l <"$T/out")" = 2 ] || fail "expected two replies, got: $(cat "$T/out")"
	jq -e '.ok == true and .offset == 9 and .next_offset == 9 and .payload == 0 and
	    .reset == false' <(sed -n 1p "$T/out") || fail "$(sed -n 1p "$T/out")"
	jq -e '.protocol == 1' <(sed -n 2p "$T/out")
}

@test "an old generation or an offset past the end gets reset:true and the file from 0" {
	f=gen.log
	printf 'generation one\n' >"$DAMNIT/$f"
	sock '{"cmd":"tail","proposal":1111,"file_name":"gen.log"}'
	[ "$(rj .reset)" = false ] && [ "$(rj .offset)" = 0 ] || fail "$REPLY_LINE"
	gen1=$(rj .generation)
	[[ "$gen1" =~ ^[0-9a-f-]{1,32}$ ]] || fail "generation '$gen1'"
	mv "$DAMNIT/$f" "$DAMNIT/$f.old"
	printf 'generation two, a longer file\n' >"$DAMNIT/$f"
	size=$(stat -c %s "$DAMNIT/$f")
	sock "{\"cmd\":\"tail\",\"proposal\":1111,\"file_name\":\"gen.log\",\"offset\":4,\"generation\":\"$gen1\"}"
	[ "$(rj .reset)" = true ] && [ "$(rj .offset)" = 0 ] && [ "$(rj .next_offset)" = "$size" ] ||
	    fail "old generation: $REPLY_LINE"
	gen2=$(rj .generation)
	[ "$gen2" != "$gen1" ]
	cmp "$T/r.payload" "$DAMNIT/$f"
	# The current generation at the end: nothing new, no reset.
	sock "{\"cmd\":\"tail\",\"proposal\":1111,\"file_name\":\"gen.log\",\"offset\":$size,\"generation\":\"$gen2\"}"
	[ "$(rj .reset)" = false ] && [ "$(rj .next_offset)" = "$size" ] && [ "$(rj .payload)" = 0 ] ||
	    fail "at the end: $REPLY_LINE"
	# Past the end, with or without a generation.
	for g in ",\"generation\":\"$gen2\"" ""; do
		sock "{\"cmd\":\"tail\",\"proposal\":1111,\"file_name\":\"gen.log\",\"offset\":$((size + 1))$g}"
		[ "$(rj .reset)" = true ] && [ "$(rj .offset)" = 0 ] || fail "past the end: $REPLY_LINE"
		cmp "$T/r.payload" "$DAMNIT/$f"
	done
	# The same through /file_tail.
	q="proposal=1111&file_name=gen.log"
	cgi GET "/file_tail?$q&offset=4&generation=$gen1"
	expect_status 200
	jq -e --arg g "$gen2" '.reset == true and .offset == 0 and .generation == $g' "$T/b"
	cmp <(jq -j .data "$T/b") "$DAMNIT/$f"
	cgi GET "/file_tail?$q&offset=4&generation=0123-abc"
	jq -e '.reset == true and .offset == 0' "$T/b"
	cgi GET "/file_tail?$q&offset=$size&generation=$gen2"
	jq -e --argjson s "$size" '.reset == false and .next_offset == $s and .data == ""' "$T/b"
	cgi GET "/file_tail?$q&offset=$((size + 100))"
	jq -e '.reset == true and .offset == 0' "$T/b"
	cgi GET "/file_tail?$q&offset=4"
	jq -e --argjson s "$size" '.reset == false and .offset == 4 and .next_offset == $s' "$T/b"
	[ "$(jq -j .data "$T/b")" = "ration two, a longer file" ]
}

# Bytes that are not UTF-8 come as base64 that decodes to them exactly;
# the chunks around them stay text.
not_utf8_is_base64() {
	local via=$1 f="latin-$1.log" exp="$T/latin-$1.exp"
	: >"$exp"
	add "$f" "$exp" 'utf-8: caf\xc3\xa9 \xe2\x82\xac\n'
	add "$f" "$exp" 'latin-1: caf\xe9 na\xefve\n'
	add "$f" "$exp" 'binary: \xff\xfe\x00\x01\x80\xc3(\n'
	add "$f" "$exp" 'utf-8 again, a long line with a \xf0\x9f\x98\x80 in it\n'
	follow "$via" "$f" 9
	caught_up "$exp"
	[ "$BASE64" -gt 0 ] || fail "no chunk came as base64"
	[ "$BASE64" -lt "$ANSWERS" ] || fail "every chunk came as base64"
}

@test "socket, json: bytes that are not UTF-8 come as base64 of the exact bytes" {
	not_utf8_is_base64 socket-json
	sock '{"cmd":"tail","proposal":1111,"file_name":"latin-socket-json.log","format":"json"}'
	[ "$(rj .encoding)" = base64 ] || fail "$REPLY_LINE"
	[ "$(rj .payload)" = "$(stat -c %s "$T/r.payload")" ]
	jq -j . "$T/r.payload" | base64 -d >"$T/bytes"
	cmp "$T/bytes" "$DAMNIT/latin-socket-json.log"
}
@test "socket, raw: bytes that are not UTF-8 come whole, marked base64" {
	not_utf8_is_base64 socket-raw
}
@test "/file_tail: bytes that are not UTF-8 come as base64 of the exact bytes" {
	not_utf8_is_base64 http
	cgi GET "/file_tail?proposal=1111&file_name=latin-http.log"
	expect_status 200
	[ "$(jqb .encoding)" = base64 ]
	jq -j .data "$T/b" | base64 -d >"$T/bytes"
	cmp "$T/bytes" "$DAMNIT/latin-http.log"
}

@test "a log ending in a byte that can never be UTF-8 is delivered whole" {
	# 0xff and 0xc0 start no UTF-8 sequence: nothing can complete them, so
	# holding them back would hold them for ever.
	for last in '\xff' '\xc0' '\xf8'; do
		f="end-${last#\\x}.log"
		# shellcheck disable=SC2059
		printf "abc$last" >"$T/exp"
		cp "$T/exp" "$DAMNIT/$f"
		for via in socket-json http; do
			follow "$via" "$f" 16
			caught_up "$T/exp" ||
			    fail "$via: 'abc$last': next_offset stays $OFFSET of $SIZE bytes; the last byte, which no later byte can make UTF-8, is never delivered"
		done
	done
}

@test "a deleted log is not_found over the socket and 404 through /file_tail" {
	printf 'here today\n' >"$DAMNIT/gone.log"
	sock '{"cmd":"tail","proposal":1111,"file_name":"gone.log"}'
	[ "$(rj .ok)" = true ]
	rm "$DAMNIT/gone.log"
	sock '{"cmd":"tail","proposal":1111,"file_name":"gone.log","offset":5}'
	[ "$(rj .ok)" = false ] && [ "$(rj .error)" = not_found ] || fail "$REPLY_LINE"
	[ -n "$(rj '.detail // empty')" ]
	[ ! -s "$T/r.payload" ]
	cgi GET "/file_tail?proposal=1111&file_name=gone.log&offset=5"
	expect_error 404 "not found"
	cgi GET "/file_tail?proposal=1111&file_name=never-was.log"
	expect_error 404 "not found"
	cgi GET "/file_tail?proposal=1111&file_name=notes.txt"
	expect_error 403 "."
}

@test "a bad offset, max_bytes or generation is bad_request over the socket" {
	printf 'x\n' >"$DAMNIT/bad.log"
	base='"cmd":"tail","proposal":1111,"file_name":"bad.log"'
	for field in '"offset":-1' '"offset":"5"' '"offset":1.5' '"offset":null' \
	    '"max_bytes":3' '"max_bytes":0' '"max_bytes":16777217' '"max_bytes":"1"' \
	    '"generation":5' '"generation":{}' '"format":"xml"'; do
		sock "{$base,$field}"
		[ "$(rj .ok)" = false ] && [ "$(rj .error)" = bad_request ] ||
		    fail "$field: $REPLY_LINE"
		name=${field%%\":*}
		name=${name#\"}
		[[ "$(rj .detail)" == *"$name"* ]] || fail "$field: the detail does not name $name: $REPLY_LINE"
	done
	for field in '"max_bytes":4' '"max_bytes":16777216' '"offset":0'; do
		sock "{$base,$field}"
		[ "$(rj .ok)" = true ] || fail "$field: $REPLY_LINE"
	done
}

@test "a bad offset, max_bytes, generation or wait is 400 through /file_tail" {
	printf 'x\n' >"$DAMNIT/bad.log"
	q="proposal=1111&file_name=bad.log"
	for p in offset=-1 offset=abc offset=1.5 offset= offset=99999999999999999999 \
	    offset=%2B1 max_bytes=3 max_bytes=16777217 max_bytes=1k max_bytes= \
	    wait=31 wait=-1 wait=x generation= generation=XYZ generation=a%20b \
	    "generation=$(printf '%033d' 0)"; do
		cgi GET "/file_tail?$q&$p"
		expect_error 400 "^${p%%=*} must" || fail "for $p"
	done
	cgi GET "/file_tail?$q&offset=1&offset=1"
	expect_error 400 "offset.*more than once"
	cgi GET "/file_tail?file_name=bad.log"
	expect_error 400 "proposal is missing"
	cgi GET "/file_tail?proposal=1111"
	expect_error 400 "file_name is missing"
	cgi GET "/file_tail?$q&max_bytes=4&offset=0&wait=0"
	expect_status 200
}

@test "a log larger than --max-file-size can be tailed, without a checksum" {
	restart_web_watcherd --max-file-size 1k
	f=huge.log
	: >"$T/huge.exp"
	for i in $(seq 120); do
		add "$f" "$T/huge.exp" 'line %03d of a large log: caf\xc3\xa9 \xe2\x82\xac\n' "$i"
	done
	[ "$(stat -c %s "$DAMNIT/$f")" -gt 4096 ]
	sock '{"cmd":"content","proposal":1111,"file_name":"huge.log"}'
	[ "$(rj .error)" = too_large ] || fail "$REPLY_LINE"
	follow socket-raw "$f" 1000
	caught_up "$T/huge.exp"
	[ "$CHECKSUM" = null ] || fail "checksum $CHECKSUM for a file over max-file-size"
	follow http "$f" 1048576
	caught_up "$T/huge.exp"
	[ "$CHECKSUM" = null ]
	cgi GET "/file_tail?proposal=1111&file_name=$f&offset=100&max_bytes=50"
	expect_status 200
	jq -e '.checksum == null and .offset == 100 and .next_offset == 150' "$T/b"
	! header X-Checksum >/dev/null || fail "X-Checksum: $(header X-Checksum)"
	cgi GET "/file_content?proposal=1111&file_name=$f"
	expect_error 413 "."
	# It keeps growing; the followers keep up.
	add "$f" "$T/huge.exp" 'one more line \xf0\x9f\x98\x80\n'
	follow socket-raw "$f" 1000
	caught_up "$T/huge.exp"
	follow http "$f" 1048576
	caught_up "$T/huge.exp"
}
