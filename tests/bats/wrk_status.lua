-- wrk script of the fault suites: requests the paths given after "--" in
-- turn, counts the answers per HTTP status, and when the run ends writes
-- one "status S N" line per status seen, then the socket errors and
-- timeouts ("timeout N", "connect N", "read N", "write N"), the requests
-- and the slowest answer ("max_latency_ms N") to the file named by
-- $WRK_STATUS_OUT.
--
--   WRK_STATUS_OUT=counts wrk --timeout 2s -s wrk_status.lua URL -- /a /b

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	paths = {}
	for i = 1, #args do
		paths[#paths + 1] = args[i]
	end
	if #paths == 0 then
		paths[1] = "/"
	end
	counts = {}
	next_path = 0
end

function request()
	next_path = next_path % #paths + 1
	return wrk.format("GET", paths[next_path])
end

function response(status, headers, body)
	counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
	local total = {}
	for _, thread in ipairs(threads) do
		for status, n in pairs(thread:get("counts")) do
			total[status] = (total[status] or 0) + n
		end
	end
	local out = assert(io.open(assert(os.getenv("WRK_STATUS_OUT"),
	    "WRK_STATUS_OUT is not set"), "w"))
	for status, n in pairs(total) do
		out:write(string.format("status %d %d\n", status, n))
	end
	local e = summary.errors
	out:write(string.format("timeout %d\nconnect %d\nread %d\nwrite %d\n",
	    e.timeout, e.connect, e.read, e.write))
	out:write(string.format("requests %d\nmax_latency_ms %d\n",
	    summary.requests, latency.max / 1000))
	out:close()
end
