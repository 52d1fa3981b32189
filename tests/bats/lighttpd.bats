#!/usr/bin/env bats
# The HTTP routes (DESIGN.md section 3) through a real lighttpd, started
# with lighttpd.conf.sample as shipped, on a free loopback port, in front of
# a real watcherd: what a browser or a script sees.

load web_helpers
web_default_hooks

setup_file() {
	web_setup_file
	# Links in the DAMNIT folder that lead out of it, to files that must
	# never be served: the secret marker outside the data tree, and passwd.
	ln -s "$SECRET" "$DAMNIT/evil.log"
	ln -s "$SECRET" "$DAMNIT/process_logs/evil.out"
	ln -s /etc/passwd "$DAMNIT/passwd.log"
	start_web_watcherd
	start_lighttpd
}

teardown() {
	local status=0
	# A second lighttpd a test started (one that failed on the way).
	stop_lighttpd auth || status=1
	if [ -n "${UNIX_LOGIN:-}" ]; then
		unix_proposals_undo || status=1
		unix_accounts_remove "$ACCOUNT" || status=1
	fi
	ensure_default_watcherd || status=1
	web_teardown || status=1
	return "$status"
}

Q="proposal=1111&file_name=context.py"

@test "file_content answers every field of the contract" {
	f="$DAMNIT/context.py"
	http "/file_content?$Q"
	expect_status 200
	crc=$(crc32 "$f")
	expect_file_content_head "$crc"
	jq -e '.proposal == 1111 and .file_name == "context.py" and
	    .encoding == "utf-8" and (.checksum | test("^[0-9a-f]{8}$")) and
	    (.size | type) == "number" and (.mtime | type) == "number"' "$T/b"
	[ "$(jqb .checksum)" = "$crc" ]
	[ "$(jqb .size)" = "$(stat -c %s "$f")" ]
	[ "$(jqb '.mtime | floor')" = "$(stat -c %Y "$f")" ]
	decode_content "$T/got" >/dev/null
	cmp "$T/got" "$f"
}

@test "the checksum is the CRC-32 of the content it comes with" {
	for name in context.py damnit.log process_logs/r0012-p1111.out; do
		http "/file_content?proposal=1111&file_name=$name"
		expect_status 200
		crc=$(decode_content "$T/got")
		[ "$(jqb .checksum)" = "$crc" ] ||
		    fail "$name: served $(jqb .checksum), content's CRC-32 is $crc"
		[ "$(header X-Checksum)" = "$crc" ]
		cmp "$T/got" "$DAMNIT/$name"
	done
}

@test "has_new_checksum is false for the current checksum and true for another" {
	crc=$(crc32 "$DAMNIT/context.py")
	http "/has_new_checksum?$Q&checksum=$crc"
	expect_status 200
	[ "$(body)" = false ]
	[ "$(header X-Checksum)" = "$crc" ]
	[ "$(header Cache-Control)" = no-store ]
	[ "$(header Content-Type)" = application/json ]
	http "/has_new_checksum?$Q&checksum=00000000"
	expect_status 200
	[ "$(body)" = true ]
	[ "$(header X-Checksum)" = "$crc" ]
}

@test "If-None-Match with the current checksum is 304 without a body" {
	crc=$(crc32 "$DAMNIT/context.py")
	http -H "If-None-Match: \"$crc\"" "/file_content?$Q"
	expect_status 304
	[ ! -s "$T/b" ]
	[ "$(header ETag)" = "\"$crc\"" ]
	http -H 'If-None-Match: "00000000"' "/file_content?$Q"
	expect_status 200
	[ "$(jqb .checksum)" = "$crc" ]
}

@test "/health is 200 with watcherd's status" {
	http /health
	expect_status 200
	[ "$(header Cache-Control)" = no-store ]
	jq -e '.status == "ok" and (.watcherd.version | type) == "string" and
	    (.watcherd.uptime_s | type) == "number"' "$T/b"
}

