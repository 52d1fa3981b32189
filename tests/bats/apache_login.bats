#!/usr/bin/env bats
# Access per proposal, the web server's half (DESIGN.md section 7): Apache
# from apache-fcgid.conf.sample with its login options, HTTP Basic
# (-DFH_BASIC) and OpenID Connect bearer tokens (-DFH_OIDC, JWTs signed
# here with a key of the test's own: no identity provider needed), in
# front of a real watcherd that logs whom each request is for; with
# --access unix, accounts of this host made for the tests decide.

load apache_helpers

setup_file() {
	apache_setup_file || return 1
	stop_apache && stop_apache_watcherd && start_apache_watcherd --verbose
}

teardown_file() {
	apache_teardown_file
}

teardown() {
	local status=0
	stop_apache || status=1
	if [ -n "${UNIX_ACCESS:-}" ]; then
		unix_proposals_undo || status=1
		unix_accounts_remove "$ACCOUNT" || status=1
		# Back to the suite's watcherd.
		stop_apache_watcherd && start_apache_watcherd --verbose || status=1
	fi
	return "$status"
}

FILE_CTX="file_content?proposal=1111&file_name=context.py"

# The requests about a file watcherd logged for user (its --verbose lines).
requests_for() {
	grep -c "cmd=[a-z]* proposal=1111 user=\"$1\"\$" "$T/watcherd.log"
}

b64url() {
	base64 -w0 | tr '+/' '-_' | tr -d '='
}

# jwt KEY CLAIMS: a JWT of the claims (JSON), signed RS256 with KEY.
jwt() {
	local head payload sig
	head=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
	payload=$(printf '%s' "$2" | b64url)
	sig=$(printf '%s.%s' "$head" "$payload" |
	    openssl dgst -sha256 -sign "$1" -binary | b64url)
	printf '%s.%s.%s' "$head" "$payload" "$sig"
}

@test "Apache with -DFH_BASIC: a login for the file routes, none for health and metrics, and watcherd hears who" {
	printf 'alice:%s\n' "$(openssl passwd -apr1 'open sesame')" >"$T/htpasswd"
	FH_AUTH_USERFILE="$T/htpasswd" start_apache -DFH_BASIC
	get "$FILE_CTX"
	[ "$STATUS" = 401 ] || fail "without a login: $STATUS"
	[[ "$(header WWW-Authenticate)" == 'Basic realm="DAMNIT"' ]] ||
		fail "challenge: $(header WWW-Authenticate)"
	get -u alice:wrong "has_new_checksum?proposal=1111&file_name=context.py&checksum=00000000"
	[ "$STATUS" = 401 ] || fail "with a wrong password: $STATUS"
	[ "$(requests_for alice)" = 0 ] || fail "a refused request reached watcherd"
	# The page asks for the same login, with the page's headers.
	BASE_URL=${BASE_URL%/filehandler} get ""
	[ "$STATUS" = 401 ] || fail "the page without a login: $STATUS"
	expect_browser_headers "$T/headers" page || fail "for the page's 401"
	BASE_URL=${BASE_URL%/filehandler} get -u 'alice:open sesame' ""
	[ "$STATUS" = 200 ] || fail "the page with a login: $STATUS"
	for route in health metrics; do
		get "$route"
		[ "$STATUS" = 200 ] || fail "/$route: $STATUS"
	done
	get -u 'alice:open sesame' "$FILE_CTX"
	expect 200
	[ "$(requests_for alice)" -ge 1 ] || fail "watcherd did not hear alice"
}

