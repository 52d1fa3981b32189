"""The scripted session of tests/memcheck/watcherd.bats on a mount that
may stall: proposal 2222 on build/tools/stallfs, so that every stat, read
and save runs on watcherd's worker threads; checksums and content, polls
of many files in batches, a subscriber told of a change the polls found,
a save.

The mount is not frozen here: valgrind runs one thread at a time, and a
thread blocked in a stat (which valgrind does not expect to block) keeps
the others, the loop included, from running until the thaw. The stall
and the recovery are left to the ASan (with its leak check) and TSan runs
of tests/bats/stall.bats.

    stall_session.py SOCKET BACKING_DAMNIT_DIR

Prints one line per step on stdout; exits non-zero, saying why on stderr,
when a reply is not what watcherd promises.
"""

import os, sys, zlib

from client import Client, event, expect, step

SOCK, BACKING = sys.argv[1], sys.argv[2]
MANY = 40


def f(name, **kw):
    return dict(cmd=kw.pop("cmd"), proposal=2222, file_name=name, **kw)


def crc(data):
    return "%08x" % zlib.crc32(data)


def append(name, text):
    with open(os.path.join(BACKING, name), "ab") as out:
        out.write(text)


c = Client(SOCK)
step("checksum and content of a file on the mount, %d files watched" % MANY)
ctx = open(os.path.join(BACKING, "context.py"), "rb").read()
r = c.ask(f("context.py", cmd="checksum"))
expect(r["ok"] and r["checksum"] == crc(ctx) and r["mode"] == "poll",
       "checksum: %r" % r)
r = c.ask(f("context.py", cmd="content", format="raw"))
expect(r["ok"] and r["_payload"] == ctx, "content: %r" % r)
os.makedirs(os.path.join(BACKING, "many"), exist_ok=True)
for i in range(MANY):
    with open(os.path.join(BACKING, "many", "f%02d.log" % i), "wb") as out:
        out.write(b"file %d\n" % i)
for i in range(MANY):
    r = c.ask(f("many/f%02d.log" % i, cmd="checksum"))
    expect(r["ok"], "checksum of many/f%02d.log: %r" % (i, r))

step("a change seen by the polls alone reaches a subscriber")
sub = Client(SOCK)
expect(sub.ask(f("many/f05.log", cmd="subscribe"))["ok"], "subscribe")
append("many/f05.log", b"more\n")
event(sub, "many/f05.log", "changed")

step("a save on the mount")
new = b"x = 2\n"
r = c.ask(f("context.py", cmd="write", if_checksum=crc(ctx), payload=len(new)),
          payload=new)
expect(r["ok"] and r["checksum"] == crc(new), "write: %r" % r)

step("a second change, and the save, read back")
append("many/f05.log", b"again\n")
event(sub, "many/f05.log", "changed")
r = c.ask(f("context.py", cmd="content", format="raw"))
expect(r["ok"] and r["_payload"] == new, "content after the save: %r" % r)
sub.close()
c.close()
