#!/usr/bin/env bats
# The socket protocol (DESIGN.md section 4): replies, errors, framing, the
# file-access policy, and clients that misbehave.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

# expect_error REPLY CODE: a failed reply with that code and a detail.
expect_error() {
	[ "$(json_get "$1" .ok)" = false ] || fail "expected a failed reply, got: $1"
	[ "$(json_get "$1" .error)" = "$2" ] || fail "expected error $2, got: $1"
	[ -n "$(json_get "$1" '.detail // empty')" ] || fail "no detail in: $1"
}

@test "ping answers with the version and protocol 1" {
	start_test_watcherd
	reply=$(send '{"cmd":"ping"}')
	[ "$(json_get "$reply" .ok)" = true ]
	[ "$(json_get "$reply" .protocol)" = 1 ]
	[ -n "$(json_get "$reply" '.version | strings')" ]
}

@test "checksum of context.py is its CRC-32, with its size and mtime" {
	start_test_watcherd
	f="$DAMNIT/context.py"
	reply=$(send "$(req checksum 1111 context.py)")
	[ "$(json_get "$reply" .ok)" = true ]
	[ "$(json_get "$reply" .checksum)" = "$(crc32 "$f")" ]
	[ "$(json_get "$reply" .size)" = "$(stat -c %s "$f")" ]
	[ "$(json_get "$reply" '.mtime | floor')" = "$(stat -c %Y "$f")" ]
	[[ "$(json_get "$reply" .mode)" =~ ^(inotify|poll)$ ]]
}

@test "a proposal given as a string with leading zeros names the same file" {
	start_test_watcherd
	reply=$(send '{"cmd":"checksum","proposal":"001111","file_name":"context.py"}')
	[ "$(json_get "$reply" .checksum)" = "$(crc32 "$DAMNIT/context.py")" ]
}

@test "raw content is byte-identical to the file" {
	start_test_watcherd
	content_to context.py "$T/got"
	cmp "$T/got" "$DAMNIT/context.py"
	hdr=$(cat "$T/got.hdr")
	[ "$(json_get "$hdr" .payload)" = "$(stat -c %s "$DAMNIT/context.py")" ]
	[ "$(json_get "$hdr" .encoding)" = utf-8 ]
	[ "$(json_get "$hdr" .checksum)" = "$(crc32 "$DAMNIT/context.py")" ]
}

@test "json content is a string literal that decodes to the file's text" {
	start_test_watcherd
	content_to damnit.log "$T/got" json
	[ "$(json_get "$(cat "$T/got.hdr")" .encoding)" = utf-8 ]
	[ "$(json_get "$(cat "$T/got.hdr")" .payload)" = "$(stat -c %s "$T/got")" ]
	jq -j . "$T/got" >"$T/text"
	cmp "$T/text" "$DAMNIT/damnit.log"
}

@test "a file that is not valid UTF-8 comes back as base64 of its bytes" {
	printf 'caf\xe9 \xff\xfe\x00\x80 end\n' >"$DAMNIT/binary.log"
	start_test_watcherd
	content_to binary.log "$T/got" json
	[ "$(json_get "$(cat "$T/got.hdr")" .encoding)" = base64 ]
	jq -j . "$T/got" | base64 -d >"$T/bytes"
	cmp "$T/bytes" "$DAMNIT/binary.log"
	content_to binary.log "$T/raw" raw
	cmp "$T/raw" "$DAMNIT/binary.log"
}

@test "bad JSON gets a bad_request reply" {
	start_test_watcherd
	expect_error "$(send '{"cmd":"ping"')" bad_request
	expect_error "$(send 'hello')" bad_request
	expect_error "$(send '["ping"]')" bad_request
	expect_error "$(send '{"cmd":"ping"} trailing')" bad_request
}

@test "an unknown cmd gets a bad_request reply" {
	start_test_watcherd
	expect_error "$(send '{"cmd":"format_disk"}')" bad_request
	expect_error "$(send '{"nocmd":1}')" bad_request
	expect_error "$(send '{"cmd":42}')" bad_request
}

