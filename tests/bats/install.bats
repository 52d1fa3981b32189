#!/usr/bin/env bats
# Operating it: `make install` into a staging tree and the installed
# programs on the demo data, the shipped config file, the man pages, the
# systemd units, socket activation as systemd does it, the log lines, and
# the Debian package built, installed on this machine (then purged: the
# machine is left as it was), upgraded and run.

load web_helpers
load helpers

SOCKET_UNIT="$REPO_ROOT/tests/bats/socket_unit.py"
PKG=damnit-filehandler

# make_install LOG VAR=value...: make install of the build under test.
make_install() {
	local log=$1
	shift
	env -u MAKEFLAGS -u MAKELEVEL make -C "$REPO_ROOT" -s SANITIZE="$SANITIZED" \
	    BUILD="$BUILD_DIR" "$@" install >"$log" 2>&1 || fail "$(cat "$log")"
}

# One staging tree per file: make install PREFIX=/usr DESTDIR=$INST/root
# of the build under test.
setup_file() {
	export INST
	INST="$(mktemp -d "${TMPDIR:-/tmp}/install-bats.XXXXXX")"
	make_install "$INST/make.log" PREFIX=/usr DESTDIR="$INST/root"
}

teardown_file() {
	rm -rf "$INST"
}

setup() {
	common_setup
	PKG_INSTALLED_HERE=0
}

teardown() {
	local failed=0
	if [ "$PKG_INSTALLED_HERE" = 1 ]; then
		kill_spawned
		stop_test_watcherd || failed=1
		dpkg_retry --purge "$PKG" >/dev/null || failed=1
	fi
	common_teardown || failed=1
	return "$failed"
}

# config_keys: every key common/config.c knows, one a line.
config_keys() {
	sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", KEY_.*/\1/p' "$REPO_ROOT/common/config.c"
}

# man_warnings PAGE: what man --warnings says about PAGE (nothing: clean).
man_warnings() {
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l \
	    -Tutf8 -Z "$1" 2>&1 >/dev/null
}

# log_lines: the number of lines in $LOG.
log_lines() {
	wc -l <"$LOG"
}

# serves_demo CTL HANDLER: watcherctl CTL and the handler HANDLER (as CGI)
# answer for the demo's context.py on $SOCK with its real checksum.
serves_demo() {
	local sum
	sum=$(crc32 "$DAMNIT/context.py")
	run "$1" --socket "$SOCK" checksum 1111 context.py
	[ "$status" = 0 ] || fail "watcherctl checksum: $output" || return 1
	[[ "$output" == *"$sum"* ]] || fail "watcherctl checksum: $output" || return 1
	HANDLER=$2 cgi GET "/filehandler/file_content?proposal=1111&file_name=context.py" ||
	    return 1
	[ "$STATUS" = 200 ] || fail "file_content: $STATUS $(cat "$T/b")" || return 1
	[ "$(jq -r .checksum "$T/b")" = "$sum" ] || fail "$(cat "$T/b")"
}

