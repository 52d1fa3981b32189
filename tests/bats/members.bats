#!/usr/bin/env bats
# Access per proposal at the socket (DESIGN.md section 7): every request
# about a file names the web login as "user", and watcherd decides whether
# that account may read the file. Real accounts and groups of this host
# (made for this file, removed after it): the members of the proposal's
# group read its files, anybody else is forbidden; "access = unix" judges
# mode bits and POSIX ACLs of every directory from pNNNNNN down as the
# kernel does (compared with the kernel itself, through setpriv), "access
# = command" asks a site's program and remembers its answers.
#
# watcherd runs as root in most tests (it can read everything, so every
# refusal is its own decision, not the kernel's), and as nobody in one.

load helpers

# The accounts, all with the primary group BASE_GROUP. ALICE and BOB are
# members of the proposal's group, BOB and DAVE of EXTRA_GROUP (named by
# ACL entries), CAROL of neither. NOSUCH must not exist.
BASE_GROUP=fhm_base
PROP_GROUP=fhm_prop
EXTRA_GROUP=fhm_extra
ALICE=fhm_alice
BOB=fhm_bob
CAROL=fhm_carol
DAVE=fhm_dave
NOSUCH=fhm_nosuch
# Whose verdicts are compared with the kernel's: root is judged by the
# bits like anybody (the kernel check drops its capabilities).
ACCOUNTS=("$ALICE" "$BOB" "$CAROL" "$DAVE" root)
# A peer that is neither root nor watcherd's uid; it exists only as a number.
PEER_UID=65533

remove_accounts() {
	local u g
	for u in "$ALICE" "$BOB" "$CAROL" "$DAVE"; do
		if getent passwd "$u" >/dev/null; then
			userdel "$u" || return 1
		fi
	done
	for g in "$PROP_GROUP" "$EXTRA_GROUP" "$BASE_GROUP"; do
		if getent group "$g" >/dev/null; then
			groupdel "$g" || return 1
		fi
	done
}

add_account() {
	local name=$1 groups=$2
	useradd -M -N -d /nonexistent -s /usr/sbin/nologin -g "$BASE_GROUP" \
	    ${groups:+-G "$groups"} "$name"
}

# Whatever a previous run left behind goes first.
setup_file() {
	remove_accounts || fail "cannot remove the accounts of a previous run" ||
	    return 1
	groupadd "$BASE_GROUP" && groupadd "$PROP_GROUP" &&
	    groupadd "$EXTRA_GROUP" || return 1
	add_account "$ALICE" "$PROP_GROUP" &&
	    add_account "$BOB" "$PROP_GROUP,$EXTRA_GROUP" &&
	    add_account "$CAROL" "" &&
	    add_account "$DAVE" "$EXTRA_GROUP" || return 1
	! getent passwd "$NOSUCH" >/dev/null ||
	    fail "an account $NOSUCH exists: the unknown-user test needs it not to"
}

teardown_file() {
	remove_accounts
}

# A fresh tree: the proposal folder p001111 belongs to root and the
# proposal's group, 0750 (members only); what is below it 0755/0644, and
# the directories above it open, so that only p001111 and below decide.
setup() {
	common_setup || return 1
	PDIR="$T/data/SPB/202601/p001111"
	chmod 0755 "$T" "$T/data" "$T/data/SPB" "$T/data/SPB/202601" &&
	    chown -R root:root "$PDIR" && chmod -R u=rwX,go=rX "$PDIR" &&
	    chgrp "$PROP_GROUP" "$PDIR" && chmod 0750 "$PDIR"
}