@test "a missing proposal or file_name is a bad_request naming the field" {
	start_test_watcherd
	reply=$(send '{"cmd":"checksum","file_name":"context.py"}')
	expect_error "$reply" bad_request
	[[ "$(json_get "$reply" .detail)" == *proposal* ]]
	reply=$(send '{"cmd":"checksum","proposal":1111}')
	expect_error "$reply" bad_request
	[[ "$(json_get "$reply" .detail)" == *file_name* ]]
}

@test "a proposal that is not 1 to 6 digits is a bad_request" {
	start_test_watcherd
	for p in '"1234567"' -1 '"abc"' 1234567 '""' '"12a"' 1.5 null; do
		reply=$(send "{\"cmd\":\"checksum\",\"proposal\":$p,\"file_name\":\"context.py\"}")
		expect_error "$reply" bad_request || fail "proposal $p"
	done
}

@test "a file request may name its user or null; anything else is a bad_request" {
	start_test_watcherd
	for u in '"alice"' null '"alice@example.org"' '"a-b_c.d+e"'; do
		reply=$(send "{\"cmd\":\"checksum\",\"proposal\":1111,\"file_name\":\"context.py\",\"user\":$u}")
		[ "$(json_get "$reply" .ok)" = true ] || fail "user $u: $reply"
		# The same members in another order: json-c reads them.
		reply=$(send "{\"user\":$u,\"cmd\":\"checksum\",\"proposal\":1111,\"file_name\":\"context.py\"}")
		[ "$(json_get "$reply" .ok)" = true ] || fail "user $u: $reply"
	done
	long=$(printf 'x%.0s' {1..257})
	for u in 5 true '""' '"two words"' '"quo\"te"' '"back\\slash"' \
	    '"tab\there"' '"caf\u00e9"' "\"$long\"" '{}' '["alice"]'; do
		for line in "{\"cmd\":\"checksum\",\"proposal\":1111,\"file_name\":\"context.py\",\"user\":$u}" \
		    "{\"user\":$u,\"cmd\":\"checksum\",\"proposal\":1111,\"file_name\":\"context.py\"}"; do
			reply=$(send "$line")
			expect_error "$reply" bad_request || fail "$line: $reply"
			[[ "$(json_get "$reply" .detail)" == *user* ]] ||
				fail "$line: $reply"
		done
	done
}

@test "a 200 KiB request line is refused and the connection still answers" {
	start_test_watcherd
	pad=$(head -c 204800 /dev/zero | tr '\0' a)
	{
		printf '{"cmd":"ping","pad":"%s"}\n' "$pad"
		printf '{"cmd":"ping"}\n'
	} | socat -t 2 - "UNIX-CONNECT:$SOCK" >"$T/out"
	[ "$(wc -l <"$T/out")" = 2 ] || fail "expected two replies, got: $(cat "$T/out")"
	expect_error "$(sed -n 1p "$T/out")" bad_request
	[ "$(json_get "$(sed -n 2p "$T/out")" .protocol)" = 1 ]
}

@test "a client with half a request line does not stall other clients" {
	start_test_watcherd
	spawn bash -c '{ printf "{\"cmd\":\"pi"; exec sleep 30; } |
	    exec socat -t 2 - "UNIX-CONNECT:$1"' _ "$SOCK" >"$T/holder.out" 2>&1
	# The half line has reached the daemon once it counts two clients
	# (the holder and the one asking).
	wait_until 2000 bash -c '[ "$(printf "{\"cmd\":\"status\"}\n" |
	    socat -t 2 - "UNIX-CONNECT:$1" | jq .clients)" -ge 2 ]' _ "$SOCK"
	t0=$(now_ms)
	reply=$(send '{"cmd":"ping"}')
	elapsed=$(($(now_ms) - t0))
	[ "$(json_get "$reply" .ok)" = true ]
	[ "$elapsed" -lt 1000 ] || fail "ping took $elapsed ms"
	[ ! -s "$T/holder.out" ] || fail "the half line got a reply: $(cat "$T/holder.out")"
}

@test "1000 pipelined requests read only afterwards get 1000 replies" {
	start_test_watcherd
	want=$(crc32 "$DAMNIT/context.py")
	run python3 - "$SOCK" "$want" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"checksum","proposal":1111,"file_name":"context.py"}\n' * 1000)
time.sleep(0.3)
buf = b""
while buf.count(b"\n") < 1000:
    data = s.recv(65536)
    if not data:
        break
    buf += data