@test "make install puts every file where an administrator looks for it" {
	local r=$INST/root f
	for f in usr/sbin/watcherd usr/bin/watcherctl usr/lib/cgi-bin/filehandler.fcgi \
	    usr/lib/damnit-filehandler/validate-context; do
		[ -x "$r/$f" ] && [ "$(stat -c %a "$r/$f")" = 755 ] || fail "$f: not 0755"
	done
	for f in etc/watcherd.conf usr/lib/systemd/system/watcherd.service \
	    usr/lib/systemd/system/watcherd.socket usr/share/man/man8/watcherd.8 \
	    usr/share/man/man1/watcherctl.1 usr/share/man/man8/filehandler.fcgi.8 \
	    usr/share/damnit-filehandler/www/index.html \
	    usr/share/damnit-filehandler/www/vendor/prism.js \
	    usr/share/doc/damnit-filehandler/lighttpd.conf.sample; do
		[ -f "$r/$f" ] && [ "$(stat -c %a "$r/$f")" = 644 ] || fail "$f: not 0644"
	done
	# As shipped, with the validator where it was installed.
	cmp "$r/etc/watcherd.conf" <(sed 's|@LIBEXECDIR@|/usr/lib/damnit-filehandler|' \
	    "$REPO_ROOT/dist/watcherd.conf")
	grep -qx 'validate = context.py /usr/lib/damnit-filehandler/validate-context' \
	    "$r/etc/watcherd.conf"
	grep -qx 'ExecStart=/usr/sbin/watcherd --foreground --config /etc/watcherd.conf' \
	    "$r/usr/lib/systemd/system/watcherd.service" ||
	    fail "$(grep ExecStart "$r/usr/lib/systemd/system/watcherd.service")"
	# PREFIX=/usr/local keeps the config below the prefix.
	make_install "$T/make.log" DESTDIR="$T/local"
	[ -f "$T/local/usr/local/etc/watcherd.conf" ]
	[ -x "$T/local/usr/local/lib/cgi-bin/filehandler.fcgi" ]
	grep -qx 'validate = context.py /usr/local/lib/damnit-filehandler/validate-context' \
	    "$T/local/usr/local/etc/watcherd.conf"
	grep -qx 'ExecStart=/usr/local/sbin/watcherd --foreground --config /usr/local/etc/watcherd.conf' \
	    "$T/local/usr/local/lib/systemd/system/watcherd.service"
	# An administrator's config survives a second install.
	echo "idle-timeout = 99" >>"$T/local/usr/local/etc/watcherd.conf"
	make_install "$T/make.log" DESTDIR="$T/local"
	[ "$(tail -n 1 "$T/local/usr/local/etc/watcherd.conf")" = "idle-timeout = 99" ]
	echo "# $(find "$r" -type f | wc -l) files installed below DESTDIR" >&3
}

@test "the installed programs serve the demo data with the installed config" {
	WATCHERD=$INST/root/usr/sbin/watcherd
	start_test_watcherd --config "$INST/root/etc/watcherd.conf"
	serves_demo "$INST/root/usr/bin/watcherctl" "$INST/root/usr/lib/cgi-bin/filehandler.fcgi"
	run "$INST/root/usr/sbin/watcherd" --version
	[ "$status" = 0 ] && [[ "$output" == "watcherd 1.0 (protocol 1)" ]] || fail "$output"
}

@test "watcherd.conf lists every key with its default, and watcherd takes it uncommented" {
	local conf=$REPO_ROOT/dist/watcherd.conf key n=0 plain with
	while read -r key; do
		# access is set as it defaults, for the administrator to see.
		grep -q "^#\?$key = " "$conf" || fail "watcherd.conf lacks '#$key = ...'"
		grep -q -- "\\\\-\\\\-${key//-/\\\\-}" "$REPO_ROOT/man/watcherd.8" ||
		    fail "watcherd(8) lacks --$key"
		n=$((n + 1))
	done < <(config_keys)
	[ "$n" -ge 18 ] || fail "only $n keys found in common/config.c"
	# Its keys are config.c's, none more.
	diff <(sed -n 's/^#\?\([a-z-]*\) = .*/\1/p' "$conf" | sort -u) <(config_keys | sort)
	# As shipped (everything commented) and with every line uncommented,
	# watcherd starts with the same settings as with no file at all.
	sed 's/^#\([a-z]\)/\1/' "$conf" >"$T/uncommented.conf"
	for c in "" "$conf" "$T/uncommented.conf"; do
		: >"$LOG"
		start_test_watcherd ${c:+--config "$c"}
		send '{"cmd":"status"}' | jq -c '{max_watches, max_clients, cache_limit, watch_mode}' \
		    >"$T/settings"
		sed -n 's/.*event=started \(.*\) pid=.*/\1/p' "$LOG" >>"$T/settings"
		stop_test_watcherd
		if [ -z "$c" ]; then
			plain=$(cat "$T/settings")
		else
			with=$(cat "$T/settings")
			[ "$with" = "$plain" ] || fail "with $c: $with; without: $plain"
		fi
	done
	[[ "$plain" == *'"max_watches":100000,"max_clients":4096,"cache_limit":67108864,"watch_mode":"auto"'* ]] ||
	    fail "$plain"
	[[ "$plain" == *"idle_timeout=30 poll_interval=1000 settle_time=20"* ]] || fail "$plain"
	echo "# $(config_keys | wc -l) keys; uncommented: $(grep -c '^[a-z]' "$T/uncommented.conf") lines, same settings" >&3
}