@test "contextfile/content and contextfile/last_modified answer as DAMNIT-web" {
	f="$DAMNIT/context.py"
	http "/contextfile/content?proposal_number=1111"
	expect_status 200
	[ "$(header Cache-Control)" = no-store ]
	jq -e 'keys == ["encoding","fileContent","lastModified"]' "$T/b"
	[ "$(jqb '.lastModified | floor')" = "$(stat -c %Y "$f")" ]
	jq -j .fileContent "$T/b" >"$T/got"
	cmp "$T/got" "$f"
	want=$(jqb .lastModified)
	http "/contextfile/last_modified?proposal_number=1111"
	expect_status 200
	jq -e 'keys == ["lastModified"]' "$T/b"
	[ "$(jqb .lastModified)" = "$want" ]
}

@test "routes below the mount point match on their last segments" {
	http /a/b/health
	expect_status 200
	http "/x/file_content/?$Q"
	expect_status 200
}

@test "HEAD answers GET's headers and Content-Length without a body" {
	http "/file_content?$Q"
	length=$(header Content-Length)
	raw_http HEAD "/file_content?$Q"
	expect_status 200
	[ "$(header Content-Length)" = "$length" ]
	[ "$(header ETag)" = "\"$(crc32 "$DAMNIT/context.py")\"" ]
	[ ! -s "$T/b" ] || fail "HEAD has a body: $(head -c 100 "$T/b")"
	raw_http GET "/file_content?$Q"
	expect_status 200
	[ "$(stat -c %s "$T/b")" = "$length" ]
}

# has_new QUERY CRC: has_new_checksum for CRC answers true.
has_new() {
	http "/has_new_checksum?$1&checksum=$2" && [ "$STATUS" = 200 ] &&
	    [ "$(body)" = true ]
}

# served_before_edit FILE: FILE's checksum as file_content serves it, for
# which has_new_checksum answers false. Sets OLD.
served_before_edit() {
	http "/file_content?proposal=1111&file_name=$1"
	OLD=$(jqb .checksum)
	http "/has_new_checksum?proposal=1111&file_name=$1&checksum=$OLD"
	[ "$(body)" = false ] || fail "has_new_checksum is $(body) before the edit"
}

# edit_flips FILE CRC: has_new_checksum turns true for CRC within 2 s, and
# file_content then serves the file's new bytes and their checksum.
edit_flips() {
	local q="proposal=1111&file_name=$1" new
	new=$(crc32 "$DAMNIT/$1")
	[ "$new" != "$2" ] || fail "the edit did not change the CRC-32" || return 1
	wait_until 2000 has_new "$q" "$2" ||
	    fail "has_new_checksum stayed $STATUS $(body) for 2 s" || return 1
	[ "$(header X-Checksum)" = "$new" ]
	http "/file_content?$q"
	expect_status 200
	[ "$(jqb .checksum)" = "$new" ]
	[ "$(header ETag)" = "\"$new\"" ]
	[ "$(decode_content "$T/got")" = "$new" ]
	cmp "$T/got" "$DAMNIT/$1"
}

@test "an edit in place flips has_new_checksum and the new content is served" {
	f="$DAMNIT/edit-in-place.log"
	printf 'version one\n' >"$f"
	served_before_edit edit-in-place.log
	# Same size, same inode: only the bytes change.
	printf 'version two\n' 1<>"$f"
	edit_flips edit-in-place.log "$OLD"
}

@test "a rename-over save flips has_new_checksum and the new content is served" {
	f="$DAMNIT/edit-rename.log"
	printf 'first save\n' >"$f"
	served_before_edit edit-rename.log
	printf 'second save, longer\n' >"$DAMNIT/.edit-rename.log.swp"
	mv -f "$DAMNIT/.edit-rename.log.swp" "$f"
	edit_flips edit-rename.log "$OLD"
}

@test "400 for a missing or malformed parameter, with a detail" {
	http "/file_content?file_name=context.py"
	expect_error 400 "proposal is missing"
	http "/file_content?proposal=1234567&file_name=context.py"
	expect_error 400 "proposal must be a number"
	http "/file_content?proposal=abc&file_name=context.py"
	expect_error 400 "proposal must be a number"
	http "/file_content?proposal=1111"
	expect_error 400 "file_name is missing"
	http "/file_content?$Q&proposal=1111"
	expect_error 400 "proposal.*more than once"
	http "/file_content?proposal=1111&file_name="
	expect_error 400 "file_name is missing"
	http "/has_new_checksum?$Q&checksum=xyz"
	expect_error 400 "checksum must be"
	http "/contextfile/content"
	expect_error 400 "proposal_number is missing"
}