@test "Apache with -DFH_OIDC: a bearer token the key signed names the user; a missing, expired or foreign one is 401" {
	local now good expired foreign
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" \
	    -out "$T/cert.pem" -subj /CN=realm-signing-key -days 2 2>/dev/null
	openssl genrsa -out "$T/other.pem" 2048 2>/dev/null
	now=$(date +%s)
	good=$(jwt "$T/key.pem" "{\"sub\":\"f3c1\",\"preferred_username\":\"carol\",\"iat\":$now,\"exp\":$((now + 300))}")
	expired=$(jwt "$T/key.pem" "{\"sub\":\"f3c1\",\"preferred_username\":\"carol\",\"iat\":$((now - 600)),\"exp\":$((now - 300))}")
	foreign=$(jwt "$T/other.pem" "{\"sub\":\"f3c1\",\"preferred_username\":\"mallory\",\"iat\":$now,\"exp\":$((now + 300))}")
	FH_OIDC_CERT="$T/cert.pem" FH_OIDC_PASSPHRASE="test-only passphrase" \
	    start_apache -DFH_OIDC
	get "$FILE_CTX"
	[ "$STATUS" = 401 ] || fail "without a token: $STATUS"
	for token in "$expired" "$foreign" "not.a.token"; do
		get -H "Authorization: Bearer $token" "$FILE_CTX"
		[ "$STATUS" = 401 ] || fail "token ${token:0:20}...: $STATUS"
	done
	[ "$(requests_for mallory)" = 0 ] || fail "mallory reached watcherd"
	[ "$(requests_for carol)" = 0 ] || fail "an expired token reached watcherd"
	get health
	[ "$STATUS" = 200 ] || fail "/health: $STATUS"
	get -H "Authorization: Bearer $good" "$FILE_CTX"
	expect 200
	[ "$(requests_for carol)" -ge 1 ] || fail "watcherd did not hear carol"
}

# Access per proposal with real accounts (DESIGN.md section 7): watcherd
# with --access unix behind Apache's logins. ALICE is in the group of
# proposal 1111, BOB is not, NOSUCH logs in but has no account; proposal
# 2222 is open to everybody (apache_helpers.bash).
ACCOUNT=fha_
ALICE=${ACCOUNT}alice
BOB=${ACCOUNT}bob
NOSUCH=${ACCOUNT}nosuch
Q="proposal=1111&file_name=context.py"

# unix_access: the accounts and the proposals, and watcherd with --access
# unix (and --verbose, as the suite's). The teardown undoes it all.
unix_access() {
	UNIX_ACCESS=1
	AMORE="$T/data/$DAMNIT_REL"
	AMORE_2222="$T/data/SPB/202601/p002222/usr/Shared/amore"
	unix_accounts_add "$ACCOUNT" && unix_proposals "$ACCOUNT" &&
	    stop_apache_watcherd && start_apache_watcherd --verbose --access unix
}

# get_as USER [CURL ARGS...] PATH: get, logged in with Basic as USER
# (password pw-USER).
get_as() {
	local user=$1
	shift
	get -u "$user:pw-$user" "$@"
}

# expect_forbidden USER FILE PROPOSAL: the last answer is watcherd's 403
# for USER, naming USER, FILE and PROPOSAL.
expect_forbidden() {
	expect 403 || return 1
	[ "$(body_json .detail)" = "user $1 may not read $2 of proposal $3" ] ||
	    fail "detail: $(body_json .detail)" || return 1
	[ "$(header X-Remote-User)" = "$1" ] ||
	    fail "X-Remote-User: $(header X-Remote-User)"
}

