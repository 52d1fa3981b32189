#!/usr/bin/env bats
# Who may reach watcherd's socket and what each may do: watcherd runs
# without root (as nobody:nogroup), its socket is 0660; a peer in the
# socket's group (as the web server's user is) may ask about files but not
# end watches; watcherd's own user and root may; a peer outside the group
# cannot connect at all. Peers are other uids, made with setpriv.

load web_helpers

# A uid that is neither watcherd's nor root, with a group of the same
# number; it exists only as a number.
PEER_UID=65533

setup() {
	web_setup_each || return 1
	unprivileged_watcherd
}

teardown() {
	web_teardown_each
}

# as_peer UID GROUPS COMMAND...: COMMAND as UID (its gid the same number),
# with the supplementary groups GROUPS (comma-separated; "" for none).
as_peer() {
	local uid=$1 groups=$2
	shift 2
	if [ -n "$groups" ]; then
		setpriv --reuid="$uid" --regid="$uid" --groups="$groups" -- "$@"
	else
		setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$@"
	fi
}

# peer_send UID GROUPS LINE: one request as that peer; prints the reply,
# or socat's error.
peer_send() {
	printf '%s\n' "$3" | as_peer "$1" "$2" socat -t 2 - "UNIX-CONNECT:$SOCK" 2>&1
}

# peer_watcherctl UID GROUPS ARGS...: watcherctl as that peer; sets
# status and output (bats' run).
peer_watcherctl() {
	local uid=$1 groups=$2
	shift 2
	run as_peer "$uid" "$groups" env ASAN_OPTIONS="$ASAN_EXIT_OPTIONS" \
	    UBSAN_OPTIONS="$UBSAN_HALT_OPTIONS" "$WATCHERCTL" --socket "$SOCK" "$@"
}

start_unprivileged() {
	start_web_watcherd || return 1
	[ "$(process_uid "$(watcherd_pid)")" = "$UNPRIV_UID" ] ||
	    fail "watcherd runs as root: the rules would not be tested"
}

@test "the socket is created 0660, owned by watcherd's user and group, in a directory it makes" {
	SOCK="$T/sock/run/watcherd.sock"
	start_unprivileged
	[ "$(stat -c '%F %a %u:%g' "$SOCK")" = "socket 660 $UNPRIV_UID:$UNPRIV_GID" ]
	[ "$(stat -c '%a %u:%g' "$T/sock/run")" = "755 $UNPRIV_UID:$UNPRIV_GID" ]
	echo "# socket $(stat -c '%A %U:%G' "$SOCK"), its directory" \
	    "$(stat -c '%A %U:%G' "$T/sock/run") (made by watcherd)" >&3
}

@test "a peer of another uid in the socket's group may ask, but not unwatch" {
	start_unprivileged
	reply=$(peer_send "$PEER_UID" "$UNPRIV_GID" '{"cmd":"ping"}')
	[ "$(json_get "$reply" .protocol)" = 1 ] || fail "$reply"
	reply=$(peer_send "$PEER_UID" "$UNPRIV_GID" "$(req checksum 1111 damnit.log)")
	[ "$(json_get "$reply" .checksum)" = "$(crc32 "$DAMNIT/damnit.log")" ] ||
	    fail "$reply"
	watched damnit.log
	reply=$(peer_send "$PEER_UID" "$UNPRIV_GID" "$(req unwatch 1111 damnit.log)")
	[ "$(json_get "$reply" .ok)" = false ] || fail "$reply"
	[ "$(json_get "$reply" .error)" = forbidden ]
	[[ "$(json_get "$reply" .detail)" == *"watcherd's own user or root"* ]]
	watched damnit.log || fail "the refused unwatch ended the watch"
	peer_watcherctl "$PEER_UID" "$UNPRIV_GID" unwatch 1111 damnit.log
	[ "$status" != 0 ] || fail "watcherctl unwatch succeeded: $output"
	[[ "$output" == *forbidden* ]] || fail "$output"
	watched damnit.log
	# The other commands stay open to it.
	peer_watcherctl "$PEER_UID" "$UNPRIV_GID" --json list
	[ "$status" = 0 ] || fail "$output"
	[ "$(json_get "$output" '.watches | length')" = 1 ]
	echo "# uid $PEER_UID in group $UNPRIV_GID: ping, checksum and list" \
	    "answered, unwatch forbidden, the watch kept" >&3
}

@test "watcherd's own user and root may unwatch" {
	start_unprivileged
	for who in own root; do
		[ "$(json_get "$(send "$(req checksum 1111 damnit.log)")" .ok)" = true ]
		watched damnit.log
		if [ "$who" = own ]; then
			reply=$(peer_send "$UNPRIV_UID" "" "$(req unwatch 1111 damnit.log)")
		else
			reply=$(send "$(req unwatch 1111 damnit.log)")
		fi
		[ "$(json_get "$reply" .ok)" = true ] || fail "$who: $reply"
		! watched damnit.log || fail "$who: unwatch left the watch"
	done
}

@test "a peer outside the socket's group cannot connect" {
	start_unprivileged
	reply=$(peer_send "$PEER_UID" "" '{"cmd":"ping"}') || true
	[[ "$reply" == *"Permission denied"* ]] || fail "$reply"
	peer_watcherctl "$PEER_UID" "" ping
	[ "$status" != 0 ]
	[[ "$output" == *"Permission denied"* ]] || fail "$output"
	[[ "$output" == *"group"* ]] || fail "no hint at the group: $output"
	# The handler of such a web server: 503, nothing served.
	CGI_WRAP=(setpriv --reuid="$PEER_UID" --regid="$PEER_UID" --clear-groups --)
	cgi GET "/file_content?proposal=1111&file_name=damnit.log"
	expect_error 503 "not available"
	# In the group, the same handler serves the file.
	CGI_WRAP=(setpriv --reuid="$PEER_UID" --regid="$PEER_UID"
	    --groups="$UNPRIV_GID" --)
	cgi GET "/file_content?proposal=1111&file_name=damnit.log"
	expect_status 200
	[ "$(jqb .checksum)" = "$(crc32 "$DAMNIT/damnit.log")" ]
	watcherd_answers
	echo "# uid $PEER_UID without the group: the handler 503 (in the" \
	    "group: 200); watcherctl says: $output" >&3
}