@test "man --warnings has nothing to say about the man pages" {
	local page out
	for page in watcherd.8 watcherctl.1 filehandler.fcgi.8; do
		out=$(man_warnings "$INST/root/usr/share/man/man${page##*.}/$page")
		[ -z "$out" ] || fail "$page: $out"
		MANWIDTH=80 man -l "$REPO_ROOT/man/$page" 2>/dev/null >"$T/page"
		grep -q "^NAME" "$T/page" && grep -q "^SEE ALSO" "$T/page" ||
		    fail "$page renders without NAME or SEE ALSO"
	done
	grep -q "GET /metrics" <(MANWIDTH=80 man -l "$REPO_ROOT/man/filehandler.fcgi.8" 2>/dev/null)
	# The check itself catches a broken page.
	printf '.TH X 1\n.SH NAME\nx \\- y\n.XX\n' >"$T/bad.1"
	[[ "$(man_warnings "$T/bad.1")" == *"warning"* ]] || fail "man --warnings saw nothing wrong"
}

@test "the systemd units pass systemd-analyze verify and its security check" {
	local dir=$T/prefix/lib/systemd/system score
	# Installed under a real prefix, so that ExecStart= and the man pages
	# the units name exist.
	make_install "$T/make.log" PREFIX="$T/prefix"
	run env MANPATH="$T/prefix/share/man" systemd-analyze verify \
	    "$dir/watcherd.socket" "$dir/watcherd.service"
	[ "$status" = 0 ] && [ -z "$output" ] || fail "verify: $output"
	# The check notices a bad unit.
	sed 's/^User=/Userr=/' "$dir/watcherd.service" >"$T/watcherd.service"
	run env MANPATH="$T/prefix/share/man" systemd-analyze verify "$T/watcherd.service"
	[[ "$output" == *"Unknown key"* ]] || fail "verify saw nothing wrong: $output"
	run systemd-analyze security --offline=true "$dir/watcherd.service"
	score=$(sed -n 's/.*Overall exposure level for watcherd.service: \([0-9.]*\).*/\1/p' <<<"$output")
	[ -n "$score" ] || fail "$output"
	awk -v s="$score" 'BEGIN { exit !(s <= 1.0) }' || fail "exposure $score: $output"
	# The socket unit's path is the default one of the config and the
	# programs.
	grep -qx 'ListenStream=/run/watcherd/watcherd.sock' "$dir/watcherd.socket"
	grep -qx '#socket = /run/watcherd/watcherd.sock' "$T/prefix/etc/watcherd.conf"
	echo "# systemd-analyze security: exposure $score" >&3
}

# socket_unit_watcherd SOCKET_FLAG: watcherd (with --socket SOCKET_FLAG)
# behind socket_unit.py on $SOCK, started by the first connection, which
# waits until it answers.
socket_unit_watcherd() {
	spawn python3 "$SOCKET_UNIT" "$SOCK" "$T/unit.pid" env \
	    ASAN_OPTIONS="$ASAN_EXIT_OPTIONS" UBSAN_OPTIONS="$UBSAN_HALT_OPTIONS" \
	    "$WATCHERD" --foreground --socket "$1" --data-root "$T/data" \
	    --access open </dev/null >/dev/null 2>>"$LOG"
	wait_until 5000 test -S "$SOCK" || fail "the socket unit made no socket" || return 1
	wait_until 10000 watcherd_answers || { show_log; fail "no answer"; }
}

@test "a socket passed as systemd does is used, kept on SIGTERM, and queues connections until the next start" {
	local first second
	# The first connection starts watcherd.
	socket_unit_watcherd "$SOCK"
	first=$(cat "$T/unit.pid")
	[ "$(json_get "$(send "$(req checksum 1111 context.py)")" .checksum)" = \
	    "$(crc32 "$DAMNIT/context.py")" ]
	grep -q "level=info event=socket_activated path=\"$SOCK\" fd=3" "$LOG" || fail "$(cat "$LOG")"
	! grep -q "event=socket_created" "$LOG" || fail "$(cat "$LOG")"
	kill -TERM "$first"
	wait_until "$WATCHERD_STOP_MS" test -e "$T/unit.pid.exits" || fail "watcherd did not exit"
	[ "$(cat "$T/unit.pid.exits")" = "$first 0" ] || fail "exit: $(cat "$T/unit.pid.exits")"
	[ -S "$SOCK" ] || fail "watcherd removed the socket unit's socket"
	[ "$(stat -c %a "$SOCK")" = 660 ]
	# A client that connects now waits in the queue; its request starts
	# the second watcherd and is answered.
	[ "$(json_get "$(send '{"cmd":"ping"}')" .ok)" = true ] || { show_log; fail "no answer"; }
	second=$(cat "$T/unit.pid")
	[ "$second" != "$first" ]
	[ "$(grep -c 'event=socket_activated' "$LOG")" = 2 ]
	log_is_clean || { show_log; false; }
	echo "# watcherd $first stopped (status 0), socket kept; watcherd $second started by the next connection" >&3
}

