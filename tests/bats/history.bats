#!/usr/bin/env bats
# Versions (DESIGN.md section 9): every save through watcherd kept with who
# saved it, every change seen on disk kept with no user, in the DAMNIT
# folder's .history/ beside the file; /file_history lists them newest
# first, /file_content?version=C reads one, both checked as reading the
# file is; a restore is an ordinary save of an old text. Through the
# handler as plain CGI, a real watcherd on the demo tree, and files
# changed on disk the ways editors change them.

load web_helpers
web_default_hooks

# The files of these tests are h*.py: served, savable, their versions kept;
# anybody logged in may save (an access command that says yes).
FLAGS=(--write --allow 'h*.py' --allow context.py --write-allow 'h*.py'
    --history-allow 'h*.py' --access command --access-command /bin/true)

setup_file() {
	web_setup_file && start_web_watcherd "${FLAGS[@]}"
}

# versions FILE [N]: GET /file_history of FILE as alice into $T/b; with
# N, until it lists N versions (a save's versions are written just after
# its answer), at most 5 s.
versions() {
	if [ $# -eq 2 ]; then
		wait_until 5000 version_count "$1" "$2"
		return 0
	fi
	cgi GET "/file_history?proposal=1111&file_name=$1" REMOTE_USER=alice
}

# version_count FILE N: the history of FILE lists N versions.
version_count() {
	versions "$1" && [ "$STATUS" = 200 ] && [ "$(jqb '.versions | length')" = "$2" ]
}

# history_says FILE FILTER: the history of FILE answers FILTER (jq -e).
history_says() {
	versions "$1" && jq -e "$2" "$T/b" >/dev/null
}

# newest_is FILE CHECKSUM: the newest version of FILE is CHECKSUM.
newest_is() {
	versions "$1" && [ "$(jqb '.versions[0].checksum')" = "$2" ]
}

# saved_over FILE OLD NEW USER: FILE holds OLD, USER saves NEW over it; sets
# OLD_CRC, and returns once both are kept.
saved_over() {
	printf '%s' "$2" >"$DAMNIT/$1"
	OLD_CRC=$(crc32 "$DAMNIT/$1")
	save_as "$4" "$1" "$3" && versions "$1" 2
}

# version_of FILE CHECKSUM USER: GET /file_content?version= into $T/b.
version_of() {
	cgi GET "/file_content?proposal=1111&file_name=$1&version=$2" REMOTE_USER="$3"
}

# put_as USER FILE IF_CRC BODY_FILE: PUT /file_content through the handler.
put_as() {
	local uri="/file_content?proposal=1111&file_name=$2" rc=0
	env -i PATH="$PATH" REQUEST_METHOD=PUT REQUEST_URI="$uri" \
	    QUERY_STRING="${uri#*\?}" GATEWAY_INTERFACE=CGI/1.1 \
	    SERVER_PROTOCOL=HTTP/1.1 WATCHERD_SOCKET="$SOCK" \
	    REMOTE_USER="$1" HTTP_IF_MATCH="\"$3\"" \
	    CONTENT_LENGTH="$(stat -c %s "$4")" \
	    ASAN_OPTIONS="$ASAN_EXIT_OPTIONS" UBSAN_OPTIONS="$UBSAN_HALT_OPTIONS" \
	    "$HANDLER" <"$4" >"$T/out" 2>>"$T/cgi.log" || rc=$?
	[ "$rc" = 0 ] || fail "filehandler.fcgi exited with status $rc" || return 1
	split_answer "$T/out"
}

# save_as USER FILE TEXT: saves TEXT over FILE from its current checksum.
save_as() {
	printf '%s' "$3" >"$T/body"
	put_as "$1" "$2" "$(crc32 "$DAMNIT/$2")" "$T/body" && expect_status 200
}

@test "a save is kept with who saved it, and the bytes it replaced as seen on disk" {
	printf 'first\n' >"$DAMNIT/h1.py"
	first=$(crc32 "$DAMNIT/h1.py")
	save_as alice h1.py $'second\n'
	second=$(crc32 "$DAMNIT/h1.py")
	versions h1.py 2
	expect_status 200
	jq -e --arg a "$second" --arg b "$first" '
	    .proposal == 1111 and .file_name == "h1.py" and .kept == true and
	    (.versions | length) == 2 and
	    .versions[0].checksum == $a and .versions[0].user == "alice" and
	    .versions[0].source == "save" and .versions[0].size == 7 and
	    .versions[1].checksum == $b and .versions[1].user == null and
	    .versions[1].source == "disk" and
	    .versions[0].time >= .versions[1].time' "$T/b" >/dev/null ||
	    fail "$(body)"
	[ "$(header Cache-Control)" = no-store ]
	# The versions are files of the folder's own, beside the file.
	[ "$(ls "$DAMNIT/.history/h1.py" | wc -l)" = 2 ]
}

@test "/file_content?version=C is that version, read-only; an unknown one is 404, a malformed one 400" {
	saved_over h2.py $'one\n' $'two\n' bob
	one=$OLD_CRC
	version_of h2.py "$one" bob
	expect_status 200
	[ "$(jqb .content)" = one ] && [ "$(jqb .checksum)" = "$one" ] &&
	    [ "$(jqb .encoding)" = utf-8 ] || fail "$(body)"
	[ -z "$(header ETag)" ] || fail "a version has no ETag: $(header ETag)"
	[ "$(cat "$DAMNIT/h2.py")" = two ]
	cgi GET "/file_content?proposal=1111&file_name=h2.py&version=0badc0de" REMOTE_USER=bob
	expect_error 404 "no such version"
	cgi GET "/file_content?proposal=1111&file_name=h2.py&version=xyz" REMOTE_USER=bob
	expect_error 400 "version"
}

@test "changes on disk are kept, in place and renamed over, with inotify and with polling" {
	for mode in inotify poll; do
		restart_web_watcherd "${FLAGS[@]}" --watch-mode "$mode" --poll-interval 100
		f=h3-$mode.py
		printf 'a\n' >"$DAMNIT/$f"
		cgi GET "/file_content?proposal=1111&file_name=$f" REMOTE_USER=alice
		expect_status 200
		wait_until 5000 version_count "$f" 1 || fail "$mode: the first look: $(body)"
		printf 'b\n' >"$DAMNIT/$f"		# in place
		wait_until 5000 version_count "$f" 2 || fail "$mode: in place: $(body)"
		printf 'c\n' >"$DAMNIT/$f.tmp" && mv "$DAMNIT/$f.tmp" "$DAMNIT/$f"
		wait_until 5000 version_count "$f" 3 || fail "$mode: rename-over: $(body)"
		jq -e --arg c "$(crc32 "$DAMNIT/$f")" '.versions[0].checksum == $c and
		    all(.versions[]; .user == null and .source == "disk")' "$T/b" \
		    >/dev/null || fail "$mode: $(body)"
	done
	restart_web_watcherd "${FLAGS[@]}"
}

@test "two watcherds over one tree record each change once, and a save once, as the save" {
	second="$T/second.sock"
	SOCK=$second launch_watcherd "$T/watcherd2.log" "${FLAGS[@]}"
	pid2=$LAUNCHED_PID
	printf 'x\n' >"$DAMNIT/h4.py"
	for s in "$SOCK" "$second"; do
		"$WATCHERCTL" --socket "$s" checksum 1111 h4.py >/dev/null
	done
	for i in 1 2 3; do
		printf 'x%d\n' "$i" >"$DAMNIT/h4.py"
		sleep 0.3
	done
	save_as carol h4.py $'saved\n'
	# The other watcherd may see the save on disk first: the save's
	# version then takes its place.
	wait_until 5000 history_says h4.py '(.versions | length) == 5 and
	    ([.versions[].checksum] | unique | length) == 5 and
	    .versions[0].source == "save" and .versions[0].user == "carol" and
	    ([.versions[] | select(.source == "save")] | length) == 1' ||
	    fail "$(body)"
	end_pid "$pid2" "$WATCHERD_STOP_MS" TERM watcherd
}

@test "history-keep drops the oldest versions" {
	restart_web_watcherd "${FLAGS[@]}" --history-keep 3
	printf 'v0\n' >"$DAMNIT/h5.py"
	for i in 1 2 3 4 5; do
		save_as alice h5.py "v$i"$'\n'
	done
	wait_until 5000 newest_is h5.py "$(crc32 "$DAMNIT/h5.py")" || fail "$(body)"
	jq -e '(.versions | length) == 3' "$T/b" >/dev/null || fail "$(body)"
	[ "$(ls "$DAMNIT/.history/h5.py" | wc -l)" = 3 ]
	restart_web_watcherd "${FLAGS[@]}"
}

@test "a restore is a save of the old text: the file holds it, and it is a new version" {
	saved_over h6.py $'good\n' $'broken\n' alice
	good=$OLD_CRC
	version_of h6.py "$good" bob
	jq -j .content "$T/b" >"$T/old"
	put_as bob h6.py "$(crc32 "$DAMNIT/h6.py")" "$T/old"
	expect_status 200
	[ "$(cat "$DAMNIT/h6.py")" = good ]
	versions h6.py 3
	jq -e --arg g "$good" '(.versions | length) == 3 and
	    .versions[0].checksum == $g and .versions[0].user == "bob" and
	    .versions[1].user == "alice"' "$T/b" >/dev/null || fail "$(body)"
}

@test "the history is refused exactly where reading is: nobody logged in, a user the command refuses, a link out of the folder" {
	printf 'kept\n' >"$DAMNIT/h7.py"
	save_as alice h7.py $'kept 2\n'
	versions h7.py 2
	cgi GET "/file_history?proposal=1111&file_name=h7.py"
	expect_error 401 "log in"
	cgi GET "/file_content?proposal=1111&file_name=h7.py&version=$(crc32 "$DAMNIT/h7.py")"
	expect_error 401 "log in"
	ln -sf "$SECRET" "$DAMNIT/h8.py"
	versions h8.py
	expect_error 403 "outside"
	restart_web_watcherd "${FLAGS[@]/\/bin\/true//bin/false}"
	versions h7.py
	expect_error 403 "may not read"
	cgi GET "/file_content?proposal=1111&file_name=h7.py&version=$(crc32 "$DAMNIT/h7.py")" REMOTE_USER=alice
	expect_error 403 "may not read"
	restart_web_watcherd "${FLAGS[@]}"
	! grep -rq "$SECRET_MARKER" "$DAMNIT/.history" || fail "the secret was kept"
}

@test "a crash between writing a version and linking it leaves no version; a file whose versions are not kept has none" {
	printf 'solid\n' >"$DAMNIT/h9.py"
	save_as alice h9.py $'solid 2\n'
	versions h9.py 2
	printf 'half a vers' >"$DAMNIT/.history/h9.py/.tmp-0123456789ab"
	versions h9.py
	jq -e '(.versions | length) == 2 and
	    all(.versions[]; .checksum != null)' "$T/b" >/dev/null || fail "$(body)"
	cgi GET "/file_history?proposal=1111&file_name=context.py" REMOTE_USER=alice
	expect_status 200
	jq -e '.kept == false and .versions == []' "$T/b" >/dev/null || fail "$(body)"
}

@test "watcherctl history lists the versions and show --version prints one" {
	printf 'ctl 1\n' >"$DAMNIT/h10.py"
	old=$(crc32 "$DAMNIT/h10.py")
	save_as dave h10.py $'ctl 2\n'
	versions h10.py 2
	run "$WATCHERCTL" --socket "$SOCK" history 1111 h10.py
	[ "$status" = 0 ] || fail "$output"
	[ "${#lines[@]}" = 2 ]
	[[ "${lines[0]}" == "$(crc32 "$DAMNIT/h10.py")  6 bytes  "*"  save  dave" ]] ||
	    fail "${lines[0]}"
	[[ "${lines[1]}" == "$old  6 bytes  "*"  disk  -" ]] || fail "${lines[1]}"
	run "$WATCHERCTL" --socket "$SOCK" show --version "$old" 1111 h10.py
	[ "$status" = 0 ] && [ "$output" = "ctl 1" ] || fail "$output"
	run "$WATCHERCTL" --socket "$SOCK" --json history 1111 h10.py
	jq -e '.ok and .kept and .count == 2 and (.versions | length) == 2' \
	    <<<"$output" >/dev/null || fail "$output"
	run "$WATCHERCTL" --socket "$SOCK" history --version "$old" 1111 h10.py
	[ "$status" = 2 ]
}
