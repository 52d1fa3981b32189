#!/usr/bin/env bats
# The file page (www/) in headless Chromium: Debian's chromium driven by
# playwright-core (tests/browser/, installed with npm ci on first use), on
# a real watcherd and a real lighttpd (lighttpd.conf.sample, serving the
# repository's www/ at /) on a free loopback port, over a private copy of
# the demo tree. Each test is a script of tests/browser/ that asks this
# file, line by line, for the real changes: saves, appends, deletions,
# watcherd stopped and started (see tests/browser/lib.mjs).
#
# Where Chromium cannot be installed, every test says so and is skipped.

load web_helpers
web_default_hooks

BROWSER_DIR="$REPO_ROOT/tests/browser"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

# Why the browser tests cannot run here; empty when they can.
browser_missing() {
	if [ ! -x "$CHROMIUM" ]; then
		echo "Chromium is not installed ($CHROMIUM; apt-get install chromium)"
	elif ! command -v node >/dev/null 2>&1; then
		echo "node is not installed (apt-get install nodejs)"
	fi
}

# playwright-core as package-lock.json pins it, installed once.
browser_install() {
	local want have
	want=$(jq -r '.packages["node_modules/playwright-core"].version' "$BROWSER_DIR/package-lock.json")
	have=$(jq -r .version "$BROWSER_DIR/node_modules/playwright-core/package.json" 2>/dev/null)
	[ "$have" = "$want" ] && return 0
	command -v npm >/dev/null 2>&1 || fail "npm is not installed (apt-get install npm)" || return 1
	if ! (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --loglevel=error) \
	    >"$T/npm.log" 2>&1 3>&-; then
		show_tail "$T/npm.log"
		fail "npm ci in tests/browser failed"
		return 1
	fi
	echo "# installed playwright-core $want into tests/browser/node_modules" >&3
}

setup_file() {
	export BROWSER_MISSING
	BROWSER_MISSING=$(browser_missing)
	if [ -n "$BROWSER_MISSING" ]; then
		echo "# browser tests skipped: $BROWSER_MISSING" >&3
		return 0
	fi
	web_setup_file || return 1
	browser_install || return 1
	# The repository's page itself, not a copy.
	rmdir "$T/www" && ln -s "$REPO_ROOT/www" "$T/www" || return 1
	start_web_watcherd || return 1
	start_lighttpd
}

setup() {
	[ -z "$BROWSER_MISSING" ] || skip "$BROWSER_MISSING"
	web_setup
	: >"$T/pids"
}

teardown() {
	[ -z "$BROWSER_MISSING" ] || return 0
	kill_spawned
	stop_lighttpd auth
	rm -f "$T"/browser-* "$T/to-node" "$T/from-node"
	ensure_default_watcherd
	web_teardown
}

# The actions a test script asks for (ACTION ARG...), on the test's copy of
# proposal 1111's DAMNIT folder. Files named by scripts are relative to it;
# SRC is a file of the script's with the new content.

# An editor's save: the new content written beside, then renamed over.
act_rename_over() {
	cp "$2" "$DAMNIT/.$(basename "$1").tmp" && mv -f "$DAMNIT/.$(basename "$1").tmp" "$DAMNIT/$1"
}

act_append() {
	local file=$1
	shift
	printf '%s\n' "$*" >>"$DAMNIT/$file"
}

act_delete() {
	rm "$DAMNIT/$1"
}

# A new file with SRC's content (cp writes it in place).
act_create() {
	cp "$2" "$DAMNIT/$1"
}

act_stop_watcherd() {
	stop_web_watcherd
}

act_start_watcherd() {
	start_web_watcherd
}