@test "a passed socket elsewhere than the configured one is used and warned about" {
	socket_unit_watcherd "$T/other.sock"
	grep -q "level=warn event=socket_mismatch path=\"$SOCK\" socket=\"$T/other.sock\"" "$LOG" ||
	    fail "$(cat "$LOG")"
	[ ! -e "$T/other.sock" ]
}

# pass_fd KIND COMMAND...: COMMAND with LISTEN_PID its pid, LISTEN_FDS=1
# and as descriptor 3: a regular file, two of them (LISTEN_FDS=2), a UNIX
# stream socket that does not listen, or a listening TCP socket.
pass_fd() {
	python3 - "$@" <<'EOF'
import os, socket, sys
kind, cmd = sys.argv[1], sys.argv[2:]
if kind in ("file", "two-files"):
    fds = [os.open(cmd[0], os.O_RDONLY) for _ in range(2 if kind == "two-files" else 1)]
else:
    s = socket.socket(socket.AF_UNIX if kind == "unix-unbound" else socket.AF_INET)
    if kind == "tcp":
        s.bind(("127.0.0.1", 0))
        s.listen(1)
    fds = [s.fileno()]
for i, fd in enumerate(fds):
    os.dup2(fd, 3 + i)
    os.set_inheritable(3 + i, True)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(fds)))
os.execv(cmd[0], cmd)
EOF
}

@test "a passed descriptor that is not a listening UNIX socket stops watcherd, creating nothing" {
	local kind
	for kind in file two-files unix-unbound tcp; do
		run pass_fd "$kind" "$WATCHERD" --foreground --socket "$SOCK" --data-root "$T/data"
		[ "$status" = 1 ] || fail "$kind: status $status: $output"
		[ ! -e "$SOCK" ] || fail "$kind: a socket was created"
		[[ "$output" == *"level=error event=fatal reason="* ]] || fail "$kind: $output"
		case $kind in
		two-files) [[ "$output" == *"exactly one listening socket"* ]] ;;
		*) [[ "$output" == *"not a listening UNIX stream socket"* ]] ;;
		esac || fail "$kind: $output"
		[[ "$output" != *Sanitizer* ]] || fail "$output"
	done
}

@test "socket variables meant for another process are ignored: watcherd makes its own socket" {
	LISTEN_PID=1 LISTEN_FDS=1 start_test_watcherd
	grep -q "event=socket_created path=\"$SOCK\"" "$LOG" || fail "$(cat "$LOG")"
	! grep -q "event=socket_activated" "$LOG"
}

@test "at the default level requests add no log line; with --verbose each adds one" {
	local i before after verbose_added
	for mode in default verbose; do
		: >"$LOG"
		if [ "$mode" = verbose ]; then start_test_watcherd --verbose; else start_test_watcherd; fi
		# The first look at the proposal is an event (folder_found).
		send "$(req checksum 1111 context.py)" >/dev/null
		before=$(log_lines)
		for i in $(seq 1 10); do
			printf '%s\n' '{"cmd":"ping"}' "$(req checksum 1111 context.py)" \
			    "$(req content 1111 damnit.log raw)" '{"cmd":"status"}' \
			    '{"cmd":"list"}'
		done | socat -t 2 - "UNIX-CONNECT:$SOCK" >/dev/null
		cgi GET "/filehandler/has_new_checksum?proposal=1111&file_name=context.py&checksum=00000000"
		[ "$STATUS" = 200 ]
		after=$(log_lines)
		stop_test_watcherd
		if [ "$mode" = default ]; then
			[ "$after" = "$before" ] || fail "51 requests added $((after - before)) lines: $(tail -n +"$before" "$LOG")"
		else
			verbose_added=$((after - before))
			[ "$(grep -c 'level=debug event=request cmd=' "$LOG")" -ge 51 ] ||
			    fail "$(cat "$LOG")"
		fi
	done
	echo "# 51 requests: 0 log lines at the default level, $verbose_added with --verbose" >&3
}

