-- wrk script for the publish API benchmark (Examples/scripts/publish-bench.sh): POST /v1/runs/RUN/events with
-- BATCH events per request, each with a unique id (thread and counter) and a payload stamped with CLOCK_MONOTONIC
-- in nanoseconds ({"t":"00000000001234567890","pad":"…"}), which the client's `listen` turns into publish → delivery
-- latency. Set RUN, BATCH, TOKEN and PAD (payload padding bytes) in the environment; RUNS (comma-separated) gives
-- each wrk thread a run of its own, in turn (requests for one run are served one at a time, EA-PUB-4).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } eventack_timespec;
int clock_gettime(int clock, eventack_timespec *spec);
]]
local spec = ffi.new("eventack_timespec")
local run = os.getenv("RUN") or "bench"
local batch = tonumber(os.getenv("BATCH") or "1")
local token = os.getenv("TOKEN") or "bench-publisher"
local pad = string.rep("x", tonumber(os.getenv("PAD") or "170"))
local counter = 0

local threads = 0
function setup(thread)
  thread:set("prefix", tostring(math.random(1, 1e9)))
  local runs = {}
  for name in string.gmatch(os.getenv("RUNS") or "", "[^,]+") do runs[#runs + 1] = name end
  if #runs > 0 then
    thread:set("run", runs[threads % #runs + 1])
  end
  threads = threads + 1
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

local function now()
  ffi.C.clock_gettime(1, spec)  -- CLOCK_MONOTONIC
  return tonumber(spec.tv_sec) * 1e9 + tonumber(spec.tv_nsec)
end

function request()
  local stamp = string.format("%020.0f", now())
  local events = {}
  for i = 1, batch do
    counter = counter + 1
    events[i] = '{"id":"' .. prefix .. '-' .. counter .. '","kind":"tick","payload":{"t":"' .. stamp .. '","pad":"' .. pad .. '"}}'
  end
  return wrk.format(nil, "/v1/runs/" .. run .. "/events?waitMs=30000", nil, '{"events":[' .. table.concat(events, ",") .. ']}')
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("requests %d, errors %d (status %d, timeout %d)\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.errors.timeout))
end
