"""The scripted session of tests/memcheck/watcherd.bats: every socket
command, subscriptions, saves in each way editors save, a delete and a
recreate, a file over max-file-size, a hook, a SIGHUP reload and bad or
overflowing input, against a watcherd that runs under valgrind (20-50
times slower than native: every wait is generous).

    session.py SOCKET DAMNIT_DIR HOOK_OUT WATCHERD_PID

Prints one line per step on stdout; exits non-zero, saying why on stderr,
when a reply is not what watcherd promises.
"""

import json, os, signal, sys, time, zlib

from client import WAIT, Client, event, expect, step

SOCK, DAMNIT, HOOK_OUT, PID = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def f(name, **kw):
    return dict(cmd=kw.pop("cmd"), proposal=1111, file_name=name, **kw)


c = Client(SOCK)
step("ping, status, list, checksum, content (raw, json), tail (raw, json)")
expect(c.ask({"cmd": "ping"})["ok"], "ping")
expect(c.ask({"cmd": "status"})["ok"], "status")
r = c.ask(f("context.py", cmd="checksum"))
expect(r["ok"] and len(r["checksum"]) == 8, "checksum: %r" % r)
r = c.ask(f("context.py", cmd="content", format="raw"))
expect(r["ok"] and r["_payload"] == open(os.path.join(DAMNIT, "context.py"), "rb").read(),
       "content raw")
r = c.ask(f("context.py", cmd="content", format="json"))
expect(r["ok"] and json.loads(r["_payload"]).encode() ==
       open(os.path.join(DAMNIT, "context.py"), "rb").read(), "content json")
r = c.ask(f("damnit.log", cmd="tail", offset=5, max_bytes=100, format="raw"))
expect(r["ok"] and r["offset"] == 5, "tail raw: %r" % r)
gen = r["generation"]
r = c.ask(f("damnit.log", cmd="tail", offset=0, generation=gen, format="json"))
expect(r["ok"] and not r["reset"], "tail json: %r" % r)
r = c.ask(f("damnit.log", cmd="tail", offset=10 ** 9, generation="nope"))
expect(r["ok"] and r["reset"], "tail past the end resets: %r" % r)
r = c.ask({"cmd": "list"})
expect(r["ok"] and len(r["watches"]) >= 2, "list: %r" % r)

step("access = unix: root and nobody refused, null is unauthenticated, an unknown name forbidden, daemon asked of the kernel")
for user, want in [("root", "forbidden"), ("nobody", "forbidden"),
                   (None, "unauthenticated"), ("no-such-user-here", "forbidden")]:
    r = c.ask(f("context.py", cmd="checksum", user=user))
    expect(r.get("error") == want, "user %r: %r" % (user, r))
# daemon (uid 1, let in by --min-uid 1) goes through the credentials path:
# the kernel answers, whichever way the test's folders let it.
for name in ("context.py", "missing.log", "context.py"):
    r = c.ask(f(name, cmd="checksum", user="daemon"))
    expect(r.get("error") in (None, "forbidden", "not_found"),
           "daemon, %s: %r" % (name, r))

step("write: a save, a conflict, one the validator refuses, one skipped as too large")
ctx_bytes = open(os.path.join(DAMNIT, "context.py"), "rb").read()
crc = "%08x" % zlib.crc32(ctx_bytes)
new = b"x = 1\n"
r = c.ask(f("context.py", cmd="write", if_checksum=crc, payload=len(new)), payload=new)
expect(r["ok"] and r["checksum"] == "%08x" % zlib.crc32(new), "write: %r" % r)
r = c.ask(f("context.py", cmd="write", if_checksum=crc, payload=len(new)), payload=new)
expect(r.get("error") == "conflict", "conflict: %r" % r)
bad = b"x = (\n"
r = c.ask(f("context.py", cmd="write", if_checksum="%08x" % zlib.crc32(new),
            payload=len(bad)), payload=bad)
expect(r.get("error") == "invalid" and r["errors"], "invalid: %r" % r)
r = c.ask(f("context.py", cmd="write", if_checksum=crc, payload=9000), payload=b"z" * 9000)
expect(r.get("error") == "too_large", "too large: %r" % r)
expect(c.ask({"cmd": "ping"})["ok"], "ping after the saves")

step("subscriptions: context.py and damnit.log on one connection, a second subscriber")
sub = Client(SOCK)
expect(sub.ask(f("context.py", cmd="subscribe"))["ok"], "subscribe context.py")
expect(sub.ask(f("damnit.log", cmd="subscribe"))["ok"], "subscribe damnit.log")
sub2 = Client(SOCK)
expect(sub2.ask(f("context.py", cmd="subscribe"))["ok"], "second subscriber")

ctx = os.path.join(DAMNIT, "context.py")
step("in-place save (truncate and write) fires the hook")
with open(ctx, "w") as fh:
    fh.write("# saved in place\n" * 50)