@test "every log line is level=L event=E key=value, with syslog priorities for the journal" {
	local stream
	start_test_watcherd --verbose
	send "$(req checksum 1111 context.py)" >/dev/null
	send '{"cmd":"nope"}' >/dev/null
	stop_test_watcherd
	run "$WATCHERD" --foreground --socket "$T/nodir/x/w.sock" --data-root "$T/data"
	[ "$status" = 1 ]
	printf '%s\n' "$output" >>"$LOG"
	grep -q 'level=error event=fatal reason="cannot create the directory of' "$LOG"
	# watcherd: level=L event=E, then key=value pairs, values bare or quoted.
	if grep -Ev '^watcherd: level=(error|warn|info|debug) event=[a-z_]+( [a-z_]+=("([^"\\]|\\.)*"|[^" ]*))*$' "$LOG"; then
		fail "lines above are not level=L event=E key=value"
	fi
	# stderr is the journal when JOURNAL_STREAM names it.
	: >"$LOG"
	stream=$(stat -c '%d:%i' "$LOG")
	JOURNAL_STREAM=$stream start_test_watcherd
	send "$(req checksum 1111 context.py)" >/dev/null
	stop_test_watcherd
	grep -q '^<6>watcherd: level=info event=started ' "$LOG" || fail "$(cat "$LOG")"
	! grep -v '^<[3467]>watcherd: level=' "$LOG" || fail "lines without a priority"
	# Not when stderr went elsewhere since.
	: >"$LOG"
	JOURNAL_STREAM=1:1 start_test_watcherd
	stop_test_watcherd
	grep -q '^watcherd: level=info event=started ' "$LOG" || fail "$(cat "$LOG")"
}

# The Debian package.

# dpkg_retry ARGS...: dpkg ARGS, retried while another dpkg holds its lock
# (at most 60 s).
dpkg_retry() {
	local deadline=$(($(now_ms) + 60000)) out
	while :; do
		out=$(dpkg "$@" 2>&1) && { printf '%s\n' "$out"; return 0; }
		if [[ "$out" != *"lock"* ]] || [ "$(now_ms)" -ge "$deadline" ]; then
			printf '%s\n' "$out" >&2
			return 1
		fi
		sleep 1
	done
}

# make_deb [VAR=value...]: make deb (from the plain build, rebuilt only when
# something changed); sets DEB to the package's path.
make_deb() {
	local version
	version=$(sed -n 's/^#define WATCHERD_VERSION "\(.*\)"/\1/p' "$REPO_ROOT/watcherd/daemon.h")
	DEB=$REPO_ROOT/build/${PKG}_${version}_$(dpkg --print-architecture).deb
	for a in "$@"; do
		case $a in DEB=*) DEB=${a#DEB=} ;; esac
	done
	env -u MAKEFLAGS -u MAKELEVEL make -C "$REPO_ROOT" -s deb "$@" >"$T/deb.log" 2>&1 ||
	    fail "make deb: $(cat "$T/deb.log")" || return 1
	[ -f "$DEB" ] || fail "no $DEB: $(cat "$T/deb.log")"
}

# machine_state: what installing the package touches, for a before/after
# comparison: the package, the user and group, unit links and state.
machine_state() {
	dpkg-query -W -f '${Status}\n' "$PKG" 2>/dev/null || echo "not installed"
	getent passwd watcherd || true
	getent group watcherd || true
	find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled \
	    /var/lib/systemd/deb-systemd-helper-masked /etc/watcherd.conf \
	    -name '*watcherd*' 2>/dev/null | sort
}

# install_deb DEB: dpkg -i on this machine, which must not have the
# package or a watcherd user yet; teardown purges it.
install_deb() {
	if [ "$PKG_INSTALLED_HERE" = 0 ]; then
		machine_state >"$T/state.before"
		grep -qx "not installed" "$T/state.before" && ! getent passwd watcherd >/dev/null ||
		    fail "$PKG or a watcherd user is already on this machine: not touching it" ||
		    return 1
	fi
	PKG_INSTALLED_HERE=1
	dpkg_retry -i "$1" >"$T/dpkg.log" 2>&1 || fail "dpkg -i: $(cat "$T/dpkg.log")"
}