@test "403 for a file not allowed or a symlink out of the folder" {
	http "/file_content?proposal=1111&file_name=notes.txt"
	expect_error 403 "."
	http "/file_content?proposal=1111&file_name=evil.log"
	expect_error 403 "."
	! grep -q "$SECRET_MARKER" "$T/b"
}

@test "404 for an unknown proposal, a missing file and an unknown route" {
	http "/file_content?proposal=2222&file_name=context.py"
	expect_error 404 "proposal"
	http "/file_content?proposal=1111&file_name=missing.log"
	expect_error 404 "."
	http "/nope?$Q"
	expect_error 404 "unknown route"
	http "/contextfile/last_modified?proposal_number=999999"
	expect_error 404 "proposal"
}

@test "405 for POST, with the route's Allow" {
	http -X POST --data 'proposal=1111&file_name=context.py' "/file_content?$Q"
	expect_error 405 "GET, HEAD and PUT"
	[ "$(header Allow)" = "GET, HEAD, PUT" ]
	http -X DELETE "/health"
	expect_error 405 "GET and HEAD"
}

@test "413 for a file larger than --max-file-size" {
	restart_web_watcherd --max-file-size 1k
	head -c 4096 /dev/zero | tr '\0' x >"$DAMNIT/big.log"
	http "/file_content?proposal=1111&file_name=big.log"
	expect_error 413 "."
	http "/has_new_checksum?proposal=1111&file_name=big.log&checksum=00000000"
	expect_error 413 "."
	printf 'small\n' >"$DAMNIT/small.log"
	http "/file_content?proposal=1111&file_name=small.log"
	expect_status 200
}

@test "hostile file names never leak a byte" {
	up7=../../../../../../..
	for name in "$up7/secret.log" "..%2f..%2f..%2f..%2f..%2f..%2f..%2fsecret.log" \
	    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.log" \
	    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.log" \
	    "process_logs/$up7/../secret.log" "process_logs%2f..%2f$up7%2fsecret.log" \
	    "$T/secret.log" "%2F${T#/}%2Fsecret.log" /etc/passwd %2Fetc%2Fpasswd \
	    "$up7/../../../../etc/passwd" \
	    evil.log process_logs/evil.out passwd.log ./evil.log "evil.log/" \
	    "evil.log%00" "context.py%00.log" "%00" "%00evil.log" \
	    "evil.log%0a" "/proc/self/root$SECRET" "/proc/self/cwd/evil.log" \
	    "process_logs/%2e%2e/evil.log"; do
		http "/file_content?proposal=1111&file_name=$name"
		[ "$STATUS" -ge 400 ] && [ "$STATUS" -le 499 ] ||
		    fail "file_name=$name: status $STATUS"
		! grep -q "$SECRET_MARKER" "$T/b" ||
		    fail "file_name=$name leaked the secret: $(body)"
		! grep -q 'root:' "$T/b" ||
		    fail "file_name=$name leaked /etc/passwd: $(body)"
		http "/has_new_checksum?proposal=1111&file_name=$name&checksum=00000000"
		[ "$STATUS" -ge 400 ] && [ "$STATUS" -le 499 ] ||
		    fail "has_new_checksum, file_name=$name: status $STATUS"
		[ -z "$(header X-Checksum)" ] ||
		    fail "file_name=$name got a checksum: $(header X-Checksum)"
	done
	for p in "..%2F1111" "1111%2F.." "%2e%2e" "$up7/1111"; do
		http "/file_content?proposal=$p&file_name=context.py"
		expect_error 400 "proposal" || fail "for proposal=$p"
	done
	# lighttpd itself refuses %00 and control bytes in a URL (its own
	# 400 page), and passes an invalid %-escape on as a literal '%'.
	for q in "proposal=1111%00&file_name=context.py" \
	    "proposal=1111&file_name=%zz%2e%2e%2fsecret.log"; do
		http "/file_content?$q"
		[ "$STATUS" -ge 400 ] && [ "$STATUS" -le 499 ] || fail "$q: status $STATUS"
		! grep -q "$SECRET_MARKER" "$T/b" || fail "$q leaked the secret"
	done
}