@test "Apache with -DFH_BASIC and --access unix: the group's member reads every file route, anybody else gets 403 at once, file or no file, nobody Apache's 401" {
	local u crc size
	unix_access
	: >"$T/htpasswd.unix"
	for u in "$ALICE" "$BOB" "$NOSUCH"; do
		printf '%s:%s\n' "$u" "$(openssl passwd -apr1 "pw-$u")" >>"$T/htpasswd.unix"
	done
	FH_AUTH_USERFILE="$T/htpasswd.unix" start_apache -DFH_BASIC
	crc=$(crc32 "$AMORE/context.py")
	size=$(stat -c %s "$AMORE/damnit.log")

	get_as "$ALICE" "$FILE_CTX"
	expect 200
	[ "$(header X-Remote-User)" = "$ALICE" ]
	[ "$(body_json .checksum)" = "$crc" ]
	cmp <(jq -j .content "$T/body") "$AMORE/context.py"
	get_as "$ALICE" "file_content?proposal=1111&file_name=process_logs/r0012-p1111.out"
	expect 200
	[ "$(body_json .checksum)" = "$(crc32 "$AMORE/process_logs/r0012-p1111.out")" ]
	get_as "$ALICE" "has_new_checksum?$Q&checksum=00000000"
	expect 200
	[ "$(cat "$T/body")" = true ]
	[ "$(header X-Checksum)" = "$crc" ]
	get_as "$ALICE" "file_tail?proposal=1111&file_name=damnit.log&offset=0"
	expect 200
	cmp <(jq -j .data "$T/body") "$AMORE/damnit.log"
	get_stream 1 -u "$ALICE:pw-$ALICE" "events?$Q"
	[ "$STATUS" = 200 ] || fail "events: $STATUS $(cat "$T/body")"
	[[ "$(header Content-Type)" == text/event-stream* ]] ||
	    fail "Content-Type: $(header Content-Type)"
	head -n 1 "$T/body" | grep -q '^retry: ' || fail "the stream: $(cat "$T/body")"
	get_as "$ALICE" "contextfile/content?proposal_number=1111"
	expect 200
	cmp <(jq -j .fileContent "$T/body") "$AMORE/context.py"
	get_as "$ALICE" "contextfile/last_modified?proposal_number=1111"
	expect 200
	[ "$(body_json '.lastModified | floor')" = "$(stat -c %Y "$AMORE/context.py")" ]

	while read -r name path; do
		get_as "$BOB" "$path"
		expect_forbidden "$BOB" "$name" 1111 || fail "for $path"
	done <<-EOF
	context.py $FILE_CTX
	missing.log file_content?proposal=1111&file_name=missing.log
	context.py has_new_checksum?$Q&checksum=00000000
	damnit.log file_tail?proposal=1111&file_name=damnit.log&offset=0
	context.py contextfile/content?proposal_number=1111
	context.py contextfile/last_modified?proposal_number=1111
	EOF
	# Held routes are refused before they are held.
	get_as "$BOB" "has_new_checksum?$Q&checksum=$crc&wait=20"
	expect_forbidden "$BOB" context.py 1111
	awk -v t="$TIME" 'BEGIN { exit !(t < 2) }' || fail "the 403 took $TIME s"
	get_as "$BOB" "file_tail?proposal=1111&file_name=damnit.log&offset=$size&wait=20"
	expect_forbidden "$BOB" damnit.log 1111
	awk -v t="$TIME" 'BEGIN { exit !(t < 2) }' || fail "the 403 took $TIME s"
	get_stream 2 -u "$BOB:pw-$BOB" "events?$Q"
	expect_forbidden "$BOB" context.py 1111
	! grep -q '^retry: ' "$T/body" || fail "an event stream: $(cat "$T/body")"
	get_as "$BOB" "file_content?proposal=2222&file_name=context.py"
	expect 200
	[ "$(body_json .checksum)" = "$(crc32 "$AMORE_2222/context.py")" ]
	for p in 1111 2222; do
		get_as "$NOSUCH" "file_content?proposal=$p&file_name=context.py"
		expect_forbidden "$NOSUCH" context.py "$p"
	done

	for path in "$FILE_CTX" "has_new_checksum?$Q&checksum=00000000&wait=20" \
	    "events?$Q" "contextfile/content?proposal_number=1111"; do
		get "$path"
		[ "$STATUS" = 401 ] || fail "$path without a login: $STATUS"
		[[ "$(header WWW-Authenticate)" == 'Basic realm="DAMNIT"' ]] ||
		    fail "$path: challenge $(header WWW-Authenticate)"
		[[ "$(header Content-Type)" != application/json* ]] ||
		    fail "$path: the handler answered: $(cat "$T/body")"
	done
	for route in health metrics; do
		get "$route"
		[ "$STATUS" = 200 ] || fail "/$route: $STATUS"
	done
}

# oidc_token USER: a bearer token for USER (its preferred_username), valid
# for 5 minutes, signed with $T/key.pem.
oidc_token() {
	local now
	now=$(date +%s)
	jwt "$T/key.pem" "{\"sub\":\"id-$1\",\"preferred_username\":\"$1\",\"iat\":$now,\"exp\":$((now + 300))}"
}

