#!/usr/bin/env bats
# The HTTP routes (DESIGN.md section 3) with filehandler.fcgi run as plain
# CGI, as cgit's tests run cgit: no web server, a real watcherd on a
# temporary socket, one request per run of the handler.

load web_helpers
web_default_hooks

setup_file() {
	web_setup_file
	printf 'spaced\n' >"$DAMNIT/my file.log"
	printf 'plus\n' >"$DAMNIT/a+b.log"
	start_web_watcherd
}

Q="proposal=1111&file_name=context.py"

@test "a route is found on its last segments whatever the prefix" {
	for uri in "/file_content?$Q" "/x/y/file_content?$Q" \
	    "/filehandler/file_content/?$Q" "/health" "/a/b/c/health" \
	    "/x/contextfile/content?proposal_number=1111" \
	    "/contextfile/last_modified?proposal_number=1111" \
	    "/deep/mount/has_new_checksum?$Q&checksum=00000000"; do
		cgi GET "$uri"
		[ "$STATUS" = 200 ] || fail "$uri: $STATUS $(body)"
	done
}

@test "an unknown route is 404 with a detail that lists the routes" {
	for uri in "/" "/nope" "/x/file_contents?$Q" "/xfile_content?$Q" \
	    "/x/content?proposal_number=1111" "/healthz" "/file_content/x?$Q"; do
		cgi GET "$uri"
		expect_error 404 "unknown route.*/file_content" || fail "for $uri"
	done
}

@test "POST and other methods are 405 with the route's Allow" {
	for method in POST DELETE OPTIONS PATCH get put; do
		cgi "$method" "/file_content?$Q"
		expect_error 405 "GET, HEAD and PUT" || fail "for $method"
		[ "$(header Allow)" = "GET, HEAD, PUT" ]
		cgi "$method" "/has_new_checksum?$Q&checksum=00000000"
		expect_error 405 "GET and HEAD" || fail "for $method"
		[ "$(header Allow)" = "GET, HEAD" ]
	done
}

@test "HEAD answers GET's headers and Content-Length without a body" {
	cgi GET "/file_content?$Q"
	get_length=$(header Content-Length)
	get_etag=$(header ETag)
	[ "$get_length" = "$(stat -c %s "$T/b")" ]
	cgi HEAD "/file_content?$Q"
	expect_status 200
	[ "$(header Content-Length)" = "$get_length" ]
	[ "$(header ETag)" = "$get_etag" ]
	[ ! -s "$T/b" ] || fail "HEAD has a body: $(head -c 100 "$T/b")"
	cgi HEAD "/nope"
	expect_status 404
	[ "$(header Content-Length)" -gt 0 ]
	[ ! -s "$T/b" ]
}

@test "'+' and %XX are decoded in parameters" {
	cgi GET "/file_content?proposal=1111&file_name=process_logs%2Fr0012-p1111.out"
	expect_status 200
	[ "$(jqb .file_name)" = process_logs/r0012-p1111.out ]
	decode_content "$T/got" >/dev/null
	cmp "$T/got" "$DAMNIT/process_logs/r0012-p1111.out"
	cgi GET "/file_content?proposal=1111&file_name=my+file.log"
	expect_status 200
	[ "$(jqb .file_name)" = "my file.log" ]
	[ "$(jqb .content)" = spaced ]
	cgi GET "/file_content?proposal=1111&file_name=a%2Bb.log"
	expect_status 200
	[ "$(jqb .content)" = plus ]
	cgi GET "/file_content?%70roposal=%31111&file_name=%63ontext%2epy"
	expect_status 200
	[ "$(jqb .file_name)" = context.py ]
}

