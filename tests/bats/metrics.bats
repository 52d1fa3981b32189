#!/usr/bin/env bats
# GET /metrics through a real lighttpd (lighttpd.conf.sample) with several
# handler processes in front of a real watcherd: the Prometheus text, the
# answers of every handler process counted by route and status (watcherd
# keeps the totals), watcherd_up 0 without watcherd, and clients that send
# watcherd counts it must refuse.

load web_helpers
web_default_hooks

setup_file() {
	export FILEHANDLER_PROCS=3
	web_setup_file
	start_web_watcherd
	start_lighttpd
	echo "$PORT" >"$T/port"
}

# A new lighttpd listens on a new port: the tests after it read it here.
restart_lighttpd() {
	stop_lighttpd
	start_lighttpd || return 1
	echo "$PORT" >"$T/port"
}

setup() {
	web_setup
	: >"$T/pids"
	PORT=$(cat "$T/port")
}

teardown() {
	local status=0
	kill_spawned
	# Long-polls of a failed test end before the next one counts.
	if watcherd_answers; then
		wait_until 10000 eval '[ "$(subscribers context.py)" = 0 ]' || status=1
	fi
	ensure_default_watcherd || status=1
	# A test that stopped lighttpd and failed before starting it again.
	if [ -z "$(lighttpd_pid)" ]; then
		start_lighttpd && echo "$PORT" >"$T/port" || status=1
	fi
	web_teardown || status=1
	return "$status"
}

Q="proposal=1111&file_name=context.py"
CONTENT_TYPE="text/plain; version=0.0.4; charset=utf-8"

# scrape: GET /metrics, a 200; its samples as a JSON object in $T/m, read by
# the strict reader of the format (which fails on anything it forbids).
scrape() {
	http /metrics || return 1
	expect_status 200 || return 1
	"$BATS_TEST_DIRNAME/prom_parse.py" <"$T/b" >"$T/m"
}

# metric SERIES: its value in the last scrape, empty when absent.
metric() {
	jq -r --arg k "$1" '.[$k] // empty' "$T/m"
}

