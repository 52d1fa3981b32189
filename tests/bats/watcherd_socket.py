"""watcherd's socket for the Python clients of the bats suites: a request
line out, the reply line back. Found through PYTHONPATH=$BATS_TEST_DIRNAME,
or beside the script that imports it."""

import json, socket


def connect(path, timeout):
    """A connection to the socket at path, every wait on it bounded by
    timeout seconds (socket.timeout past that)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def send(s, request):
    """request, a dict, as one line on the connection s."""
    s.sendall(json.dumps(request, separators=(",", ":")).encode() + b"\n")


def read_reply(s):
    """The reply line on s, parsed: the bytes up to the first newline, or
    all that came before the connection ended."""
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return json.loads(buf.split(b"\n")[0])


def ask(path, request, timeout):
    """request on a connection of its own; the reply, parsed."""
    s = connect(path, timeout)
    try:
        send(s, request)
        return read_reply(s)
    finally:
        s.close()