# browser TEST [ARG...]: runs tests/browser/TEST.mjs against the page,
# doing the actions it asks for, its "# ..." lines passed on to the TAP
# output; fails unless it ends with "ok". Bounded: the script's own waits,
# and 150 s without a line from it.
browser() {
	local name=$1 line result="" to from pid
	shift
	mkfifo "$T/to-node" "$T/from-node"
	BASE_URL="http://127.0.0.1:$PORT/" DAMNIT="$DAMNIT" T="$T" OUT_DIR="$T" \
	    CHROMIUM="$CHROMIUM" setsid node "$BROWSER_DIR/$name.mjs" "$@" \
	    <"$T/to-node" >"$T/from-node" 2>>"$T/browser.err" 3>&- &
	pid=$!
	echo "$pid" >>"$T/pids"
	exec {to}>"$T/to-node" {from}<"$T/from-node"
	while IFS= read -r -t 150 line <&"$from"; do
		case $line in
		"do "*)
			# shellcheck disable=SC2086 # the words are the arguments
			if act_${line#do } >>"$T/actions.log" 2>&1; then
				echo done >&"$to"
			else
				echo "failed: see $T/actions.log" >&"$to"
			fi ;;
		"# "*) echo "$line" >&3 ;;
		ok) result=ok ;;
		"fail "*) result=$line ;;
		*) echo "# $name: $line" >&3 ;;
		esac
	done
	exec {to}>&- {from}<&-
	wait "$pid" 2>/dev/null || true
	if [ "$result" != ok ]; then
		show_tail "$T/browser.err" "$T/actions.log"
		fail "$name: ${result:-ended without a result}"
		return 1
	fi
}

@test "the page loads the demo context.py: numbered, highlighted, its metadata, live" {
	browser load
}

@test "a rename-over save shows on the page within 2 s without a reload, changed lines marked" {
	browser save
}

@test "the long-poll fallback: a rename-over save shows within 2 s" {
	browser save poll
}

@test "a log: appends appear at the end and are followed unless scrolled up; a replaced log reloads" {
	browser log
}

@test "deleting the file shows the deleted state; recreating it recovers" {
	browser deleted
}

@test "stopping watcherd shows service unavailable; restarting it recovers, live again" {
	browser unavailable
}

@test "an unknown proposal and a missing file have their states; a created file appears" {
	browser missing
}

@test "a 2 MB log and a 200 KB context.py: rows in view only, no long freeze, far changes found" {
	browser big
}

@test "behind a login, the page shows the file and says who is logged in" {
	printf 'alice:%s\n' "$(openssl passwd -6 'open sesame')" >"$T/htpasswd"
	# The same page and watcherd through a second lighttpd that asks for a
	# login; PORT is its port for this test.
	FILEHANDLER_AUTH_USERFILE="$T/htpasswd" start_lighttpd auth
	browser login
}

# Access per proposal with real accounts (--access unix; the accounts and
# proposals of common.bash, named with a prefix of this file's own):
# FHB_ACCOUNT's bob is not in proposal 1111's group, alice is; proposal
# 2222 is open to everybody.
FHB_ACCOUNT=fhb_

# browser_unix_forbidden: the accounts and proposals, watcherd with
# --access unix, lighttpd "auth" with a Basic login for alice and bob
# (password pw-NAME), and tests/browser/forbidden.mjs logged in as bob.
# Called in an || list, where errexit does not hold: every step is checked.
browser_unix_forbidden() {
	local u bob=${FHB_ACCOUNT}bob hash
	unix_accounts_add "$FHB_ACCOUNT" && unix_proposals "$FHB_ACCOUNT" ||
	    fail "cannot make the ${FHB_ACCOUNT} accounts and proposals" || return 1
	: >"$T/htpasswd.unix" || return 1
	for u in "${FHB_ACCOUNT}alice" "$bob"; do
		hash=$(openssl passwd -6 "pw-$u") || return 1
		printf '%s:%s\n' "$u" "$hash" >>"$T/htpasswd.unix" || return 1
	done
	restart_web_watcherd --access unix || return 1
	FILEHANDLER_AUTH_USERFILE="$T/htpasswd.unix" start_lighttpd auth || return 1
	browser forbidden "$bob" "pw-$bob" "$T/data/SPB/202601/p002222/usr/Shared/amore/context.py"
}

# browser_unix_forbidden_undo: the tree as copied and no accounts left,
# whatever happened before (teardown then brings back the default watcherd
# and stops lighttpd "auth").
browser_unix_forbidden_undo() {
	local rc=0
	unix_proposals_undo || rc=1
	unix_accounts_remove "$FHB_ACCOUNT" || rc=1
	[ "$rc" = 0 ] || fail "cannot undo the ${FHB_ACCOUNT} accounts and proposals"
}

