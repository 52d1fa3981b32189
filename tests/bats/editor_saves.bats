#!/usr/bin/env bats
# Every way an editor saves is seen, pushed to subscribers within a second
# and answered by the next checksum, with inotify and with polling.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

# save STYLE FILE: changes FILE the way STYLE saves; the new content is new.
save() {
	local f=$2 stamp
	stamp="# saved $(date +%s%N) $RANDOM"
	case $1 in
	append)
		printf '%s\n' "$stamp" >>"$f" ;;
	truncate)
		printf 'x = 1\n%s\n' "$stamp" >"$f" ;;
	rename-over)
		{ cat "$f"; printf '%s\n' "$stamp"; } >"${f%/*}/.${f##*/}.swp"
		mv "${f%/*}/.${f##*/}.swp" "$f" ;;
	sed-i)
		sed -i "1i $stamp" "$f" ;;
	copy-over)
		{ printf '%s\n' "$stamp"; cat "$f"; } >"$T/other"
		cp "$T/other" "$f" ;;
	delete-recreate)
		rm "$f"
		printf 'y = 2\n%s\n' "$stamp" >"$f" ;;
	*)
		fail "unknown save style $1" ;;
	esac
}

# save_is_seen MODE STYLE
save_is_seen() {
	local mode=$1 style=$2 f="$DAMNIT/context.py" old want event deleted_ms
	if [ "$mode" = poll ]; then
		start_test_watcherd --watch-mode poll --poll-interval 100
	else
		start_test_watcherd --watch-mode inotify
	fi
	old=$(crc32 "$f")
	subscribe context.py
	[ "$(json_get "$(sub_reply "$SUB_OUT")" .mode)" = "$mode" ]
	[ "$(json_get "$(sub_reply "$SUB_OUT")" .checksum)" = "$old" ]
	if [ "$style" = rename-away ]; then
		T0_MS=$(now_ms)
		mv "$f" "$T/away"
		wait_event "$SUB_OUT" deleted null 1000
		deleted_ms=$LATENCY_MS
		[ "$(json_get "$(send "$(req checksum 1111 context.py)")" .error)" = not_found ]
		printf '# edited while away\n' >>"$T/away"
		T0_MS=$(now_ms)
		mv "$T/away" "$f"
		want=$(crc32 "$f")
		wait_event "$SUB_OUT" created "$want" 1000
		report_latency "$mode $style: deleted $deleted_ms ms, created $LATENCY_MS ms"
	else
		event=changed
		# Recreated within the settle time it is one change, else a
		# deletion and a creation.
		[ "$style" = delete-recreate ] && event="changed|created"
		T0_MS=$(now_ms)
		save "$style" "$f"
		want=$(crc32 "$f")
		[ "$want" != "$old" ]
		wait_event "$SUB_OUT" "$event" "$want" 1000
		report_latency "$mode $style: $LATENCY_MS ms"
	fi
	[ "$(daemon_checksum context.py)" = "$want" ]
}

# save_is_seen_in_both_modes STYLE: save_is_seen with inotify, then with
# polling, each on a watcherd of its own.
save_is_seen_in_both_modes() {
	echo "with inotify"
	save_is_seen inotify "$1"
	stop_test_watcherd
	kill_spawned
	echo "with polling"
	save_is_seen poll "$1"
}

@test "an in-place append is seen, with inotify and with polling" { save_is_seen_in_both_modes append; }
@test "a truncate-and-write save is seen, with inotify and with polling" { save_is_seen_in_both_modes truncate; }
@test "a rename-over save (editor temp file) is seen, with inotify and with polling" { save_is_seen_in_both_modes rename-over; }
@test "a sed -i save is seen, with inotify and with polling" { save_is_seen_in_both_modes sed-i; }
@test "a copy-over save is seen, with inotify and with polling" { save_is_seen_in_both_modes copy-over; }
@test "a delete-and-recreate save is seen, with inotify and with polling" { save_is_seen_in_both_modes delete-recreate; }
@test "a file renamed away is deleted, and created when put back, with inotify and with polling" { save_is_seen_in_both_modes rename-away; }

@test "a checksum right after an in-place write already has the new value" {
	# A settle time of 5 s keeps inotify from refreshing the watch first:
	# the fresh answer comes from the stat check of the query itself.
	start_test_watcherd --watch-mode inotify --settle-time 5000
	f="$DAMNIT/context.py"
	[ "$(daemon_checksum context.py)" = "$(crc32 "$f")" ]
	for i in 1 2 3; do
		printf '# edit %s\n' "$i" >>"$f"
		[ "$(daemon_checksum context.py)" = "$(crc32 "$f")" ] || fail "append $i"
		printf 'z = %s\n' "$i$i" >"$f"
		[ "$(daemon_checksum context.py)" = "$(crc32 "$f")" ] || fail "truncate $i"
	done
}
