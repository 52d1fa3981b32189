#!/usr/bin/env bats
# The HTTP routes (DESIGN.md section 3) through a real Apache with
# mod_fcgid, configured by apache-fcgid.conf.sample as shipped, mounted
# under /filehandler/, in front of a real watcherd.

load apache_helpers

setup_file() {
	apache_setup_file
}

teardown_file() {
	apache_teardown_file
}

setup() {
	ensure_watcherd
	DAMNIT="$T/data/$DAMNIT_REL"
	CTX="$DAMNIT/context.py"
	FILE_CTX="file_content?proposal=1111&file_name=context.py"
}

# checksum_of_content: the CRC-32 of the content the last answer delivered.
checksum_of_content() {
	jq -j .content "$T/body" >"$T/content"
	crc32 "$T/content"
}

@test "/health answers ok with watcherd's status, not cached" {
	get health
	expect 200
	[ "$(body_json .status)" = ok ]
	[ "$(body_json .watcherd.protocol)" = 1 ]
	[ -n "$(body_json '.watcherd.version | strings')" ]
	[ "$(body_json '.watcherd.uptime_s | numbers | . >= 0')" = true ]
	[ "$(header Cache-Control)" = no-store ]
}

@test "file_content delivers the file with its checksum, size, mtime and ETag" {
	get "$FILE_CTX"
	expect 200
	crc=$(crc32 "$CTX")
	[ "$(body_json .proposal)" = 1111 ]
	[ "$(body_json '.proposal | type')" = number ]
	[ "$(body_json .file_name)" = context.py ]
	[ "$(body_json .encoding)" = utf-8 ]
	jq -j .content "$T/body" | cmp - "$CTX"
	[ "$(body_json .checksum)" = "$crc" ]
	[ "$(checksum_of_content)" = "$crc" ]
	[ "$(body_json .size)" = "$(stat -c %s "$CTX")" ]
	mtime=$(body_json .mtime)
	python3 -c 'import os, sys
assert abs(os.stat(sys.argv[1]).st_mtime - float(sys.argv[2])) < 1e-3' \
	    "$CTX" "$mtime"
	[[ "$mtime" == *.* ]]
	[ "$(header ETag)" = "\"$crc\"" ]
	[ "$(header Cache-Control)" = no-cache ]
}

@test "every route works under any mount prefix, a trailing slash ignored" {
	for path in "$FILE_CTX" "deeper/mount/$FILE_CTX" \
	    "file_content/?proposal=1111&file_name=context.py"; do
		get "$path"
		expect 200
		[ "$(body_json .checksum)" = "$(crc32 "$CTX")" ]
	done
	get "a/b/has_new_checksum?proposal=1111&file_name=context.py&checksum=00000000"
	expect 200
	get "x/health"
	expect 200
	get "x/contextfile/content?proposal_number=1111"
	expect 200
	get "x/contextfile/last_modified?proposal_number=1111"
	expect 200
}

@test "the log files and process logs are served" {
	for f in damnit.log process_logs/r0012-p1111.out; do
		get "file_content?proposal=1111&file_name=$f"
		expect 200
		[ "$(body_json .file_name)" = "$f" ]
		jq -j .content "$T/body" | cmp - "$DAMNIT/$f"
		[ "$(body_json .checksum)" = "$(crc32 "$DAMNIT/$f")" ]
	done
	get "file_content?proposal=001111&file_name=process_logs%2Fr0012-p1111.out"
	expect 200
	[ "$(body_json .proposal)" = 1111 ]
}

@test "If-None-Match with the current checksum gives 304 without a body" {
	crc=$(crc32 "$CTX")
	for etag in "\"$crc\"" "W/\"$crc\"" "\"00000000\", \"$crc\"" "*"; do
		get -H "If-None-Match: $etag" "$FILE_CTX"
		[ "$STATUS" = 304 ] || fail "If-None-Match: $etag gave $STATUS"
		[ ! -s "$T/body" ]
		[ "$(header ETag)" = "\"$crc\"" ]
	done
	get -H 'If-None-Match: "00000000"' "$FILE_CTX"
	expect 200
	[ "$(body_json .checksum)" = "$crc" ]
}

