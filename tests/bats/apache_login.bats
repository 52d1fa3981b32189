#!/usr/bin/env bats
# Access per proposal, the web server's half (DESIGN.md section 7): Apache
# from apache-fcgid.conf.sample with its login options, HTTP Basic
# (-DFH_BASIC) and OpenID Connect bearer tokens (-DFH_OIDC, JWTs signed
# here with a key of the test's own: no identity provider needed), in
# front of a real watcherd that logs whom each request is for.

load apache_helpers

setup_file() {
	apache_setup_file || return 1
	stop_apache && stop_apache_watcherd && start_apache_watcherd --verbose
}

teardown_file() {
	apache_teardown_file
}

teardown() {
	stop_apache
}

FILE_CTX="file_content?proposal=1111&file_name=context.py"

# The requests about a file watcherd logged for user (its --verbose lines).
requests_for() {
	grep -c "cmd=[a-z]* proposal=1111 user=$1\$" "$T/watcherd.log"
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