@test "a file that is not UTF-8 comes back as the base64 of its exact bytes" {
	printf '\xff\xfe\x00abc' >"$DAMNIT/bin.log"
	http "/file_content?proposal=1111&file_name=bin.log"
	expect_status 200
	[ "$(jqb .encoding)" = base64 ]
	[ "$(jqb .size)" = 6 ]
	crc=$(decode_content "$T/got")
	cmp "$T/got" "$DAMNIT/bin.log"
	[ "$(jqb .checksum)" = "$crc" ]
	[ "$crc" = "$(crc32 "$DAMNIT/bin.log")" ]
}

@test "parallel requests all get the whole answer" {
	url="http://127.0.0.1:$PORT$PREFIX/file_content?$Q"
	crc=$(crc32 "$DAMNIT/context.py")
	seq 24 | xargs -P 12 -I{} curl -sS --max-time 5 -o "$T/par.{}" "$url"
	for i in $(seq 24); do
		[ "$(jq -r .checksum "$T/par.$i")" = "$crc" ] ||
		    fail "request $i: $(head -c 200 "$T/par.$i")"
	done
	rm -f "$T"/par.*
}

@test "watcherd killed: 503 within 1 s; restarted: 200 again, lighttpd untouched" {
	http /health
	expect_status 200
	lighttpd=$(lighttpd_pid)
	kill_watcherd_hard
	http "/file_content?$Q"
	expect_error 503 "watcherd is not available"
	[ "$(header Retry-After)" -ge 1 ]
	[ "$TIME_MS" -lt 1000 ] || fail "the 503 took $TIME_MS ms"
	http /health
	expect_error 503 "watcherd"
	[ "$TIME_MS" -lt 1000 ] || fail "the 503 took $TIME_MS ms"
	start_web_watcherd
	answers() {
		http "/file_content?$Q" && [ "$STATUS" = 200 ]
	}
	wait_until 2000 answers || fail "still $STATUS 2 s after watcherd's restart"
	[ "$(jqb .checksum)" = "$(crc32 "$DAMNIT/context.py")" ]
	[ "$(lighttpd_pid)" = "$lighttpd" ]
	pid_alive "$lighttpd"
}

@test "with FILEHANDLER_AUTH_USERFILE the page and the file routes ask for a login, and watcherd hears who" {
	local q="proposal=1111&file_name=context.py"
	printf 'alice:%s\n' "$(openssl passwd -6 'open sesame')" >"$T/htpasswd"
	restart_web_watcherd --verbose
	log_from=$(($(stat -c %s "$T/watcherd.log") + 1))
	FILEHANDLER_AUTH_USERFILE="$T/htpasswd" start_lighttpd auth
	# Without credentials, or with wrong ones: lighttpd's 401, and the
	# request never reaches the handler.
	for path in "/file_content?$q" "/has_new_checksum?$q&checksum=00000000" \
	    "/events?proposal=1111&file_name=run.log" \
	    "/contextfile/content?proposal_number=1111"; do
		http "$path"
		[ "$STATUS" = 401 ] || fail "$path without a login: $STATUS"
		grep -qi '^WWW-Authenticate: Basic realm="DAMNIT"' "$T/h" ||
			fail "$path: no Basic challenge"
		http -u alice:wrong "$path"
		[ "$STATUS" = 401 ] || fail "$path with a wrong password: $STATUS"
	done
	PREFIX= http /
	[ "$STATUS" = 401 ] || fail "the page without a login: $STATUS"
	expect_browser_headers "$T/h" page || fail "for the page's 401"
	! tail -c "+$log_from" "$T/watcherd.log" | grep -q 'proposal=1111' ||
		fail "a request about a file reached watcherd"
	# Monitoring needs no login.
	http /health
	[ "$STATUS" = 200 ] || fail "/health: $STATUS"
	http /metrics
	[ "$STATUS" = 200 ] || fail "/metrics: $STATUS"
	# Logged in: the answer, and watcherd is told who asked.
	http -u 'alice:open sesame' "/file_content?$q"
	[ "$STATUS" = 200 ] || fail "alice: $STATUS $(cat "$T/b")"
	tail -c "+$log_from" "$T/watcherd.log" |
		grep -q 'cmd=content proposal=1111 user="alice"' ||
		fail "watcherd did not hear alice"
}

