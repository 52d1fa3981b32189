# DAMNIT file handler. `make` builds into build/, `make test` runs every test,
# `make bench` prints the performance figures, `make run` starts the demo,
# `make install` installs (PREFIX, DESTDIR), `make deb` builds the Debian
# package.

PKGS      := json-c zlib
CC        ?= cc
OPT       ?= -O2
CFLAGS    += -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror \
             -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
             -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null)
FCGI_LIBS := $(shell pkg-config --libs fcgi 2>/dev/null || echo -lfcgi)

# SANITIZE=1 builds the same programs with AddressSanitizer and
# UndefinedBehaviorSanitizer into build/asan/, SANITIZE=thread with
# ThreadSanitizer into build/tsan/.
ifeq ($(SANITIZE),1)
BUILD     ?= build/asan
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS   += -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
BUILD     ?= build/tsan
CFLAGS    += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS   += -fsanitize=thread
# FUZZ=1 builds the libFuzzer targets of tests/fuzz/ (clang, ASan+UBSan)
# into build/fuzz/.
else ifeq ($(FUZZ),1)
BUILD     ?= build/fuzz
CC        := clang
CFLAGS    += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS   += -fsanitize=fuzzer,address,undefined
else
BUILD     ?= build
endif

COMMON_SRC    := $(wildcard common/*.c)
WATCHERD_SRC  := $(wildcard watcherd/*.c watcherd/*/*.c)
WATCHERCTL_SRC:= $(wildcard watcherctl/*.c)
CGI_SRC       := $(wildcard cgi/*.c)
UNIT_SRC      := $(wildcard tests/unit/test_*.c)
TOOL_SRC      := $(wildcard tests/tools/*.c)
FUZZ_SRC      := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

PROGRAMS := $(BUILD)/watcherd $(BUILD)/watcherctl $(BUILD)/filehandler.fcgi
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOLS    := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
FUZZERS  := $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60

.PHONY: check all deps test unit asan bench run clean fuzzers fuzz install deb
all: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libcommon.a: $(call obj,$(COMMON_SRC))
	$(AR) rcs $@ $^

$(BUILD)/watcherd: $(call obj,$(WATCHERD_SRC)) $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ -pthread $(LDLIBS)

$(BUILD)/watcherctl: $(call obj,$(WATCHERCTL_SRC)) $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/filehandler.fcgi: $(call obj,$(CGI_SRC)) $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(FCGI_LIBS) -pthread $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A unit test of a part of watcherd links it from libwatcherd.a.
WATCHERD_UNITS := $(addprefix $(BUILD)/tests/,test_proc test_memo test_history)
$(WATCHERD_UNITS): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libwatcherd.a $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -pthread $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm

# The HTTP benchmark's FastCGI floor also needs libfcgi.
$(BUILD)/tools/fcgi_floor: $(BUILD)/obj/tests/tools/fcgi_floor.o $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FCGI_LIBS) $(LDLIBS)

# The file system that stalls on demand (tests of hung mounts) needs libfuse3.
$(BUILD)/obj/tests/tools/stallfs.o: CFLAGS += $(shell pkg-config --cflags fuse3 2>/dev/null)
$(BUILD)/tools/stallfs: $(BUILD)/obj/tests/tools/stallfs.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs fuse3 2>/dev/null || echo -lfuse3) -pthread

# The fuzz targets link the daemon and the handler without their main().
$(BUILD)/libwatcherd.a: $(call obj,$(filter-out watcherd/main.c,$(WATCHERD_SRC)))
	$(AR) rcs $@ $^

$(BUILD)/libhandler.a: $(call obj,$(filter-out cgi/filehandler.c,$(CGI_SRC)))
	$(AR) rcs $@ $^

$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/harness.o \
    $(BUILD)/libwatcherd.a $(BUILD)/libhandler.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(FCGI_LIBS) -pthread $(LDLIBS)

unit: $(UNITS)
tools: $(TOOLS)
ifeq ($(FUZZ),1)
fuzzers: $(FUZZERS)
else
fuzzers:
	$(MAKE) FUZZ=1 fuzzers
endif

# Installs missing Debian packages (as root) or prints the command that does.
deps:
	@scripts/deps.sh

# Every test, once on the plain build and once under ASan+UBSan; the last
# line is "N passed, N failed".
test: deps
	@tests/run-all

# The quick lane: the plain build's unit tests and bats suites, four
# suites at a time; SUITES="members writes" runs only those. Ends with
# "N passed, N failed" as test does.
check: deps
	@tests/check $(SUITES)

asan:
	$(MAKE) SANITIZE=1 all unit tools

# Every fuzz target over its corpus for FUZZ_SECONDS seconds (new inputs go
# to a scratch directory), then every regression input once.
fuzz: deps
	$(MAKE) -s fuzzers
	@tests/fuzz/run $(FUZZ_SECONDS)

bench: deps all tools
	@tests/bench/run

# The demo: watcherd and lighttpd on the embedded data tree, the file page
# on http://127.0.0.1:8080/ and the API below it at /filehandler/, in the
# foreground until Ctrl-C.
run: deps all
	@scripts/demo

# Where `make install` puts things: PREFIX (/usr/local), under DESTDIR when
# staging. The configuration goes to /etc when PREFIX is /usr. The handler
# goes where Debian's web servers look for CGI programs.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
CGIDIR     ?= $(PREFIX)/lib/cgi-bin
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share/damnit-filehandler
DOCDIR     ?= $(PREFIX)/share/doc/damnit-filehandler
LIBEXECDIR ?= $(PREFIX)/lib/damnit-filehandler
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
INSTALL    ?= install

MAN_PAGES := man/watcherd.8 man/watcherctl.1 man/filehandler.fcgi.8
SAMPLES   := lighttpd.conf.sample apache-fcgid.conf.sample haproxy.cfg.sample

# A config file already there is the administrator's: it is kept.
install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(CGIDIR) $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(DATADIR)/www/vendor $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(LIBEXECDIR)
	$(INSTALL) -m 0755 $(BUILD)/watcherd $(DESTDIR)$(SBINDIR)/watcherd
	$(INSTALL) -m 0755 $(BUILD)/watcherctl $(DESTDIR)$(BINDIR)/watcherctl
	$(INSTALL) -m 0755 $(BUILD)/filehandler.fcgi $(DESTDIR)$(CGIDIR)/filehandler.fcgi
	$(INSTALL) -m 0755 dist/validate-context $(DESTDIR)$(LIBEXECDIR)/
	[ -e $(DESTDIR)$(SYSCONFDIR)/watcherd.conf ] || { \
	    sed 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' dist/watcherd.conf \
	    >$(DESTDIR)$(SYSCONFDIR)/watcherd.conf && \
	    chmod 0644 $(DESTDIR)$(SYSCONFDIR)/watcherd.conf; }
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    dist/watcherd.service.in >$(DESTDIR)$(UNITDIR)/watcherd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/watcherd.service
	$(INSTALL) -m 0644 dist/watcherd.socket $(DESTDIR)$(UNITDIR)/watcherd.socket
	$(INSTALL) -m 0644 man/watcherctl.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 man/watcherd.8 man/filehandler.fcgi.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(wildcard www/*.*) $(DESTDIR)$(DATADIR)/www/
	$(INSTALL) -m 0644 $(wildcard www/vendor/*) $(DESTDIR)$(DATADIR)/www/vendor/
	$(INSTALL) -m 0644 README.md $(SAMPLES) $(DESTDIR)$(DOCDIR)/

# The Debian package, from the plain build: build/<package>_<version>_<arch>.deb.
VERSION  := $(shell sed -n 's/^\#define WATCHERD_VERSION "\(.*\)"/\1/p' watcherd/daemon.h)
DEB_VERSION ?= $(VERSION)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB      ?= build/damnit-filehandler_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_ROOT ?= build/deb/$(DEB_VERSION)
DEB_SRC  := $(MAN_PAGES) $(SAMPLES) README.md dist/watcherd.conf \
            dist/validate-context \
            dist/watcherd.service.in dist/watcherd.socket $(wildcard dist/deb/*) \
            $(wildcard www/*.* www/vendor/*)

deb:
	@$(MAKE) --no-print-directory SANITIZE=0 BUILD=build all
	@$(MAKE) --no-print-directory SANITIZE=0 BUILD=build $(DEB)

$(DEB): build/watcherd build/watcherctl build/filehandler.fcgi $(DEB_SRC) Makefile
	rm -rf $(DEB_ROOT)
	$(MAKE) --no-print-directory SANITIZE=0 BUILD=build PREFIX=/usr \
	    UNITDIR=/lib/systemd/system DESTDIR=$(abspath $(DEB_ROOT)) install
	dist/deb/build $(DEB_ROOT) $(DEB_VERSION) $@

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
