#!/usr/bin/env bats
# Saving a file (DESIGN.md section 8): PUT /file_content with the handler
# run as plain CGI and under a real lighttpd (lighttpd.conf.sample,
# verbatim), and watcherctl write. watcherd is mostly a fake here, a small
# UNIX socket server that keeps every request about a file (its line and
# its payload, byte for byte) and answers what the test wrote for that
# command: what the handler and watcherctl send and how they read the
# answers is the subject. The last tests save through watcherd itself.

load web_helpers

bats_require_minimum_version 1.5.0

# The fake watcherd, in $T/fake: req.N.line and req.N.payload for the Nth
# request about a file (N counts the files there); http_count.log the
# handler's counts. It answers a command CMD with the line in reply.CMD
# ({"ok":true} without one), after delay.CMD seconds when that file
# exists; with early.CMD it answers before reading the payload and closes
# the connection.
FAKE_WATCHERD='import json, os, socket, sys, threading, time
path, d = sys.argv[1], sys.argv[2]
lock = threading.Lock()
def setting(name, default=None):
    try:
        with open(os.path.join(d, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default
def serve(c):
    f = c.makefile("rb")
    try:
        while True:
            line = f.readline()
            if not line:
                return
            req = json.loads(line)
            cmd = req.get("cmd")
            if cmd == "http_count":
                with open(os.path.join(d, "http_count.log"), "ab") as o:
                    o.write(line)
                c.sendall(b"{\"ok\":true}\n")
                continue
            answer = (setting("reply." + cmd, "{\"ok\":true}") + "\n").encode()
            if setting("early." + cmd) is not None:
                c.sendall(answer)
                c.shutdown(socket.SHUT_RDWR)
                return
            payload = f.read(req["payload"]) if "payload" in req else b""
            if "file_name" in req:
                with lock:
                    n = 1 + sum(1 for name in os.listdir(d)
                                if name.endswith(".line"))
                    with open(os.path.join(d, "req.%d.payload" % n), "wb") as o:
                        o.write(payload)
                    with open(os.path.join(d, "req.%d.line" % n), "wb") as o:
                        o.write(line.rstrip(b"\n"))
            time.sleep(float(setting("delay." + cmd, "0")))
            c.sendall(answer)
    except OSError:
        pass
    finally:
        f.close()
        c.close()
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'

# start_fake: the fake on $SOCK; waits at most 5 s for it to answer.
start_fake() {
	rm -f "$SOCK"
	python3 -c "$FAKE_WATCHERD" "$SOCK" "$T/fake" </dev/null \
	    >>"$T/fake.out" 2>&1 3>&- &
	echo $! >"$T/fake.pid"
	wait_until 5000 watcherd_answers || fail "the fake watcherd did not start"
}

stop_fake() {
	local pid
	pid=$(cat "$T/fake.pid" 2>/dev/null) || return 0
	rm -f "$T/fake.pid"
	end_pid "$pid" 2000 TERM "the fake watcherd"
}

setup_file() {
	web_setup_file
	mkdir "$T/fake"
	mkfifo "$T/never"
	start_fake
	start_lighttpd
}

teardown_file() {
	stop_lighttpd
	stop_fake
	web_teardown_file
}

setup() {
	web_setup
	rm -f "$T"/fake/req.* "$T"/fake/reply.* "$T"/fake/delay.* \
	    "$T"/fake/early.* "$T/fake/http_count.log"
	reply write "$SAVED"
}

teardown() {
	run_every stop_real web_teardown
}

Q="proposal=1111&file_name=context.py"
CRC=0e6fd9b8

# reply CMD LINE: the fake answers CMD with LINE.
reply() {
	printf '%s\n' "$2" >"$T/fake/reply.$1"
}

# requests: how many requests about a file the fake has had.
requests() {
	find "$T/fake" -name 'req.*.line' | wc -l
}

# expect_line N LINE: the Nth request's line is exactly LINE.
expect_line() {
	local got
	got=$(cat "$T/fake/req.$1.line") || fail "no request $1" || return 1
	[ "$got" = "$2" ] || fail "request $1 is $got, not $2"
}

# put URI BODY [VAR=value...]: a PUT to the handler run as plain CGI, BODY
# (a file) on stdin and CONTENT_LENGTH its size unless a VAR gives one
# (empty: none). BODY "never" is a body that never comes: a handler that
# reads it waits for ever, and after 10 s the test fails. Sets STATUS,
# $T/h, $T/b as cgi() does.
put() {
	local uri=$1 body=$2 query="" rc=0 arg vars=()
	shift 2
	[[ "$uri" == *\?* ]] && query=${uri#*\?}
	if [ "$body" = never ]; then
		body=$T/never
	else
		vars=(CONTENT_LENGTH="$(stat -c %s "$body")")
	fi
	for arg; do
		[[ "$arg" == CONTENT_LENGTH=* ]] && vars=()
	done
	# <> opens the FIFO as its own writer: a read blocks, never ends.
	timeout 10 env -i PATH="$PATH" REQUEST_METHOD=PUT REQUEST_URI="$uri" \
	    QUERY_STRING="$query" GATEWAY_INTERFACE=CGI/1.1 \
	    SERVER_PROTOCOL=HTTP/1.1 WATCHERD_SOCKET="$SOCK" \
	    ASAN_OPTIONS="$ASAN_EXIT_OPTIONS" UBSAN_OPTIONS="$UBSAN_HALT_OPTIONS" \
	    "${vars[@]}" "$@" "$HANDLER" 0<>"$body" >"$T/out" \
	    2>>"$T/cgi.log" 3>&- || rc=$?
	[ "$rc" = 0 ] || fail "filehandler.fcgi exited with status $rc" || return 1
	split_answer "$T/out"
}

# The content of a save: a NUL, bytes that are no UTF-8, a CR LF and no
# newline at the end.
binary_body() {
	printf 'x = 1\r\n\000\377\376 caf\303\251 "q" \\ end' >"$1"
}

SAVED='{"ok":true,"checksum":"12345678","size":26,"mtime":1764118861.123456,"mode":"inotify","warnings":[{"line":2,"column":null,"message":"unused import os"}]}'

# As plain CGI.

@test "watcherd gets the write request and the body byte for byte" {
	binary_body "$T/body"
	reply write "$SAVED"
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="\"$CRC\"" \
	    REMOTE_USER=alice@example.org
	expect_status 200
	put "/x/file_content?proposal=001111&file_name=process_logs%2Fr%C3%A9.py" \
	    "$T/body" HTTP_IF_MATCH="$CRC"
	expect_status 200
	[ "$(requests)" = 2 ]
	expect_line 1 '{"cmd":"write","proposal":1111,"file_name":"context.py","user":"alice@example.org","if_checksum":"0e6fd9b8","payload":26}'
	expect_line 2 '{"cmd":"write","proposal":1111,"file_name":"process_logs/ré.py","user":null,"if_checksum":"0e6fd9b8","payload":26}'
	cmp "$T/fake/req.1.payload" "$T/body"
	cmp "$T/fake/req.2.payload" "$T/body"
}

@test "an empty body is an empty file, not a missing one" {
	: >"$T/empty"
	put "/file_content?$Q" "$T/empty" HTTP_IF_MATCH="\"$CRC\""
	expect_status 200
	expect_line 1 '{"cmd":"write","proposal":1111,"file_name":"context.py","user":null,"if_checksum":"0e6fd9b8","payload":0}'
	[ ! -s "$T/fake/req.1.payload" ]
}

@test "200 says where the file stands, with the new checksum as ETag" {
	printf 'x = 1\n' >"$T/body"
	reply write "$SAVED"
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="\"$CRC\""
	expect_status 200
	[ "$(header ETag)" = '"12345678"' ]
	[ "$(header X-Checksum)" = 12345678 ]
	[ "$(header Content-Type)" = application/json ]
	[ "$(header Cache-Control)" = no-store ]
	[ "$(header Content-Length)" = "$(stat -c %s "$T/b")" ]
	[ "$(jq -cS . "$T/b")" = '{"checksum":"12345678","file_name":"context.py","mtime":1764118861.123456,"proposal":1111,"size":26,"warnings":[{"column":null,"line":2,"message":"unused import os"}]}' ]
	# A reply without warnings: none.
	reply write '{"ok":true,"checksum":"12345678","size":6,"mtime":1.5,"mode":"poll"}'
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="\"$CRC\""
	expect_status 200
	jq -e '.warnings == [] and .size == 6 and .mtime == 1.5' "$T/b"
}

@test "If-Match is the ETag, or its bare checksum in either case" {
	printf 'x\n' >"$T/body"
	for im in "\"$CRC\"" "$CRC" " \"0E6FD9B8\" " "0E6fd9B8"; do
		put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$im"
		expect_status 200 || fail "for If-Match: $im"
	done
	for n in 1 2 3 4; do
		grep -q '"if_checksum":"0e6fd9b8"' "$T/fake/req.$n.line"
	done
}

@test "no If-Match, or If-Match: *, is 428, and nothing is read or sent" {
	put "/file_content?$Q" never CONTENT_LENGTH=5
	expect_error 428 "If-Match"
	put "/file_content?$Q" never CONTENT_LENGTH=5 HTTP_IF_MATCH='*'
	expect_error 428 "If-Match"
	[ "$(requests)" = 0 ]
}

@test "a malformed If-Match is 400, and nothing is read or sent" {
	for im in "W/\"$CRC\"" "\"$CRC\", \"12345678\"" "\"0e6fd9b\"" \
	    "\"$CRC" "$CRC\"" "zzzzzzzz" "\"\"" "" "\"${CRC}0\"" "0x6fd9b8"; do
		put "/file_content?$Q" never CONTENT_LENGTH=5 HTTP_IF_MATCH="$im"
		expect_error 400 "If-Match" || fail "for If-Match: $im"
	done
	[ "$(requests)" = 0 ]
}

@test "no Content-Length is 411, one that is no number 400, and nothing is read or sent" {
	put "/file_content?$Q" never HTTP_IF_MATCH="$CRC"
	expect_error 411 "Content-Length"
	put "/file_content?$Q" never HTTP_IF_MATCH="$CRC" CONTENT_LENGTH=
	expect_error 411 "Content-Length"
	for cl in -1 abc 1e3 " 5" 0x10 99999999999999999999; do
		put "/file_content?$Q" never HTTP_IF_MATCH="$CRC" CONTENT_LENGTH="$cl"
		expect_error 400 "Content-Length" || fail "for Content-Length: $cl"
	done
	[ "$(requests)" = 0 ]
}

@test "a body over FILEHANDLER_MAX_BODY is 413 at once, without reading a byte" {
	t0=$(now_ms)
	put "/file_content?$Q" never HTTP_IF_MATCH="$CRC" CONTENT_LENGTH=11 \
	    FILEHANDLER_MAX_BODY=10
	expect_error 413 "larger"
	put "/file_content?$Q" never HTTP_IF_MATCH="$CRC" \
	    CONTENT_LENGTH=$((16 * 1024 * 1024 + 1))
	expect_error 413 "larger"
	elapsed=$(($(now_ms) - t0))
	[ "$(requests)" = 0 ]
	[ "$elapsed" -lt 5000 ] || fail "two 413s took $elapsed ms"
	# Up to the bound, the body is taken.
	printf '0123456789' >"$T/body"
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC" \
	    FILEHANDLER_MAX_BODY=10
	expect_status 200
	cmp "$T/fake/req.1.payload" "$T/body"
}

@test "a body that ends early is 400 and watcherd hears nothing of it" {
	printf 'half' >"$T/body"
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC" CONTENT_LENGTH=8
	expect_error 400 "ended early"
	: >"$T/empty"
	put "/file_content?$Q" "$T/empty" HTTP_IF_MATCH="$CRC" CONTENT_LENGTH=1
	expect_error 400 "ended early"
	[ "$(requests)" = 0 ]
}

@test "412 passes the file's current checksum" {
	printf 'x\n' >"$T/body"
	reply write '{"ok":false,"error":"conflict","detail":"context.py changed since the edit started (0e6fd9b8 is now a1b2c3d4)","checksum":"a1b2c3d4"}'
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC"
	expect_error 412 "changed since"
	[ "$(jq -c 'keys' "$T/b")" = '["checksum","detail"]' ]
	[ "$(jqb .checksum)" = a1b2c3d4 ]
	[ "$(header X-Checksum)" = a1b2c3d4 ]
	! header ETag >/dev/null || fail "a 412 with an ETag"
	# A file deleted meanwhile has none.
	reply write '{"ok":false,"error":"conflict","detail":"context.py was deleted","checksum":null}'
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC"
	expect_error 412 "deleted"
	jq -e '.checksum == null' "$T/b"
}

@test "422 passes the validator's errors and warnings" {
	printf 'def f(:\n' >"$T/body"
	errors='[{"line":1,"column":7,"message":"invalid syntax"},{"line":3,"column":null,"message":"undefined name x"}]'
	warnings='[{"line":2,"column":1,"message":"unused import os"}]'
	reply write "{\"ok\":false,\"error\":\"invalid\",\"detail\":\"context.py does not pass its check\",\"errors\":$errors,\"warnings\":$warnings}"
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC"
	expect_error 422 "does not pass"
	[ "$(jq -c 'keys' "$T/b")" = '["detail","errors","warnings"]' ]
	[ "$(jq -c .errors "$T/b")" = "$errors" ]
	[ "$(jq -c .warnings "$T/b")" = "$warnings" ]
	reply write '{"ok":false,"error":"invalid","detail":"the validator said no"}'
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC"
	expect_error 422 "said no"
	jq -e '.errors == [] and .warnings == []' "$T/b"
}

@test "watcherd's other refusals keep their status and detail" {
	printf 'x\n' >"$T/body"
	while read -r code status; do
		reply write "{\"ok\":false,\"error\":\"$code\",\"detail\":\"said $code\"}"
		put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC"
		expect_error "$status" "said $code" || fail "for $code"
		[ "$(jq -c keys "$T/b")" = '["detail"]' ]
	done <<-EOF
	unauthenticated 401
	forbidden 403
	too_large 413
	not_found 404
	bad_request 400
	unavailable 503
	internal 500
	something_new 500
	EOF
	reply write '{"ok":false,"error":"unavailable","detail":"busy"}'
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC"
	[ "$(header Retry-After)" -ge 1 ]
}

@test "a refusal watcherd sends before it takes the payload is the answer" {
	head -c $((4 * 1024 * 1024)) /dev/zero >"$T/body"
	reply write '{"ok":false,"error":"too_large","detail":"larger than max-file-size"}'
	: >"$T/fake/early.write"
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC"
	expect_error 413 "max-file-size"
}

@test "watcherd down: 503 with Retry-After at once" {
	printf 'x\n' >"$T/body"
	t0=$(now_ms)
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC" \
	    WATCHERD_SOCKET="$T/absent.sock"
	elapsed=$(($(now_ms) - t0))
	expect_error 503 "not known"
	[ "$(header Retry-After)" -ge 1 ]
	[ "$elapsed" -lt 2000 ] || fail "503 took $elapsed ms"
}

@test "a save waits for watcherd past the 3 s of other calls, up to FILEHANDLER_WRITE_TIMEOUT" {
	printf 'x\n' >"$T/body"
	reply write "$SAVED"
	echo 4 >"$T/fake/delay.write"
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC"
	expect_status 200
	t0=$(now_ms)
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC" \
	    FILEHANDLER_WRITE_TIMEOUT=1
	elapsed=$(($(now_ms) - t0))
	expect_error 503 "whether the file was saved is not known"
	# The bound, then the count of the answer for /metrics (1 s).
	[ "$elapsed" -lt 3500 ] || fail "503 took $elapsed ms"
	[ "$(requests)" = 2 ]
}

@test "PUT is for /file_content only; its 405 names PUT in Allow" {
	printf 'x\n' >"$T/body"
	for uri in "/has_new_checksum?$Q&checksum=$CRC" /health /metrics \
	    "/file_tail?$Q&offset=0" "/events?$Q" \
	    "/contextfile/content?proposal_number=1111" /nope; do
		put "$uri" "$T/body" HTTP_IF_MATCH="$CRC"
		expect_error 405 "GET and HEAD" || fail "for PUT $uri"
		[ "$(header Allow)" = "GET, HEAD" ]
	done
	for method in POST DELETE PATCH put; do
		cgi "$method" "/file_content?$Q"
		expect_error 405 "GET, HEAD and PUT" || fail "for $method"
		[ "$(header Allow)" = "GET, HEAD, PUT" ]
	done
	[ "$(requests)" = 0 ]
}

@test "missing or malformed parameters are 400 before anything else" {
	put "/file_content?file_name=context.py" never CONTENT_LENGTH=1
	expect_error 400 "proposal is missing"
	put "/file_content?proposal=1111" never CONTENT_LENGTH=1
	expect_error 400 "file_name is missing"
	put "/file_content?proposal=1111&file_name=%zz" never CONTENT_LENGTH=1
	expect_error 400 "malformed"
	[ "$(requests)" = 0 ]
}

@test "saves are counted for /metrics under file_content, by status" {
	printf 'x\n' >"$T/body"
	put "/file_content?$Q" "$T/body"
	reply write '{"ok":false,"error":"conflict","detail":"changed","checksum":"a1b2c3d4"}'
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC"
	put "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$CRC" CONTENT_LENGTH=
	grep -q '"counts":{"file_content":{"428":1}}' "$T/fake/http_count.log"
	grep -q '"counts":{"file_content":{"412":1}}' "$T/fake/http_count.log"
	grep -q '"counts":{"file_content":{"411":1}}' "$T/fake/http_count.log"
}

# Through lighttpd.

@test "through lighttpd: the body reaches watcherd byte for byte, and 200 has the ETag" {
	binary_body "$T/body"
	reply write "$SAVED"
	http -X PUT --data-binary @"$T/body" -H "If-Match: \"$CRC\"" \
	    -H 'Content-Type: application/octet-stream' "/file_content?$Q"
	expect_status 200
	[ "$(header ETag)" = '"12345678"' ]
	jq -e '.checksum == "12345678" and .warnings[0].line == 2' "$T/b"
	[ "$(requests)" = 1 ]
	expect_line 1 '{"cmd":"write","proposal":1111,"file_name":"context.py","user":null,"if_checksum":"0e6fd9b8","payload":26}'
	cmp "$T/fake/req.1.payload" "$T/body"
}

@test "through lighttpd: 428, 412, 422 and 405 as documented" {
	printf 'x\n' >"$T/body"
	http -X PUT --data-binary @"$T/body" "/file_content?$Q"
	expect_error 428 "If-Match"
	reply write '{"ok":false,"error":"conflict","detail":"changed","checksum":"a1b2c3d4"}'
	http -X PUT --data-binary @"$T/body" -H "If-Match: $CRC" "/file_content?$Q"
	expect_error 412 "changed"
	[ "$(jqb .checksum)" = a1b2c3d4 ]
	reply write '{"ok":false,"error":"invalid","detail":"no","errors":[{"line":1,"column":null,"message":"bad"}],"warnings":[]}'
	http -X PUT --data-binary @"$T/body" -H "If-Match: $CRC" "/file_content?$Q"
	expect_error 422 "no"
	jq -e '.errors[0].message == "bad"' "$T/b"
	http -X PATCH --data-binary @"$T/body" "/file_content?$Q"
	expect_error 405 "PUT"
	[ "$(header Allow)" = "GET, HEAD, PUT" ]
	http -X PUT --data-binary @"$T/body" -H "If-Match: $CRC" "/health"
	expect_error 405 "GET and HEAD"
	[ "$(header Allow)" = "GET, HEAD" ]
	[ "$(requests)" = 2 ]
}

@test "through lighttpd: a body over 16 MiB is 413 and never reaches watcherd" {
	head -c $((16 * 1024 * 1024 + 1)) /dev/zero >"$T/big"
	http -X PUT --data-binary @"$T/big" -H "If-Match: $CRC" "/file_content?$Q"
	expect_error 413 "larger"
	[ "$(requests)" = 0 ]
	# The handler is still there for the next request.
	http /health
	expect_status 200
}

@test "through lighttpd: after watcherd restarted, a save goes through once" {
	printf 'x\n' >"$T/body"
	reply write "$SAVED"
	# Every handler process keeps a connection; more saves than
	# processes reach at least one that was kept.
	for i in 1 2 3 4 5 6; do
		http -X PUT --data-binary @"$T/body" -H "If-Match: $CRC" "/file_content?$Q"
		expect_status 200
	done
	stop_fake
	start_fake
	rm -f "$T"/fake/req.*
	for i in 1 2 3 4 5 6; do
		http -X PUT --data-binary @"$T/body" -H "If-Match: $CRC" "/file_content?$Q"
		expect_status 200
	done
	[ "$(requests)" = 6 ]
}

# watcherctl write.

@test "watcherctl write --if sends stdin byte for byte, names no user, prints the new checksum" {
	binary_body "$T/body"
	reply write "$SAVED"
	run --separate-stderr "$WATCHERCTL" --socket "$SOCK" write --if 0E6FD9B8 \
	    1111 context.py <"$T/body"
	[ "$status" = 0 ] || fail "status $status: $output $stderr"
	[ "$output" = 12345678 ]
	[ "$stderr" = "context.py:2: warning: unused import os" ]
	[ "$(requests)" = 1 ]
	expect_line 1 '{"cmd":"write","proposal":1111,"file_name":"context.py","if_checksum":"0e6fd9b8","payload":26}'
	cmp "$T/fake/req.1.payload" "$T/body"
}

@test "watcherctl write without --if writes over the checksum it asks for first" {
	printf 'new\n' >"$T/body"
	reply checksum '{"ok":true,"checksum":"cafe0123","size":4,"mtime":1.5,"mode":"inotify"}'
	reply write "$SAVED"
	run --separate-stderr "$WATCHERCTL" --socket "$SOCK" write 1111 context.py \
	    <"$T/body"
	[ "$status" = 0 ] || fail "status $status: $output $stderr"
	[ "$output" = 12345678 ]
	[ "$(requests)" = 2 ]
	expect_line 1 '{"cmd":"checksum","proposal":1111,"file_name":"context.py"}'
	expect_line 2 '{"cmd":"write","proposal":1111,"file_name":"context.py","if_checksum":"cafe0123","payload":4}'
	cmp "$T/fake/req.2.payload" "$T/body"
	# A file watcherd has no checksum for is not written.
	reply checksum '{"ok":true,"checksum":null,"size":null,"mtime":null,"too_large":true}'
	run "$WATCHERCTL" --socket "$SOCK" write 1111 context.py <"$T/body"
	[ "$status" = 1 ]
	[[ "$output" == *"no checksum"* ]] || fail "$output"
	[ "$(requests)" = 3 ]
}

@test "watcherctl write: a conflict prints the current checksum and exits 3" {
	printf 'x\n' >"$T/body"
	reply write '{"ok":false,"error":"conflict","detail":"context.py changed","checksum":"a1b2c3d4"}'
	run --separate-stderr "$WATCHERCTL" --socket "$SOCK" write --if "$CRC" 1111 context.py <"$T/body"
	[ "$status" = 3 ] || fail "status $status: $output $stderr"
	[ "$output" = a1b2c3d4 ]
	[ "$stderr" = "watcherctl: conflict: context.py changed" ]
}

@test "watcherctl write: a refusal of the validator prints FILE:LINE:COL: message and exits 4" {
	printf 'def f(:\n' >"$T/body"
	reply write '{"ok":false,"error":"invalid","detail":"context.py does not pass its check","errors":[{"line":1,"column":7,"message":"invalid syntax"},{"line":3,"column":null,"message":"undefined name x"}],"warnings":[{"line":2,"column":1,"message":"unused import os"}]}'
	run --separate-stderr "$WATCHERCTL" --socket "$SOCK" write --if "$CRC" 1111 context.py <"$T/body"
	[ "$status" = 4 ] || fail "status $status: $output $stderr"
	[ "$output" = "" ]
	[ "$stderr" = "context.py:1:7: invalid syntax
context.py:3: undefined name x
context.py:2:1: warning: unused import os
watcherctl: invalid: context.py does not pass its check" ]
	run "$WATCHERCTL" --socket "$SOCK" --json write --if "$CRC" 1111 context.py <"$T/body"
	[ "$status" = 4 ]
	[ "$(head -n 1 <<<"$output" | jq -c .errors[0])" = '{"line":1,"column":7,"message":"invalid syntax"}' ]
}

@test "watcherctl write: another refusal exits 1 with watcherd's word" {
	printf 'x\n' >"$T/body"
	reply write '{"ok":false,"error":"forbidden","detail":"writing is off"}'
	run "$WATCHERCTL" --socket "$SOCK" write --if "$CRC" 1111 context.py <"$T/body"
	[ "$status" = 1 ]
	[ "$output" = "watcherctl: forbidden: writing is off" ]
}

@test "watcherctl write refuses stdin over 64 MiB and sends nothing" {
	run bash -c 'head -c $((64 * 1024 * 1024 + 1)) /dev/zero |
	    "$1" --socket "$2" write --if 0e6fd9b8 1111 context.py' _ \
	    "$WATCHERCTL" "$SOCK"
	[ "$status" = 1 ]
	[[ "$output" == *"more than 64 MiB"* ]] || fail "$output"
	[ "$(requests)" = 0 ]
}

@test "watcherctl: --if is for write, with 8 hex digits" {
	run "$WATCHERCTL" --socket "$SOCK" write --if 0e6fd9b 1111 context.py </dev/null
	[ "$status" = 2 ]
	[[ "$output" == *"8 hexadecimal digits"* ]]
	run "$WATCHERCTL" --socket "$SOCK" checksum --if "$CRC" 1111 context.py
	[ "$status" = 2 ]
	[[ "$output" == *"--if goes with write only"* ]]
	run "$WATCHERCTL" --socket "$SOCK" write 1111 </dev/null
	[ "$status" = 2 ]
	[ "$(requests)" = 0 ]
}

# With watcherd itself (the fake aside): what is saved is on disk.

# start_real [FLAGS...]: watcherd on $T/real.sock over the test's tree,
# saves on, and anybody logged in may save (an access command that says
# yes).
start_real() {
	local SOCK="$T/real.sock"
	launch_watcherd "$T/watcherd.log" --write \
	    --access command --access-command /bin/true "$@" || return 1
	echo "$LAUNCHED_PID" >"$T/real.pid"
}

stop_real() {
	local pid
	pid=$(cat "$T/real.pid" 2>/dev/null) || return 0
	rm -f "$T/real.pid"
	end_pid "$pid" "$WATCHERD_STOP_MS" TERM watcherd || return 1
	[ "$END_PID_STATUS" = 0 ] ||
	    fail "watcherd exited with status $END_PID_STATUS after SIGTERM"
}

# put_real URI BODY [VAR=value...]: put to watcherd itself, as alice
# unless a VAR says otherwise, within 5 s.
put_real() {
	put "$1" "$2" REMOTE_USER=alice WATCHERD_SOCKET="$T/real.sock" \
	    FILEHANDLER_WRITE_TIMEOUT=5 "${@:3}"
}

@test "with watcherd itself: the body is the file, byte for byte; the old checksum is then 412" {
	start_real
	old=$(crc32 "$DAMNIT/context.py")
	binary_body "$T/body"
	new=$(crc32 "$T/body")
	put_real "/file_content?$Q" "$T/body" HTTP_IF_MATCH="\"$old\""
	expect_status 200
	[ "$(header ETag)" = "\"$new\"" ]
	jq -e --arg c "$new" '.checksum == $c and .size == 26 and
	    .proposal == 1111 and .file_name == "context.py"' "$T/b"
	cmp "$DAMNIT/context.py" "$T/body"
	printf 'other\n' >"$T/other"
	put_real "/file_content?$Q" "$T/other" HTTP_IF_MATCH="\"$old\""
	expect_error 412 "."
	[ "$(jqb .checksum)" = "$new" ]
	cmp "$DAMNIT/context.py" "$T/body"
	# Nobody logged in may not.
	put_real "/file_content?$Q" "$T/other" HTTP_IF_MATCH="\"$new\"" \
	    REMOTE_USER=
	expect_error 401 "."
	cmp "$DAMNIT/context.py" "$T/body"
}

@test "with watcherd itself and the shipped validator: 422 at the error's line, the file untouched" {
	start_real --validate "context.py $REPO_ROOT/dist/validate-context"
	cp "$DAMNIT/context.py" "$T/before"
	printf 'x = 1\ndef f(:\n    pass\n' >"$T/body"
	put_real "/file_content?$Q" "$T/body" HTTP_IF_MATCH="$(crc32 "$T/before")"
	expect_status 422
	jq -e '.errors[0] == {"line":2,"column":7,"message":"invalid syntax"}' "$T/b"
	cmp "$DAMNIT/context.py" "$T/before"
}

@test "watcherctl write with watcherd itself: stdin is the file, the printed checksum its CRC-32" {
	start_real
	binary_body "$T/body"
	run --separate-stderr "$WATCHERCTL" --socket "$T/real.sock" write 1111 \
	    context.py <"$T/body"
	[ "$status" = 0 ] || fail "status $status: $output $stderr"
	[ "$output" = "$(crc32 "$T/body")" ]
	cmp "$DAMNIT/context.py" "$T/body"
	printf 'again\n' >"$T/again"
	run --separate-stderr "$WATCHERCTL" --socket "$T/real.sock" write \
	    --if 00000000 1111 context.py <"$T/again"
	[ "$status" = 3 ] || fail "status $status: $output $stderr"
	[ "$output" = "$(crc32 "$T/body")" ]
	cmp "$DAMNIT/context.py" "$T/body"
}