# Access per proposal with real accounts (DESIGN.md section 7): watcherd
# with --access unix behind lighttpd with the sample's login. ALICE is in
# the group of proposal 1111, BOB is not, NOSUCH logs in but has no
# account; proposal 2222 is open to everybody (web_helpers.bash).
ACCOUNT=fhw_
ALICE=${ACCOUNT}alice
BOB=${ACCOUNT}bob
NOSUCH=${ACCOUNT}nosuch

# unix_login: the accounts and the proposals, watcherd with --access unix,
# and lighttpd "auth" with the sample's login for the three (password
# pw-NAME). PORT is that lighttpd's, OPEN_PORT the suite's one without a
# login. The teardown removes it all.
unix_login() {
	local u
	UNIX_LOGIN=1
	OPEN_PORT=$PORT
	unix_accounts_add "$ACCOUNT" && unix_proposals "$ACCOUNT" || return 1
	: >"$T/htpasswd.unix"
	for u in "$ALICE" "$BOB" "$NOSUCH"; do
		printf '%s:%s\n' "$u" "$(openssl passwd -6 "pw-$u")" >>"$T/htpasswd.unix"
	done
	restart_web_watcherd --access unix &&
	    FILEHANDLER_AUTH_USERFILE="$T/htpasswd.unix" start_lighttpd auth
}

# http_as USER [curl options...] PATH: http, logged in as USER.
http_as() {
	local user=$1
	shift
	http -u "$user:pw-$user" "$@"
}

# expect_forbidden USER FILE PROPOSAL: the last answer is watcherd's 403
# for USER, naming USER, FILE and PROPOSAL.
expect_forbidden() {
	expect_error 403 . || return 1
	[ "$(jqb .detail)" = "user $1 may not read $2 of proposal $3" ] ||
	    fail "detail: $(jqb .detail)" || return 1
	[ "$(header X-Remote-User)" = "$1" ] ||
	    fail "X-Remote-User: $(header X-Remote-User)"
}

@test "--access unix behind lighttpd's login: a member of the proposal's group reads every file route" {
	unix_login
	f="$DAMNIT/context.py"
	crc=$(crc32 "$f")
	http_as "$ALICE" "/file_content?$Q"
	expect_status 200
	[ "$(header X-Remote-User)" = "$ALICE" ]
	expect_file_content_head "$crc"
	[ "$(decode_content "$T/got")" = "$crc" ]
	cmp "$T/got" "$f"
	# Two directories further down, each 2750.
	http_as "$ALICE" "/file_content?proposal=1111&file_name=process_logs/r0012-p1111.out"
	expect_status 200
	[ "$(jqb .checksum)" = "$(crc32 "$DAMNIT/process_logs/r0012-p1111.out")" ]
	http_as "$ALICE" "/has_new_checksum?$Q&checksum=$crc"
	expect_status 200
	[ "$(body)" = false ]
	http_as "$ALICE" "/has_new_checksum?$Q&checksum=00000000"
	expect_status 200
	[ "$(body)" = true ]
	[ "$(header X-Checksum)" = "$crc" ]
	http_as "$ALICE" "/file_tail?proposal=1111&file_name=damnit.log&offset=0"
	expect_status 200
	[ "$(jqb .next_offset)" = "$(stat -c %s "$DAMNIT/damnit.log")" ]
	cmp <(jq -j .data "$T/b") "$DAMNIT/damnit.log"
	http_stream 1 -u "$ALICE:pw-$ALICE" "/events?$Q"
	expect_status 200
	[[ "$(header Content-Type)" == text/event-stream* ]] ||
	    fail "Content-Type: $(header Content-Type)"
	head -n 1 "$T/b" | grep -q '^retry: ' || fail "the stream: $(body)"
	http_as "$ALICE" "/contextfile/content?proposal_number=1111"
	expect_status 200
	jq -j .fileContent "$T/b" >"$T/got"
	cmp "$T/got" "$f"
	http_as "$ALICE" "/contextfile/last_modified?proposal_number=1111"
	expect_status 200
	[ "$(jqb '.lastModified | floor')" = "$(stat -c %Y "$f")" ]
	# She may look: a missing file is missing, not forbidden.
	http_as "$ALICE" "/file_content?proposal=1111&file_name=missing.log"
	expect_error 404 .
}

