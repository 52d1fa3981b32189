# What the bats suites (bats/common.bash) and the benchmarks
# (bench/procs.bash) both ask of the machine, taking nothing from either:
# whether a process runs, and a loopback port to listen on.

# pid_alive PID: 0 while the process runs; a zombie counts as gone.
pid_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat:0:1}" != Z ]
}

# free_port: a TCP port nobody listens on at the moment on the loopback
# interface.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
