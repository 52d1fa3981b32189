#!/usr/bin/env bash
# Installs the Debian packages that building and testing need, when they are
# missing: with apt-get when run as root, else prints the one command to run.
# The browser's packages are wanted, not needed: when they cannot be
# installed, the browser tests say so and the rest runs; so are the FastAPI
# baseline's of make bench.
set -eu

# "command-or-pkg-config-name package" pairs.
needs=(
	"cc gcc"
	"make make"
	"pkg-config pkg-config"
	"pc:json-c libjson-c-dev"
	"pc:zlib zlib1g-dev"
	"pc:fcgi libfcgi-dev"
	"pc:fuse3 libfuse3-dev"
	"fusermount3 fuse3"
	"bats bats"
	"socat socat"
	"jq jq"
	"python3 python3"
	"curl curl"
	"lighttpd lighttpd"
	"apache2 apache2"
	"/usr/lib/apache2/modules/mod_fcgid.so libapache2-mod-fcgid"
	"/usr/lib/apache2/modules/mod_auth_openidc.so libapache2-mod-auth-openidc"
	"wrk wrk"
	"clang clang"
	"valgrind valgrind"
	"haproxy haproxy"
	"setpriv util-linux"
	"man man-db"
	"dpkg-shlibdeps dpkg-dev"
	"systemd-analyze systemd"
	"strace strace"
	"openssl openssl"
	"setfacl acl"
)
wants=(
	"/usr/bin/chromium chromium"
	"node nodejs"
	"npm npm"
	"/usr/lib/python3/dist-packages/fastapi python3-fastapi"
	"/usr/lib/python3/dist-packages/uvicorn python3-uvicorn"
	"/usr/lib/python3/dist-packages/watchdog python3-watchdog"
	"/usr/lib/python3/dist-packages/pyflakes python3-pyflakes"
)

# absent PAIR...: the packages of the pairs whose command or file is absent.
absent() {
	local pair what
	for pair in "$@"; do
		what=${pair% *}
		case $what in
		pc:*)	command -v pkg-config >/dev/null 2>&1 &&
			    pkg-config --exists "${what#pc:}" && continue ;;
		/*)	[ -e "$what" ] && continue ;;
		*)	command -v "$what" >/dev/null 2>&1 && continue ;;
		esac
		echo "${pair#* }"
	done
}
mapfile -t missing < <(absent "${needs[@]}")
mapfile -t wanted < <(absent "${wants[@]}")

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
# The sanitizer runtimes come with gcc on Debian; check that they link.
if command -v cc >/dev/null 2>&1; then
	echo 'int main(void){return 0;}' > "$probe/p.c"
	cc -fsanitize=address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null ||
	    missing+=(libasan8 libubsan1)
fi
# libFuzzer (make fuzz) is clang's, in Debian's libclang-rt-14-dev.
if command -v clang >/dev/null 2>&1; then
	echo 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}' \
	    > "$probe/f.c"
	clang -fsanitize=fuzzer "$probe/f.c" -o "$probe/f" 2>/dev/null ||
	    missing+=(libclang-rt-14-dev)
else
	missing+=(libclang-rt-14-dev)
fi

[ ${#missing[@]} -eq 0 ] && [ ${#wanted[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	if [ ${#missing[@]} -gt 0 ]; then
		echo "missing packages; install them with:" >&2
		echo "  sudo apt-get install -y ${missing[*]} ${wanted[*]}" >&2
		exit 1
	fi
	echo "the browser tests will be skipped; to run them:" >&2
	echo "  sudo apt-get install -y ${wanted[*]}" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}" >&2
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if [ ${#wanted[@]} -gt 0 ]; then
	echo "installing: ${wanted[*]}" >&2
	apt-get install -y -qq --no-install-recommends "${wanted[@]}" >&2 ||
	    echo "could not install ${wanted[*]}: the browser tests will be skipped" >&2
fi
