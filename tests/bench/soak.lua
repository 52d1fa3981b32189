-- wrk script of tests/bench/soak: every connection cycles through the
-- routes a web page and a log viewer use, and counts the answers that are
-- errors (not 2xx, and not the 304 of a revalidation).
-- SOAK_PREFIX (the mount point) and SOAK_CHECKSUM (a checksum the file had
-- once) come from the environment.

local prefix = os.getenv("SOAK_PREFIX") or "/filehandler"
local crc = os.getenv("SOAK_CHECKSUM") or "00000000"
local q = "?proposal=1111&file_name="
local routes = {
	{ path = prefix .. "/file_content" .. q .. "context.py" },
	{ path = prefix .. "/file_content" .. q .. "context.py",
	  headers = { ["If-None-Match"] = '"' .. crc .. '"' } },
	{ path = prefix .. "/has_new_checksum" .. q .. "context.py&checksum=" .. crc },
	{ path = prefix .. "/has_new_checksum" .. q .. "damnit.log&checksum=" .. crc },
	{ path = prefix .. "/file_tail" .. q .. "soak.log&offset=0&max_bytes=4096" },
	{ path = prefix .. "/file_tail" .. q .. "process_logs/soak.out&offset=0" },
	{ path = prefix .. "/contextfile/last_modified?proposal_number=1111" },
	{ path = prefix .. "/health" },
}

local threads = {}
function setup(thread)
	thread:set("id", #threads)
	table.insert(threads, thread)
end

function init(args)
	n = id
	errors = 0
	answers = 0
end

function request()
	n = n + 1
	local r = routes[n % #routes + 1]
	return wrk.format("GET", r.path, r.headers)
end

function response(status, headers, body)
	answers = answers + 1
	if (status < 200 or status > 299) and status ~= 304 then
		errors = errors + 1
	end
end

function done(summary, latency, requests)
	local errors, answers = 0, 0
	for _, t in ipairs(threads) do
		errors = errors + t:get("errors")
		answers = answers + t:get("answers")
	end
	local e = summary.errors
	io.write(string.format("soak requests=%d answers=%d http_errors=%d " ..
	    "connect=%d read=%d write=%d timeout=%d p99_ms=%.1f\n",
	    summary.requests, answers, errors, e.connect, e.read, e.write,
	    e.timeout, latency:percentile(99) / 1000))
end