# counts_are BASE WANT: in a new scrape, every filehandler_requests_total
# series but those of route="metrics" (each scrape counts itself) is its
# value in BASE (a scrape's JSON file) plus its value in WANT (a JSON
# object of expected increases, 0 for a series it does not name). The
# differences go to $T/diff.
counts_are() {
	scrape || return 1
	jq --slurpfile base "$1" --argjson want "$2" '
	    to_entries | map(select((.key | startswith("filehandler_requests_total{")) and
	        (.key | contains("route=\"metrics\"") | not)) |
	        {key, got: (.value - ($base[0][.key] // 0)),
	         want: ($want[.key] // 0)} | select(.got != .want))' \
	    "$T/m" >"$T/diff" &&
	    [ "$(jq length "$T/diff")" = 0 ]
}

# series ROUTE STATUS: the name of a request count series.
series() {
	printf 'filehandler_requests_total{route="%s",status="%s"}' "$1" "$2"
}

# times N STATUS CURL-ARGS... PATH: N requests, each answered STATUS.
times() {
	local n=$1 want=$2 i
	shift 2
	for ((i = 0; i < n; i++)); do
		http "$@" || return 1
		expect_status "$want" || return 1
	done
}

# subscribers FILE: watcherd's subscribers to FILE of proposal 1111.
subscribers() {
	send '{"cmd":"list"}' | jq --arg f "$1" \
	    '[.watches[] | select(.file_name == $f) | .subscribers] | add // 0'
}

# handler_count: the handler processes lighttpd runs.
handler_count() {
	pgrep -P "$(lighttpd_pid)" | wc -l
}

@test "/metrics counts every answer of every handler process by route and status" {
	scrape
	cp "$T/m" "$T/base"
	crc=$(crc32 "$DAMNIT/context.py")
	# lighttpd starts another handler process (once a second at most)
	# while the ones it has are loaded: long-polls, held for 8 s. It
	# gives new requests to the newest process, so a /health after
	# each long-poll names the processes as they come.
	polls=0
	: >"$T/pids.health"
	while [ "$polls" -lt 20 ] && [ "$(handler_count)" -lt 3 ]; do
		polls=$((polls + 1))
		spawn curl -s --max-time 15 -o "$T/poll.$polls" -w '%{http_code}' \
		    "http://127.0.0.1:$PORT$PREFIX/has_new_checksum?$Q&checksum=$crc&wait=8" \
		    >"$T/poll.$polls.code"
		wait_until 2000 eval '[ "$(subscribers context.py)" -ge "$polls" ]' ||
		    fail "long-poll $polls is not held"
		http /health
		expect_status 200
		jqb .handler.pid >>"$T/pids.health"
		sleep 0.25
	done
	n_pids=$(sort -u "$T/pids.health" | wc -l)
	echo "# $polls long-polls held, $(handler_count) handler processes," \
	    "$n_pids of them answered /health" >&3
	[ "$n_pids" -ge 2 ] || fail "only $n_pids handler process answered"
	times 5 200 "/file_content?$Q"
	times 3 304 -H "If-None-Match: \"$crc\"" "/file_content?$Q"
	times 2 403 "/file_content?proposal=1111&file_name=nope.txt"
	times 4 400 "/has_new_checksum?$Q"
	times 1 200 "/has_new_checksum?$Q&checksum=$crc"
	times 2 404 "/contextfile/last_modified?proposal_number=999999"
	times 3 404 /no_such_route
	times 1 405 -X DELETE /health
	for ((i = 1; i <= polls; i++)); do
		wait_until 12000 eval '[ -s "$T/poll.$i.code" ]' ||
		    fail "long-poll $i was not answered"
		[ "$(cat "$T/poll.$i.code")" = 200 ] && [ "$(cat "$T/poll.$i")" = false ] ||
		    fail "long-poll $i: $(cat "$T/poll.$i.code") $(cat "$T/poll.$i")"
	done
	want=$(jq -cn --argjson polls "$polls" '{
	    "filehandler_requests_total{route=\"health\",status=\"200\"}": $polls,
	    "filehandler_requests_total{route=\"file_content\",status=\"200\"}": 5,
	    "filehandler_requests_total{route=\"file_content\",status=\"304\"}": 3,
	    "filehandler_requests_total{route=\"file_content\",status=\"403\"}": 2,
	    "filehandler_requests_total{route=\"has_new_checksum\",status=\"400\"}": 4,
	    "filehandler_requests_total{route=\"has_new_checksum\",status=\"200\"}": (1 + $polls),
	    "filehandler_requests_total{route=\"contextfile/last_modified\",status=\"404\"}": 2,
	    "filehandler_requests_total{route=\"unknown\",status=\"404\"}": 3,
	    "filehandler_requests_total{route=\"health\",status=\"405\"}": 1}')
	start=$(now_ms)
	wait_until 2500 counts_are "$T/base" "$want" ||
	    fail "the counts differ (got, want): $(jq -c . "$T/diff")"
	echo "# every count at /metrics $(($(now_ms) - start)) ms after the last answer" >&3
	# The scrapes count too, each once watcherd has heard of it.
	scrapes=$(($(metric "$(series metrics 200)") - $(jq -r --arg k "$(series metrics 200)" '.[$k]' "$T/base")))
	[ "$scrapes" -ge 1 ]
}

@test "/metrics is the Prometheus text format with watcherd's counters" {
	status=$(send '{"cmd":"status"}')
	scrape
	[ "$(header Content-Type)" = "$CONTENT_TYPE" ]
	[ "$(header Cache-Control)" = no-store ]
	[ "$(header Content-Length)" = "$(stat -c %s "$T/b")" ]
	[ "$(metric watcherd_up)" = 1 ]
	[ "$(metric 'watcherd_info{version="1.0.0",watch_mode="auto"}')" = 1 ]
	for pair in watcherd_cache_limit_bytes=cache_limit \
	    watcherd_max_watches=max_watches watcherd_max_clients=max_clients \
	    watcherd_inotify_overflows_total=inotify_overflows \
	    watcherd_inotify_fallbacks_total=inotify_fallbacks \
	    watcherd_hooks_run_total=hooks_run \
	    watcherd_hooks_failed_total=hooks_failed \
	    watcherd_hooks_killed_total=hooks_killed \
	    watcherd_hooks_dropped_total=hooks_dropped \
	    watcherd_hooks_running=hooks_running \
	    watcherd_hooks_queued=hooks_queued \
	    watcherd_fs_stalled=fs_stalled \
	    watcherd_fs_timeouts_total=fs_timeouts; do
		[ "$(metric "${pair%%=*}")" = "$(json_get "$status" ".${pair#*=}")" ] ||
		    fail "${pair%%=*} is '$(metric "${pair%%=*}")', status says $(json_get "$status" ".${pair#*=}")"
	done
	# What moves: as large as the status asked just before, at least.
	for pair in watcherd_requests_total=requests \
	    watcherd_changes_total=changes watcherd_uptime_seconds=uptime_s; do
		[ "$(metric "${pair%%=*}")" -ge "$(json_get "$status" ".${pair#*=}")" ] ||
		    fail "${pair%%=*} is below status's ${pair#*=}"
	done
	http "/file_content?$Q"
	scrape
	[ "$(metric 'watcherd_watches{mode="inotify"}')" -ge 1 ]
	[ "$(metric 'watcherd_watches{mode="poll"}')" = 0 ]
	[ "$(metric watcherd_cache_bytes)" -gt 0 ]
	[ "$(metric watcherd_cache_entries)" -ge 1 ]
	# One connection per handler worker, at least the scraping one.
	[ "$(metric watcherd_clients)" -ge 1 ]
	[ "$(metric watcherd_directories)" -ge 1 ]
	# Counters are counters, the rest gauges.
	grep -qx '# TYPE watcherd_changes_total counter' "$T/b"
	grep -qx '# TYPE filehandler_requests_total counter' "$T/b"
	grep -qx '# TYPE watcherd_watches gauge' "$T/b"
	# The request counts: exactly every route and status of the fixed set.
	jq -r 'keys[] | select(startswith("filehandler_requests_total"))' "$T/m" >"$T/got"
	for route in file_content has_new_checksum file_tail events health \
	    metrics contextfile/content contextfile/last_modified file_history \
	    unknown; do
		for code in 200 304 400 401 403 404 405 411 412 413 422 428 500 503; do
			series "$route" "$code"
			echo
		done
	done | sort >"$T/want"
	diff "$T/want" "$T/got"
	raw_http HEAD /metrics
	expect_status 200
	[ "$(header Content-Type)" = "$CONTENT_TYPE" ]
	[ ! -s "$T/b" ] || fail "HEAD has a body"
}

@test "without watcherd /metrics is a 200 that says watcherd_up 0" {
	stop_web_watcherd
	http /health
	expect_status 503
	scrape
	[ "$(header Content-Type)" = "$CONTENT_TYPE" ]
	[ "$(jq -c . "$T/m")" = '{"watcherd_up":0}' ] ||
	    fail "expected only watcherd_up 0, got $(jq -c . "$T/m")"
	start_web_watcherd
	# The answers given meanwhile reach the new watcherd.
	wait_until 2500 eval 'scrape && [ "$(metric "$(series health 503)")" = 1 ]' ||
	    fail "the 503 of /health did not reach watcherd: $(metric "$(series health 503)")"
	[ "$(metric watcherd_up)" = 1 ]
}

@test "the counts outlive the handler processes and start again at 0 with watcherd" {
	scrape
	cp "$T/m" "$T/base"
	times 3 200 "/file_content?$Q"
	want=$(jq -cn --arg k "$(series file_content 200)" '{($k): 3}')
	wait_until 2500 counts_are "$T/base" "$want" ||
	    fail "the counts differ (got, want): $(jq -c . "$T/diff")"
	before=$(metric "$(series file_content 200)")
	http /health
	old_pid=$(jqb .handler.pid)
	restart_lighttpd
	http /health
	[ "$(jqb .handler.pid)" != "$old_pid" ]
	scrape
	[ "$(metric "$(series file_content 200)")" = "$before" ]
	restart_web_watcherd
	# Every file_content count is 0 in the new watcherd.
	zero() {
		scrape && [ "$(jq '[to_entries[] | select(.key |
		    startswith("filehandler_requests_total{route=\"file_content\""))
		    | .value] | add' "$T/m")" = 0 ]
	}
	wait_until 2500 zero
	times 2 200 "/file_content?$Q"
	wait_until 2500 eval '[ "$(scrape && metric "$(series file_content 200)")" = 2 ]'
}

@test "a held long-poll is counted once answered and holds back no other count" {
	scrape
	cp "$T/m" "$T/base"
	crc=$(crc32 "$DAMNIT/context.py")
	spawn curl -s --max-time 10 -o "$T/poll.b" -w '%{http_code}' \
	    "http://127.0.0.1:$PORT$PREFIX/has_new_checksum?$Q&checksum=$crc&wait=4" \
	    >"$T/poll.status"
	poll=$SPAWNED
	subscribed() {
		send '{"cmd":"list"}' | jq -e 'any(.watches[]; .file_name == "context.py" and .subscribers >= 1)' >/dev/null
	}
	wait_until 2000 subscribed
	times 2 200 "/file_content?$Q"
	want=$(jq -cn --arg k "$(series file_content 200)" '{($k): 2}')
	wait_until 2500 counts_are "$T/base" "$want" ||
	    fail "the counts differ (got, want): $(jq -c . "$T/diff")"
	pid_alive "$poll" || fail "the long-poll was answered before its time"
	wait_until 8000 pid_gone "$poll"
	[ "$(cat "$T/poll.status")" = 200 ]
	[ "$(cat "$T/poll.b")" = false ]
	want=$(jq -cn --arg k "$(series file_content 200)" \
	    --arg p "$(series has_new_checksum 200)" '{($k): 2, ($p): 1}')
	wait_until 2500 counts_are "$T/base" "$want" ||
	    fail "the counts differ (got, want): $(jq -c . "$T/diff")"
}

@test "plain CGI hands its count to watcherd before it exits" {
	totals() {
		send '{"cmd":"http_count"}' |
		    jq -r '.counts.file_content["404"] // 0'
	}
	before=$(totals)
	cgi GET "/file_content?proposal=999999&file_name=context.py"
	expect_status 404
	[ "$(totals)" = $((before + 1)) ]
}

@test "bogus http_count lines are refused and change neither the labels nor watcherd's memory" {
	scrape
	cp "$T/m" "$T/base"
	# bogus N OFFSET: N lines, each with a route of its own.
	bogus() {
		python3 -c 'import json, sys
n, off = int(sys.argv[1]), int(sys.argv[2])
for i in range(off, off + n):
    print(json.dumps({"cmd": "http_count",
                      "counts": {"route-%d" % i: {"200": 1}}}))' "$@"
	}
	# bogus_replies N OFFSET: the replies to those lines, on one connection.
	bogus_replies() {
		bogus "$@" | socat -t 10 -T 20 - "UNIX-CONNECT:$SOCK"
	}
	bogus_replies 1000 0 >/dev/null
	rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$(watcherd_pid)/status")
	bogus_replies 10000 1000 >"$T/replies"
	rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$(watcherd_pid)/status")
	echo "# watcherd RSS $rss0 KiB, after 10000 bogus routes $rss1 KiB" >&3
	[ "$(wc -l <"$T/replies")" = 10000 ]
	[ "$(grep -c '"error":"bad_request"' "$T/replies")" = 10000 ]
	# Other refusals, and a known route with a bogus one: nothing added.
	for line in '{"cmd":"http_count","counts":{"health":{"299":1}}}' \
	    '{"cmd":"http_count","counts":{"health":{"200":-5}}}' \
	    '{"cmd":"http_count","counts":{"health":{"200":1e30}}}' \
	    '{"cmd":"http_count","counts":[1,2]}' \
	    '{"cmd":"http_count","counts":{"health":{"200":1},"x":{"200":1}}}'; do
		json_get "$(send "$line")" .error | grep -qx bad_request ||
		    fail "not refused: $line"
	done
	# The sanitizers' quarantine keeps freed memory: only the plain
	# build's figure says what watcherd keeps.
	if [ "$SANITIZED" = 0 ]; then
		[ $((rss1 - rss0)) -le 1024 ] ||
		    fail "watcherd grew by $((rss1 - rss0)) KiB"
	fi
	counts_are "$T/base" '{}' ||
	    fail "the counts differ (got, want): $(jq -c . "$T/diff")"
	jq -r 'keys[]' "$T/base" >"$T/keys0"
	jq -r 'keys[]' "$T/m" >"$T/keys1"
	diff "$T/keys0" "$T/keys1"
}