@test "HEAD gives the headers of GET and no body" {
	get "$FILE_CTX"
	length=$(header Content-Length)
	[ "$length" = "$(stat -c %s "$T/body")" ]
	get -I "$FILE_CTX"
	[ "$STATUS" = 200 ]
	[ "$SIZE" = 0 ]
	[ "$(header ETag)" = "\"$(crc32 "$CTX")\"" ]
	[ "$(header Content-Length)" = "$length" ]
	[ "$(header Cache-Control)" = no-cache ]
	get -I "has_new_checksum?proposal=1111&file_name=context.py&checksum=00000000"
	[ "$STATUS" = 200 ]
	[ "$SIZE" = 0 ]
	[ "$(header X-Checksum)" = "$(crc32 "$CTX")" ]
	[ "$(header Content-Length)" = 4 ]
}

@test "has_new_checksum is false for the current checksum, true for another" {
	crc=$(crc32 "$CTX")
	get "has_new_checksum?proposal=1111&file_name=context.py&checksum=$crc"
	expect 200
	[ "$(cat "$T/body")" = false ]
	[ "$(header X-Checksum)" = "$crc" ]
	[ "$(header Cache-Control)" = no-store ]
	get "has_new_checksum?proposal=1111&file_name=context.py&checksum=00000000"
	expect 200
	[ "$(cat "$T/body")" = true ]
	[ "$(header X-Checksum)" = "$crc" ]
	upper=$(printf '%s' "$crc" | tr a-f A-F)
	get "has_new_checksum?proposal=1111&file_name=context.py&checksum=$upper"
	expect 200
	[ "$(cat "$T/body")" = false ]
}

@test "an edit on disk flips has_new_checksum to true and file_content follows" {
	f="$DAMNIT/edited.log"
	printf 'first line\n' >"$f"
	get "file_content?proposal=1111&file_name=edited.log"
	expect 200
	old=$(body_json .checksum)
	[ "$old" = "$(crc32 "$f")" ]
	q="has_new_checksum?proposal=1111&file_name=edited.log&checksum=$old"
	get "$q"
	[ "$(cat "$T/body")" = false ]

	printf 'second line, written in place\n' >>"$f"
	new=$(crc32 "$f")
	get "$q"
	expect 200
	[ "$(cat "$T/body")" = true ]
	[ "$(header X-Checksum)" = "$new" ]
	get -H "If-None-Match: \"$old\"" "file_content?proposal=1111&file_name=edited.log"
	expect 200
	[ "$(body_json .checksum)" = "$new" ]
	[ "$(checksum_of_content)" = "$new" ]

	# A rename-over save, as most editors do it.
	printf 'third version\n' >"$DAMNIT/.edited.log.tmp"
	mv "$DAMNIT/.edited.log.tmp" "$f"
	get "has_new_checksum?proposal=1111&file_name=edited.log&checksum=$new"
	[ "$(cat "$T/body")" = true ]
	[ "$(header X-Checksum)" = "$(crc32 "$f")" ]
	rm -f "$f"
}

@test "contextfile routes answer like DAMNIT-web" {
	get "contextfile/content?proposal_number=1111"
	expect 200
	jq -j .fileContent "$T/body" | cmp - "$CTX"
	modified=$(body_json .lastModified)
	[ "$(body_json '.lastModified | type')" = number ]
	get "contextfile/last_modified?proposal_number=1111"
	expect 200
	[ "$(body_json .lastModified)" = "$modified" ]
	[ "$(jq -c 'keys' "$T/body")" = '["lastModified"]' ]
	get "$FILE_CTX"
	[ "$(body_json .mtime)" = "$modified" ]
}

@test "methods other than GET, HEAD and PUT get 405 with Allow" {
	for method in POST DELETE PATCH; do
		get -X "$method" --data-binary '{}' "$FILE_CTX"
		expect 405
		[ "$(header Allow)" = "GET, HEAD, PUT" ]
	done
	get -X POST health
	expect 405
}

@test "missing or malformed parameters get 400 with a detail" {
	for q in "file_content" \
	    "file_content?file_name=context.py" \
	    "file_content?proposal=1111" \
	    "file_content?proposal=1111&file_name=" \
	    "file_content?proposal=abc&file_name=context.py" \
	    "file_content?proposal=1234567&file_name=context.py" \
	    "file_content?proposal=-1&file_name=context.py" \
	    "file_content?proposal=1111&file_name=context.py&proposal=1112" \
	    "file_content?proposal=1111&file_name=context%zz" \
	    "has_new_checksum?proposal=1111&file_name=context.py" \
	    "has_new_checksum?proposal=1111&file_name=context.py&checksum=xyz" \
	    "has_new_checksum?proposal=1111&file_name=context.py&checksum=123456789" \
	    "contextfile/content" \
	    "contextfile/last_modified?proposal_number=x"; do
		get "$q"
		[ "$STATUS" = 400 ] || fail "$q gave $STATUS, not 400"
		expect 400
	done
}

