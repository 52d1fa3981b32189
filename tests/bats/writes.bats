#!/usr/bin/env bats
# Saves at the socket (DESIGN.md section 8): {"cmd":"write",...,
# "if_checksum":C,"payload":N} and N bytes replace a file only if it still
# has checksum C, in one step that a file lock guards (two savers, two
# daemons over one tree: exactly one wins), through a temporary file renamed
# over the name, after the validators accepted the content, for users whom
# access allows to write. What a client reads and what is on disk is
# checked byte for byte, by a small Python client ($T/wc.py) that frames
# requests and payloads exactly, and sends a ping after each save on the
# same connection: the ping's answer must be the next line, so a payload is
# never taken short, long or for requests.
#
# Real accounts of this host, made for this file and removed after it, for
# access = unix; a FUSE mount (build/tools/stallfs) for a file system that
# stops answering, as in stall.bats. watcherd runs as root.

load helpers

# The accounts, with a prefix of this file's own (suites may run at once):
# ALICE and BOB are members of the proposal's group (BOB is made read-only
# by an ACL where a test needs it), CAROL is not.
PROP_GROUP=fhs_prop
ALICE=fhs_alice
BOB=fhs_bob
CAROL=fhs_carol

remove_accounts() {
	local u
	for u in "$ALICE" "$BOB" "$CAROL"; do
		if getent passwd "$u" >/dev/null; then
			userdel "$u" || return 1
		fi
	done
	if getent group "$PROP_GROUP" >/dev/null; then
		groupdel "$PROP_GROUP" || return 1
	fi
}

setup_file() {
	remove_accounts || fail "cannot remove the accounts of a previous run" ||
	    return 1
	groupadd "$PROP_GROUP" &&
	    useradd -M -N -g users -G "$PROP_GROUP" -d /nonexistent \
	    -s /usr/sbin/nologin "$ALICE" &&
	    useradd -M -N -g users -G "$PROP_GROUP" -d /nonexistent \
	    -s /usr/sbin/nologin "$BOB" &&
	    useradd -M -N -g users -d /nonexistent -s /usr/sbin/nologin "$CAROL"
}

teardown_file() {
	remove_accounts
}

setup() {
	common_setup || return 1
	F="$DAMNIT/context.py"
	STALLFS_PID=
	WATCHERD2_PID=
	write_client
}

teardown() {
	unmount_stallfs
	run_every stop_watcherd2 common_teardown
}