@test "with --access unix behind a login, a proposal he may not read is forbidden in words naming him; one he may read shows" {
	[ "$(id -u)" = 0 ] || skip "making accounts needs root"
	local rc=0
	browser_unix_forbidden || rc=$?
	browser_unix_forbidden_undo || rc=1
	return "$rc"
}

# Saving on the page (DESIGN.md section 8), as `make run` sets it up:
# watcherd with --write, context.py checked by dist/validate-context, and
# --access command asking scripts/demo-access, which lets everybody logged
# in read and only "demo" save; lighttpd "auth" with a Basic login for demo
# and guest (password pw-NAME). Each test starts from the demo's
# context.py. Called in an || list, where errexit does not hold: every
# step is checked.
browser_saving() {
	browser_logins save "demo guest" demo
}

# browser_logins NAME "USER..." "SAVER...": as `make run` sets it up,
# watcherd saving and checking context.py, scripts/demo-access letting
# every user logged in read and the SAVERs save, lighttpd's Basic login
# for each USER (password pw-USER, in $T/htpasswd.NAME); context.py the
# demo's.
browser_logins() {
	local u hash
	# A failure's report shows the actions' log: it must exist.
	: >>"$T/actions.log" || return 1
	cp "$REPO_ROOT/data/$DAMNIT_REL/context.py" "$DAMNIT/context.py" || return 1
	: >"$T/htpasswd.$1" || return 1
	# shellcheck disable=SC2086	# $2 is a list of names
	for u in $2; do
		hash=$(openssl passwd -6 "pw-$u") || return 1
		printf '%s:%s\n' "$u" "$hash" >>"$T/htpasswd.$1" || return 1
	done
	restart_web_watcherd --write --access command --access-command \
	    "\"$REPO_ROOT/scripts/demo-access\" $3" \
	    --validate "context.py \"$REPO_ROOT/dist/validate-context\"" || return 1
	FILEHANDLER_AUTH_USERFILE="$T/htpasswd.$1" start_lighttpd auth
}

# Whether the check knows undefined names and warnings (python3-pyflakes).
have_pyflakes() {
	/usr/bin/python3 -I -c 'import pyflakes' 2>/dev/null
}

@test "editing context.py on the page: Ctrl+S and Save write the editor's text, the page shows it saved with the new checksum" {
	browser_saving || return 1
	if have_pyflakes; then
		browser edit demo pw-demo warnings
	else
		echo "# python3-pyflakes is not installed: no warning to mark" >&3
		browser edit demo pw-demo
	fi
}

@test "a save the check refuses (422) is marked at its line; the file is untouched and the text kept" {
	browser_saving || return 1
	if have_pyflakes; then
		browser edit-invalid demo pw-demo pyflakes
	else
		browser edit-invalid demo pw-demo
	fi
}

@test "a change on disk while editing is announced and the edit kept; saving then merges, and Keep editing, Overwrite and Reload work" {
	browser_saving || return 1
	browser edit-conflict demo pw-demo
}

@test "a save refused by a change on disk merges: far changes by themselves, marked for review; a conflict picked in place; Save merged writes exactly the merged text, or merges again, or is refused by the check like any save" {
	browser_saving || return 1
	browser edit-merge demo pw-demo
}

@test "a user who may read but not save gets a 403 in words and a read-only editor; 401 and 503 keep the text" {
	browser_saving || return 1
	browser edit-forbidden guest pw-guest
}

# The History panel (DESIGN.md section 9): as browser_saving, with two
# users who may save, alice and bob (password pw-NAME); context.py's
# versions are kept (history-allow's default).
browser_history() {
	browser_logins history "alice bob" "alice bob"
}

@test "the History panel lists two users' saves with who and when; a version's text and its differences are shown; Restore writes exactly that version and is listed as the newest" {
	browser_history || return 1
	browser history alice pw-alice bob pw-bob
}