@test "a repeated parameter is 400 and the detail names it" {
	cgi GET "/file_content?proposal=1111&file_name=context.py&proposal=1111"
	expect_error 400 "proposal.*more than once"
	cgi GET "/file_content?proposal=1111&file_name=a.log&file_name=context.py"
	expect_error 400 "file_name.*more than once"
	cgi GET "/has_new_checksum?$Q&checksum=00000000&checksum=00000000"
	expect_error 400 "checksum.*more than once"
}

@test "an empty or missing proposal is 400" {
	cgi GET "/file_content?proposal=&file_name=context.py"
	expect_error 400 "proposal is missing"
	cgi GET "/file_content?file_name=context.py"
	expect_error 400 "proposal is missing"
	cgi GET "/contextfile/content"
	expect_error 400 "proposal_number is missing"
	cgi GET "/contextfile/last_modified?proposal_number="
	expect_error 400 "proposal_number is missing"
}

@test "a malformed %-escape is 400" {
	for q in "proposal=1111&file_name=%zz" "proposal=1111&file_name=context.py%2" \
	    "proposal=1111&file_name=%" "proposal=%g1&file_name=context.py" \
	    "prop%zzosal=1111&file_name=context.py"; do
		cgi GET "/file_content?$q"
		expect_error 400 "malformed %-escape" || fail "for $q"
	done
}

@test "a proposal that is not 1 to 6 digits is 400" {
	for p in 1234567 abc 12a -1 +1111 %201111 1111%00 0x10 1.5; do
		cgi GET "/file_content?proposal=$p&file_name=context.py"
		expect_error 400 "proposal must be a number of 1 to 6 digits" ||
		    fail "for proposal=$p"
	done
	cgi GET "/contextfile/content?proposal_number=abc"
	expect_error 400 "proposal_number must be"
}

@test "a proposal with leading zeros names the same proposal" {
	cgi GET "/file_content?proposal=001111&file_name=context.py"
	expect_status 200
	[ "$(jqb .proposal)" = 1111 ]
	[ "$(jqb .checksum)" = "$(crc32 "$DAMNIT/context.py")" ]
}

@test "a missing or empty file_name is 400" {
	cgi GET "/file_content?proposal=1111"
	expect_error 400 "file_name is missing"
	cgi GET "/file_content?proposal=1111&file_name="
	expect_error 400 "file_name is missing"
	cgi GET "/has_new_checksum?proposal=1111&checksum=00000000"
	expect_error 400 "file_name is missing"
}