# The client, a module (import wc) and a command line:
#   wc.py save [--sock S] [--proposal P] [--user U | --null-user]
#              [--timeout SECONDS] [--no-ping] [--elapsed-to FILE]
#              [--replied-at FILE] FILE IF_CHECKSUM CONTENT_PATH
#     one save on a fresh connection; prints the reply line as it came
#     (and writes the ms from the send to the reply, or the time of the
#     reply in seconds since the epoch, to FILE).
#     Then a ping on the same connection, whose answer must be the next
#     line (else exit 3); no reply in time or the connection closed: exit 4.
#   wc.py race --sock S[,S...] --count N [--proposal P] [--watch PATH]
#              FILE IF_CHECKSUM OUTDIR
#     N saves from IF_CHECKSUM at once, each on its own connection (to the
#     sockets in turn), each with other bytes: OUTDIR/I.data, OUTDIR/I.reply
#     (I from 0). With --watch, a reader reads PATH meanwhile and writes
#     "reads=R torn=T" to OUTDIR/reads (torn: bytes that were neither the
#     old content nor one of the new ones).
write_client() {
	cat >"$T/wc.py" <<'PY'
import argparse, json, os, socket, sys, threading, time, zlib

ABSENT = object()
PING = b'{"cmd":"ping"}\n'


def crc(data):
    return "%08x" % zlib.crc32(data)


def write_line(proposal, file_name, if_checksum, size, user=ABSENT, **extra):
    req = {"cmd": "write", "proposal": proposal, "file_name": file_name,
           "if_checksum": if_checksum, "payload": size}
    if user is not ABSENT:
        req["user"] = user
    req.update(extra)
    return json.dumps(req, separators=(",", ":")).encode() + b"\n"


def is_pong(line):
    try:
        r = json.loads(line)
    except (TypeError, ValueError):
        return False
    return isinstance(r, dict) and r.get("ok") is True and \
        set(r) == {"ok", "version", "protocol"}


class Conn:
    def __init__(self, path, timeout=5.0):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        """The next line, without its newline; None at the end of the
        connection; socket.timeout when none comes in time."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                if self.buf:
                    raise ValueError("the connection ended inside a line: %r"
                                     % self.buf[:200])
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self):
        line = self.line()
        return None if line is None else json.loads(line)

    def quiet(self, seconds):
        """True when nothing (not even the end) comes within seconds."""
        if self.buf:
            return False
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(self.timeout)
        self.buf += chunk
        return False

    def framing_intact(self):
        """A ping now is answered by the very next line."""
        self.send(PING)
        line = self.line()
        return is_pong(line), line

    def close(self):
        self.sock.close()


def cmd_save(a):
    data = open(a.content, "rb").read()
    user = ABSENT
    if a.null_user:
        user = None
    elif a.user is not None:
        user = a.user
    c = Conn(a.sock, a.timeout)
    t0 = time.monotonic()
    c.send(write_line(a.proposal, a.file, a.if_checksum, len(data), user) +
           data)
    try:
        line = c.line()
    except socket.timeout:
        line = None
        why = "no reply within %s s" % a.timeout
    else:
        why = "the connection ended without a reply"
    if a.elapsed_to:
        with open(a.elapsed_to, "w") as f:
            f.write("%d\n" % ((time.monotonic() - t0) * 1000))
    if a.replied_at:
        with open(a.replied_at, "w") as f:
            f.write("%.6f\n" % time.time())
    if line is None:
        print(why, file=sys.stderr)
        return 4
    sys.stdout.write(line.decode() + "\n")
    sys.stdout.flush()
    if a.no_ping:
        return 0
    try:
        good, got = c.framing_intact()
    except socket.timeout:
        good, got = False, b"nothing within %s s" % str(a.timeout).encode()
    if not good:
        print("framing: after the reply, a ping on the same connection "
              "got %r" % got, file=sys.stderr)
        return 3
    return 0


def cmd_race(a):
    socks = a.sock.split(",")
    old = open(a.watch, "rb").read() if a.watch else b""
    datas, conns = [], []
    # Bytes of this race only: a writer whose bytes were already the file's
    # would win from the winner's checksum.
    nonce = os.urandom(8).hex()
    for i in range(a.count):
        data = ("# saved by writer %d of %d, race %s\nvalue = %d\n" %
                (i, a.count, nonce, i)).encode() * (i + 1)
        with open(os.path.join(a.outdir, "%d.data" % i), "wb") as f:
            f.write(data)
        datas.append(data)
        conns.append(Conn(socks[i % len(socks)], 15))
    barrier = threading.Barrier(a.count)
    replies = [None] * a.count

    def writer(i):
        msg = write_line(a.proposal, a.file, a.if_checksum,
                         len(datas[i])) + datas[i]
        barrier.wait()
        conns[i].send(msg)
        try:
            replies[i] = conns[i].line()
        except socket.timeout:
            replies[i] = b'{"ok":false,"error":"test: no reply"}'

    writers = [threading.Thread(target=writer, args=(i,))
               for i in range(a.count)]
    done = threading.Event()
    counts = [0, 0]

    def reader():
        whole = set(datas) | {old}
        while not done.is_set():
            try:
                b = open(a.watch, "rb").read()
            except FileNotFoundError:
                b = None
            counts[0] += 1
            if b not in whole:
                counts[1] += 1

    r = threading.Thread(target=reader) if a.watch else None
    if r:
        r.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    if r:
        r.join()
        with open(os.path.join(a.outdir, "reads"), "w") as f:
            f.write("reads=%d torn=%d\n" % tuple(counts))
    for i in range(a.count):
        with open(os.path.join(a.outdir, "%d.reply" % i), "wb") as f:
            f.write((replies[i] or b"null") + b"\n")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save")
    s.add_argument("--sock", required=True)
    s.add_argument("--proposal", type=int, default=1111)
    s.add_argument("--user")
    s.add_argument("--null-user", action="store_true")
    s.add_argument("--timeout", type=float, default=5.0)
    s.add_argument("--no-ping", action="store_true")
    s.add_argument("--elapsed-to")
    s.add_argument("--replied-at")
    s.add_argument("file")
    s.add_argument("if_checksum")
    s.add_argument("content")
    r = sub.add_parser("race")
    r.add_argument("--sock", required=True)
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--proposal", type=int, default=1111)
    r.add_argument("--watch")
    r.add_argument("file")
    r.add_argument("if_checksum")
    r.add_argument("outdir")
    a = p.parse_args()
    return cmd_save(a) if a.cmd == "save" else cmd_race(a)


if __name__ == "__main__":
    sys.exit(main())
PY
}

# start_saving [FLAGS...]: watcherd with write on (and FLAGS).
start_saving() {
	start_test_watcherd --write "$@"
}

# save FILE IF_CHECKSUM CONTENT_PATH [OPTIONS...]: one save on the test's
# socket (options: wc.py save); prints the reply line.
save() {
	python3 "$T/wc.py" save --sock "$SOCK" "$@"
}

# save_now CONTENT_PATH [wc.py save options...]: a save of context.py
# with the bytes of CONTENT_PATH, from its current checksum; sets reply.
save_now() {
	reply=$(save context.py "$(crc32 "$F")" "$@") || fail "$reply"
}

# save_unavailable_within MIN_MS MAX_MS DETAIL CONTENT_PATH: a save of
# CONTENT_PATH (save_now) is refused unavailable with DETAIL, after MIN_MS
# and before MAX_MS, and context.py keeps its bytes. Sets reply and took.
save_unavailable_within() {
	cp "$F" "$T/orig"
	save_now "$4" --elapsed-to "$T/ms" || return 1
	took=$(cat "$T/ms")
	refused "$reply" unavailable "$3" || return 1
	[ "$took" -ge "$1" ] && [ "$took" -lt "$2" ] ||
	    fail "unavailable after $took ms, not within $1 to $2 ms" || return 1
	untouched "$F" "$T/orig"
}

# saves CONTENT_PATH [options...]: save_now, and the save went through
# (saved).
saves() {
	save_now "$@" || return 1
	saved "$reply" "$1"
}

# saved REPLY CONTENT_PATH [PATH]: REPLY is a success for exactly the bytes
# of CONTENT_PATH (checksum their CRC-32, size), and PATH (context.py)
# holds them, with the reply's mtime.
saved() {
	local reply=$1 content=$2 path=${3:-$F} mtime
	[ "$(printf '%s\n' "$reply" | wc -l)" = 1 ] &&
	    [ "$(json_get "$reply" .ok)" = true ] ||
	    fail "expected a save, got: $reply" || return 1
	[ "$(json_get "$reply" .checksum)" = "$(crc32 "$content")" ] ||
	    fail "reply checksum $(json_get "$reply" .checksum), the content's CRC-32 is $(crc32 "$content")" ||
	    return 1
	[ "$(json_get "$reply" .size)" = "$(stat -c %s "$content")" ] ||
	    fail "reply size $(json_get "$reply" .size), content $(stat -c %s "$content") bytes" ||
	    return 1
	[ "$(json_get "$reply" '.warnings | type')" = array ] ||
	    fail "no warnings array: $reply" || return 1
	cmp -s "$content" "$path" ||
	    fail "$path does not hold the saved bytes" || return 1
	mtime=$(stat -c %.6Y "$path")
	awk -v a="$(json_get "$reply" .mtime)" -v b="$mtime" \
	    'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 0.00001) }' ||
	    fail "reply mtime $(json_get "$reply" .mtime), the file's $mtime"
}

# json_c JSON FILTER: jq -c FILTER on the first line of JSON.
json_c() {
	printf '%s\n' "$1" | head -n 1 | jq -c "$2"
}

# refused REPLY CODE [DETAIL]: REPLY is the one line of that error.
refused() {
	[ "$(printf '%s\n' "$1" | wc -l)" = 1 ] &&
	    [ "$(json_get "$1" .ok)" = false ] &&
	    [ "$(json_get "$1" .error)" = "$2" ] &&
	    { [ $# -lt 3 ] || [ "$(json_get "$1" .detail)" = "$3" ]; } ||
	    fail "expected error $2${3:+ \"$3\"}, got: $1"
}

# untouched PATH COPY: PATH still has the bytes of COPY.
untouched() {
	cmp -s "$1" "$2" || fail "$1 was changed"
}

# no_leftovers DIR...: no temporary file of a save in DIR.
no_leftovers() {
	local left
	left=$(save_leftovers "$@")
	[ -z "$left" ] || fail "temporary files left: $left"
}


# A second watcherd on the same data tree (socket SOCK2, log LOG2).
start_watcherd2() {
	SOCK2="$T/w2.sock"
	LOG2="$T/watcherd2.log"
	SOCK=$SOCK2 launch_watcherd_as WATCHERD2_PID "$LOG2" "$@"
}

stop_watcherd2() {
	stop_watcherd_in WATCHERD2_PID "$LOG2" "watcherd (second)"
}

# Content.

# new_content NAME [TEXT]: $T/NAME with TEXT (printf format), or with bytes
# no other call wrote (it runs in a subshell: the time stamp and the
# process tell them apart); prints the path.
new_content() {
	# shellcheck disable=SC2059
	printf -- "${2:-# saved as $1 at ${EPOCHREALTIME} by $BASHPID\nx = 1\n}" \
	    >"$T/$1"
	echo "$T/$1"
}

@test "a save from the current checksum replaces the bytes exactly and answers their CRC-32: text, NUL bytes, empty, 1 MB" {
	start_saving
	new_content text >/dev/null
	printf '\x00\x01binary\xff\xfe\x00\r\n\x00' >"$T/binary"
	: >"$T/empty"
	head -c 1048576 /dev/urandom >"$T/mega"
	new_content again >/dev/null
	for c in text binary empty mega again; do
		old=$(crc32 "$F")
		reply=$(save context.py "$old" "$T/$c") || fail "$c: $reply"
		saved "$reply" "$T/$c" || fail "content $c"
		[ "$(daemon_checksum context.py)" = "$(crc32 "$T/$c")" ] ||
		    fail "$c: watcherd's checksum is not the new one"
	done
	no_leftovers "$DAMNIT"
	counters_are writes=5 write_conflicts=0 write_invalid=0 write=true
}

@test "a save keeps the file's mode, owner and group, replaces it by a new inode and leaves no temporary file" {
	start_saving
	for spec in "640 1234 2345" "604 65534 65534" "660 0 2345"; do
		set -- $spec
		chown "$2:$3" "$F"
		chmod "$1" "$F"
		inode=$(stat -c %i "$F")
		c=$(new_content "c.$1")
		saves "$c"
		[ "$(stat -c '%a %u %g' "$F")" = "$spec" ] ||
		    fail "mode, owner and group $(stat -c '%a %u %g' "$F"), not $spec"
		[ "$(stat -c %i "$F")" != "$inode" ] ||
		    fail "the file was written in place, not renamed over"
	done
	no_leftovers "$DAMNIT"
}

# The temporary file must get the ACL, not only the mode: else the named
# entries and the mask are lost with the rename.
@test "a save keeps the file's POSIX ACL, and with it who may read and write the file" {
	unix_fixture
	setfacl -m "u:$BOB:r--,u:$CAROL:rw-" "$F"
	getfacl -cp "$F" >"$T/acl.before"
	start_saving --access unix
	c=$(new_content new)
	saves "$c"
	getfacl -cp "$F" >"$T/acl.after"
	diff "$T/acl.before" "$T/acl.after" >&2 ||
	    fail "the ACL changed (bob may write now: $(kernel_may_write "$BOB" "$F"), carol: $(kernel_may_write "$CAROL" "$F"))"
}

# A hook that keeps its environment in $1/PID.env (complete once it exists).
write_record_hook() {
	mkdir -p "$T/hook"
	cat >"$T/record.sh" <<'EOF'
#!/bin/sh
env >"$1/.$$.env"
mv "$1/.$$.env" "$1/$$.env"
EOF
	chmod +x "$T/record.sh"
}

hook_runs() {
	find "$T/hook" -name '[0-9]*.env' | wc -l
}

@test "a subscriber on another connection hears one changed event with the new checksum, and a hook on context.py runs once" {
	write_record_hook
	start_saving --hook "context.py $T/record.sh $T/hook"
	subscribe context.py
	c=$(new_content new)
	want=$(crc32 "$c")
	old=$(crc32 "$F")
	T0_MS=$(now_ms)
	reply=$(save context.py "$old" "$c") || fail "$reply"
	wait_event "$SUB_OUT" changed "$want" 2000
	report_latency "save to changed event: $LATENCY_MS ms (a python3 client)"
	saved "$reply" "$c"
	wait_until 5000 test "$(hook_runs)" -ge 1 || { show_log; fail "no hook run"; }
	# Nothing more comes of the one save.
	sleep 0.5
	[ "$(grep -c '"event"' "$SUB_OUT")" = 1 ] ||
	    fail "events: $(grep '"event"' "$SUB_OUT")"
	[ "$(hook_runs)" = 1 ] || fail "$(hook_runs) hook runs"
	env=$(cat "$T"/hook/*.env)
	grep -qx EVENT=changed <<<"$env"
	grep -qx "CHECKSUM=$want" <<<"$env"
	grep -qx FILE_NAME=context.py <<<"$env"
	grep -qx PROPOSAL=1111 <<<"$env"
}

@test "a save from a stale checksum is a conflict with the current checksum, and the file is untouched; a missing file is not_found" {
	start_saving
	old=$(crc32 "$F")
	printf '# edited by somebody else\n' >>"$F"
	cp "$F" "$T/edited"
	c=$(new_content mine)
	reply=$(save context.py "$old" "$c") || fail "$reply"
	refused "$reply" conflict "the file is no longer what the edit started from"
	[ "$(json_get "$reply" .checksum)" = "$(crc32 "$T/edited")" ] ||
	    fail "conflict names $(json_get "$reply" .checksum), the file is $(crc32 "$T/edited")"
	untouched "$F" "$T/edited"
	reply=$(save context.py 00000000 "$c") || fail "$reply"
	refused "$reply" conflict
	[ "$(json_get "$reply" .checksum)" = "$(crc32 "$T/edited")" ]
	untouched "$F" "$T/edited"

	rm "$F"
	reply=$(save context.py "$old" "$c") || fail "$reply"
	refused "$reply" not_found
	[ ! -e "$F" ] || fail "a save created the missing file"
	no_leftovers "$DAMNIT"
	counters_are writes=0 write_conflicts=2
}

# race_winner DIR N: of the N replies in DIR exactly one is a success, for
# its own bytes, and every other one a conflict naming the winner's
# checksum; prints the winner's index.
race_winner() {
	local dir=$1 n=$2 i winner="" reply want
	for ((i = 0; i < n; i++)); do
		reply=$(cat "$dir/$i.reply")
		if [ "$(json_get "$reply" .ok)" = true ]; then
			[ -z "$winner" ] ||
			    fail "writers $winner and $i both won" || return 1
			winner=$i
			[ "$(json_get "$reply" .checksum)" = "$(crc32 "$dir/$i.data")" ] ||
			    fail "the winner's reply: $reply" || return 1
		fi
	done
	[ -n "$winner" ] || fail "nobody won: $(cat "$dir"/*.reply)" || return 1
	want=$(crc32 "$dir/$winner.data")
	for ((i = 0; i < n; i++)); do
		[ "$i" = "$winner" ] && continue
		reply=$(cat "$dir/$i.reply")
		[ "$(json_get "$reply" .error)" = conflict ] &&
		    [ "$(json_get "$reply" .checksum)" = "$want" ] ||
		    fail "writer $i (winner $winner, $want): $reply" || return 1
	done
	echo "$winner"
}

@test "of 20 saves from the same checksum at once, exactly one wins, the others conflict, and readers only ever see whole files" {
	start_saving
	mkdir "$T/race"
	python3 "$T/wc.py" race --sock "$SOCK" --count 20 --watch "$F" \
	    context.py "$(crc32 "$F")" "$T/race"
	winner=$(race_winner "$T/race" 20)
	cmp -s "$F" "$T/race/$winner.data" || fail "the file is not the winner's"
	[ "$(daemon_checksum context.py)" = "$(crc32 "$F")" ]
	read -r reads <"$T/race/reads"
	[[ "$reads" == *" torn=0" ]] || fail "$reads"
	no_leftovers "$DAMNIT"
	counters_are writes=1 write_conflicts=19
	echo "# winner $winner; reader: $reads" >&3
}

@test "an editor's save between the read and the save makes the save a conflict, whichever way the editor saves" {
	start_saving
	for style in rename-over in-place; do
		old=$(daemon_checksum context.py)
		[ "$old" = "$(crc32 "$F")" ]
		# The editor, between the page's read and its save.
		if [ "$style" = rename-over ]; then
			{ cat "$F"; printf '# %s by the editor\n' "$style"; } >"$DAMNIT/.context.py.swp"
			mv "$DAMNIT/.context.py.swp" "$F"
		else
			printf '# %s by the editor\n' "$style" >>"$F"
		fi
		cp "$F" "$T/editor"
		c=$(new_content "page.$style")
		reply=$(save context.py "$old" "$c") || fail "$reply"
		refused "$reply" conflict
		[ "$(json_get "$reply" .checksum)" = "$(crc32 "$T/editor")" ] ||
		    fail "$style: $reply"
		untouched "$F" "$T/editor"
		# From the editor's checksum the page saves.
		reply=$(save context.py "$(crc32 "$T/editor")" "$c") || fail "$reply"
		saved "$reply" "$c"
	done
}

# Validators.

# The validators' script: v.sh NAME OUT STATUS [LINE]... notes NAME in
# OUT/order, keeps its environment in OUT/NAME.env and its stdin in
# OUT/NAME.in, prints the LINEs and exits with STATUS.
write_validators() {
	mkdir -p "$T/vout"
	cat >"$T/v.sh" <<'EOF'
#!/bin/sh
name=$1 out=$2 status=$3
shift 3
echo "$name" >>"$out/order"
env >"$out/$name.env"
cat >"$out/$name.in"
for line in "$@"; do printf '%s\n' "$line"; done
exit "$status"
EOF
	cat >"$T/hang.sh" <<'EOF'
#!/bin/sh
echo $$ >"$1/hang.pid"
exec sleep 30
EOF
	printf '#!/bin/sh\nexit 0\n' >"$T/noexec.sh"
	chmod 0755 "$T/v.sh" "$T/hang.sh"
	chmod 0644 "$T/noexec.sh"
}

VALIDATE_CONTEXT="$REPO_ROOT/dist/validate-context"

@test "the shipped validator refuses a syntax error as invalid at its line and column, and the file is untouched" {
	start_saving --validate "context.py $VALIDATE_CONTEXT"
	cp "$F" "$T/orig"
	c=$(new_content broken 'x = 1\ndef f(:\n    pass\n')
	save_now "$c"
	refused "$reply" invalid
	[ "$(json_c "$reply" .errors)" = '[{"line":2,"column":7,"message":"invalid syntax"}]' ] ||
	    fail "$reply"
	untouched "$F" "$T/orig"
	no_leftovers "$DAMNIT"
	counters_are writes=0 write_invalid=1
	log_has "event=file_not_written user=- proposal=1111 file=\"context.py\" error=invalid detail=\""
	echo "# detail: $(json_get "$reply" .detail)" >&3
}

@test "the shipped validator saves a file with an unused import, with the warning at its line" {
	/usr/bin/python3 -I -c 'import pyflakes.checker' 2>/dev/null ||
	    skip "python3-pyflakes is not installed"
	start_saving --validate "context.py $VALIDATE_CONTEXT"
	c=$(new_content unused 'import os\n\nx = 1\n')
	saves "$c"
	[ "$(json_c "$reply" .warnings)" = "[{\"line\":1,\"column\":1,\"message\":\"'os' imported but unused\"}]" ] ||
	    fail "$reply"
}

@test "a validator that outlives hook-timeout makes the save unavailable (try again), is killed, and the file is untouched" {
	write_validators
	start_saving --hook-timeout 1 --validate "context.py $T/hang.sh $T/vout"
	c=$(new_content new)
	# Past the hook-timeout of 1 s.
	save_unavailable_within 900 3000 "the check of the content could not run: it took longer than 1 s; try again" "$c"
	pid=$(cat "$T/vout/hang.pid")
	wait_until 2000 pid_gone "$pid" || fail "the validator $pid still runs"
	wait_until 2000 log_has 'event=validator_failed proposal=1111 file="context.py" command="[^"]*hang.sh" reason="timed out \(hook-timeout\)"' ||
	    { show_log; fail "no validator_failed line"; }
	no_leftovers "$DAMNIT"
	echo "# after $took ms: $reply" >&3
}

# slow_validator SECONDS: $T/slow.sh, a validator that accepts any content
# after SECONDS.
slow_validator() {
	printf '#!/bin/sh\ncat >/dev/null\nsleep %s\n' "$1" >"$T/slow.sh"
	chmod +x "$T/slow.sh"
}

@test "a validator that takes longer than fs-timeout still lets the save through: the replacement has its own time" {
	slow_validator 1.5
	start_saving --fs-timeout 500 --validate "context.py $T/slow.sh"
	c=$(new_content new)
	saves "$c"
	counters_are fs_timeouts=0 writes=1
}

@test "a validator that cannot run (not executable, missing) makes the save unavailable, and the log says why" {
	write_validators
	for cmd in "$T/noexec.sh" "$T/missing.sh"; do
		start_saving --validate "context.py $cmd"
		cp "$F" "$T/orig"
		c=$(new_content new)
		save_now "$c"
		refused "$reply" unavailable "the check of the content could not run: it could not be started; try again later"
		untouched "$F" "$T/orig"
		echo "# ${cmd##*/}: $reply" >&3
		stop_test_watcherd
	done
	log_has "event=validator_failed proposal=1111 file=\"context.py\" command=\"$T/noexec.sh\" reason=\"Permission denied\""
	log_has "event=validator_failed proposal=1111 file=\"context.py\" command=\"$T/missing.sh\" reason=\"No such file or directory\""
}

# Bounds of validators.

@test "a 16 MiB context.py of x=1 lines passes validate-memory in the shipped validator: unavailable, the file untouched, watcherd goes on" {
	start_saving --max-file-size 16M --validate-memory 256M \
	    --validate "context.py $VALIDATE_CONTEXT"
	cp "$F" "$T/orig"
	python3 -c 'import sys; sys.stdout.write("x=1\n" * (4 << 20))' >"$T/big"
	[ "$(stat -c %s "$T/big")" = 16777216 ]
	# wc.py pings after the reply: the connection and watcherd go on.
	save_now "$T/big" --timeout 20
	refused "$reply" unavailable "the check of the content could not run: it failed (exit status 2); try again"
	untouched "$F" "$T/orig"
	no_leftovers "$DAMNIT"
	log_has 'event=validator_failed proposal=1111 file="context.py" command="[^ ]*validate-context" reason="exit status 2"' ||
	    { show_log; fail "no validator_failed line"; }
	counters_are writes=0 write_invalid=0 write_held_bytes=0
	# The next save is checked and taken.
	c=$(new_content small 'x = 1\n')
	saves "$c"
}

@test "a validator that allocates past validate-memory cannot: the save is unavailable and the file untouched" {
	# 1 GiB of zeros costs nothing without a bound (its pages are never
	# touched): only validate-memory makes it fail.
	printf '%s\n' '#!/usr/bin/python3' 'import sys' 'sys.stdin.buffer.read()' \
	    'try:' '    b = bytearray(1 << 30)' 'except MemoryError:' \
	    '    sys.exit(3)' >"$T/hungry.py"
	chmod +x "$T/hungry.py"
	start_saving --validate-memory 64M --validate "context.py $T/hungry.py"
	cp "$F" "$T/orig"
	c=$(new_content new)
	save_now "$c"
	refused "$reply" unavailable "the check of the content could not run: it failed (exit status 3); try again"
	untouched "$F" "$T/orig"
	# With room, the same validator accepts.
	stop_test_watcherd
	start_saving --validate-memory 2G --validate "context.py $T/hungry.py"
	saves "$c"
}

@test "a validator spinning past validate-cpu-seconds is killed by it, long before hook-timeout: unavailable, the file untouched" {
	printf '#!/bin/sh\necho $$ >"%s/spin.pid"\nwhile :; do :; done\n' "$T" \
	    >"$T/spin.sh"
	chmod +x "$T/spin.sh"
	start_saving --hook-timeout 20 --validate-cpu-seconds 1 \
	    --validate "context.py $T/spin.sh"
	cp "$F" "$T/orig"
	c=$(new_content new)
	save_now "$c" --timeout 25 --elapsed-to "$T/ms"
	took=$(cat "$T/ms")
	refused "$reply" unavailable "the check of the content could not run: it was stopped by signal SIGXCPU, as when it needs more than 512 MiB of memory or 1 s of CPU time; try again"
	[ "$took" -lt 8000 ] || fail "answered after $took ms: not by the CPU bound"
	untouched "$F" "$T/orig"
	pid_gone "$(cat "$T/spin.pid")" || fail "the validator still runs"
	log_has 'event=validator_failed proposal=1111 file="context.py" command="[^ ]*spin.sh" reason="killed by signal SIGXCPU"' ||
	    { show_log; fail "no validator_failed line"; }
	echo "# after $took ms" >&3
}

# gate_validator: $T/gate.sh, a validator that keeps a file $T/vrun/PID
# while it runs and accepts once $T/open exists (or after 10 s).
gate_validator() {
	mkdir -p "$T/vrun"
	printf '%s\n' '#!/bin/sh' 'cat >/dev/null' 'touch "$1/vrun/$$"' 'i=0' \
	    'while [ ! -e "$1/open" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done' \
	    'rm -f "$1/vrun/$$"' >"$T/gate.sh"
	chmod +x "$T/gate.sh"
}

validators_running() {
	[ "$(find "$T/vrun" -type f | wc -l)" = "$1" ]
}

@test "validate-per-user: a user's third save at once is unavailable at once, while another user's save is checked and taken" {
	gate_validator
	cp "$F" "$DAMNIT/other.py"
	unix_fixture
	chmod 0664 "$DAMNIT/other.py"
	start_saving --access unix --validate-per-user 2 \
	    --write-allow context.py --write-allow other.py \
	    --allow context.py --allow other.py \
	    --validate "*.py $T/gate.sh $T"
	old=$(crc32 "$F")
	c1=$(new_content one)
	c2=$(new_content two)
	save context.py "$old" "$c1" --user "$ALICE" --timeout 15 >"$T/r1" &
	p1=$!
	save context.py "$old" "$c2" --user "$ALICE" --timeout 15 >"$T/r2" &
	p2=$!
	wait_until 5000 validators_running 2 || fail "the first two checks did not start"
	c3=$(new_content three)
	reply=$(save context.py "$old" "$c3" --user "$ALICE" --elapsed-to "$T/ms") ||
	    fail "$reply"
	refused "$reply" unavailable "too many checks of your saves are under way (validate-per-user, 2); try again"
	[ "$(cat "$T/ms")" -lt 1000 ] || fail "answered after $(cat "$T/ms") ms"
	# Bob's save is checked meanwhile, and taken.
	cb=$(new_content bob)
	save other.py "$(crc32 "$DAMNIT/other.py")" "$cb" --user "$BOB" \
	    --timeout 15 >"$T/rb" &
	pb=$!
	wait_until 5000 validators_running 3 || fail "bob's check did not start"
	touch "$T/open"
	wait "$pb" || fail "bob: $(cat "$T/rb")"
	saved "$(cat "$T/rb")" "$cb" "$DAMNIT/other.py"
	wait "$p1" || fail "$(cat "$T/r1")"
	wait "$p2" || fail "$(cat "$T/r2")"
	# One of alice's two wins; the other finds the file moved on.
	codes=$(for r in "$T/r1" "$T/r2"; do json_get "$(cat "$r")" '.error // "saved"'; done | sort | tr '\n' ' ')
	[ "$codes" = "conflict saved " ] || fail "alice's saves: $(cat "$T/r1" "$T/r2")"
	# Her slots are hers again.
	saves "$c3" --user "$ALICE"
}

@test "validate-max-running bounds the checks of all saves at once" {
	gate_validator
	start_saving --validate-max-running 1 --validate "context.py $T/gate.sh $T"
	old=$(crc32 "$F")
	c1=$(new_content one)
	save context.py "$old" "$c1" --timeout 15 >"$T/r1" &
	p1=$!
	wait_until 5000 validators_running 1 || fail "the first check did not start"
	c2=$(new_content two)
	reply=$(save context.py "$old" "$c2") || fail "$reply"
	refused "$reply" unavailable "too many checks of saves are under way (validate-max-running); try again"
	touch "$T/open"
	wait "$p1" || fail "$(cat "$T/r1")"
	saved "$(cat "$T/r1")" "$c1"
}

# unix_fixture: proposal 1111 for its group: p001111 and below root and
# PROP_GROUP, directories 0750, files 0640, context.py 0664 (the group
# writes it); the directories above it open.
unix_fixture() {
	PDIR="$T/data/SPB/202601/p001111"
	chmod 0755 "$T" "$T/data" "$T/data/SPB" "$T/data/SPB/202601" &&
	    chown -R "root:$PROP_GROUP" "$PDIR" &&
	    find "$PDIR" -type d -exec chmod 0750 {} + &&
	    find "$PDIR" -type f -exec chmod 0640 {} + &&
	    chmod 0664 "$F" &&
	    chmod 0770 "$DAMNIT"
}

@test "under access unix a member who may write the file but not its directory is refused, as a save from her editor would be" {
	unix_fixture
	chmod 0750 "$DAMNIT"
	start_saving --access unix
	cp "$F" "$T/orig"
	c=$(new_content new)
	save_now "$c" --user "$ALICE"
	refused "$reply" forbidden "the user may not write in the file's directory, or keep its ACL"
	untouched "$F" "$T/orig"
	no_leftovers "$DAMNIT"
}

@test "several validators run in order, each with the content on stdin exactly and only PATH, PROPOSAL, FILE_NAME and USER" {
	write_validators
	unix_fixture
	start_saving --access unix \
	    --validate "*.log $T/v.sh logs $T/vout 0" \
	    --validate "context.py $T/v.sh one $T/vout 0 \"context.py:3:5: one says\"" \
	    --validate "context.py $T/v.sh two $T/vout 0 \"context.py:4: two says\" \"free text\""
	printf 'x = 1\n\x00\xff\r\nno newline at the end' >"$T/content"
	save_now "$T/content" --user "$ALICE"
	saved "$reply" "$T/content"
	[ "$(json_c "$reply" .warnings)" = \
	    '[{"line":3,"column":5,"message":"one says"},{"line":4,"column":null,"message":"two says"}]' ] ||
	    fail "$reply"
	[ "$(cat "$T/vout/order")" = "$(printf 'one\ntwo')" ] ||
	    fail "ran: $(cat "$T/vout/order")"
	for v in one two; do
		cmp "$T/vout/$v.in" "$T/content" || fail "$v's stdin"
		[ "$(cut -d= -f1 "$T/vout/$v.env" | grep -vx PWD | sort | tr '\n' ' ')" = \
		    "FILE_NAME PATH PROPOSAL USER " ] ||
		    fail "$v's environment: $(cat "$T/vout/$v.env")"
		grep -qx PROPOSAL=1111 "$T/vout/$v.env"
		grep -qx FILE_NAME=context.py "$T/vout/$v.env"
		grep -qx "USER=$ALICE" "$T/vout/$v.env"
	done
}

@test "a validator's errors refuse the save as invalid with their lines, and its other output is the detail" {
	write_validators
	start_saving --validate \
	    "context.py $T/v.sh no $T/vout 1 \"context.py:2:7: bad here\" \"context.py:9: and here\" \"it is all wrong\""
	cp "$F" "$T/orig"
	c=$(new_content new)
	save_now "$c"
	refused "$reply" invalid "it is all wrong"
	[ "$(json_c "$reply" .errors)" = \
	    '[{"line":2,"column":7,"message":"bad here"},{"line":9,"column":null,"message":"and here"}]' ] ||
	    fail "$reply"
	untouched "$F" "$T/orig"
}

# Who may save.

@test "with write off (the default) every save is forbidden" {
	start_test_watcherd
	cp "$F" "$T/orig"
	c=$(new_content new)
	save_now "$c"
	refused "$reply" forbidden "saving files is off on this server (write = off)"
	untouched "$F" "$T/orig"
	counters_are write=false writes=0
}

@test "write-allow decides which files may be saved: context.py by default, given patterns replace it" {
	start_saving
	cp "$DAMNIT/damnit.log" "$T/log.orig"
	c=$(new_content new)
	reply=$(save damnit.log "$(crc32 "$DAMNIT/damnit.log")" "$c") || fail "$reply"
	refused "$reply" forbidden "file_name is not one of the files that may be saved (write-allow)"
	untouched "$DAMNIT/damnit.log" "$T/log.orig"
	stop_test_watcherd

	start_saving --write-allow '*.log'
	reply=$(save damnit.log "$(crc32 "$DAMNIT/damnit.log")" "$c") || fail "$reply"
	saved "$reply" "$c" "$DAMNIT/damnit.log"
	cp "$F" "$T/orig"
	save_now "$c"
	refused "$reply" forbidden "file_name is not one of the files that may be saved (write-allow)"
	untouched "$F" "$T/orig"
}

@test "under access open a named user may not save, nor user null, but a trusted peer without a user may" {
	start_saving --access open
	cp "$F" "$T/orig"
	c=$(new_content new)
	save_now "$c" --user "$ALICE"
	refused "$reply" forbidden "nobody may save files under access = open"
	save_now "$c" --null-user
	refused "$reply" forbidden "nobody may save files under access = open"
	untouched "$F" "$T/orig"
	saves "$c"
}

# kernel_may_write USER PATH: "allowed" when USER (its groups from NSS, no
# capability) can open PATH for writing, else "denied". Opening for append
# and writing nothing changes nothing.
kernel_may_write() {
	if setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups \
	    --bounding-set=-all --inh-caps=-all -- \
	    sh -c ': >>"$1"' _ "$2" 2>/dev/null; then
		echo allowed
	else
		echo denied
	fi
}

write_forbidden() {
	echo "user $1 may not write ${2:-context.py} of proposal 1111"
}

@test "under access unix a member whose group may write saves; a read-only member, a non-member and user null may not, as the kernel decides" {
	unix_fixture
	setfacl -m "u:$BOB:r--" "$F"
	start_saving --access unix
	for u in "$ALICE" "$BOB" "$CAROL" root; do
		verdicts="$verdicts $u=$(kernel_may_write "$u" "$F")"
	done
	[ "$verdicts" = " $ALICE=allowed $BOB=denied $CAROL=denied root=allowed" ] ||
	    fail "the fixture is wrong: the kernel says$verdicts"
	cp "$F" "$T/orig"
	c=$(new_content new)
	for u in "$BOB" "$CAROL"; do
		save_now "$c" --user "$u"
		refused "$reply" forbidden "$(write_forbidden "$u")"
		log_has "event=access_denied user=\"$u\" proposal=1111 file=\"context.py\" access=unix want=write"
	done
	save_now "$c" --null-user
	refused "$reply" unauthenticated \
	    "nobody is logged in: log in to write the files of proposal 1111"
	untouched "$F" "$T/orig"
	old=$(crc32 "$F")
	reply=$(save context.py "$old" "$c" --user "$ALICE") || fail "$reply"
	saved "$reply" "$c"
	# Her own save, as from her editor: the new file is hers, in the
	# proposal's group, with the old mode.
	[ "$(stat -c '%a %U %G' "$F")" = "664 $ALICE $PROP_GROUP" ] ||
	    fail "after alice's save: $(stat -c '%a %U %G' "$F")"
	log_has "event=file_written user=\"$ALICE\" proposal=1111 file=\"context.py\" from=$old to=$(crc32 "$c") size=$(stat -c %s "$c")"
	# A trusted peer without a user may.
	c2=$(new_content root)
	saves "$c2"
	counters_are access_unauthenticated=1 writes=2
}

@test "under access unix an owner-only file is saved by its owner only; another member and a login named root may not" {
	unix_fixture
	chown "$ALICE:$PROP_GROUP" "$F"
	chmod 0600 "$F"
	start_saving --access unix
	cp "$F" "$T/orig"
	c=$(new_content new)
	[ "$(kernel_may_write "$BOB" "$F")" = denied ] || fail "the kernel lets bob write"
	save_now "$c" --user "$BOB"
	refused "$reply" forbidden "$(write_forbidden "$BOB")"
	# A login named root is a system account, never served.
	save_now "$c" --user root
	refused "$reply" forbidden "user root may not write the files of proposal 1111: root's, watcherd's own and system accounts (uid below 1000) are never served"
	untouched "$F" "$T/orig"
	saves "$c" --user "$ALICE"
	[ "$(stat -c '%a %U %G' "$F")" = "600 $ALICE $PROP_GROUP" ] ||
	    fail "after the save: $(stat -c '%a %U %G' "$F")"
}

# alice_saves_private CONTENT: alice's save of private/ctx.py succeeds;
# sets reply.
alice_saves_private() {
	reply=$(save private/ctx.py "$(crc32 "$DAMNIT/private/ctx.py")" "$1" \
	    --user "$ALICE")
	[ "$(json_get "$reply" .ok)" = true ]
}

@test "under access unix a member who may not search a directory on the way may not save a file in it, whatever its mode" {
	unix_fixture
	mkdir "$DAMNIT/private"
	printf 'p = 1\n' >"$DAMNIT/private/ctx.py"
	chmod 0666 "$DAMNIT/private/ctx.py"
	chgrp "$PROP_GROUP" "$DAMNIT/private"
	chmod 0700 "$DAMNIT/private"
	start_saving --access unix --allow 'private/*.py' --write-allow 'private/*.py'
	[ "$(kernel_may_write "$ALICE" "$DAMNIT/private/ctx.py")" = denied ] ||
	    fail "the kernel lets alice write"
	cp "$DAMNIT/private/ctx.py" "$T/orig"
	c=$(new_content new)
	reply=$(save private/ctx.py "$(crc32 "$T/orig")" "$c" --user "$ALICE") ||
	    fail "$reply"
	refused "$reply" forbidden "$(write_forbidden "$ALICE" private/ctx.py)"
	untouched "$DAMNIT/private/ctx.py" "$T/orig"
	# A save makes a new file beside the old one: the group needs write
	# on the directory too.
	chmod 0770 "$DAMNIT/private"
	[ "$(kernel_may_write "$ALICE" "$DAMNIT/private/ctx.py")" = allowed ]
	# As for reading, the change counts within a second or two.
	t0=$(now_ms)
	wait_until 3000 alice_saves_private "$c" ||
	    fail "alice is still forbidden 3 s after chmod: $reply"
	saved "$reply" "$c" "$DAMNIT/private/ctx.py"
	echo "# alice saves $(($(now_ms) - t0)) ms after chmod 0770" >&3
}

@test "a user's first save is answered while its access check waits off the loop, under access unix and access command" {
	# The account's lookup (unix) and the access command (ACCESS=write)
	# run off the loop: the payload, with the line or after it, must still
	# be read when the request goes on.
	unix_fixture
	for mode in unix command; do
		if [ "$mode" = command ]; then
			start_saving --access command --access-command /bin/true
		else
			start_saving --access unix
		fi
		c=$(new_content "$mode")
		reply=$(save context.py "$(crc32 "$F")" "$c" --user "$ALICE" \
		    --timeout 3) || fail "access $mode: $reply"
		saved "$reply" "$c"
		PYTHONPATH="$T" python3 - "$SOCK" "$F" "$BOB" <<'PY' ||
import sys, time
from wc import *
sock, path, user = sys.argv[1:]
c = Conn(sock, 3)
data = b"# bob's, the payload after a pause\n"
c.send(write_line(1111, "context.py", crc(open(path, "rb").read()),
                  len(data), user))
time.sleep(0.3)
c.send(data)
r = c.reply()
assert r["ok"] is True and r["checksum"] == crc(data), r
good, got = c.framing_intact()
assert good, got
PY
		    fail "access $mode: bob's first save, its payload after the line"
		stop_test_watcherd
	done
}

@test "a save refused for its user or its request still reads its payload: a forbidden user's payload is never taken for requests" {
	unix_fixture
	setfacl -m "u:$BOB:r--" "$F"
	start_saving --access unix
	cp "$F" "$T/orig"
	# BOB's payload is a save in alice's name.
	printf '# written in the name of alice\n' >"$T/smuggled"
	{
		jq -cjn --arg u "$ALICE" --arg c "$(crc32 "$F")" \
		    --argjson n "$(stat -c %s "$T/smuggled")" \
		    '{cmd:"write",proposal:1111,file_name:"context.py",user:$u,if_checksum:$c,payload:$n}'
		printf '\n'
		cat "$T/smuggled"
	} >"$T/payload"
	# save checks that the line after each refusal answers its ping.
	save_now "$T/payload" --user "$BOB"
	refused "$reply" forbidden "$(write_forbidden "$BOB")"
	save_now "$T/payload" --null-user
	refused "$reply" unauthenticated
	save_now "$T/payload" --proposal 1234567 --user "$ALICE"
	refused "$reply" bad_request
	untouched "$F" "$T/orig"
	counters_are writes=0
}

# Symbolic links.

@test "a save drops set-id bits and keeps owner and group; under unix the new file is the saving member's" {
	start_saving
	chown 1234:2345 "$F"
	chmod 6775 "$F"
	c=$(new_content setid)
	saves "$c"
	[ "$(stat -c '%a %u %g' "$F")" = "775 1234 2345" ] ||
	    fail "after the save: $(stat -c '%a %u %g' "$F")"
	stop_test_watcherd
	unix_fixture
	chown "root:$PROP_GROUP" "$F"
	chmod 0664 "$F"
	start_saving --access unix
	c=$(new_content alice)
	saves "$c" --user "$ALICE"
	[ "$(stat -c '%a %U %G' "$F")" = "664 $ALICE $PROP_GROUP" ] ||
	    fail "after alice's save: $(stat -c '%a %U %G' "$F")"
}

@test "under unix a save's version is the saving member's, in a history of the proposal's group" {
	unix_fixture
	start_saving --access unix
	c=$(new_content alice-version)
	saves "$c" --user "$ALICE"
	# Kept just after the answer.
	wait_until 5000 eval 'ls "$DAMNIT/.history/context.py" 2>/dev/null | grep -q -- "-save-$ALICE\$"'
	v=$(ls "$DAMNIT/.history/context.py" | grep -- "-save-$ALICE\$") ||
	    fail "no version of $ALICE's: $(ls -l "$DAMNIT/.history/context.py")"
	[ "$(stat -c '%U %G' "$DAMNIT/.history/context.py/$v")" = "$ALICE $PROP_GROUP" ] ||
	    fail "$(stat -c '%U %G %a' "$DAMNIT/.history/context.py/$v")"
	[ "$(stat -c '%G %a' "$DAMNIT/.history")" = "$PROP_GROUP 2770" ] ||
	    fail "$(stat -c '%U %G %a' "$DAMNIT/.history")"
	cmp "$DAMNIT/.history/context.py/$v" "$c"
}

@test "a member swapping the save's directory for a link to another proposal in a loop: no byte is written outside the proposal" {
	local victim=$T/data/SPB/202601/p002222/usr/Shared/amore i c reply
	mkdir -p "$victim/d/sub" "$DAMNIT/d/sub"
	printf 'victim = 1\n' >"$victim/d/sub/ctx.py"
	printf 'mine = 1\n' >"$DAMNIT/d/sub/ctx.py"
	cp "$victim/d/sub/ctx.py" "$T/victim.orig"
	start_saving --write-allow 'd/sub/*.py'
	# The member's loop, bounded: d is now the real folder, now a link to
	# the victim's, a few thousand times.
	spawn bash -c 'cd "$1" || exit 1
	    for i in $(seq 3000); do
	        mv d d.real && ln -s "$2" d && rm d && mv d.real d
	    done' _ "$DAMNIT" "$victim/d"
	for i in $(seq 60); do
		c=$(new_content "race.$i")
		reply=$(save d/sub/ctx.py "$(crc32 "$DAMNIT/d.real/sub/ctx.py" 2>/dev/null ||
		    crc32 "$DAMNIT/d/sub/ctx.py")" "$c") || true
	done
	kill_spawned
	untouched "$victim/d/sub/ctx.py" "$T/victim.orig"
	[ "$(ls -A "$victim/d/sub")" = ctx.py ] ||
	    fail "the victim's folder holds: $(ls -A "$victim/d/sub")"
}

@test "a symlink inside the folder saves its target, and stays a link" {
	mkdir "$DAMNIT/sub"
	printf 'real = 1\n' >"$DAMNIT/sub/real.py"
	chmod 0640 "$DAMNIT/sub/real.py"
	ln -s sub/real.py "$DAMNIT/link.py"
	start_saving --allow link.py --write-allow link.py
	c=$(new_content new)
	reply=$(save link.py "$(crc32 "$DAMNIT/sub/real.py")" "$c") || fail "$reply"
	saved "$reply" "$c" "$DAMNIT/sub/real.py"
	[ -L "$DAMNIT/link.py" ] || fail "link.py is no longer a link"
	[ "$(readlink "$DAMNIT/link.py")" = sub/real.py ]
	[ "$(stat -c %a "$DAMNIT/sub/real.py")" = 640 ]
	no_leftovers "$DAMNIT"
}

@test "a symlink that leads outside the folder is refused and the file outside is untouched" {
	mkdir "$T/outside"
	printf 'outside = 1\n' >"$T/outside/o.py"
	cp "$T/outside/o.py" "$T/o.orig"
	ln -s "$T/outside/o.py" "$DAMNIT/abs.py"
	ln -s ../../../../../../../outside/o.py "$DAMNIT/rel.py"
	[ -e "$DAMNIT/rel.py" ] || fail "the relative link is wrong"
	ln -s "$T/outside" "$DAMNIT/dir"
	start_saving --allow '*.py' --allow 'dir/*.py' \
	    --write-allow '*.py' --write-allow 'dir/*.py'
	c=$(new_content new)
	for name in abs.py rel.py dir/o.py; do
		reply=$(save "$name" "$(crc32 "$T/o.orig")" "$c") || fail "$reply"
		refused "$reply" forbidden "file_name resolves outside the DAMNIT folder"
		untouched "$T/outside/o.py" "$T/o.orig"
	done
	[ -L "$DAMNIT/abs.py" ] && [ -L "$DAMNIT/rel.py" ]
	no_leftovers "$DAMNIT" "$T/outside"
}

# The payload.

@test "a payload over max-file-size is too_large once its bytes are skipped, and the same connection goes on" {
	start_saving --max-file-size 65536
	cp "$F" "$T/orig"
	PYTHONPATH="$T" python3 - "$SOCK" "$(crc32 "$F")" <<'PY'
import sys
from wc import *
sock, old = sys.argv[1:]
c = Conn(sock)
data = b"x" * 200000
c.send(write_line(1111, "context.py", old, len(data)) + data[:100000])
assert c.quiet(0.3), "answered before the payload's end: %r" % c.buf
c.send(data[100000:])
r = c.reply()
assert r == {"ok": False, "error": "too_large",
             "detail": "the new content is larger than max-file-size"}, r
good, got = c.framing_intact()
assert good, "after too_large, a ping got %r" % got
PY
	untouched "$F" "$T/orig"
	# Exactly max-file-size is not too large.
	head -c 65536 /dev/zero | tr '\0' '#' >"$T/max"
	save_now "$T/max"
	saved "$reply" "$T/max"
}

@test "saves past write-memory are unavailable, their bytes skipped, until the saves under way are done" {
	# A validator that takes a second holds the first save's content.
	slow_validator 1
	start_saving --write-memory 100k --validate "context.py $T/slow.sh"
	old=$(crc32 "$F")
	head -c 61440 /dev/zero | tr '\0' 'a' >"$T/a"
	head -c 61440 /dev/zero | tr '\0' 'b' >"$T/b"
	save context.py "$old" "$T/a" >"$T/first" &
	first=$!
	held_is() { [ "$(status_of write_held_bytes)" = "$1" ]; }
	wait_until 2000 held_is 61440 ||
	    fail "write_held_bytes: $(status_of write_held_bytes)"
	# 60 KiB more would pass 100 KiB: refused, and the connection goes on
	# (wc.py pings after the reply).
	reply=$(save context.py "$old" "$T/b") || fail "$reply"
	[ "$(json_get "$reply" .error)" = unavailable ] || fail "$reply"
	[ "$(json_get "$reply" .detail)" = "too many saves are under way (write-memory); try again" ] ||
	    fail "$reply"
	wait "$first" || fail "the first save: $(cat "$T/first")"
	saved "$(cat "$T/first")" "$T/a"
	held_is 0
	# Once it is done, the same save is taken.
	reply=$(save context.py "$(crc32 "$T/a")" "$T/b") || fail "$reply"
	saved "$reply" "$T/b"
	held_is 0
	log_has 'event=file_not_written .*error=unavailable detail="too many saves are under way' ||
	    { show_log; fail "no file_not_written line"; }
}

@test "a payload sent in small pieces with pauses is saved whole" {
	start_saving
	PYTHONPATH="$T" python3 - "$SOCK" "$F" <<'PY'
import os, sys, time
from wc import *
sock, path = sys.argv[1:]
c = Conn(sock)
data = os.urandom(40 * 1024)
old = crc(open(path, "rb").read())
line = write_line(1111, "context.py", old, len(data))
c.send(line[:10])
time.sleep(0.05)
c.send(line[10:])
for i in range(0, len(data), 1024):
    time.sleep(0.025)
    c.send(data[i:i + 1024])
r = c.reply()
assert r["ok"] is True and r["checksum"] == crc(data), r
assert open(path, "rb").read() == data, "the file is not the payload"
good, got = c.framing_intact()
assert good, got
PY
}

@test "a connection that closes inside its payload writes nothing, and watcherd goes on serving" {
	start_saving
	cp "$F" "$T/orig"
	PYTHONPATH="$T" python3 - "$SOCK" "$(crc32 "$F")" <<'PY'
import sys, time
from wc import *
sock, old = sys.argv[1:]
for cut in (0, 1, 5000):
    c = Conn(sock)
    c.send(write_line(1111, "context.py", old, 10000) + b"y" * cut)
    time.sleep(0.1)
    c.close()
PY
	sleep 0.2
	untouched "$F" "$T/orig"
	no_leftovers "$DAMNIT"
	watcherd_answers
	# What the cut payloads held is given back.
	counters_are writes=0 write_conflicts=0 write_held_bytes=0
	c=$(new_content new)
	saves "$c"
}

@test "a request line, its payload and the next requests in one send are all answered, in order; a payload that looks like requests is content" {
	start_saving
	PYTHONPATH="$T" python3 - "$SOCK" "$F" <<'PY'
import sys
from wc import *
sock, path = sys.argv[1:]
c = Conn(sock)
old = crc(open(path, "rb").read())
first = PING * 3 + b'{"cmd":"status"}\n'
second = b"second = 2\n"
c.send(write_line(1111, "context.py", old, len(first)) + first +
       write_line(1111, "context.py", crc(first), len(second)) + second +
       PING)
r1, r2, r3 = c.reply(), c.reply(), c.line()
assert r1["ok"] is True and r1["checksum"] == crc(first), r1
assert r2["ok"] is True and r2["checksum"] == crc(second), r2
assert is_pong(r3), r3
assert c.quiet(0.3), "more replies: %r" % c.buf
assert open(path, "rb").read() == second
PY
}

@test "a save without a valid if_checksum or payload is a bad request, and the connection goes on" {
	start_saving
	cp "$F" "$T/orig"
	PYTHONPATH="$T" python3 - "$SOCK" "$(crc32 "$F")" <<'PY'
import json, sys
from wc import *
sock, old = sys.argv[1:]
data = b"z = 1\n"
c = Conn(sock)
for ifc in (ABSENT, "", old[:7], old + "0", "xyzxyzxy", 12345678, None):
    req = json.loads(write_line(1111, "context.py", old, len(data)))
    if ifc is ABSENT:
        del req["if_checksum"]
    else:
        req["if_checksum"] = ifc
    c.send(json.dumps(req).encode() + b"\n" + data)
    r = c.reply()
    assert r["ok"] is False and r["error"] == "bad_request", (ifc, r)
    assert "if_checksum" in r["detail"], (ifc, r)
    good, got = c.framing_intact()
    assert good, (ifc, got)
for size in (ABSENT, -1, "6", 1.5):
    req = json.loads(write_line(1111, "context.py", old, 0))
    if size is ABSENT:
        del req["payload"]
    else:
        req["payload"] = size
    c.send(json.dumps(req).encode() + b"\n")
    r = c.reply()
    assert r["ok"] is False and r["error"] == "bad_request", (size, r)
    assert "payload" in r["detail"], (size, r)
    good, got = c.framing_intact()
    assert good, (size, got)
PY
	untouched "$F" "$T/orig"
}

# Locks and a second daemon.

@test "two watcherds over one tree taking saves from the same checksum at once: exactly one wins every round" {
	start_saving
	start_watcherd2 --write
	wins1=0 wins2=0
	for round in $(seq 10); do
		mkdir "$T/r$round"
		python3 "$T/wc.py" race --sock "$SOCK,$SOCK2" --count 2 \
		    context.py "$(crc32 "$F")" "$T/r$round"
		winner=$(race_winner "$T/r$round" 2) || fail "round $round"
		cmp -s "$F" "$T/r$round/$winner.data" ||
		    fail "round $round: the file is not the winner's"
		if [ "$winner" = 0 ]; then wins1=$((wins1 + 1)); else wins2=$((wins2 + 1)); fi
	done
	w1=$(status_of writes) c1=$(status_of write_conflicts)
	w2=$(SOCK=$SOCK2 status_of writes) c2=$(SOCK=$SOCK2 status_of write_conflicts)
	[ $((w1 + w2)) = 10 ] && [ $((c1 + c2)) = 10 ] ||
	    fail "writes $w1+$w2, conflicts $c1+$c2"
	no_leftovers "$DAMNIT"
	echo "# wins: first watcherd $wins1, second $wins2" >&3
}

# hold_lock KIND: a process that holds a write lock on context.py (KIND
# ofd: F_OFD_SETLK; posix: lockf) until $T/release exists (at most 20 s),
# and then writes the time it let go (seconds since the epoch) to
# $T/released; waits until it holds the lock. Sets HOLDER.
hold_lock() {
	rm -f "$T/release" "$T/released" "$T/locked"
	cat >"$T/hold.py" <<'PY'
import fcntl, os, struct, sys, time
path, kind, locked, release = sys.argv[1:]
fd = os.open(path, os.O_RDWR)
if kind == "ofd":
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK,
                struct.pack("=hh4xqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
else:
    fcntl.lockf(fd, fcntl.LOCK_EX)
open(locked, "w").close()
deadline = time.monotonic() + 20
while not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(0.01)
let_go = time.time()
os.close(fd)
with open(release[:-len("release")] + "released", "w") as f:
    f.write("%.6f\n" % let_go)
PY
	spawn python3 "$T/hold.py" "$F" "$1" "$T/locked" "$T/release" </dev/null
	HOLDER=$SPAWNED
	wait_until 3000 test -e "$T/locked" || fail "the lock holder did not lock"
}

@test "a file another process holds a write lock on: a save waits, is unavailable after about 2 s, then saves once the lock is gone" {
	start_saving
	for kind in ofd posix; do
		echo "$kind lock"
		hold_lock "$kind"
		c=$(new_content "$kind")
		save_unavailable_within 1800 4000 "the file is being saved from elsewhere; try again" "$c"
		touch "$T/release"
		wait_until 3000 pid_gone "$HOLDER" || fail "the holder did not end"
		saves "$c"

		# A lock let go within the 2 s: the save waits for it, and is
		# answered after it.
		hold_lock "$kind"
		c=$(new_content "$kind.2")
		(sleep 0.8; touch "$T/release") &
		toucher=$!
		save_now "$c" --elapsed-to "$T/ms" --replied-at "$T/replied"
		wait "$toucher"
		wait_until 3000 pid_gone "$HOLDER"
		saved "$reply" "$c"
		awk -v a="$(cat "$T/replied")" -v b="$(cat "$T/released")" \
		    'BEGIN { exit !(a >= b) }' ||
		    fail "$kind: saved at $(cat "$T/replied"), the lock was let go at $(cat "$T/released")"
		echo "# $kind: a save waited $(cat "$T/ms") ms, until the lock was let go" >&3
	done
	no_leftovers "$DAMNIT"
}

# A stalled mount.

@test "a save on a stalled mount is unavailable within fs-timeout and writes nothing, even after the thaw; local saves go on meanwhile" {
	mount_stallfs
	start_saving --fs-timeout 500
	r=$(send "$(req checksum 2222 context.py)")
	[ "$(json_get "$r" .checksum)" = "$(crc32 "$FUSE_FILE")" ] || fail "$r"
	cp "$FUSE_FILE" "$T/remote.orig"
	printf 'remote = 2\n' >"$T/remote.new"
	freeze
	# The save waits on the frozen mount (at most 12 s here).
	spawn python3 "$T/wc.py" save --sock "$SOCK" --proposal 2222 --timeout 12 \
	    --elapsed-to "$T/stalled.ms" context.py "$(crc32 "$T/remote.orig")" \
	    "$T/remote.new" >"$T/stalled.reply" 2>"$T/stalled.err"
	stalled=$SPAWNED
	sleep 0.1
	c=$(new_content local)
	saves "$c" --elapsed-to "$T/local.ms"
	[ "$(cat "$T/local.ms")" -lt 500 ] ||
	    fail "a local save took $(cat "$T/local.ms") ms during the stall"
	# Once the mount is known to be stalled, a save is refused at once.
	sleep 0.7
	reply=$(save context.py "$(crc32 "$T/remote.orig")" "$T/remote.new" \
	    --proposal 2222 --elapsed-to "$T/next.ms") || fail "$reply"
	refused "$reply" unavailable "the file system of proposal 2222 is not responding"
	[ "$(cat "$T/next.ms")" -lt 300 ] || fail "the next save took $(cat "$T/next.ms") ms"

	problems=
	wait_until 13000 pid_gone "$stalled" || problems="$problems
the first save's client is still waiting after 13 s"
	reply=$(cat "$T/stalled.reply")
	took=$(cat "$T/stalled.ms" 2>/dev/null)
	if [ -z "$reply" ]; then
		problems="$problems
the first save got no reply: $(cat "$T/stalled.err")"
	elif [ "$(json_get "$reply" .error)" != unavailable ] ||
	    [ "$(json_get "$reply" .detail)" != "the file system of proposal 2222 is not responding" ]; then
		problems="$problems
the first save got: $reply"
	fi
	[ -n "$took" ] && [ "$took" -lt 1500 ] || problems="$problems
the first save was answered after ${took:-?} ms (fs-timeout 500)"

	thaw
	# Time for anything held in the mount to go on.
	sleep 0.5
	cmp -s "$FUSE_FILE" "$T/remote.orig" || problems="$problems
after the thaw the file holds: $(cat "$FUSE_FILE")"
	left=$(save_leftovers "$BACKING")
	[ -z "$left" ] || problems="$problems
temporary files after the thaw: $left"
	if watcherd_answers; then
		wait_until 3000 test "$(status_of fs_stalled)" = 0 ||
		    problems="$problems
the mount was not recovered within 3 s of the thaw"
		c=$(new_content remote 'remote = 3\n')
		reply=$(save context.py "$(crc32 "$FUSE_FILE")" "$c" --proposal 2222)
		saved "$reply" "$c" "$FUSE_FILE" 2>/dev/null || problems="$problems
a save after the thaw got: $reply"
	else
		problems="$problems
watcherd no longer answers after the thaw: $(grep -m 1 SUMMARY "$LOG" || tail -n 1 "$LOG")"
	fi
	echo "# first save on the frozen mount: ${took:-?} ms: $(cat "$T/stalled.reply")" >&3
	[ -z "$problems" ] || fail "on a stalled mount:$problems"
}

# Counters and the log.

@test "status counts saves, conflicts and refusals by validators, and the log has a line for each" {
	start_saving --validate "context.py $VALIDATE_CONTEXT"
	counters_are write=true writes=0 write_conflicts=0 write_invalid=0
	old=$(crc32 "$F")
	c=$(new_content one 'one = 1\n')
	reply=$(save context.py "$old" "$c") || fail "$reply"
	saved "$reply" "$c"
	log_has "level=info event=file_written user=- proposal=1111 file=\"context.py\" from=$old to=$(crc32 "$c") size=8$"
	c2=$(new_content two 'two = 2\n')
	reply=$(save context.py "$(crc32 "$c")" "$c2") || fail "$reply"
	saved "$reply" "$c2"
	reply=$(save context.py "$old" "$c") || fail "$reply"
	refused "$reply" conflict
	log_has 'event=file_not_written user=- proposal=1111 file="context.py" error=conflict detail="the file is no longer what the edit started from"$'
	bad=$(new_content bad 'def f(:\n')
	save_now "$bad"
	refused "$reply" invalid
	save_now "$bad"
	refused "$reply" invalid
	log_has 'event=file_not_written user=- proposal=1111 file="context.py" error=invalid detail="'
	counters_are writes=2 write_conflicts=1 write_invalid=2
	[ "$(grep -c 'event=file_written' "$LOG")" = 2 ]
	[ "$(grep -c 'event=file_not_written' "$LOG")" = 3 ]
}
