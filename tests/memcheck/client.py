"""A client of watcherd's socket for the memcheck sessions (session.py,
stall_session.py), against a watcherd that runs under valgrind, 20-50
times slower than native: every wait is generous."""

import json, socket, sys, time

WAIT = 60       # seconds for any one reply or event


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(WAIT)
        self.s.connect(path)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                sys.exit("watcherd closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def payload(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                sys.exit("watcherd closed the connection in a payload")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def ask(self, req, raw=False, payload=b""):
        self.s.sendall((req if raw else json.dumps(req)).encode() + b"\n" +
                       payload)
        reply = self.line()
        if reply.get("payload") and reply.get("ok"):
            reply["_payload"] = self.payload(reply["payload"])
        return reply

    def close(self):
        self.s.close()


def expect(cond, what):
    if not cond:
        sys.exit("step failed: " + what)


def event(c, name, kind):
    """The next event of c, which must be kind for name (other names' and
    earlier changes' events are skipped)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        e = c.line()
        if e.get("file_name") == name and e.get("event") == kind:
            return e
    sys.exit("no %s event for %s within %d s" % (kind, name, WAIT))


def step(text):
    print("# " + text, flush=True)