@test "--access unix behind lighttpd's login: anybody else gets 403 naming him and the proposal on every file route, at once, file or no file" {
	unix_login
	crc=$(crc32 "$DAMNIT/context.py")
	size=$(stat -c %s "$DAMNIT/damnit.log")
	while read -r name path; do
		http_as "$BOB" "$path"
		expect_forbidden "$BOB" "$name" 1111 || fail "for $path"
	done <<-EOF
	context.py /file_content?$Q
	missing.log /file_content?proposal=1111&file_name=missing.log
	context.py /has_new_checksum?$Q&checksum=00000000
	missing.log /has_new_checksum?proposal=1111&file_name=missing.log&checksum=00000000
	damnit.log /file_tail?proposal=1111&file_name=damnit.log&offset=0
	missing.log /file_tail?proposal=1111&file_name=missing.log&offset=0
	context.py /contextfile/content?proposal_number=1111
	context.py /contextfile/last_modified?proposal_number=1111
	EOF
	# Held routes are refused before they are held.
	http_as "$BOB" "/has_new_checksum?$Q&checksum=$crc&wait=20"
	expect_forbidden "$BOB" context.py 1111
	[ "$TIME_MS" -lt 2000 ] || fail "the 403 took $TIME_MS ms"
	http_as "$BOB" "/file_tail?proposal=1111&file_name=damnit.log&offset=$size&wait=20"
	expect_forbidden "$BOB" damnit.log 1111
	[ "$TIME_MS" -lt 2000 ] || fail "the 403 took $TIME_MS ms"
	for name in context.py missing.log; do
		http_stream 2 -u "$BOB:pw-$BOB" "/events?proposal=1111&file_name=$name"
		expect_forbidden "$BOB" "$name" 1111
		[[ "$(header Content-Type)" != text/event-stream* ]]
		! grep -q '^retry: ' "$T/b" || fail "an event stream: $(body)"
	done
	# A proposal open to everybody.
	http_as "$BOB" "/file_content?proposal=2222&file_name=context.py"
	expect_status 200
	[ "$(jqb .checksum)" = "$(crc32 "$T/data/SPB/202601/p002222/usr/Shared/amore/context.py")" ]
	http_as "$BOB" "/contextfile/content?proposal_number=2222"
	expect_status 200
	# A login without an account reads nothing, not even what is open.
	for p in 1111 2222; do
		http_as "$NOSUCH" "/file_content?proposal=$p&file_name=context.py"
		expect_forbidden "$NOSUCH" context.py "$p"
	done
}

@test "--access unix: nobody logged in gets lighttpd's 401 with the sample's login, the handler's without; health and metrics stay open" {
	unix_login
	for path in "/file_content?$Q" "/has_new_checksum?$Q&checksum=00000000&wait=20" \
	    "/file_tail?proposal=1111&file_name=damnit.log&offset=0&wait=20" \
	    "/events?$Q" "/contextfile/content?proposal_number=1111" \
	    "/contextfile/last_modified?proposal_number=1111"; do
		http "$path"
		[ "$STATUS" = 401 ] || fail "$path without a login: $STATUS"
		[[ "$(header WWW-Authenticate)" == 'Basic realm="DAMNIT"'* ]] ||
		    fail "$path: challenge $(header WWW-Authenticate)"
		[[ "$(header Content-Type)" != application/json* ]] ||
		    fail "$path: the handler answered: $(body)"
		PORT=$OPEN_PORT http "$path"
		expect_error 401 . || fail "for $path without a login configured"
		[ "$(jqb .detail)" = "nobody is logged in: log in to read the files of proposal 1111" ] ||
		    fail "$path: detail $(jqb .detail)"
		! header X-Remote-User >/dev/null || fail "$path: X-Remote-User $(header X-Remote-User)"
		[ "$TIME_MS" -lt 2000 ] || fail "$path: the 401 took $TIME_MS ms"
	done
	for path in /health /metrics; do
		http "$path"
		[ "$STATUS" = 200 ] || fail "$path with the login: $STATUS"
		PORT=$OPEN_PORT http "$path"
		[ "$STATUS" = 200 ] || fail "$path without a login configured: $STATUS"
	done
}