# demo_login NAME: the password `make run` printed for NAME.
demo_login() {
	sed -n "s|.*log in as $1 / \([^ ]*\) .*|\1|p; s|.* or as $1 / \([^ ]*\) .*|\1|p" "$T/demo.out" | head -n 1
}

@test "make run's demo prints its login and serves the page behind it: demo may save context.py, guest may read it" {
	local port pid pw guest base crc servers s ours
	ours=$(crc32 "$REPO_ROOT/data/$DAMNIT_REL/context.py")
	mkdir "$T/demo-run" && cp -a "$REPO_ROOT/data" "$T/demo-data"
	port=$(free_port)
	base="http://127.0.0.1:$port"
	DEMO_RUN="$T/demo-run" DEMO_BUILD="$BUILD_PATH" DEMO_DATA="$T/demo-data" \
	    FILEHANDLER_PORT="$port" spawn "$REPO_ROOT/scripts/demo" </dev/null >"$T/demo.out" 2>&1
	pid=$SPAWNED
	wait_until 15000 grep -q 'Ctrl-C stops both' "$T/demo.out" ||
	    { show_tail "$T/demo.out"; fail "the demo did not start within 15 s"; }
	pw=$(demo_login demo) guest=$(demo_login guest)
	[ -n "$pw" ] && [ -n "$guest" ] ||
	    { show_tail "$T/demo.out"; fail "the demo does not print the logins"; }
	echo "# the demo says: $(grep -m1 'log in as' "$T/demo.out" | sed 's/^ *//')" >&3

	# The page asks for the login, and is there behind it.
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/")" = 401 ] ||
	    fail "the page is served without a login"
	curl -sf -u "demo:$pw" "$base/" >"$T/b" || fail "the page does not answer demo"
	grep -q '<title>DAMNIT files</title>' "$T/b" || fail "not the page: $(head -c 300 "$T/b")"
	curl -sf -u "demo:$pw" "$base/vendor/codemirror.js" -o /dev/null ||
	    fail "the editor's module is not served"

	# Both read; guest may not save, demo may.
	crc=$(curl -sf -u "guest:$guest" "$base/filehandler/file_content?proposal=1111&file_name=context.py" |
	    jq -r .checksum) || fail "guest cannot read context.py"
	[ "$crc" = "$(crc32 "$T/demo-data/$DAMNIT_REL/context.py")" ] || fail "guest reads $crc"
	printf 'SAVED_BY_DEMO = 1\n' >"$T/new.py"
	STATUS=$(curl -s -D "$T/h" -o "$T/b" -w '%{http_code}' -u "guest:$guest" -X PUT \
	    -H "If-Match: \"$crc\"" --data-binary @"$T/new.py" \
	    "$base/filehandler/file_content?proposal=1111&file_name=context.py")
	expect_error 403 'guest may not write'
	STATUS=$(curl -s -D "$T/h" -o "$T/b" -w '%{http_code}' -u "demo:$pw" -X PUT \
	    -H "If-Match: \"$crc\"" --data-binary @"$T/new.py" \
	    "$base/filehandler/file_content?proposal=1111&file_name=context.py")
	expect_status 200
	cmp "$T/new.py" "$T/demo-data/$DAMNIT_REL/context.py" || fail "demo's save is not on disk"
	[ "$(crc32 "$REPO_ROOT/data/$DAMNIT_REL/context.py")" = "$ours" ] ||
	    fail "the demo saved into the repository's data/, not DEMO_DATA"

	# Stopping the script stops both servers (a background job here
	# ignores SIGINT, so SIGTERM stands in for Ctrl-C).
	! grep -q 'a server exited' "$T/demo.out" ||
	    fail "a server ended by itself: $(tail -n 5 "$T/demo.out")"
	servers=$(pgrep -P "$pid")
	[ "$(echo "$servers" | wc -w)" = 2 ] || fail "the demo runs $servers, not watcherd and lighttpd"
	kill -TERM "$pid"
	wait_until 5000 pid_gone "$pid" || fail "the demo did not stop within 5 s of SIGTERM"
	for s in $servers; do
		pid_gone "$s" || fail "server $s outlived the demo"
	done
}
