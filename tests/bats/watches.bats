#!/usr/bin/env bats
# Watches: one per file whatever its names, their expiry, their limits, and
# what happens when inotify cannot keep up or cannot be had.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

list_length() {
	json_get "$(send '{"cmd":"list"}')" '.watches | length'
}

list_is_empty() {
	[ "$(list_length)" = 0 ]
}

@test "a hard link and a symlink share the file's one watch" {
	ln "$DAMNIT/damnit.log" "$DAMNIT/link.log"
	ln -s damnit.log "$DAMNIT/sym.log"
	start_test_watcherd --watch-mode inotify
	want=$(crc32 "$DAMNIT/damnit.log")
	for name in damnit.log link.log sym.log; do
		[ "$(daemon_checksum "$name")" = "$want" ] || fail "$name"
	done
	[ "$(json_get "$(send '{"cmd":"status"}')" .watches)" = 1 ]
	reply=$(send '{"cmd":"list"}')
	[ "$(json_get "$reply" '.watches | length')" = 1 ]
	[ "$(json_get "$reply" '.watches[0].checksum')" = "$want" ]
}

@test "a change through one name is pushed to subscribers of the other names" {
	ln "$DAMNIT/damnit.log" "$DAMNIT/link.log"
	ln -s damnit.log "$DAMNIT/sym.log"
	start_test_watcherd --watch-mode inotify
	subscribe sym.log
	sym_out=$SUB_OUT
	subscribe damnit.log
	plain_out=$SUB_OUT
	printf 'one more line\n' >>"$DAMNIT/link.log"
	want=$(crc32 "$DAMNIT/damnit.log")
	wait_event "$sym_out" changed "$want" 1000
	wait_event "$plain_out" changed "$want" 1000
	[ "$(json_get "$(send '{"cmd":"status"}')" .watches)" = 1 ]
}

@test "after a rename-over a hard link keeps the old file and a symlink follows the new one" {
	ln "$DAMNIT/damnit.log" "$DAMNIT/link.log"
	ln -s damnit.log "$DAMNIT/sym.log"
	start_test_watcherd --watch-mode inotify
	old=$(crc32 "$DAMNIT/damnit.log")
	subscribe sym.log
	sym_out=$SUB_OUT
	[ "$(daemon_checksum link.log)" = "$old" ]
	{ cat "$DAMNIT/damnit.log"; echo replaced; } >"$DAMNIT/.new"
	mv "$DAMNIT/.new" "$DAMNIT/damnit.log"
	new=$(crc32 "$DAMNIT/damnit.log")
	wait_event "$sym_out" changed "$new" 1000
	[ "$(daemon_checksum sym.log)" = "$new" ]
	[ "$(daemon_checksum damnit.log)" = "$new" ]
	[ "$(daemon_checksum link.log)" = "$old" ]
	[ "$(json_get "$(send '{"cmd":"status"}')" .watches)" = 2 ]
}

@test "an idle watch expires after --idle-timeout" {
	start_test_watcherd --idle-timeout 1
	daemon_checksum context.py >/dev/null
	[ "$(list_length)" = 1 ]
	wait_until 3000 list_is_empty
	[ "$(json_get "$(send '{"cmd":"status"}')" .watches)" = 0 ]
}

@test "a subscribed watch outlives the idle timeout and expires once the subscriber leaves" {
	start_test_watcherd --idle-timeout 1
	subscribe context.py
	sleep 2.5
	reply=$(send '{"cmd":"list"}')
	[ "$(json_get "$reply" '.watches | length')" = 1 ]
	[ "$(json_get "$reply" '.watches[0].subscribers')" = 1 ]
	kill_group "$SUB_PID"
	wait_until 3000 list_is_empty
}