lines = buf.split(b"\n")[:-1]
good = sum(1 for l in lines if b'"checksum":"%s"' % sys.argv[2].encode() in l)
print(len(lines), good)
EOF
	[ "$status" = 0 ]
	[ "$output" = "1000 1000" ] || fail "replies, good replies: $output"
}

@test "a client that half-closes after a large content request gets the whole reply" {
	head -c 4500000 /dev/urandom | base64 -w 76 >"$DAMNIT/big.log"
	start_test_watcherd
	# socat shuts down its sending side once the request is written.
	send_to_file "$T/raw" "$(req content 1111 big.log)"
	hdrlen=$(head -n 1 "$T/raw" | wc -c)
	tail -c +"$((hdrlen + 1))" "$T/raw" >"$T/got"
	[ "$(stat -c %s "$T/got")" = "$(stat -c %s "$DAMNIT/big.log")" ] ||
	    fail "got $(stat -c %s "$T/got") of $(stat -c %s "$DAMNIT/big.log") bytes"
	cmp "$T/got" "$DAMNIT/big.log"
}

@test "a file outside the allow patterns is forbidden" {
	start_test_watcherd
	expect_error "$(send "$(req checksum 1111 notes.txt)")" forbidden
	expect_error "$(send "$(req content 1111 notes.txt)")" forbidden
}

