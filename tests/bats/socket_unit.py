#!/usr/bin/env python3
"""A systemd socket unit in miniature, for install.bats.

usage: socket_unit.py SOCKET PIDFILE COMMAND [ARG]...

Binds SOCKET (mode 0660) and listens on it, as ListenStream= does. Then,
whenever a connection waits and COMMAND is not running, starts COMMAND as
systemd starts a socket-activated service: the socket as descriptor 3,
LISTEN_FDS=1, LISTEN_PID its pid, LISTEN_FDNAMES the unit's name. The
running COMMAND's pid is in PIDFILE (removed when it exits); each exit
appends "PID STATUS" to PIDFILE.exits. SIGTERM ends COMMAND and then this
process; the socket file stays, as systemd leaves it. At most 8 starts.
"""
import os
import select
import signal
import socket
import sys

MAX_STARTS = 8
LISTEN_FDS_START = 3

child = None


def start(sock, command):
    pid = os.fork()
    if pid == 0:
        os.dup2(sock.fileno(), LISTEN_FDS_START)
        os.set_inheritable(LISTEN_FDS_START, True)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDNAMES"] = "watcherd.socket"
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    return pid


def stop(signum, frame):
    if child is not None:
        try:
            os.kill(child, signal.SIGTERM)
            os.waitpid(child, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    sys.exit(0)


def main():
    global child
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    path, pidfile, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    signal.signal(signal.SIGTERM, stop)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    old = os.umask(0o117)
    sock.bind(path)
    os.umask(old)
    os.chmod(path, 0o660)
    sock.listen(64)
    for _ in range(MAX_STARTS):
        select.select([sock], [], [])
        child = start(sock, command)
        with open(pidfile + ".tmp", "w") as f:
            f.write("%d\n" % child)
        os.rename(pidfile + ".tmp", pidfile)
        _, status = os.waitpid(child, 0)
        os.unlink(pidfile)
        with open(pidfile + ".exits", "a") as f:
            f.write("%d %d\n" % (child, os.waitstatus_to_exitcode(status)))
        child = None


if __name__ == "__main__":
    main()