@test "make deb builds a package with its dependencies, conffile, units and scripts" {
	make_deb
	run dpkg-deb --field "$DEB" Package Depends Suggests
	[ "$status" = 0 ] || fail "$output"
	[[ "$output" == *"Package: $PKG"* ]]
	local dep
	for dep in libc6 libjson-c5 zlib1g libfcgi0ldbl adduser; do
		[[ "$output" == *"Depends:"*"$dep"* ]] || fail "no $dep in: $output"
	done
	[[ "$output" == *"Suggests: lighttpd | apache2"* ]] || fail "$output"
	[ "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)" = /etc/watcherd.conf ]
	dpkg-deb --contents "$DEB" | awk '{print $1, $2, $6}' >"$T/contents"
	for f in ./usr/sbin/watcherd ./usr/bin/watcherctl ./usr/lib/cgi-bin/filehandler.fcgi; do
		grep -qx -- "-rwxr-xr-x root/root $f" "$T/contents" || fail "$f: $(grep -F "$f" "$T/contents")"
	done
	for f in ./etc/watcherd.conf ./lib/systemd/system/watcherd.service \
	    ./lib/systemd/system/watcherd.socket ./usr/share/man/man8/watcherd.8.gz \
	    ./usr/share/man/man1/watcherctl.1.gz ./usr/share/man/man8/filehandler.fcgi.8.gz; do
		grep -qx -- "-rw-r--r-- root/root $f" "$T/contents" || fail "$f: $(grep -F "$f" "$T/contents")"
	done
	for f in postinst prerm postrm; do
		dpkg-deb --ctrl-tarfile "$DEB" | tar -t | grep -qx "./$f" || fail "no $f"
	done
	echo "# $(basename "$DEB"): $(stat -c %s "$DEB") bytes; $(dpkg-deb --field "$DEB" Depends)" >&3
}

@test "the package installs with its system user, serves the demo data as that user, and purges clean" {
	local uid
	make_deb
	install_deb "$DEB"
	# The system user, with its own group and no login.
	IFS=: read -r _ _ uid _ _ home shell <<<"$(getent passwd watcherd)"
	[ "$uid" -lt 1000 ] && [ "$home" = /nonexistent ] && [ "$shell" = /usr/sbin/nologin ] ||
	    fail "$(getent passwd watcherd)"
	getent group watcherd >/dev/null
	[ "$(dpkg-query -W -f '${Conffiles}' "$PKG" | awk '{print $1}')" = /etc/watcherd.conf ]
	[ -L /etc/systemd/system/sockets.target.wants/watcherd.socket ] ||
	    fail "watcherd.socket is not enabled"
	[ "$(man -w watcherd)" = /usr/share/man/man8/watcherd.8.gz ]
	[ -z "$(man_warnings /usr/share/man/man8/watcherd.8.gz)" ]
	# As the service runs it: user watcherd, the web server's group, the
	# shipped config; the handler as the web server's user.
	mkdir "$T/sock" && chown watcherd:www-data "$T/sock"
	chmod 0755 "$T" && chmod -R a+rX "$T/data"
	SOCK=$T/sock/watcherd.sock
	WATCHERD=/usr/sbin/watcherd
	WATCHERD_WRAP=(setpriv --reuid=watcherd --regid=www-data --clear-groups --)
	start_test_watcherd --config /etc/watcherd.conf
	[ "$(stat -c '%a %U:%G' "$SOCK")" = "660 watcherd:www-data" ] || fail "$(stat -c '%a %U:%G' "$SOCK")"
	CGI_WRAP=(setpriv --reuid=www-data --regid=www-data --clear-groups --)
	serves_demo /usr/bin/watcherctl /usr/lib/cgi-bin/filehandler.fcgi
	stop_test_watcherd
	dpkg_retry --purge "$PKG" >"$T/dpkg.log" 2>&1 || fail "purge: $(cat "$T/dpkg.log")"
	PKG_INSTALLED_HERE=0
	machine_state >"$T/state.after"
	diff "$T/state.before" "$T/state.after" || fail "the purge left the machine changed"
	[ ! -e /usr/sbin/watcherd ] && [ ! -e /etc/watcherd.conf ]
	echo "# installed, watcherd uid $uid served as the web server's user, purged: no trace" >&3
}