@test "--access unix behind lighttpd's login: a member taken out of the proposal's group loses her stream and her long-poll within seconds" {
	local crc url t0 stream_pid poll_pid
	unix_login
	crc=$(crc32 "$DAMNIT/context.py")
	url="http://127.0.0.1:$PORT$PREFIX"
	spawn curl -sS -N --max-time 20 -u "$ALICE:pw-$ALICE" -o "$T/stream" \
	    "$url/events?$Q" 2>/dev/null
	stream_pid=$SPAWNED
	spawn curl -sS --max-time 25 -u "$ALICE:pw-$ALICE" -o "$T/poll" \
	    -w '%{http_code}' "$url/has_new_checksum?$Q&checksum=$crc&wait=20" \
	    >"$T/poll.status" 2>/dev/null
	poll_pid=$SPAWNED
	subscribed() {
		[ "$(send '{"cmd":"list"}' | jq '[.watches[] |
		    select(.file_name == "context.py") | .subscribers] | add')" = 2 ]
	}
	wait_until 5000 subscribed || fail "the stream and the long-poll did not subscribe"
	grep -q '^retry: ' "$T/stream" || fail "no stream: $(cat "$T/stream")"
	t0=$(now_ms)
	chgrp root "$T/data/SPB/202601/p001111"
	wait_until 6000 pid_gone "$stream_pid" || fail "the stream goes on: $(cat "$T/stream")"
	wait_until 6000 pid_gone "$poll_pid" || fail "the long-poll goes on"
	echo "# stream and long-poll ended $(($(now_ms) - t0)) ms after chgrp" >&3
	wait "$stream_pid" 2>/dev/null || true
	wait "$poll_pid" 2>/dev/null || true
	grep -A1 '^event: forbidden$' "$T/stream" | sed -n 's/^data: //p' >"$T/ev"
	[ "$(jq -r .detail "$T/ev")" = "user $ALICE may not read context.py of proposal 1111" ] ||
	    fail "the stream: $(cat "$T/stream")"
	[ "$(cat "$T/poll.status")" = 403 ] || fail "the long-poll: $(cat "$T/poll.status") $(cat "$T/poll")"
	[ "$(jq -r .detail "$T/poll")" = "user $ALICE may not read context.py of proposal 1111" ] ||
	    fail "the long-poll: $(cat "$T/poll")"
	# And a new stream is refused.
	http_as "$ALICE" "/events?$Q"
	expect_forbidden "$ALICE" context.py 1111
}

@test "the handler's answers and the page tell the browser what they may do: CSP, nosniff, Referrer-Policy" {
	# The handler's answers: its own strict policy, not the page's.
	for path in "/file_content?$Q" /health /nope "/file_content?proposal=x"; do
		http "$path"
		expect_browser_headers "$T/h" api || fail "for $path: $STATUS"
	done
	# The page, its scripts and what is not there.
	cp "$REPO_ROOT/www/index.html" "$REPO_ROOT/www/app.js" "$T/www/"
	for path in /nope.js / /index.html /app.js; do
		PREFIX= http "$path"
		case $path in
		/nope.js) expect_status 404 ;;
		*) expect_status 200 ;;
		esac
		expect_browser_headers "$T/h" page || fail "for the page's $path"
	done
	[ "$(header Content-Type)" = "text/javascript; charset=utf-8" ]
	cmp "$T/b" "$REPO_ROOT/www/app.js"
	# A stream too (this test is the file's last: the stream's worker
	# lingers until its next heartbeat).
	http_stream 1 "/events?$Q"
	expect_status 200
	expect_browser_headers "$T/h" api || fail "for /events"
}