@test "a file not allowed gets 403; a missing file, proposal or route 404" {
	get "file_content?proposal=1111&file_name=notes.txt"
	expect 403
	get "file_content?proposal=1111&file_name=missing.log"
	expect 404
	get "has_new_checksum?proposal=1111&file_name=missing.log&checksum=00000000"
	expect 404
	get "file_content?proposal=999999&file_name=context.py"
	expect 404
	get "contextfile/content?proposal_number=2222"
	expect 404
	get "no_such_route"
	expect 404
	get "file_content/extra?proposal=1111&file_name=context.py"
	expect 404
}

@test "a file over max_file_size gets 413 without being read" {
	truncate -s 17M "$DAMNIT/huge.log"
	get "file_content?proposal=1111&file_name=huge.log"
	rm -f "$DAMNIT/huge.log"
	expect 413
}

@test "hostile names never leak a byte from outside the folder" {
	marker="SECRET-$RANDOM-$RANDOM-MARKER"
	secret="$T/data/SPB/202601/p001111/secret.log"
	printf '%s\n' "$marker" >"$secret"
	printf '%s\n' "$marker" >"$T/secret.log"
	ln -s "$secret" "$DAMNIT/leak.log"
	ln -s "$T/secret.log" "$DAMNIT/process_logs/abs.out"
	ln -s ../../secret.log "$DAMNIT/process_logs/rel.out"
	for name in "../secret.log" "../../../../secret.log" \
	    "%2e%2e%2fsecret.log" "%2E%2E/secret.log" \
	    "%252e%252e%252fsecret.log" "..%5csecret.log" \
	    "$T/secret.log" "${secret//\//%2f}" "//$T/secret.log" \
	    "process_logs/../../secret.log" "process_logs/../../../secret.log" \
	    "./../secret.log" "leak.log" "process_logs/abs.out" \
	    "process_logs/rel.out" "leak.log%00.py" "context.py%00" \
	    "/proc/self/root$T/secret.log" "%0a../secret.log" \
	    "$(printf 'x%.0s' $(seq 1 300)).log"; do
		for route in "file_content?proposal=1111&file_name=$name" \
		    "has_new_checksum?proposal=1111&file_name=$name&checksum=00000000"; do
			get "$route"
			[[ "$STATUS" =~ ^40[034]$ ]] ||
			    fail "$route gave $STATUS: $(head -c 300 "$T/body")"
			expect "$STATUS"
			! grep -q "$marker" "$T/body" "$T/headers" ||
			    fail "$route leaked the secret"
			[ -z "$(header X-Checksum)" ] ||
			    fail "$route answered a checksum"
		done
	done
	# A symlink out is refused as outside the folder; a name with ".."
	# components is refused before any lookup (400, as watcherd has it).
	get "file_content?proposal=1111&file_name=leak.log"
	expect 403
	get "file_content?proposal=1111&file_name=process_logs/abs.out"
	expect 403
	# Paths that try to climb out of the mount or reach the binary itself.
	for path in "../filehandler.fcgi" "%2e%2e/%2e%2e/$T/secret.log" \
	    "..%2f..%2fsecret.log" ""; do
		code=$(curl -s --path-as-is -o "$T/body" -w '%{http_code}' \
		    --max-time 5 "$BASE_URL/$path")
		[ "$code" -ge 400 ] || fail "/filehandler/$path gave $code"
		! grep -q "$marker" "$T/body"
		[ "$(head -c 4 "$T/body" | od -An -tx1 | tr -d ' ')" != 7f454c46 ] ||
		    fail "/filehandler/$path served the handler binary"
	done
	rm -f "$secret" "$T/secret.log" "$DAMNIT/leak.log" \
	    "$DAMNIT/process_logs/abs.out" "$DAMNIT/process_logs/rel.out"
}