teardown() {
	local f
	# An access command that watcherd should have ended.
	for f in "$T"/*.pid; do
		[ -f "$f" ] || continue
		kill -KILL "$(cat "$f")" 2>/dev/null || true
	done
	common_teardown
}

# Requests.

# ureq USER CMD FILE [PROPOSAL]: a request line about FILE of PROPOSAL
# (1111) naming USER; "null" for "user":null, "-" for no "user" key.
ureq() {
	local user=$1 cmd=$2 file=$3 p=${4:-1111}
	case "$user" in
	-) jq -cn --arg c "$cmd" --argjson p "$p" --arg f "$file" \
	    '{cmd:$c,proposal:$p,file_name:$f}' ;;
	null) jq -cn --arg c "$cmd" --argjson p "$p" --arg f "$file" \
	    '{cmd:$c,proposal:$p,file_name:$f,user:null}' ;;
	*) jq -cn --arg c "$cmd" --argjson p "$p" --arg f "$file" \
	    --arg u "$user" '{cmd:$c,proposal:$p,file_name:$f,user:$u}' ;;
	esac
}

# ask USER CMD FILE [PROPOSAL]: that request as root; prints the reply.
ask() {
	send "$(ureq "$@")"
}

# peer_send LINE: one request from PEER_UID, in the socket's group so that
# it may connect; prints the reply.
peer_send() {
	printf '%s\n' "$1" | setpriv --reuid="$PEER_UID" --regid="$PEER_UID" \
	    --groups="$(stat -c %g "$SOCK")" -- socat -t 2 - "UNIX-CONNECT:$SOCK" 2>&1
}

# reads REPLY FILE [PROPOSAL]: REPLY is a successful checksum of FILE.
reads() {
	local want
	want=$(crc32 "$(file_path "$2" "${3:-1111}")")
	[ "$(json_get "$1" .ok)" = true ] &&
	    [ "$(json_get "$1" .checksum)" = "$want" ] ||
	    fail "expected checksum $want of $2, got: $1"
}

# refused REPLY CODE DETAIL: REPLY is the one line of that error.
refused() {
	[ "$(printf '%s\n' "$1" | wc -l)" = 1 ] &&
	    [ "$(json_get "$1" .ok)" = false ] &&
	    [ "$(json_get "$1" .error)" = "$2" ] &&
	    [ "$(json_get "$1" .detail)" = "$3" ] ||
	    fail "expected error $2 \"$3\", got: $1"
}

# forbidden_detail USER FILE [PROPOSAL]: what access = unix says.
forbidden_detail() {
	echo "user $1 may not read $2 of proposal ${3:-1111}"
}

# system_detail USER [VERB [PROPOSAL]]: the detail of a refused system
# account.
system_detail() {
	echo "user $1 may not ${2:-read} the files of proposal ${3:-1111}: root's," \
	    "watcherd's own and system accounts (uid below 1000) are never served"
}

# file_path FILE [PROPOSAL]: FILE in the amore folder of PROPOSAL.
file_path() {
	printf '%s/data/SPB/202601/p%06d/usr/Shared/amore/%s\n' "$T" "${2:-1111}" "$1"
}


# subscribe_as USER FILE: a subscriber (socat, spawned) naming USER whose
# lines go to SUB_OUT; waits (at most 2 s) for the reply.
SUB_COUNT=0
subscribe_as() {
	local request
	SUB_COUNT=$((SUB_COUNT + 1))
	SUB_OUT="$T/sub.$SUB_COUNT.out"
	request=$(ureq "$1" subscribe "$2")
	spawn bash -c '{ printf "%s\n" "$1"; exec sleep 60; } |
	    exec socat -t 2 - "UNIX-CONNECT:$2"' _ "$request" "$SOCK" \
	    </dev/null >"$SUB_OUT" 2>&1
	wait_until 2000 grep -q '"ok"' "$SUB_OUT" ||
	    fail "the subscription of $1 to $2 got no reply: $(cat "$SUB_OUT")"
}

# The kernel's verdict and watcherd's.

# kernel_verdict USER PATH: "allowed" when USER (its groups from NSS, no
# capability, root included) can read PATH, else "denied".
kernel_verdict() {
	if setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups \
	    --bounding-set=-all --inh-caps=-all -- cat -- "$2" >/dev/null 2>&1; then
		echo allowed
	else
		echo denied
	fi
}

# watcherd_verdict USER FILE [PROPOSAL]: "allowed" (the file's checksum),
# "denied" (forbidden, naming the user), "system" (forbidden as a system
# account), or the reply.
watcherd_verdict() {
	local reply
	reply=$(ask "$1" checksum "$2" "${3:-1111}")
	if [ "$(json_get "$reply" .ok)" = true ] &&
	    [ "$(json_get "$reply" .checksum)" = \
	    "$(crc32 "$(file_path "$2" "${3:-1111}")")" ]; then
		echo allowed
	elif [ "$(json_get "$reply" .error)" = forbidden ] &&
	    [ "$(json_get "$reply" .detail)" = \
	    "$(forbidden_detail "$1" "$2" "${3:-1111}")" ]; then
		echo denied
	elif [ "$(json_get "$reply" .error)" = forbidden ] &&
	    [ "$(json_get "$reply" .detail)" = \
	    "$(system_detail "$1" read "${3:-1111}")" ]; then
		echo system
	else
		echo "$reply"
	fi
}

# agree_with_kernel LABEL FILE PROPOSAL EXPECTED: for each of ACCOUNTS,
# watcherd's verdict is the kernel's, and the accounts the kernel allows
# are EXPECTED (space-separated; checks the fixture). Prints a table line
# to fd 3; sets MISMATCHES.
agree_with_kernel() {
	local label=$1 file=$2 p=$3 expected=$4 u k w want allowed="" line=""
	for u in "${ACCOUNTS[@]}"; do
		k=$(kernel_verdict "$u" "$(file_path "$file" "$p")")
		w=$(watcherd_verdict "$u" "$file" "$p")
		[ "$k" = allowed ] && allowed="$allowed ${u#fhm_}"
		# A login named root is never served, whatever its account
		# could do (min-uid).
		want=$k
		[ "$u" = root ] && want=system
		if [ "$want" = "$w" ]; then
			line="$line ${u#fhm_}=${k:0:1}"
		else
			line="$line ${u#fhm_}=kernel:$k/watcherd:$w"
			MISMATCHES="$MISMATCHES
$label: ${u#fhm_}: kernel $k, watcherd $w"
		fi
	done
	echo "# $label:$line" >&3
	[ "${allowed# }" = "$expected" ] ||
	    MISMATCHES="$MISMATCHES
$label: the fixture is wrong: the kernel allows '${allowed# }', not '$expected'"
}

# Access = unix.

@test "members of the proposal's group read context.py and a log; a non-member is forbidden, naming user and proposal" {
	start_test_watcherd --access unix
	for u in "$ALICE" "$BOB"; do
		reads "$(ask "$u" checksum context.py)" context.py
		reads "$(ask "$u" checksum damnit.log)" damnit.log
		reads "$(ask "$u" checksum process_logs/r0012-p1111.out)" \
		    process_logs/r0012-p1111.out
	done
	content_to_user() {
		send_to_file "$2.raw" "$(ureq "$1" content context.py)"
		head -n 1 "$2.raw" >"$2.hdr"
		tail -c +"$(($(wc -c <"$2.hdr") + 1))" "$2.raw" >"$2"
	}
	content_to_user "$ALICE" "$T/alice.content"
	cmp "$T/alice.content" "$DAMNIT/context.py"
	for f in context.py damnit.log process_logs/r0012-p1111.out; do
		refused "$(ask "$CAROL" checksum "$f")" forbidden \
		    "user $CAROL may not read $f of proposal 1111"
	done
	log_has "event=access_denied user=\"$CAROL\" proposal=1111 file=\"context.py\" access=unix"
	! log_has "event=access_denied user=\"$ALICE\"" || fail "alice was denied"
	counters_are access=unix access_denied=3 access_unauthenticated=0
}

# subscribers_of FILE: how many subscribers watcherd lists for FILE.
subscribers_of() {
	send '{"cmd":"list"}' | jq --arg f "$1" \
	    '[.watches[] | select(.file_name == $f) | .subscribers] | add // 0'
}

@test "a subscription ends with a forbidden event within seconds of its user losing access; another member's goes on" {
	start_test_watcherd --access unix
	# Bob may enter the folder by name as well as by its group.
	setfacl -m "u:$BOB:r-x" "$PDIR"
	subscribe_as "$ALICE" damnit.log
	alice_out=$SUB_OUT
	subscribe_as "$BOB" damnit.log
	bob_out=$SUB_OUT
	# A second and more: both are still there.
	sleep 1.5
	! grep -q '"event"' "$alice_out" "$bob_out" || fail "an event already"
	t0=$(now_ms)
	chgrp root "$PDIR"
	wait_until 5000 grep -q '"event":"forbidden"' "$alice_out" ||
	    fail "alice's subscription goes on: $(cat "$alice_out")"
	echo "# alice's subscription ended $(($(now_ms) - t0)) ms after chgrp" >&3
	ev=$(grep '"event":"forbidden"' "$alice_out")
	[ "$(json_get "$ev" '[.proposal, .file_name, .error] | join(" ")')" = \
	    "1111 damnit.log forbidden" ] || fail "$ev"
	[ "$(json_get "$ev" .detail)" = "$(forbidden_detail "$ALICE" damnit.log)" ] ||
	    fail "$ev"
	[ "$(subscribers_of damnit.log)" = 1 ]
	# The file changes: bob hears of it, alice no more.
	printf 'a line for bob\n' >>"$DAMNIT/damnit.log"
	wait_event "$bob_out" changed "$(crc32 "$DAMNIT/damnit.log")" 3000
	sleep 0.3
	[ "$(grep -c '"event"' "$alice_out")" = 1 ] || fail "alice: $(cat "$alice_out")"
	! grep -q '"event":"forbidden"' "$bob_out" || fail "bob: $(cat "$bob_out")"
	log_has "event=subscription_ended pid=[0-9]+ user=\"$ALICE\" proposal=1111 file=\"damnit.log\" error=forbidden"
}

@test "a non-member is forbidden a file that does not exist, as one that does; a member gets not_found" {
	start_test_watcherd --access unix
	refused "$(ask "$CAROL" checksum missing.log)" forbidden \
	    "$(forbidden_detail "$CAROL" missing.log)"
	refused "$(ask "$CAROL" checksum process_logs/missing.out)" forbidden \
	    "$(forbidden_detail "$CAROL" process_logs/missing.out)"
	reply=$(ask "$ALICE" checksum missing.log)
	[ "$(json_get "$reply" .error)" = not_found ] || fail "$reply"
}

@test "an unknown user name is forbidden like a non-member" {
	start_test_watcherd --access unix
	refused "$(ask "$NOSUCH" checksum context.py)" forbidden \
	    "$(forbidden_detail "$NOSUCH" context.py)"
	refused "$(ask "$NOSUCH" checksum missing.log)" forbidden \
	    "$(forbidden_detail "$NOSUCH" missing.log)"
	log_has "event=access_denied user=\"$NOSUCH\" proposal=1111 file=\"context.py\" access=unix"
}

@test "a request with user null is unauthenticated and told to log in" {
	start_test_watcherd --access unix
	for f in context.py missing.log; do
		refused "$(ask null checksum "$f")" unauthenticated \
		    "nobody is logged in: log in to read the files of proposal 1111"
	done
	counters_are access_unauthenticated=2 access_denied=0
}

@test "a request without a user is trusted from root and unauthenticated from another uid" {
	start_test_watcherd --access unix
	reads "$(ask - checksum context.py)" context.py
	reply=$(peer_send "$(ureq - checksum context.py)")
	[ "$(json_get "$reply" .error)" = unauthenticated ] || fail "$reply"
	[[ "$(json_get "$reply" .detail)" == 'a request about a file must name its user ("user"): '* ]] ||
	    fail "$reply"
	reply=$(peer_send "$(ureq - content damnit.log)")
	[ "$(json_get "$reply" .error)" = unauthenticated ] || fail "$reply"
	counters_are access_unauthenticated=2
}

@test "a peer of another uid that names a user is judged as that user" {
	start_test_watcherd --access unix
	reads "$(peer_send "$(ureq "$ALICE" checksum context.py)")" context.py
	refused "$(peer_send "$(ureq "$CAROL" checksum context.py)")" forbidden \
	    "$(forbidden_detail "$CAROL" context.py)"
	refused "$(peer_send "$(ureq null checksum context.py)")" unauthenticated \
	    "nobody is logged in: log in to read the files of proposal 1111"
}

@test "the user is judged whatever the shape of the request line" {
	start_test_watcherd --access unix
	# Keys in another order, blanks, an extra member: not the shape the
	# handler writes, read by the full JSON parser.
	reply=$(send "{\"user\": \"$CAROL\", \"file_name\": \"context.py\", \"proposal\": \"1111\", \"cmd\": \"checksum\"}")
	refused "$reply" forbidden "$(forbidden_detail "$CAROL" context.py)"
	reply=$(send "{\"cmd\":\"checksum\",\"proposal\":1111,\"file_name\":\"context.py\",\"user\":\"$CAROL\",\"x\":1}")
	refused "$reply" forbidden "$(forbidden_detail "$CAROL" context.py)"
	reply=$(send '{ "cmd":"checksum","proposal":1111,"file_name":"context.py","user":null }')
	refused "$reply" unauthenticated \
	    "nobody is logged in: log in to read the files of proposal 1111"
	reply=$(peer_send '{ "cmd":"checksum","proposal":1111,"file_name":"context.py" }')
	[ "$(json_get "$reply" .error)" = unauthenticated ] || fail "$reply"
	reads "$(send "{\"user\":\"$ALICE\",\"cmd\":\"checksum\",\"proposal\":1111,\"file_name\":\"context.py\"}")" \
	    context.py
	# A user that is not a name is a bad request, never a login.
	reply=$(send '{"cmd":"checksum","proposal":1111,"file_name":"context.py","user":42}')
	[ "$(json_get "$reply" .error)" = bad_request ] || fail "$reply"
	reply=$(send '{"cmd":"checksum","proposal":1111,"file_name":"context.py","user":""}')
	[ "$(json_get "$reply" .error)" = bad_request ] || fail "$reply"
}

@test "an owner-only file: its owner reads it, another member is forbidden, a login named root gets nothing" {
	chown "$ALICE:$PROP_GROUP" "$DAMNIT/context.py"
	chmod 0600 "$DAMNIT/context.py"
	start_test_watcherd --access unix
	reads "$(ask "$ALICE" checksum context.py)" context.py
	refused "$(ask "$BOB" checksum context.py)" forbidden \
	    "$(forbidden_detail "$BOB" context.py)"
	# A login named root is a system account: never served, not even
	# what root's account owns.
	refused "$(ask root checksum context.py)" forbidden \
	    "$(system_detail root)"
	refused "$(ask root checksum damnit.log)" forbidden \
	    "$(system_detail root)"
	# The rest of the proposal stays open to its members.
	reads "$(ask "$BOB" checksum damnit.log)" damnit.log
	# watcherd itself, asked without a user, still reads it.
	reads "$(ask - checksum context.py)" context.py
}

@test "a symlink does not lead a member past a directory or a file that only its owner may read" {
	# alice's own folder in the DAMNIT folder, which any member could
	# point a symlink into.
	mkdir "$DAMNIT/alice"
	printf 'private\n' >"$DAMNIT/alice/notes.log"
	printf 'private output\n' >"$DAMNIT/alice/r0001.out"
	chown -R "$ALICE:$PROP_GROUP" "$DAMNIT/alice"
	chmod 0700 "$DAMNIT/alice"
	printf 'owner only\n' >"$DAMNIT/own.log"
	chown "$ALICE:$PROP_GROUP" "$DAMNIT/own.log"
	chmod 0600 "$DAMNIT/own.log"
	ln -s alice/notes.log "$DAMNIT/into-folder.log"
	ln -s own.log "$DAMNIT/to-file.log"
	rm -r "$DAMNIT/process_logs"
	ln -s alice "$DAMNIT/process_logs"
	start_test_watcherd --access unix
	MISMATCHES=
	ACCOUNTS=("$ALICE" "$BOB")
	agree_with_kernel "a symlink to an owner-only file" to-file.log 1111 alice
	agree_with_kernel "a symlinked folder" process_logs/r0001.out 1111 alice
	agree_with_kernel "a symlink into an owner-only folder" into-folder.log 1111 alice
	[ -z "$MISMATCHES" ] || fail "watcherd and the kernel disagree:$MISMATCHES"
}

@test "a non-member is refused checksum, content, tail and subscribe, and a refused subscriber gets no event" {
	start_test_watcherd --access unix
	want=$(forbidden_detail "$CAROL" damnit.log)
	refused "$(ask "$CAROL" checksum damnit.log)" forbidden "$want"
	# The whole reply is that line: no payload follows.
	refused "$(ask "$CAROL" content damnit.log)" forbidden "$want"
	refused "$(send "$(ureq "$CAROL" content damnit.log | jq -c '.format = "json"')")" \
	    forbidden "$want"
	refused "$(ask "$CAROL" tail damnit.log)" forbidden "$want"
	refused "$(send "$(ureq "$CAROL" tail damnit.log | jq -c '.offset = 0 | .max_bytes = 100')")" \
	    forbidden "$want"

	subscribe_as "$CAROL" damnit.log
	carol_out=$SUB_OUT
	refused "$(cat "$carol_out")" forbidden "$want"
	subscribe_as "$ALICE" damnit.log
	alice_out=$SUB_OUT
	[ "$(json_get "$(cat "$alice_out")" .ok)" = true ] || fail "$(cat "$alice_out")"
	# One subscriber only: the refused one was not counted.
	[ "$(send '{"cmd":"list"}' | jq '[.watches[] | select(.file_name == "damnit.log") | .subscribers] | add')" = 1 ]

	printf 'a line for the members\n' >>"$DAMNIT/damnit.log"
	wait_event "$alice_out" changed "$(crc32 "$DAMNIT/damnit.log")" 3000
	rm "$DAMNIT/damnit.log"
	wait_event "$alice_out" deleted null 3000
	printf 'again\n' >"$DAMNIT/damnit.log"
	wait_event "$alice_out" created "$(crc32 "$DAMNIT/damnit.log")" 3000
	# The events went out; the refused connection still has its one line.
	sleep 0.3
	[ "$(wc -l <"$carol_out")" = 1 ] || fail "the refused subscriber got: $(cat "$carol_out")"
	counters_are access_denied=6
}

# The matrix: one proposal per case (p002001, ...), all made before
# watcherd starts, so that no cache stands between a change and a verdict.
# Each starts as the usual layout: the proposal folder root:PROP_GROUP
# 0750, usr/Shared/amore root:root 0755, context.py root:root 0644.
MATRIX_NEXT=2000
matrix_proposal() {
	MATRIX_NEXT=$((MATRIX_NEXT + 1))
	MP=$MATRIX_NEXT
	MPDIR=$(printf '%s/data/SPB/202601/p%06d' "$T" "$MP")
	mkdir -p "$MPDIR/usr/Shared/amore"
	printf '# proposal %s\n' "$MP" >"$MPDIR/usr/Shared/amore/context.py"
	chown -R root:root "$MPDIR"
	chmod -R u=rwX,go=rX "$MPDIR"
	chgrp "$PROP_GROUP" "$MPDIR"
	chmod 0750 "$MPDIR"
	MFILE="$MPDIR/usr/Shared/amore/context.py"
}

@test "watcherd decides like the kernel: mode bits and ACLs of the proposal folder, the folders below and the file" {
	declare -a label proposal expected
	add_case() {
		label+=("$1")
		proposal+=("$MP")
		expected+=("$2")
	}
	matrix_proposal
	add_case "group r-x, other ---" "alice bob root"
	matrix_proposal
	setfacl -m "u:$CAROL:r-x" "$MPDIR"
	add_case "named user entry on the folder" "alice bob carol root"
	matrix_proposal
	setfacl -m "g:$EXTRA_GROUP:r-x" "$MPDIR"
	add_case "named group entry on the folder" "alice bob dave root"
	matrix_proposal
	setfacl -m "u:$CAROL:r-x,g:$EXTRA_GROUP:r-x,m::r--" "$MPDIR"
	add_case "mask r-- over user, group and named entries" "root"
	matrix_proposal
	chown "$ALICE" "$MPDIR"
	setfacl -m "u:$CAROL:rwx,g:$EXTRA_GROUP:rwx,m::---" "$MPDIR"
	add_case "mask --- leaves the owner (alice)" "alice"
	matrix_proposal
	setfacl -m "g::r--,g:$EXTRA_GROUP:r-x,m::r-x" "$MPDIR"
	add_case "group:: r-- (no x), a named group r-x" "bob dave root"
	matrix_proposal
	chmod 0755 "$MPDIR"
	setfacl -m "g:$EXTRA_GROUP:---" "$MPDIR"
	add_case "other r-x, a named group ---" "alice bob carol root"
	matrix_proposal
	chmod 0705 "$MPDIR"
	add_case "group ---, other r-x (bits only)" "carol dave root"
	matrix_proposal
	chmod 0755 "$MPDIR"
	setfacl -m "g:$EXTRA_GROUP:r-x,m::---" "$MPDIR"
	# With no group bits (the mask) Linux skips the ACL: dave, not in
	# the owning group, is "other".
	add_case "mask --- with other r-x: the ACL is skipped" "carol dave root"
	matrix_proposal
	setfacl -m "u:$ALICE:---" "$MPDIR"
	add_case "named user entry --- outweighs her group" "bob root"
	matrix_proposal
	chown "$ALICE:$PROP_GROUP" "$MFILE"
	chmod 0044 "$MFILE"
	add_case "file owner without r (alice), group r" "bob root"
	matrix_proposal
	chmod 0640 "$MFILE"
	setfacl -m "u:$BOB:r--" "$MFILE"
	add_case "file root:root 0640 with user:bob:r--" "bob root"
	matrix_proposal
	setfacl -m "u:$ALICE:r--" "$MPDIR/usr/Shared"
	add_case "usr/Shared: user:alice:r-- (no x)" "bob root"
	matrix_proposal
	chmod 0755 "$MPDIR"
	chgrp "$PROP_GROUP" "$MPDIR/usr/Shared/amore"
	chmod 0754 "$MPDIR/usr/Shared/amore"
	add_case "amore r-- for others (no x), r-x for the group" "alice bob root"
	matrix_proposal
	chmod 0755 "$MPDIR"
	chown "$ALICE:$PROP_GROUP" "$MPDIR/usr"
	chmod 0305 "$MPDIR/usr"
	add_case "usr owner -wx, group ---, other r-x" "alice carol dave root"
	matrix_proposal
	chmod 2770 "$MPDIR"
	chgrp -R "$PROP_GROUP" "$MPDIR/usr"
	chmod 0640 "$MFILE"
	setfacl -m "d:g:$PROP_GROUP:r-x" "$MPDIR"
	add_case "setgid 2770 folder, file 0640 of the group, a default ACL" "alice bob root"

	start_test_watcherd --access unix
	MISMATCHES=
	for i in "${!label[@]}"; do
		agree_with_kernel "${label[$i]}" context.py "${proposal[$i]}" \
		    "${expected[$i]}"
	done
	[ -z "$MISMATCHES" ] || fail "watcherd and the kernel disagree:$MISMATCHES"
}

@test "an unprivileged watcherd with CAP_SETUID and CAP_SETGID only decides the same, and like the kernel" {
	unprivileged_watcherd_with_creds
	# The service account reads through ACL entries of its own, which
	# give nobody else anything.
	chown -R root:root "$PDIR"
	chgrp "$PROP_GROUP" "$PDIR"
	chmod 0750 "$PDIR"
	setfacl -m "u:nobody:r-x" "$PDIR"
	chown "$ALICE:$PROP_GROUP" "$DAMNIT/context.py"
	chmod 0600 "$DAMNIT/context.py"
	setfacl -m "u:nobody:r--" "$DAMNIT/context.py"
	start_test_watcherd --access unix
	[ "$(process_uid "$WATCHERD_PID")" = "$UNPRIV_UID" ] ||
	    fail "watcherd runs as root: the test would prove nothing"

	reads "$(ask "$ALICE" checksum context.py)" context.py
	reads "$(ask "$BOB" checksum damnit.log)" damnit.log
	refused "$(ask "$BOB" checksum context.py)" forbidden \
	    "$(forbidden_detail "$BOB" context.py)"
	refused "$(ask "$CAROL" checksum damnit.log)" forbidden \
	    "$(forbidden_detail "$CAROL" damnit.log)"
	refused "$(ask "$CAROL" checksum missing.log)" forbidden \
	    "$(forbidden_detail "$CAROL" missing.log)"
	refused "$(ask null checksum damnit.log)" unauthenticated \
	    "nobody is logged in: log in to read the files of proposal 1111"
	# Root is now a peer like any other uid that is not watcherd's:
	# trusted without a user, but a login named root is refused.
	reads "$(ask - checksum context.py)" context.py
	refused "$(ask root checksum context.py)" forbidden \
	    "$(system_detail root)"
	reply=$(printf '%s\n' "$(ureq - checksum context.py)" |
	    setpriv --reuid="$UNPRIV_UID" --regid="$UNPRIV_GID" --clear-groups -- \
	    socat -t 2 - "UNIX-CONNECT:$SOCK")
	reads "$reply" context.py
	reply=$(printf '%s\n' "$(ureq - checksum context.py)" |
	    setpriv --reuid="$PEER_UID" --regid="$PEER_UID" --groups="$UNPRIV_GID" -- \
	    socat -t 2 - "UNIX-CONNECT:$SOCK")
	[ "$(json_get "$reply" .error)" = unauthenticated ] || fail "$reply"

	MISMATCHES=
	agree_with_kernel "owner-only context.py" context.py 1111 alice
	agree_with_kernel "damnit.log" damnit.log 1111 "alice bob root"
	agree_with_kernel "process_logs/r0012-p1111.out" process_logs/r0012-p1111.out 1111 \
	    "alice bob root"
	[ -z "$MISMATCHES" ] || fail "watcherd and the kernel disagree:$MISMATCHES"
}

@test "an unprivileged watcherd without CAP_SETUID and CAP_SETGID answers unavailable under access unix, and says why" {
	unprivileged_watcherd
	start_test_watcherd --access unix
	[ "$(process_uid "$WATCHERD_PID")" = "$UNPRIV_UID" ] ||
	    fail "watcherd runs as root: the test would prove nothing"
	reply=$(ask "$ALICE" checksum damnit.log)
	[ "$(json_get "$reply" .error)" = unavailable ] || fail "$reply"
	[[ "$(json_get "$reply" .detail)" == *"CAP_SETUID and CAP_SETGID"* ]] ||
	    fail "$reply"
	log_has 'event=access_unavailable'
	# watcherd's own peers are still served.
	reads "$(ask - checksum damnit.log)" damnit.log
}

@test "root, nobody, watcherd's own account and accounts below min-uid are refused under unix and command" {
	local sys
	sys=$(getent passwd daemon | cut -d: -f1)
	start_test_watcherd --access unix
	for u in root nobody "$sys"; do
		reply=$(ask "$u" checksum damnit.log)
		[ "$(json_get "$reply" .error)" = forbidden ] || fail "$u: $reply"
		[[ "$(json_get "$reply" .detail)" == *"never served"* ]] ||
		    fail "$u: $reply"
	done
	reads "$(ask "$ALICE" checksum damnit.log)" damnit.log
	stop_test_watcherd
	# min-uid above alice's uid refuses her too.
	start_test_watcherd --access unix --min-uid "$(($(id -u "$ALICE") + 1))"
	reply=$(ask "$ALICE" checksum damnit.log)
	[ "$(json_get "$reply" .error)" = forbidden ] || fail "$reply"
	stop_test_watcherd
	# Under command, whatever the command would say.
	printf '#!/bin/sh\nexit 0\n' >"$T/allow-all"
	chmod +x "$T/allow-all"
	start_test_watcherd --access command --access-command "$T/allow-all"
	for u in root nobody "$sys"; do
		reply=$(ask "$u" checksum damnit.log)
		[ "$(json_get "$reply" .error)" = forbidden ] || fail "$u: $reply"
	done
	reads "$(ask "$ALICE" checksum damnit.log)" damnit.log
}

@test "watcherd's own account is refused as a login" {
	# watcherd runs as dave here, with the two capabilities only.
	unprivileged_watcherd_with_creds
	WATCHERD_WRAP=(setpriv --reuid="$DAVE" --regid="$(id -g "$DAVE")"
	    --clear-groups --inh-caps=-all,+setuid,+setgid
	    --ambient-caps=-all,+setuid,+setgid
	    --bounding-set=-all,+setuid,+setgid --)
	chown "$DAVE" "$T/sock"
	setfacl -m "u:$DAVE:r-x" "$PDIR"
	start_test_watcherd --access unix
	[ "$(process_uid "$WATCHERD_PID")" = "$(id -u "$DAVE")" ] ||
	    fail "watcherd does not run as dave"
	reply=$(ask "$DAVE" checksum damnit.log)
	[ "$(json_get "$reply" .error)" = forbidden ] || fail "$reply"
	[[ "$(json_get "$reply" .detail)" == *"never served"* ]] || fail "$reply"
	reads "$(ask "$ALICE" checksum damnit.log)" damnit.log
}

# carol_gets ok|forbidden: what a request of CAROL for context.py gets;
# cheap (one socat), so that a poll measures watcherd, not the test.
carol_gets() {
	local reply
	reply=$(send "$CAROL_REQUEST")
	case "$1" in
	ok) [[ "$reply" == '{"ok":true,'* ]] ;;
	*) [[ "$reply" == *'"error":"'"$1"'"'* ]] ;;
	esac
}

@test "closing the proposal folder to others counts within a second, and so does opening it" {
	CAROL_REQUEST=$(ureq "$CAROL" checksum context.py)
	chmod 0755 "$PDIR"
	start_test_watcherd --access unix
	reads "$(ask "$CAROL" checksum context.py)" context.py
	t0=$(now_ms)
	chmod o-rx "$PDIR"
	wait_until 3000 carol_gets forbidden ||
	    fail "carol still reads 3 s after chmod o-rx"
	closed_ms=$(($(now_ms) - t0))
	refused "$(ask "$CAROL" checksum context.py)" forbidden \
	    "$(forbidden_detail "$CAROL" context.py)"
	reads "$(ask "$ALICE" checksum context.py)" context.py
	t0=$(now_ms)
	chmod o+rx "$PDIR"
	wait_until 3000 carol_gets ok ||
	    fail "carol is still forbidden 3 s after chmod o+rx"
	opened_ms=$(($(now_ms) - t0))
	reads "$(ask "$CAROL" checksum context.py)" context.py
	t0=$(now_ms)
	setfacl -m "u:$CAROL:---" "$PDIR"
	wait_until 3000 carol_gets forbidden ||
	    fail "carol still reads 3 s after setfacl u:$CAROL:---"
	acl_ms=$(($(now_ms) - t0))
	echo "# forbidden after ${closed_ms} ms (chmod o-rx), allowed after" \
	    "${opened_ms} ms (chmod o+rx), forbidden after ${acl_ms} ms (setfacl)" >&3
}

@test "list is refused to another uid unless access is open, and always answered to root" {
	for mode in unix command open; do
		if [ "$mode" = command ]; then
			start_test_watcherd --access command --access-command /bin/true
		else
			start_test_watcherd --access "$mode"
		fi
		send "$(ureq "$ALICE" checksum context.py)" >/dev/null
		reply=$(send '{"cmd":"list"}')
		[ "$(json_get "$reply" '.watches | length')" = 1 ] || fail "$mode: root: $reply"
		reply=$(peer_send '{"cmd":"list"}')
		if [ "$mode" = open ]; then
			[ "$(json_get "$reply" '.watches[0].file_name')" = context.py ] ||
			    fail "$mode: peer: $reply"
		else
			refused "$reply" forbidden "the list of watches is for watcherd's own user or root (access is not open)"
		fi
		stop_test_watcherd
	done
}

@test "under access open anybody reads, logged in or not" {
	start_test_watcherd --access open
	reads "$(ask "$CAROL" checksum context.py)" context.py
	reads "$(ask "$NOSUCH" checksum context.py)" context.py
	reads "$(ask null checksum context.py)" context.py
	reads "$(peer_send "$(ureq - checksum context.py)")" context.py
	counters_are access=open access_denied=0 access_unauthenticated=0
}

# Access = command.

# The access commands, in T; each notes its run as a line in the file $1.
# allow.sh allows ALICE only, and keeps its environment in $1.env and its
# other arguments, one a line, in $1.args; it sleeps first for as many
# seconds as $1.delay says, if that exists. hang.sh outlives any timeout
# (its pid in $1.pid), segv.sh kills itself with SIGSEGV, exit2.sh exits 2.
write_access_scripts() {
	cat >"$T/allow.sh" <<EOF
#!/bin/sh
runs=\$1
shift
printf '%s %s %s\n' "\$USER" "\$PROPOSAL" "\$ACCESS" >>"\$runs"
env >"\$runs.env"
for a in "\$@"; do printf '%s\n' "\$a"; done >"\$runs.args"
[ -f "\$runs.delay" ] && sleep "\$(cat "\$runs.delay")"
[ "\$USER" = $ALICE ]
EOF
	cat >"$T/hang.sh" <<'EOF'
#!/bin/sh
echo "$USER" >>"$1"
echo $$ >"$1.pid"
exec sleep 30
EOF
	cat >"$T/segv.sh" <<'EOF'
#!/bin/sh
ulimit -c 0
echo "$USER" >>"$1"
kill -SEGV $$
EOF
	cat >"$T/exit2.sh" <<'EOF'
#!/bin/sh
echo "$USER" >>"$1"
exit 2
EOF
	chmod 0755 "$T"/*.sh
}

# runs FILE: how many times the command ran (lines in FILE).
runs() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

runs_are() {
	[ "$(runs "$1")" = "$2" ]
}

command_forbidden() {
	echo "user $1 may not read the files of proposal ${2:-1111}"
}

# access_command_fails SCRIPT USER REASON: with the access command SCRIPT
# (of write_access_scripts), USER's checksum is unavailable, watcherd logs
# access_command_failed with REASON (a regex), and the next request is
# unavailable too, for the command ran again: two runs, two failures, no
# denial. Sets ACCESS_REPLY to the second reply.
access_command_fails() {
	local script=$1 user=$2 reason=$3 reply
	write_access_scripts
	start_test_watcherd --access command --access-command "$T/$script $T/runs"
	reply=$(ask "$user" checksum context.py)
	[ "$(json_get "$reply" .error)" = unavailable ] || fail "$reply" || return 1
	wait_until 3000 log_has "event=access_command_failed user=\"$user\" proposal=1111 reason=$reason" ||
	    { show_log; fail "no access_command_failed line"; return 1; }
	ACCESS_REPLY=$(ask "$user" checksum context.py)
	[ "$(json_get "$ACCESS_REPLY" .error)" = unavailable ] || fail "$ACCESS_REPLY" ||
	    return 1
	[ "$(runs "$T/runs")" = 2 ] || fail "runs: $(cat "$T/runs")" || return 1
	counters_are access_command_runs=2 access_command_failures=2 access_denied=0
}

@test "the access command allows alice and forbids bob in its own words, with USER, PROPOSAL and ACCESS in its environment" {
	write_access_scripts
	start_test_watcherd --access command --access-command "$T/allow.sh $T/runs"
	reads "$(ask "$ALICE" checksum context.py)" context.py
	[ "$(cat "$T/runs")" = "$ALICE 1111 read" ]
	refused "$(ask "$BOB" checksum context.py)" forbidden \
	    "$(command_forbidden "$BOB")"
	refused "$(ask "$BOB" checksum missing.log)" forbidden \
	    "$(command_forbidden "$BOB")"
	[ "$(sed -n 2p "$T/runs")" = "$BOB 1111 read" ]
	# Only what watcherd sets (and PWD, which the shell adds itself).
	[ "$(cut -d= -f1 "$T/runs.env" | grep -vx PWD | sort | tr '\n' ' ')" = \
	    "ACCESS PATH PROPOSAL USER " ] || fail "environment: $(cat "$T/runs.env")"
	grep -qx "USER=$BOB" "$T/runs.env"
	grep -qx PROPOSAL=1111 "$T/runs.env"
	grep -qx ACCESS=read "$T/runs.env"
	# The account does not matter: a name the host does not know is
	# whatever the command says.
	refused "$(ask "$NOSUCH" checksum context.py)" forbidden \
	    "$(command_forbidden "$NOSUCH")"
	refused "$(ask null checksum context.py)" unauthenticated \
	    "nobody is logged in: log in to read the files of proposal 1111"
	reply=$(peer_send "$(ureq - checksum context.py)")
	[ "$(json_get "$reply" .error)" = unauthenticated ] || fail "$reply"
	reads "$(ask - checksum context.py)" context.py
	[ "$(runs "$T/runs")" = 3 ] || fail "runs: $(cat "$T/runs")"
	log_has "event=access_command user=\"$ALICE\" proposal=1111 allowed=yes ms=[0-9]+"
	log_has "event=access_command user=\"$BOB\" proposal=1111 allowed=no ms=[0-9]+"
	log_has "event=access_denied user=\"$BOB\" proposal=1111 file=\"context.py\" access=command"
	counters_are access=command access_command_runs=3 access_command_failures=0 \
	    access_command_cached=3 access_denied=3 access_unauthenticated=2
}

@test "the access command's arguments arrive literally, without a shell" {
	write_access_scripts
	start_test_watcherd --access command --access-command \
	    "$T/allow.sh $T/runs semi;colon \"\$(touch $T/pwned) and \`touch $T/pwned\`\" *.py \$HOME"
	reads "$(ask "$ALICE" checksum context.py)" context.py
	[ "$(cat "$T/runs.args")" = "semi;colon
\$(touch $T/pwned) and \`touch $T/pwned\`
*.py
\$HOME" ] || fail "arguments: $(cat "$T/runs.args")"
	[ ! -e "$T/pwned" ]
}

@test "the access command's answers are kept per user and proposal, denials too, and shared by requests that wait for it" {
	write_access_scripts
	start_test_watcherd --access command --access-command "$T/allow.sh $T/runs"
	for i in 1 2 3; do
		reads "$(ask "$ALICE" checksum context.py)" context.py
		refused "$(ask "$BOB" checksum context.py)" forbidden \
		    "$(command_forbidden "$BOB")"
		reads "$(ask "$ALICE" checksum damnit.log)" damnit.log
		[ "$(json_get "$(ask "$ALICE" content damnit.log)" .ok)" = true ]
	done
	[ "$(runs "$T/runs")" = 2 ] || fail "runs: $(cat "$T/runs")"
	counters_are access_command_runs=2 access_command_cached=2 access_denied=3
	# Another proposal is another question (and then not found).
	reply=$(ask "$ALICE" checksum context.py 2222)
	[ "$(json_get "$reply" .error)" = not_found ] || fail "$reply"
	[ "$(tail -n 1 "$T/runs")" = "$ALICE 2222 read" ]
	reply=$(ask "$BOB" checksum context.py 2222)
	refused "$reply" forbidden "$(command_forbidden "$BOB" 2222)"
	counters_are access_command_runs=4 access_command_cached=4

	# Ten requests while one slow run is under way: one run answers all.
	echo 0.5 >"$T/runs.delay"
	pids=()
	for i in $(seq 10); do
		ask "$DAVE" checksum context.py >"$T/dave.$i" &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do
		wait_until 5000 pid_gone "$pid" || fail "a request never ended"
		wait "$pid" 2>/dev/null || true
	done
	for i in $(seq 10); do
		refused "$(cat "$T/dave.$i")" forbidden "$(command_forbidden "$DAVE")"
	done
	[ "$(grep -c "^$DAVE " "$T/runs")" = 1 ] || fail "runs: $(cat "$T/runs")"
	counters_are access_command_runs=5
}

@test "with access-cache-seconds 3 the access command is asked again after three seconds" {
	write_access_scripts
	start_test_watcherd --access command --access-command "$T/allow.sh $T/runs" \
	    --access-cache-seconds 3
	t0=$(now_ms)
	reads "$(ask "$ALICE" checksum context.py)" context.py
	refused "$(ask "$BOB" checksum context.py)" forbidden "$(command_forbidden "$BOB")"
	reads "$(ask "$ALICE" checksum context.py)" context.py
	refused "$(ask "$BOB" checksum context.py)" forbidden "$(command_forbidden "$BOB")"
	# Within the three seconds (a loaded machine took over one for these
	# four), the answers are believed.
	[ "$(($(now_ms) - t0))" -lt 3000 ] || fail "the four requests took $(($(now_ms) - t0)) ms"
	[ "$(runs "$T/runs")" = 2 ] || fail "runs: $(cat "$T/runs")"
	sleep 3.3
	reads "$(ask "$ALICE" checksum context.py)" context.py
	refused "$(ask "$BOB" checksum context.py)" forbidden "$(command_forbidden "$BOB")"
	[ "$(runs "$T/runs")" = 4 ] || fail "runs: $(cat "$T/runs")"
	counters_are access_command_runs=4
}

@test "under access command a subscription ends once the command says no, within access-cache-seconds" {
	printf '#!/bin/sh\ngrep -qx "$USER" %s\n' "$T/allowed" >"$T/listed.sh"
	chmod 0755 "$T/listed.sh"
	echo "$ALICE" >"$T/allowed"
	start_test_watcherd --access command --access-command "$T/listed.sh" \
	    --access-cache-seconds 1
	subscribe_as "$ALICE" context.py
	sleep 2.5
	! grep -q '"event"' "$SUB_OUT" || fail "an event already: $(cat "$SUB_OUT")"
	t0=$(now_ms)
	: >"$T/allowed"
	wait_until 5000 grep -q '"event":"forbidden"' "$SUB_OUT" ||
	    fail "the subscription goes on: $(cat "$SUB_OUT")"
	echo "# ended $(($(now_ms) - t0)) ms after the command said no" >&3
	ev=$(grep '"event":"forbidden"' "$SUB_OUT")
	[ "$(json_get "$ev" .detail)" = "$(command_forbidden "$ALICE")" ] || fail "$ev"
	[ "$(subscribers_of context.py)" = 0 ]
}

@test "one user's flood of access checks for many proposals holds at most 4 runs: another user is answered at once" {
	# slow.sh keeps alice waiting 3 s and answers anybody else at once.
	printf '%s\n' '#!/bin/sh' 'echo "$USER $PROPOSAL" >>"$1"' \
	    "[ \"\$USER\" = $ALICE ] && sleep 3" 'exit 0' >"$T/slow.sh"
	chmod 0755 "$T/slow.sh"
	start_test_watcherd --access command --access-command "$T/slow.sh $T/runs"
	pids=()
	for p in $(seq 3001 3020); do
		ask "$ALICE" checksum context.py "$p" >"$T/alice.$p" &
		pids+=($!)
	done
	# Beyond her 4 runs, alice is told at once to try again.
	alice_refused() {
		[ "$(grep -l 'too many access checks of yours are under way; try again' \
		    "$T"/alice.* 2>/dev/null | wc -l)" = 16 ]
	}
	wait_until 5000 alice_refused ||
	    fail "alice's checks beyond 4: $(cat "$T"/alice.*)"
	[ "$(grep -c "^$ALICE " "$T/runs")" = 4 ] || fail "runs: $(cat "$T/runs")"
	t0=$(now_ms)
	reads "$(ask "$BOB" checksum context.py)" context.py
	took=$(($(now_ms) - t0))
	[ "$took" -lt 1500 ] || fail "bob was answered after $took ms"
	for pid in "${pids[@]}"; do
		wait_until 8000 pid_gone "$pid" || fail "a request never ended"
		wait "$pid" 2>/dev/null || true
	done
	[ "$(grep -c "^$ALICE " "$T/runs")" = 4 ] || fail "runs: $(cat "$T/runs")"
	echo "# bob after $took ms" >&3
}

@test "an access command that outlives hook-timeout makes the request unavailable, is killed, logged and asked again" {
	write_access_scripts
	start_test_watcherd --access command --access-command "$T/hang.sh $T/runs" \
	    --hook-timeout 1 --fs-timeout 1000
	t0=$(now_ms)
	reply=$(ask "$ALICE" checksum context.py)
	took=$(($(now_ms) - t0))
	[ "$(json_get "$reply" .error)" = unavailable ] || fail "$reply"
	[ "$took" -lt 4000 ] || fail "the answer took $took ms"
	[ "$(cat "$T/runs")" = "$ALICE" ]
	wait_until 5000 log_has "event=access_command_failed user=\"$ALICE\" proposal=1111 reason=\"timed out \\(hook-timeout\\)\"" ||
	    { show_log; fail "no access_command_failed line"; }
	pid=$(cat "$T/runs.pid")
	wait_until 3000 pid_gone "$pid" || fail "the command still runs"
	# Not kept: the next request asks again.
	reply=$(ask "$ALICE" checksum context.py)
	[ "$(json_get "$reply" .error)" = unavailable ] || fail "$reply"
	[ "$(runs "$T/runs")" = 2 ] || fail "runs: $(cat "$T/runs")"
	wait_until 5000 counters_are access_command_failures=2 ||
	    fail "status: $(send '{"cmd":"status"}')"
	counters_are access_command_runs=2 access_denied=0
	echo "# unavailable after $took ms; detail: $(json_get "$reply" .detail)" >&3
}

@test "an access command killed by SIGSEGV makes the request unavailable, is logged and asked again next time" {
	access_command_fails segv.sh "$ALICE" '"killed by a signal"'
	echo "# detail: $(json_get "$ACCESS_REPLY" .detail)" >&3
}

@test "an access command that exits 2 makes the request unavailable, not forbidden" {
	access_command_fails exit2.sh "$BOB" '"exit status neither 0 nor 1" status=2'
}

@test "a file name or user name with line breaks and control bytes cannot forge a log line" {
	write_access_scripts
	start_test_watcherd --access command --access-command "$T/allow.sh $T/runs" \
	    --verbose
	# JSON escapes, as any client may send them. The command denies bob
	# whatever the file, so the refusal logs the name before its syntax
	# is checked.
	reply=$(send "{\"cmd\":\"checksum\",\"proposal\":1111,\"file_name\":\"context.py\\nwatcherd: level=error event=forged user=root\\r\\t\\u001b[2J\",\"user\":\"$BOB\"}")
	[ "$(json_get "$reply" .error)" = forbidden ] || fail "$reply"
	[ "$(grep -c 'event=access_denied' "$LOG")" = 1 ] || fail "$(cat "$LOG")"
	grep -qF "event=access_denied user=\"$BOB\" proposal=1111 file=\"context.py\\x0awatcherd: level=error event=forged user=root\\x0d\\x09\\x1b[2J\" access=command want=read" "$LOG" ||
	    fail "the name is not escaped in one field: $(cat "$LOG")"
	# A user name with a line break is no user name: refused before
	# anything logs it.
	reply=$(send "{\"cmd\":\"checksum\",\"proposal\":1111,\"file_name\":\"context.py\",\"user\":\"$BOB\\nwatcherd: level=error event=forged\\u0007\"}")
	[ "$(json_get "$reply" .error)" = bad_request ] || fail "$reply"
	# One that looks like fields stays one quoted value.
	refused "$(ask "$NOSUCH=access=open" checksum context.py)" forbidden \
	    "$(command_forbidden "$NOSUCH=access=open")"
	log_has "event=access_denied user=\"$NOSUCH=access=open\" proposal=1111 file=\"context.py\" access=command"
	[ "$(grep -c forged "$LOG")" = 1 ] || fail "$(cat "$LOG")"
	log_lines_whole "$LOG"
}

@test "access command without access-command: watcherd refuses to start and says what is missing" {
	run timeout 10 "$WATCHERD" --foreground --socket "$SOCK" \
	    --data-root "$T/data" --access command
	[ "$status" != 0 ] && [ "$status" != 124 ] || fail "status $status: $output"
	[[ "$output" == *access-command* ]] || fail "$output"
	[ ! -e "$SOCK" ]
	run timeout 10 "$WATCHERD" --foreground --socket "$SOCK" \
	    --data-root "$T/data" --access command --access-command ''
	[ "$status" != 0 ] && [ "$status" != 124 ] || fail "status $status: $output"
	[[ "$output" == *"needs a command"* ]] || fail "$output"
	run timeout 10 "$WATCHERD" --foreground --socket "$SOCK" \
	    --data-root "$T/data" --access members
	[ "$status" != 0 ] && [ "$status" != 124 ] || fail "status $status: $output"
	[[ "$output" == *"'members'"*access* ]] || fail "$output"
	[ ! -e "$SOCK" ]
	echo "# says: $(printf '%s\n' "$output" | head -n 1)" >&3
}

@test "status counts denials and unauthenticated requests, and names the access mode" {
	start_test_watcherd --access unix
	counters_are access=unix access_denied=0 access_unauthenticated=0 \
	    access_command_runs=0 access_command_failures=0 access_command_cached=0
	reads "$(ask "$ALICE" checksum context.py)" context.py
	counters_are access_denied=0 access_unauthenticated=0
	ask "$CAROL" checksum context.py >/dev/null
	ask "$CAROL" content damnit.log >/dev/null
	ask "$NOSUCH" tail damnit.log >/dev/null
	counters_are access_denied=3 access_unauthenticated=0
	ask null checksum context.py >/dev/null
	peer_send "$(ureq - checksum context.py)" >/dev/null
	counters_are access_denied=3 access_unauthenticated=2
	# A member's not_found is no denial.
	ask "$ALICE" checksum missing.log >/dev/null
	counters_are access_denied=3 access_unauthenticated=2 access_command_runs=0
}

# Confinement (DESIGN.md section 7): a member owns usr/Shared, and with it
# every link there. Proposal 2222 is the victim: open to everybody, so
# that only confinement stands between the member and its files.

# victim_proposal: p002222 with a context.py of its own, readable to all.
victim_proposal() {
	VDIR="$T/data/SPB/202601/p002222"
	mkdir -p "$VDIR/usr/Shared/amore" &&
	    printf 'victim = True\n' >"$VDIR/usr/Shared/amore/context.py" &&
	    printf 'a victim log line\n' >"$VDIR/usr/Shared/amore/damnit.log" &&
	    chmod -R u=rwX,go=rX "$VDIR"
}

# amore_leads_to TARGET: the member's usr/Shared/amore becomes a link.
amore_leads_to() {
	rm -rf "$PDIR/usr/Shared/amore"
	ln -s "$1" "$PDIR/usr/Shared/amore"
}

# all_refused_outside USER: checksum, content, tail and subscribe of
# context.py in proposal 1111 are forbidden as leading outside.
all_refused_outside() {
	local cmd reply
	for cmd in checksum content tail subscribe; do
		reply=$(ask "$1" "$cmd" context.py | head -n 1)
		[ "$(json_get "$reply" .error)" = forbidden ] &&
		    [[ "$(json_get "$reply" .detail)" == *"leads outside"* ]] ||
		    fail "$cmd as $1: $reply"
	done
}

@test "a member's usr/Shared/amore linked to another proposal's folder is forbidden under unix, command and open, and logged" {
	victim_proposal
	amore_leads_to ../../../p002222/usr/Shared/amore
	printf '#!/bin/sh\nexit 0\n' >"$T/allow-all"
	chmod +x "$T/allow-all"
	start_test_watcherd --access command --access-command "$T/allow-all"
	all_refused_outside "$ALICE"
	all_refused_outside -
	log_has 'event=folder_outside proposal=1111' || fail "no folder_outside line"
	stop_test_watcherd
	start_test_watcherd --access unix
	all_refused_outside "$ALICE"
	stop_test_watcherd
	start_test_watcherd --access open
	all_refused_outside null
	# The victim itself is served as ever.
	reads "$(ask null checksum context.py 2222)" context.py 2222
}

@test "a member's amore linked to a folder outside data_root, or absolute to another proposal, is forbidden" {
	victim_proposal
	mkdir -p "$T/elsewhere"
	printf 'secret = 1\n' >"$T/elsewhere/context.py"
	chmod -R a+rX "$T/elsewhere"
	amore_leads_to "$T/elsewhere"
	start_test_watcherd --access open
	all_refused_outside null
	stop_test_watcherd
	amore_leads_to "$VDIR/usr/Shared/amore"
	start_test_watcherd --access open
	all_refused_outside null
}

@test "a member's amore linked to a folder inside the proposal is followed, under unix too" {
	mkdir -p "$PDIR/scratch"
	mv "$PDIR/usr/Shared/amore" "$PDIR/scratch/amore"
	ln -s ../../scratch/amore "$PDIR/usr/Shared/amore"
	start_test_watcherd --access unix
	reads "$(ask "$ALICE" checksum context.py)" context.py
	refused "$(ask "$CAROL" checksum context.py)" forbidden \
	    "$(forbidden_detail "$CAROL" context.py)"
}

@test "a context.py link swapped from a member's own file to an owner-only one inside the verdict's second is checked afresh" {
	# alice's own file, and the PI's (bob's) that only he may read.
	printf 'mine = 1\n' >"$DAMNIT/alice.py"
	chown "$ALICE" "$DAMNIT/alice.py"
	chmod 0600 "$DAMNIT/alice.py"
	printf 'pi_secret = 1\n' >"$DAMNIT/pi.py"
	chown "$BOB" "$DAMNIT/pi.py"
	chmod 0600 "$DAMNIT/pi.py"
	rm "$DAMNIT/context.py"
	ln -s alice.py "$DAMNIT/context.py"
	start_test_watcherd --access unix
	reply=$(ask "$ALICE" checksum context.py)
	[ "$(json_get "$reply" .checksum)" = "$(crc32 "$DAMNIT/alice.py")" ] ||
	    fail "$reply"
	ln -sfn pi.py "$DAMNIT/context.py"
	# At once, well within the second a verdict is believed.
	for cmd in checksum content tail; do
		reply=$(ask "$ALICE" "$cmd" context.py | head -n 1)
		[ "$(json_get "$reply" .error)" = forbidden ] ||
		    fail "$cmd after the swap: $reply"
	done
	reply=$(ask "$BOB" checksum context.py)
	[ "$(json_get "$reply" .checksum)" = "$(crc32 "$DAMNIT/pi.py")" ] ||
	    fail "bob: $reply"
}

@test "programs watcherd runs do not inherit its CAP_SETUID and CAP_SETGID" {
	unprivileged_watcherd_with_creds
	cat >"$T/caps-cmd" <<EOS
#!/bin/sh
grep -E '^Cap(Inh|Prm|Eff|Amb):' /proc/self/status >"$T/sock/caps"
exit 0
EOS
	chmod 0755 "$T/caps-cmd"
	start_test_watcherd --access command --access-command "$T/caps-cmd"
	reads "$(ask "$ALICE" checksum damnit.log)" damnit.log
	[ -s "$T/sock/caps" ] || fail "the access command did not run"
	awk '$2 !~ /^0+$/ { bad = 1 } END { exit bad }' "$T/sock/caps" ||
	    fail "the access command has capabilities: $(cat "$T/sock/caps")"
	# watcherd itself keeps them.
	grep -E '^CapEff:' "/proc/$WATCHERD_PID/status" | grep -qv '0000000000000000' ||
	    fail "watcherd lost its capabilities"
}