@test "a query string over 8192 bytes is 400" {
	pad=$(head -c 8200 /dev/zero | tr '\0' a)
	cgi GET "/file_content?$Q&pad=$pad"
	expect_error 400 "longer than 8192"
	# Right at the limit it is fine (unknown parameters are ignored).
	pad=$(head -c $((8192 - ${#Q} - 5)) /dev/zero | tr '\0' a)
	cgi GET "/file_content?$Q&pad=$pad"
	expect_status 200
}

@test "file_content answers every field of the contract" {
	f="$DAMNIT/context.py"
	cgi GET "/file_content?$Q"
	expect_status 200
	crc=$(crc32 "$f")
	expect_file_content_head "$crc"
	jq -e '(.proposal | type) == "number" and (.size | type) == "number" and
	    (.mtime | type) == "number" and (.content | type) == "string"' "$T/b"
	[ "$(jqb .proposal)" = 1111 ]
	[ "$(jqb .file_name)" = context.py ]
	[ "$(jqb .encoding)" = utf-8 ]
	[ "$(jqb .checksum)" = "$crc" ]
	[[ "$(jqb .checksum)" =~ ^[0-9a-f]{8}$ ]]
	[ "$(jqb .size)" = "$(stat -c %s "$f")" ]
	[ "$(jqb '.mtime | floor')" = "$(stat -c %Y "$f")" ]
	[ "$(decode_content "$T/got")" = "$crc" ]
	cmp "$T/got" "$f"
}

@test "If-None-Match with the current checksum is 304 without a body" {
	crc=$(crc32 "$DAMNIT/context.py")
	for inm in "\"$crc\"" "W/\"$crc\"" "\"00000000\", \"$crc\"" "*"; do
		cgi GET "/file_content?$Q" HTTP_IF_NONE_MATCH="$inm"
		expect_status 304 || fail "for If-None-Match: $inm"
		[ "$(header ETag)" = "\"$crc\"" ]
		[ ! -s "$T/b" ] || fail "a 304 with a body: $(head -c 100 "$T/b")"
	done
	for inm in '"00000000"' "$crc" "\"${crc}0\""; do
		cgi GET "/file_content?$Q" HTTP_IF_NONE_MATCH="$inm"
		expect_status 200 || fail "for If-None-Match: $inm"
		[ "$(jqb .checksum)" = "$crc" ]
	done
}

@test "has_new_checksum is false for the current checksum and true for another" {
	crc=$(crc32 "$DAMNIT/context.py")
	cgi GET "/has_new_checksum?$Q&checksum=$crc"
	expect_status 200
	[ "$(body)" = false ]
	[ "$(header X-Checksum)" = "$crc" ]
	[ "$(header Cache-Control)" = no-store ]
	[ "$(header Content-Type)" = application/json ]
	cgi GET "/has_new_checksum?$Q&checksum=00000000"
	expect_status 200
	[ "$(body)" = true ]
	[ "$(header X-Checksum)" = "$crc" ]
}

@test "a missing or malformed checksum parameter is 400" {
	cgi GET "/has_new_checksum?$Q"
	expect_error 400 "checksum is missing"
	cgi GET "/has_new_checksum?$Q&checksum="
	expect_error 400 "checksum is missing"
	for c in 1234567 123456789 zzzzzzzz 0x123456 +1234567 "1234567%20" "1234567%00"; do
		cgi GET "/has_new_checksum?$Q&checksum=$c"
		expect_error 400 "checksum must be 8 hexadecimal digits" ||
		    fail "for checksum=$c"
	done
}

@test "/health is 200 with watcherd's status" {
	cgi GET /health
	expect_status 200
	[ "$(header Cache-Control)" = no-store ]
	[ "$(jqb .status)" = ok ]
	jq -e '.watcherd | (.version | type) == "string" and
	    (.uptime_s | type) == "number" and (.watches | type) == "number" and
	    (.requests | type) == "number" and (has("ok") | not)' "$T/b"
}

@test "contextfile/content has lastModified and the file as fileContent" {
	f="$DAMNIT/context.py"
	cgi GET "/contextfile/content?proposal_number=1111"
	expect_status 200
	[ "$(header Cache-Control)" = no-store ]
	jq -e 'keys == ["encoding","fileContent","lastModified"] and
	    .encoding == "utf-8" and (.lastModified | type) == "number"' "$T/b"
	[ "$(jqb '.lastModified | floor')" = "$(stat -c %Y "$f")" ]
	jq -j .fileContent "$T/b" >"$T/got"
	cmp "$T/got" "$f"
}

@test "contextfile/content says base64 for a context.py that is not UTF-8" {
	f="$DAMNIT/context.py"
	cp "$f" "$T/context.keep"
	printf 'x = "\xe9t\xe9"\n' >"$f"
	cgi GET "/contextfile/content?proposal_number=1111"
	cp "$T/context.keep" "$f"
	expect_status 200
	jq -e '.encoding == "base64"' "$T/b"
	[ "$(jq -j .fileContent "$T/b" | base64 -d | od -An -tx1 | tr -d ' \n')" = \
	    "78203d2022e974e9220a" ]
}

@test "contextfile/last_modified is the lastModified of contextfile/content" {
	cgi GET "/contextfile/content?proposal_number=001111"
	expect_status 200
	want=$(jqb .lastModified)
	cgi GET "/contextfile/last_modified?proposal_number=1111"
	expect_status 200
	[ "$(header Cache-Control)" = no-store ]
	jq -e 'keys == ["lastModified"]' "$T/b"
	[ "$(jqb .lastModified)" = "$want" ]
}

@test "watcherd's refusals keep their status and detail" {
	cgi GET "/file_content?proposal=2222&file_name=context.py"
	expect_error 404 "proposal"
	cgi GET "/file_content?proposal=1111&file_name=nope.log"
	expect_error 404 "."
	cgi GET "/file_content?proposal=1111&file_name=notes.txt"
	expect_error 403 "."
	cgi GET "/file_content?proposal=1111&file_name=..%2Fcontext.py"
	expect_error 403 "'\\.\\.'"
	cgi GET "/contextfile/content?proposal_number=2222"
	expect_error 404 "proposal"
}

@test "a file name with NUL or control bytes or too long is 400, an absolute one 403" {
	for name in "context.py%00" "%00" "evil%00.log" "a%0a.log" "a%1b.log"; do
		cgi GET "/file_content?proposal=1111&file_name=$name"
		expect_error 400 "NUL or control byte" || fail "for file_name=$name"
	done
	cgi GET "/file_content?proposal=1111&file_name=%2Fetc%2Fpasswd"
	expect_error 403 "relative"
	! grep -q 'root:' "$T/b"
	long=$(head -c 300 /dev/zero | tr '\0' a)
	cgi GET "/has_new_checksum?proposal=1111&file_name=$long.log&checksum=00000000"
	expect_error 400 "longer than 255"
}

@test "without watcherd the answer is 503 with Retry-After, within 1 s" {
	# No socket at all, then a socket file nobody listens on.
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/stale.sock"
	for sock in "$T/absent.sock" "$T/stale.sock"; do
		t0=$(now_ms)
		cgi GET "/file_content?$Q" WATCHERD_SOCKET="$sock"
		elapsed=$(($(now_ms) - t0))
		expect_error 503 "watcherd is not available"
		[ "$(header Retry-After)" -ge 1 ]
		[ "$(header Cache-Control)" = no-store ]
		[ "$elapsed" -lt 1000 ] || fail "503 took $elapsed ms"
		cgi GET /health WATCHERD_SOCKET="$sock"
		expect_error 503 "watcherd"
	done
}

@test "a watcherd that accepts and never answers gives 503 within the bound" {
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); time.sleep(10)' \
	    "$T/silent.sock" </dev/null >/dev/null 2>&1 3>&- &
	silent=$!
	wait_until 2000 test -S "$T/silent.sock"
	t0=$(now_ms)
	cgi GET "/file_content?$Q" WATCHERD_SOCKET="$T/silent.sock" || true
	elapsed=$(($(now_ms) - t0))
	kill "$silent"
	wait "$silent" 2>/dev/null || true
	expect_error 503 "watcherd"
	[ "$(header Retry-After)" -ge 1 ]
	# The handler's bound on a call (3 s, above watcherd's fs-timeout),
	# then its count of the answer for /metrics (1 s).
	[ "$elapsed" -lt 4500 ] || fail "503 took $elapsed ms"
}

@test "every file request names the web server's REMOTE_USER, or null, to watcherd" {
	restart_web_watcherd --verbose
	cgi GET "/has_new_checksum?$Q&checksum=00000000" REMOTE_USER=alice@example.org
	[ "$STATUS" = 200 ] || fail "$STATUS $(body)"
	cgi GET "/file_content?$Q"
	[ "$STATUS" = 200 ] || fail "$STATUS $(body)"
	cgi GET "/contextfile/content?proposal_number=1111" REMOTE_USER=bob
	[ "$STATUS" = 200 ] || fail "$STATUS $(body)"
	# A web server that passes the variable empty when nobody logged in.
	cgi GET "/file_tail?$Q" REMOTE_USER=
	[ "$STATUS" = 200 ] || fail "$STATUS $(body)"
	grep -q 'cmd=checksum proposal=1111 user="alice@example.org"' "$T/watcherd.log" ||
		fail "no checksum request for alice@example.org in the log"
	grep -q 'cmd=content proposal=1111 user=null' "$T/watcherd.log" ||
		fail "no content request for nobody in the log"
	grep -q 'cmd=content proposal=1111 user="bob"' "$T/watcherd.log" ||
		fail "no content request for bob in the log"
	grep -q 'cmd=tail proposal=1111 user=null' "$T/watcherd.log" ||
		fail "an empty REMOTE_USER was not nobody"
	restart_web_watcherd
}

@test "a file_name with %0A and control bytes, or a REMOTE_USER with a line break, cannot forge watcherd's log" {
	# /bin/false denies everybody, so watcherd logs the refusal with the
	# name before it checks the name's syntax.
	restart_web_watcherd --verbose --access command --access-command /bin/false
	cgi GET "/file_content?proposal=1111&file_name=context.py%0Awatcherd:%20level=error%20event=forged%0D%1B%09x" \
	    REMOTE_USER=bob
	[ "$STATUS" = 403 ] || fail "$STATUS $(body)"
	cgi GET "/file_content?$Q" REMOTE_USER="bob
watcherd: level=error event=forged"
	[ "$STATUS" = 400 ] || fail "$STATUS $(body)"
	restart_web_watcherd
	grep -qF 'event=access_denied user="bob" proposal=1111 file="context.py\x0awatcherd: level=error event=forged\x0d\x1b\x09x" access=command' \
	    "$T/watcherd.log" || fail "the name is not escaped in one field: $(cat "$T/watcherd.log")"
	[ "$(grep -c forged "$T/watcherd.log")" = 1 ] || fail "$(cat "$T/watcherd.log")"
	log_lines_whole "$T/watcherd.log"
}

@test "every answer names the logged-in user in X-Remote-User, for the page" {
	for uri in "/file_content?$Q" "/health" "/nope"; do
		cgi GET "$uri" REMOTE_USER=alice
		[ "$(header X-Remote-User)" = alice ] ||
			fail "$uri: X-Remote-User is '$(header X-Remote-User)'"
		cgi GET "$uri"
		[ -z "$(header X-Remote-User)" ] || fail "$uri: an X-Remote-User for nobody"
	done
}

@test "every answer tells a browser it is data: a policy that allows nothing, nosniff, same-origin referrer" {
	crc=$(crc32 "$DAMNIT/context.py")
	for req in "GET /file_content?$Q" "HEAD /file_content?$Q" \
	    "GET /has_new_checksum?$Q&checksum=00000000" "GET /health" \
	    "GET /metrics" "GET /nope" "POST /file_content?$Q" \
	    "GET /file_content?proposal=x&file_name=context.py"; do
		cgi "${req%% *}" "${req#* }"
		expect_browser_headers "$T/h" api || fail "for $req: $STATUS"
	done
	cgi GET "/file_content?$Q" HTTP_IF_NONE_MATCH="\"$crc\""
	expect_status 304
	expect_browser_headers "$T/h" api || fail "for the 304"
	cgi GET "/file_content?$Q" WATCHERD_SOCKET="$T/absent.sock"
	expect_status 503
	expect_browser_headers "$T/h" api || fail "for the 503"
}

@test "a REMOTE_USER that is no user name is watcherd's 400, and nothing is read" {
	cgi GET "/file_content?$Q" REMOTE_USER="two words"
	[ "$STATUS" = 400 ] || fail "$STATUS $(body)"
	[[ "$(body)" == *"user must be a user name"* ]] || fail "$(body)"
	[ -z "$(header X-Remote-User)" ] || fail "the bad name was echoed"
	cgi GET "/file_content?$Q" REMOTE_USER="$(printf 'x%.0s' {1..300})"
	[ "$STATUS" = 400 ] || fail "$STATUS $(body)"
}