@test "a file that is not UTF-8 comes as base64 of its exact bytes" {
	f="$DAMNIT/binary.log"
	python3 -c 'import sys
sys.stdout.buffer.write(bytes(range(256)) + b"\xc3\x28 caf\xe9 \xff\xfe\x00end")' >"$f"
	get "file_content?proposal=1111&file_name=binary.log"
	expect 200
	[ "$(body_json .encoding)" = base64 ]
	body_json .content | base64 -d >"$T/decoded"
	cmp "$T/decoded" "$f"
	[ "$(body_json .checksum)" = "$(crc32 "$f")" ]
	[ "$(body_json .size)" = "$(stat -c %s "$f")" ]
	rm -f "$f"
}

@test "concurrent clients on kept-alive connections all get the same answer" {
	crc=$(crc32 "$CTX")
	urls=()
	for i in $(seq 1 25); do
		urls+=(-o /dev/null "$BASE_URL/$FILE_CTX")
	done
	for worker in 1 2 3 4 5 6 7 8; do
		curl -s --max-time 20 -w '%{http_code}\n' "${urls[@]}" \
		    >"$T/codes.$worker" 3>&- &
	done
	wait
	[ "$(cat "$T"/codes.* | grep -c '^200$')" = 200 ] ||
	    fail "not all 200: $(sort "$T"/codes.* | uniq -c)"
	rm -f "$T"/codes.*
	get "$FILE_CTX"
	[ "$(body_json .checksum)" = "$crc" ]
}

@test "watcherd gone: 503 with Retry-After within 1 s; back: 200 without restarting Apache" {
	apache=$(cat "$T/apache.pid")
	get "$FILE_CTX"
	expect 200
	for how in TERM KILL; do
		stop_apache_watcherd "$how"
		for path in health "$FILE_CTX" \
		    "has_new_checksum?proposal=1111&file_name=context.py&checksum=00000000" \
		    "contextfile/last_modified?proposal_number=1111"; do
			get "$path"
			expect 503
			[ "$(header Retry-After)" -ge 1 ]
			awk -v t="$TIME" 'BEGIN { exit !(t < 1.0) }' ||
			    fail "$path took $TIME s to say 503 after SIG$how"
			echo "# 503 after SIG$how in $TIME s: $path" >&3
		done
		start_apache_watcherd
		# The first request after the restart already reconnects.
		get "$FILE_CTX"
		expect 200
		[ "$(body_json .checksum)" = "$(crc32 "$CTX")" ]
		get health
		expect 200
	done
	[ "$(cat "$T/apache.pid")" = "$apache" ]
	pid_alive "$apache"
}

@test "the handler's answers and the page tell the browser what they may do: CSP, nosniff, Referrer-Policy" {
	local page=${BASE_URL%/filehandler}
	# The handler's answers: its own strict policy, not the page's.
	for path in "$FILE_CTX" health no_such_route "file_content?proposal=x"; do
		get "$path"
		expect_browser_headers "$T/headers" api || fail "for $path: $STATUS"
	done
	# The sample serves the page (the repository's www/) at /.
	for path in nope.js "" index.html vendor/codemirror.js app.js; do
		BASE_URL=$page get "$path"
		case $path in
		nope.js) [ "$STATUS" = 404 ] || fail "/$path: $STATUS" ;;
		*) [ "$STATUS" = 200 ] || fail "/$path: $STATUS" ;;
		esac
		expect_browser_headers "$T/headers" page || fail "for the page's /$path"
	done
	[ "$(header Content-Type)" = "text/javascript; charset=utf-8" ]
	cmp "$T/body" "$REPO_ROOT/www/app.js"
	# A stream too (the file's last but one: the stream's process lingers
	# until its next heartbeat).
	get_stream 1 "events?proposal=1111&file_name=context.py"
	[ "$STATUS" = 200 ] || fail "/events: $STATUS"
	expect_browser_headers "$T/headers" api || fail "for /events"
}

@test "stopping Apache leaves no handler process and no sanitizer report" {
	[ -n "$(handler_pids)" ] || fail "no handler process found while running"
	stop_apache
	no_handler_left
	if [ "$SANITIZED" = 1 ]; then
		no_sanitizer_report "$T/run/error.log" ||
		    fail "$(cat "$T/run/error.log")"
		no_sanitizer_report "$T/watcherd.log" ||
		    fail "$(cat "$T/watcherd.log")"
	fi
}
