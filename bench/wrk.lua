-- Requests for `make bench` (wrk -s bench/wrk.lua URL -- TEMPLATE FIRST COUNT).
--   TEMPLATE  the path, with %d where the id goes: /api/v1/items/%d
--   FIRST     the first id
--   COUNT     cycle through COUNT ids from FIRST; 0 never repeats an id (every read a new item)
-- Prints one JSON line at the end: throughput, latency percentiles, the statuses that were not
-- 2xx, and how many responses said X-Cache: hit or miss.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  template = args[1]
  first = tonumber(args[2] or "1")
  count = tonumber(args[3] or "0")
  sent = 0
  hits = 0
  misses = 0
  bad = 0
end

function request()
  local id
  if count > 0 then
    id = first + (sent % count)
  else
    id = first + sent
  end
  sent = sent + 1
  last = id
  return wrk.format("GET", string.format(template, id))
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
  end
  local cache = headers["X-Cache"] or headers["x-cache"]
  if cache == "hit" then
    hits = hits + 1
  elseif cache == "miss" then
    misses = misses + 1
  end
end

function done(summary, latency, requests)
  local totals = { hits = 0, misses = 0, bad = 0, last = 0 }
  for _, thread in ipairs(threads) do
    totals.hits = totals.hits + thread:get("hits")
    totals.misses = totals.misses + thread:get("misses")
    totals.bad = totals.bad + thread:get("bad")
    totals.last = math.max(totals.last, thread:get("last") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"socket_errors": %d, "non_2xx": %d, "hits": %d, "misses": %d, "last_id": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, errors.connect + errors.read + errors.write + errors.timeout,
    totals.bad, totals.hits, totals.misses, totals.last
  ))
end