@test "--max-watches refuses a further file as unavailable and keeps the others" {
	ln "$DAMNIT/damnit.log" "$DAMNIT/link.log"
	start_test_watcherd --max-watches 2
	[ "$(daemon_checksum context.py)" = "$(crc32 "$DAMNIT/context.py")" ]
	[ "$(daemon_checksum damnit.log)" = "$(crc32 "$DAMNIT/damnit.log")" ]
	reply=$(send "$(req checksum 1111 process_logs/r0012-p1111.out)")
	[ "$(json_get "$reply" .ok)" = false ]
	[ "$(json_get "$reply" .error)" = unavailable ]
	[[ "$(json_get "$reply" .detail)" == *max-watches* ]]
	# Another name of a watched file needs no new watch.
	[ "$(daemon_checksum link.log)" = "$(crc32 "$DAMNIT/damnit.log")" ]
	[ "$(daemon_checksum context.py)" = "$(crc32 "$DAMNIT/context.py")" ]
	[ "$(daemon_checksum damnit.log)" = "$(crc32 "$DAMNIT/damnit.log")" ]
	[ "$(json_get "$(send '{"cmd":"status"}')" .watches)" = 2 ]
}

@test "unwatch ends the watch" {
	start_test_watcherd
	daemon_checksum context.py >/dev/null
	[ "$(list_length)" = 1 ]
	reply=$(send "$(req unwatch 1111 context.py)")
	[ "$(json_get "$reply" .ok)" = true ]
	[ "$(list_length)" = 0 ]
	[ "$(json_get "$(send '{"cmd":"status"}')" .watches)" = 0 ]
	# The file is still served; asking starts a new watch.
	[ "$(daemon_checksum context.py)" = "$(crc32 "$DAMNIT/context.py")" ]
}

@test "a removed DAMNIT folder is not_found, and served again once it is back" {
	start_test_watcherd --watch-mode inotify --poll-interval 100
	subscribe context.py
	want=$(crc32 "$DAMNIT/context.py")
	cp -a "$DAMNIT" "$T/saved"
	rm -rf "$DAMNIT"
	T0_MS=$(now_ms)
	wait_event "$SUB_OUT" deleted null 1000
	reply=$(send "$(req checksum 1111 context.py)")
	[ "$(json_get "$reply" .error)" = not_found ] || fail "$reply"
	reply=$(send "$(req checksum 1111 damnit.log)")
	[ "$(json_get "$reply" .error)" = not_found ] || fail "$reply"
	mv "$T/saved" "$DAMNIT"
	wait_until 4000 checksum_is 1111 context.py "$want"
	wait_event "$SUB_OUT" created "$want" 2000
}

@test "an inotify queue overflow is counted, and every watch is checked again" {
	knob=/proc/sys/fs/inotify/max_queued_events
	[ "$(id -u)" = 0 ] || skip "needs root to lower $knob"
	[ -w "$knob" ] || skip "$knob is not writable here"
	cat "$knob" >"$T/max_queued_events.orig"
	# The teardown puts the value back if anything below fails.
	echo 16 >"$knob" || skip "cannot write $knob"
	start_test_watcherd --watch-mode inotify
	restore_max_queued_events
	subscribe context.py
	kill -STOP "$WATCHERD_PID"
	for i in $(seq 100); do
		touch "$DAMNIT/context.py" "$DAMNIT/junk$i.tmp"
	done
	printf '# changed while the queue overflowed\n' >>"$DAMNIT/context.py"
	want=$(crc32 "$DAMNIT/context.py")
	kill -CONT "$WATCHERD_PID"
	wait_until 2000 bash -c '[ "$(printf "{\"cmd\":\"status\"}\n" |
	    socat -t 2 - "UNIX-CONNECT:$1" | jq .inotify_overflows)" -ge 1 ]' _ "$SOCK"
	T0_MS=$(now_ms)
	wait_event "$SUB_OUT" changed "$want" 2000
	[ "$(daemon_checksum context.py)" = "$want" ]
}

@test "when inotify has no watches left the file is polled instead" {
	WATCHERD_FAULT_INOTIFY_ENOSPC=1 start_test_watcherd --watch-mode inotify \
	    --poll-interval 100
	reply=$(send "$(req checksum 1111 context.py)")
	[ "$(json_get "$reply" .checksum)" = "$(crc32 "$DAMNIT/context.py")" ]
	[ "$(json_get "$reply" .mode)" = poll ]
	[ "$(json_get "$(send '{"cmd":"status"}')" .inotify_fallbacks)" -ge 1 ]
	subscribe context.py
	T0_MS=$(now_ms)
	printf '# appended\n' >>"$DAMNIT/context.py"
	wait_event "$SUB_OUT" changed "$(crc32 "$DAMNIT/context.py")" 1000
	report_latency "enospc-fallback append: $LATENCY_MS ms"
}