@test "Apache with -DFH_OIDC and --access unix: the token's preferred_username is the account that may read or not" {
	unix_access
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" \
	    -out "$T/cert.pem" -subj /CN=realm-signing-key -days 2 2>/dev/null
	FH_OIDC_CERT="$T/cert.pem" FH_OIDC_PASSPHRASE="test-only passphrase" \
	    start_apache -DFH_OIDC
	get -H "Authorization: Bearer $(oidc_token "$ALICE")" "$FILE_CTX"
	expect 200
	[ "$(header X-Remote-User)" = "$ALICE" ]
	[ "$(body_json .checksum)" = "$(crc32 "$AMORE/context.py")" ]
	cmp <(jq -j .content "$T/body") "$AMORE/context.py"
	get -H "Authorization: Bearer $(oidc_token "$ALICE")" "contextfile/content?proposal_number=1111"
	expect 200
	get -H "Authorization: Bearer $(oidc_token "$BOB")" "$FILE_CTX"
	expect_forbidden "$BOB" context.py 1111
	get -H "Authorization: Bearer $(oidc_token "$BOB")" "file_content?proposal=1111&file_name=missing.log"
	expect_forbidden "$BOB" missing.log 1111
	get -H "Authorization: Bearer $(oidc_token "$BOB")" "file_content?proposal=2222&file_name=context.py"
	expect 200
	[ "$(body_json .checksum)" = "$(crc32 "$AMORE_2222/context.py")" ]
	get -H "Authorization: Bearer $(oidc_token "$NOSUCH")" "$FILE_CTX"
	expect_forbidden "$NOSUCH" context.py 1111
	get "$FILE_CTX"
	[ "$STATUS" = 401 ] || fail "without a token: $STATUS"
	[ -z "$(header X-Remote-User)" ]
	get health
	[ "$STATUS" = 200 ] || fail "/health: $STATUS"
}

@test "Apache with -DFH_BASIC and --access unix --write: a member saves a 100 KB context.py with PUT and If-Match; a stale one is 412, a non-member 403" {
	local u old new
	unix_access
	stop_apache_watcherd && start_apache_watcherd --verbose --access unix --write
	# A save puts a new file in the folder as the user: the group needs
	# write on the folder as well as on the file.
	chmod g+w "$AMORE" "$AMORE/context.py"
	: >"$T/htpasswd.unix"
	for u in "$ALICE" "$BOB"; do
		printf '%s:%s\n' "$u" "$(openssl passwd -apr1 "pw-$u")" >>"$T/htpasswd.unix"
	done
	FH_AUTH_USERFILE="$T/htpasswd.unix" start_apache -DFH_BASIC
	old=$(crc32 "$AMORE/context.py")
	# Over mod_fcgid's old 64 KiB request limit.
	seq 1 12000 | sed 's/.*/x_& = &/' >"$T/new.py"
	[ "$(stat -c %s "$T/new.py")" -gt 100000 ]
	new=$(crc32 "$T/new.py")

	get_as "$ALICE" -X PUT --data-binary "@$T/new.py" -H "If-Match: \"$old\"" \
	    "$FILE_CTX"
	expect 200
	[ "$(body_json .checksum)" = "$new" ] || fail "$(cat "$T/body")"
	[ "$(header ETag)" = "\"$new\"" ]
	cmp "$T/new.py" "$AMORE/context.py"
	[ "$(stat -c '%a %G' "$AMORE/context.py")" = "660 ${ACCOUNT}p1111" ] ||
	    fail "mode and group: $(stat -c '%a %G' "$AMORE/context.py")"
	grep -q "event=file_written user=\"$ALICE\" proposal=1111 file=\"context.py\" from=$old to=$new" \
	    "$T/watcherd.log" || fail "no file_written line"

	# The same edit again: the file has moved on.
	get_as "$ALICE" -X PUT --data-binary "@$T/new.py" -H "If-Match: \"$old\"" \
	    "$FILE_CTX"
	expect 412
	[ "$(body_json .checksum)" = "$new" ] || fail "$(cat "$T/body")"

	get_as "$BOB" -X PUT --data-binary "@$T/new.py" -H "If-Match: \"$new\"" \
	    "$FILE_CTX"
	expect 403
	[ "$(body_json .detail)" = "user $BOB may not write context.py of proposal 1111" ] ||
	    fail "detail: $(body_json .detail)"
	cmp "$T/new.py" "$AMORE/context.py"
}