@test "names that leave the folder or are malformed are refused" {
	start_test_watcherd
	long="$(printf 'a%.0s' $(seq 252)).log"
	[ ${#long} = 256 ]
	for name in '"../context.py"' '"/etc/passwd"' '"sub//x.log"' \
	    '"a\nb.log"' '"x\u0000.log"' "\"$long\"" \
	    '"process_logs/../context.py"' '"./context.py"' '"context.py/"' \
	    '"/proc/self/root/etc/passwd"' '""' '"a\tb.log"'; do
		reply=$(send "{\"cmd\":\"checksum\",\"proposal\":1111,\"file_name\":$name}")
		[ "$(json_get "$reply" .ok)" = false ] || fail "$name was served: $reply"
		[[ "$(json_get "$reply" .error)" =~ ^(bad_request|forbidden)$ ]] ||
		    fail "$name: $reply"
	done
}

@test "a symlink pointing outside the folder is forbidden" {
	ln -s /etc/passwd "$DAMNIT/evil.log"
	ln -s ../../../../../../../../../../etc/passwd "$DAMNIT/relative.log"
	ln -s "$T/data/SPB/202601/p001111/usr/Shared" "$DAMNIT/process_logs/up.out"
	start_test_watcherd
	expect_error "$(send "$(req checksum 1111 evil.log)")" forbidden
	expect_error "$(send "$(req content 1111 relative.log)")" forbidden
	expect_error "$(send "$(req checksum 1111 process_logs/up.out)")" forbidden
}

@test "a symlink inside the folder is served with its target's checksum" {
	ln -s damnit.log "$DAMNIT/x.log"
	start_test_watcherd
	reply=$(send "$(req checksum 1111 x.log)")
	[ "$(json_get "$reply" .ok)" = true ]
	[ "$(json_get "$reply" .checksum)" = "$(crc32 "$DAMNIT/damnit.log")" ]
}

@test "directories and FIFOs named like allowed files are forbidden" {
	mkdir "$DAMNIT/dir.log"
	mkfifo "$DAMNIT/fifo.log"
	start_test_watcherd
	expect_error "$(send "$(req checksum 1111 dir.log)")" forbidden
	expect_error "$(send "$(req checksum 1111 fifo.log)")" forbidden
	[ "$(json_get "$(send '{"cmd":"ping"}')" .ok)" = true ]
}

@test "an unknown proposal and a missing file are not_found" {
	start_test_watcherd
	expect_error "$(send "$(req checksum 9999 context.py)")" not_found
	expect_error "$(send "$(req checksum 1111 missing.log)")" not_found
	expect_error "$(send "$(req content 1111 process_logs/missing.out)")" not_found
}

@test "a file larger than --max-file-size is too_large" {
	printf 'small\n' >"$DAMNIT/small.log"
	start_test_watcherd --max-file-size 1k
	expect_error "$(send "$(req checksum 1111 context.py)")" too_large
	expect_error "$(send "$(req content 1111 context.py)")" too_large
	[ "$(daemon_checksum small.log)" = "$(crc32 "$DAMNIT/small.log")" ]
}

@test "list shows each watch with its checksum, mode, idle time, subscribers and changes" {
	start_test_watcherd --watch-mode inotify
	subscribe context.py
	printf '# edited\n' >>"$DAMNIT/context.py"
	T0_MS=$(now_ms)
	wait_event "$SUB_OUT" changed "$(crc32 "$DAMNIT/context.py")" 2000
	reply=$(send '{"cmd":"list"}')
	[ "$(json_get "$reply" .ok)" = true ]
	[ "$(json_get "$reply" '.watches | length')" = 1 ]
	[ "$(json_get "$reply" '.watches[0].proposal')" = 1111 ]
	[ "$(json_get "$reply" '.watches[0].file_name')" = context.py ]
	[ "$(json_get "$reply" '.watches[0].checksum')" = "$(crc32 "$DAMNIT/context.py")" ]
	[ "$(json_get "$reply" '.watches[0].size')" = "$(stat -c %s "$DAMNIT/context.py")" ]
	[ "$(json_get "$reply" '.watches[0].mode')" = inotify ]
	[ "$(json_get "$reply" '.watches[0].idle_s | type')" = number ]
	[ "$(json_get "$reply" '.watches[0].subscribers')" = 1 ]
	[ "$(json_get "$reply" '.watches[0].changes')" -ge 1 ]
}

@test "status reports uptime, watches, clients, requests, changes and overflows" {
	start_test_watcherd
	send "$(req checksum 1111 context.py)" >/dev/null
	send "$(req checksum 1111 damnit.log)" >/dev/null
	reply=$(send '{"cmd":"status"}')
	[ "$(json_get "$reply" .ok)" = true ]
	for key in uptime_s watches clients requests changes inotify_overflows; do
		[ "$(json_get "$reply" ".$key | type")" = number ] || fail "$key: $reply"
	done
	[ "$(json_get "$reply" .watches)" = 2 ]
	[ "$(json_get "$reply" .clients)" -ge 1 ]
	[ "$(json_get "$reply" .requests)" -ge 3 ]
	[ "$(json_get "$reply" .inotify_overflows)" = 0 ]
	before=$(json_get "$reply" .requests)
	after=$(json_get "$(send '{"cmd":"status"}')" .requests)
	[ "$after" -gt "$before" ]
}

@test "http_count adds the handler's answers and replies the totals" {
	start_test_watcherd
	reply=$(send '{"cmd":"http_count"}')
	[ "$(jq -c . <<<"$reply")" = '{"ok":true,"counts":{}}' ]
	reply=$(send '{"cmd":"http_count","counts":{"file_content":{"200":12,"304":3}}}')
	[ "$(jq -c . <<<"$reply")" = '{"ok":true,"counts":{"file_content":{"200":12,"304":3}}}' ]
	send '{"cmd":"http_count","counts":{"file_content":{"200":1,"503":0},"contextfile/last_modified":{"404":2},"unknown":{"405":1000000000}}}' >/dev/null
	reply=$(send '{"cmd":"http_count"}')
	[ "$(jq -c .counts <<<"$reply")" = '{"file_content":{"200":13,"304":3},"contextfile/last_modified":{"404":2},"unknown":{"405":1000000000}}' ] ||
	    fail "totals: $reply"
}

@test "http_count refuses unknown routes, statuses and bad counts and adds nothing" {
	start_test_watcherd
	send '{"cmd":"http_count","counts":{"health":{"200":5}}}' >/dev/null
	for counts in '{"bogus":{"200":1}}' '{"health":{"302":1}}' \
	    '{"health":{"200 ":1}}' '{"health":{"200":-1}}' \
	    '{"health":{"200":1000000001}}' '{"health":{"200":1.0}}' \
	    '{"health":{"200":"1"}}' '{"health":[1]}' '[]' '"health"' \
	    '{"health":{"200":1},"Health":{"200":1}}'; do
		expect_error "$(send "{\"cmd\":\"http_count\",\"counts\":$counts}")" \
		    bad_request
	done
	reply=$(send '{"cmd":"http_count"}')
	[ "$(jq -c .counts <<<"$reply")" = '{"health":{"200":5}}' ] ||
	    fail "totals: $reply"
}