event(sub, "context.py", "changed")
deadline = time.monotonic() + WAIT
while time.monotonic() < deadline and not os.path.exists(HOOK_OUT):
    time.sleep(0.1)
expect(os.path.exists(HOOK_OUT), "the hook ran within %d s" % WAIT)

step("rename-over save")
with open(ctx + ".swp", "w") as fh:
    fh.write("# saved by rename\n" * 60)
os.replace(ctx + ".swp", ctx)
event(sub, "context.py", "changed")

step("append to a log (a hook_match line)")
with open(os.path.join(DAMNIT, "damnit.log"), "a") as fh:
    fh.write("ERROR something broke\nall fine\n")
event(sub, "damnit.log", "changed")

step("delete and recreate")
os.unlink(ctx)
event(sub, "context.py", "deleted")
expect(c.ask(f("context.py", cmd="checksum"))["error"] == "not_found", "deleted: not_found")
with open(ctx, "w") as fh:
    fh.write("# recreated\n")
event(sub, "context.py", "created")

step("a file grows past max-file-size, and one starts over it")
with open(ctx, "a") as fh:
    fh.write("x" * 9000)
e = event(sub, "context.py", "changed")
expect(e.get("too_large") is True and e["checksum"] is None, "too_large event: %r" % e)
big = os.path.join(DAMNIT, "big.log")
with open(big, "w") as fh:
    fh.write("y" * 9000)
r = c.ask(f("big.log", cmd="checksum"))
expect(r["error"] == "too_large", "too_large: %r" % r)
r = c.ask(f("big.log", cmd="tail", offset=8000))
expect(r["ok"] and r["payload"] == 1000, "tail of a large file: %r" % r)
with open(ctx, "w") as fh:
    fh.write("# small again\n")
event(sub, "context.py", "changed")

step("unwatch drops both subscribers of context.py")
r = c.ask(f("context.py", cmd="unwatch"))
expect(r["ok"] and r["subscribers_dropped"] == 2, "unwatch: %r" % r)
event(sub, "context.py", "unwatched")
event(sub2, "context.py", "unwatched")
sub2.close()

step("SIGHUP reload")
os.kill(PID, signal.SIGHUP)
expect(c.ask({"cmd": "ping"})["ok"], "ping after SIGHUP")

step("bad input: bad JSON, no cmd, unknown cmd, bad fields, forbidden names")
for req in ['{"cmd":', "[]", '{"nocmd":1}', '{"cmd":"frobnicate"}', '{"cmd":"checksum"}',
            '{"cmd":"checksum","proposal":"abc","file_name":"context.py"}',
            '{"cmd":"checksum","proposal":1111,"file_name":7}',
            '{"cmd":"tail","proposal":1111,"file_name":"damnit.log","offset":-1}',
            '{"cmd":"content","proposal":1111,"file_name":"context.py","format":"xml"}']:
    r = c.ask(req, raw=True)
    expect(r["ok"] is False and r["error"] == "bad_request", "%s: %r" % (req, r))
for name in ["../../../../etc/passwd", "/etc/passwd", "nope.txt", "a\u0001.log"]:
    r = c.ask(f(name, cmd="checksum"))
    expect(r["ok"] is False and r["error"] in ("bad_request", "forbidden"), "%r: %r" % (name, r))
r = c.ask({"cmd": "checksum", "proposal": 999999, "file_name": "context.py"})
expect(r["error"] == "not_found", "unknown proposal: %r" % r)

step("http_count: counts added, bogus ones refused")
r = c.ask({"cmd": "http_count", "counts": {"file_content": {"200": 3, "304": 1}}})
expect(r["ok"] and r["counts"] == {"file_content": {"200": 3, "304": 1}}, "http_count: %r" % r)
for counts in [{"bogus": {"200": 1}}, {"health": {"299": 1}}, {"health": {"200": -1}}, [1]]:
    r = c.ask({"cmd": "http_count", "counts": counts})
    expect(r["ok"] is False and r["error"] == "bad_request", "%r: %r" % (counts, r))

step("overflowing input: a line over 64 KiB, then the connection still answers")
r = c.ask('{"cmd":"ping","pad":"' + "z" * 70000 + '"}', raw=True)
expect(r["error"] == "bad_request", "long line: %r" % r)
expect(c.ask({"cmd": "ping"})["ok"], "ping after a long line")

step("a client that sends many requests and never reads, one that leaves mid-line")
flood = Client(SOCK)
req = (json.dumps(f("context.py", cmd="content", format="json")) + "\n").encode()
flood.s.setblocking(False)
sent = 0
try:
    while sent < 4 << 20:
        sent += flood.s.send(req * 64)
except BlockingIOError:
    pass
flood.close()
half = Client(SOCK)
half.s.sendall(b'{"cmd":"checksum","proposal":1111,"fi')
half.close()
expect(c.ask({"cmd": "ping"})["ok"], "ping after the flood")
sub.close()
c.close()
print("# session done: %d bytes flooded" % sent)
