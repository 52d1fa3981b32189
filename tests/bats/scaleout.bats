#!/usr/bin/env bats
# Several web nodes over one data tree: two watcherd + lighttpd pairs
# (lighttpd.conf.sample as shipped), each watcherd polling as it would on
# GPFS, behind HAProxy with haproxy.cfg.sample as shipped, round-robin. A
# client that talks to whichever node HAProxy picks sees the same
# checksums, offsets and generations from both.

load web_helpers
web_default_hooks

HAPROXY_CONF="$REPO_ROOT/haproxy.cfg.sample"
NODES="node1 node2"

setup_file() {
	local node
	export LB_PORT NODE_SOCKETS PREFIX
	web_setup_file || return 1
	for node in $NODES; do
		SOCK="$T/$node.sock" launch_watcherd "$T/$node-watcherd.log" \
		    --watch-mode poll --poll-interval 100 || return 1
		echo "$LAUNCHED_PID" >"$T/$node-watcherd.pid"
		SOCK="$T/$node.sock" start_lighttpd "$node" || return 1
		echo "$PORT" >"$T/$node.port"
		NODE_SOCKETS="${NODE_SOCKETS:+$NODE_SOCKETS,}$node=$T/$node.sock"
	done
	start_haproxy
}

teardown_file() {
	local node failed=0
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	stop_haproxy || failed=1
	for node in $NODES; do
		stop_lighttpd "$node" || failed=1
		end_pid "$(cat "$T/$node-watcherd.pid" 2>/dev/null)" \
		    "$WATCHERD_STOP_MS" TERM "watcherd ($node)" || failed=1
	done
	logs_clean all || failed=1
	rm -rf "$T"
	return "$failed"
}

# HAProxy in the foreground on a free port, the two nodes as its servers;
# waits at most 5 s until it answers /health.
start_haproxy() {
	local deadline
	LB_PORT=$(free_port)
	FILEHANDLER_LB_PORT="$LB_PORT" FILEHANDLER_LB_PID="$T/haproxy.pid" \
	    FILEHANDLER_NODE1="127.0.0.1:$(cat "$T/node1.port")" \
	    FILEHANDLER_NODE2="127.0.0.1:$(cat "$T/node2.port")" \
	    haproxy -db -f "$HAPROXY_CONF" </dev/null >>"$T/haproxy.out" 2>&1 3>&- &
	echo "$!" >"$T/haproxy.pid.bats"
	deadline=$(($(now_ms) + 5000))
	until [ "$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' \
	    "http://127.0.0.1:$LB_PORT$PREFIX/health")" = 200 ]; do
		if [ "$(now_ms)" -ge "$deadline" ]; then
			show_tail "$T/haproxy.out"
			fail "haproxy -f $HAPROXY_CONF did not answer /health within 5 s"
			return 1
		fi
		sleep 0.05
	done
}

stop_haproxy() {
	local pid
	pid=$(cat "$T/haproxy.pid.bats" 2>/dev/null) || return 0
	rm -f "$T/haproxy.pid.bats"
	end_pid "$pid" 5000 TERM haproxy
}

@test "haproxy.cfg.sample is valid as shipped" {
	run haproxy -c -f "$HAPROXY_CONF"
	[ "$status" -eq 0 ] || fail "$output"
}

@test "HAProxy sends requests round-robin to both nodes, which answer the same checksum" {
	local node seen="" crc
	crc=$(crc32 "$DAMNIT/context.py")
	for _ in 1 2 3 4; do
		curl -sS --max-time 5 -D "$T/h" -o "$T/b" \
		    "http://127.0.0.1:$LB_PORT$PREFIX/has_new_checksum?proposal=1111&file_name=context.py&checksum=$crc"
		node=$(header X-Filehandler-Node)
		[ "$(body)" = false ] || fail "$node answered $(body) for the current checksum"
		[ "$(header X-Checksum)" = "$crc" ]
		seen="$seen $node"
	done
	[ "$seen" = " node1 node2 node1 node2" ] || [ "$seen" = " node2 node1 node2 node1" ] ||
	    fail "answers came from$seen"
}

@test "polling through HAProxy: no spurious true, every change seen, on both nodes" {
	run python3 "$BATS_TEST_DIRNAME/scaleout.py" poll 12
	echo "# $output" >&3
	[ "$status" -eq 0 ] || fail "$output"
	[[ "$output" == *" spurious_trues=0 "* ]]
}

@test "file_tail through HAProxy: offsets and generations agree across nodes" {
	run python3 "$BATS_TEST_DIRNAME/scaleout.py" tail 10
	echo "# $output" >&3
	[ "$status" -eq 0 ] || fail "$output"
	[[ "$output" == *" spurious_resets=0 "* ]]
}

@test "a node that read a large file while it was written reads it again at its next poll" {
	# An in-place save of 8 MiB takes milliseconds; a node that reads the
	# file meanwhile gets a mix of old and new bytes under a stat that
	# does not change again. Both nodes must answer the file's CRC-32
	# within a few poll intervals (100 ms) of the end of each save.
	run python3 - "$DAMNIT/big.log" <<'PY'
import json, os, socket, sys, threading, time, zlib
path, size = sys.argv[1], 8 << 20
sockets = dict(kv.split("=", 1) for kv in os.environ["NODE_SOCKETS"].split(","))
open(path, "wb").write(b"a" * size)
conns = {}
for node, sock in sockets.items():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    conns[node] = (s, s.makefile("rb"))
def ask(node):
    s, f = conns[node]
    s.sendall(b'{"cmd":"checksum","proposal":1111,"file_name":"big.log"}\n')
    return json.loads(f.readline())["checksum"]
stale = reads = 0
for i in range(12):
    data = bytes([ord("b") + i]) * size
    done = threading.Event()
    def write():
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, data)
        os.close(fd)
        done.set()
    t = threading.Thread(target=write)
    t.start()
    while not done.is_set():
        for node in conns:
            ask(node)
            reads += 1
    t.join()
    time.sleep(0.5)
    want = "%08x" % zlib.crc32(data)
    for node in conns:
        got = ask(node)
        if got != want:
            stale += 1
            print("save %d: %s answers %s, the file is %s" % (i, node, got, want))
print("saves=12 queries_during_saves=%d stale_after_saves=%d" % (reads, stale))
sys.exit(1 if stale else 0)
PY
	echo "# ${lines[-1]}" >&3
	[ "$status" -eq 0 ] || fail "$output"
}