@test "every system call watcherd makes is allowed by the service's SystemCallFilter" {
	make_deb
	install_deb "$DEB"
	# A session touching every part: commands, a subscription, a change
	# seen, a hook run, SIGHUP, SIGTERM; the hook's calls count too.
	WATCHERD=/usr/sbin/watcherd
	WATCHERD_WRAP=(strace -f -qq -c -U name -o "$T/syscalls")
	start_test_watcherd --hook "context.py /bin/true" --cache-size 1M
	subscribe context.py
	for c in '{"cmd":"ping"}' "$(req checksum 1111 context.py)" \
	    "$(req content 1111 context.py json)" '{"cmd":"status"}' '{"cmd":"list"}' \
	    "$(jq -cn '{cmd:"tail",proposal:1111,file_name:"damnit.log",offset:0}')"; do
		[ "$(json_get "$(send "$c")" .ok)" = true ] || fail "$c"
	done
	echo "# saved" >>"$DAMNIT/context.py"
	wait_until 5000 grep -q hook_exit "$LOG" || fail "no hook ran: $(cat "$LOG")"
	# strace's child is watcherd: signal it, and strace ends with it.
	strace_pid=$WATCHERD_PID
	WATCHERD_PID=
	watcherd_pid=$(cat "/proc/$strace_pid/task/$strace_pid/children")
	[ -n "$watcherd_pid" ] || fail "no watcherd below strace"
	kill -HUP "$watcherd_pid"
	wait_until 5000 grep -q event=reloaded "$LOG"
	kill -TERM "$watcherd_pid"
	wait_until "$WATCHERD_STOP_MS" pid_gone "$strace_pid" || fail "watcherd did not stop"
	wait "$strace_pid" || fail "watcherd exited with status $?"
	python3 - "$T/syscalls" >&3 <<'EOF'
import subprocess, sys
out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                     text=True, check=True).stdout
groups, cur = {}, None
for line in out.splitlines():
    if line.startswith("@"):
        cur = groups.setdefault(line.split()[0], set())
    elif line.strip() and not line.strip().startswith("#") and cur is not None:
        cur.add(line.strip())
def expand(name, seen=()):
    if not name.startswith("@"):
        return {name}
    return set().union(*[expand(x, seen + (name,)) for x in groups[name] if x not in seen])
# As watcherd.service has it: @system-service, then ~@privileged @resources.
allowed = expand("@system-service") - expand("@privileged") - expand("@resources")
# strace -c -U name: a header, a rule, a name a line, a rule, the total.
lines = [l.strip() for l in open(sys.argv[1])]
rules = [i for i, l in enumerate(lines) if l and set(l) == {"-"}]
used = lines[rules[0] + 1:rules[1]] if len(rules) >= 2 else []
bad = [u for u in used if u not in allowed]
if len(used) < 20 or bad:
    sys.exit("used %d, not allowed: %s" % (len(used), bad))
print("# %d distinct system calls, all allowed" % len(used))
EOF
}

@test "an upgrade keeps the administrator's watcherd.conf, the user and the enabled units" {
	local old new uid
	make_deb
	old=$DEB
	make_deb DEB_VERSION=1.0.0+upgrade DEB="$T/upgrade.deb" DEB_ROOT="$T/stage"
	new=$DEB
	[ "$(dpkg-deb --field "$new" Version)" = 1.0.0+upgrade ]
	install_deb "$old"
	uid=$(id -u watcherd)
	echo "idle-timeout = 120" >>/etc/watcherd.conf
	install_deb "$new"
	[ "$(dpkg-query -W -f '${Version}' "$PKG")" = 1.0.0+upgrade ]
	[ "$(tail -n 1 /etc/watcherd.conf)" = "idle-timeout = 120" ] || fail "the edit was lost"
	[ "$(id -u watcherd)" = "$uid" ]
	[ -L /etc/systemd/system/sockets.target.wants/watcherd.socket ]
	# Removed but not purged, the config stays; purged, it goes.
	dpkg_retry --remove "$PKG" >/dev/null
	[ -f /etc/watcherd.conf ] && [ ! -e /usr/sbin/watcherd ]
	dpkg_retry --purge "$PKG" >/dev/null
	PKG_INSTALLED_HERE=0
	[ ! -e /etc/watcherd.conf ]
	machine_state >"$T/state.after"
	diff "$T/state.before" "$T/state.after"
}
