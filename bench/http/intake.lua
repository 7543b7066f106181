-- wrk script for the HTTP intake benchmark (bench/run http).
--
--   BENCH_TOKEN=... wrk -t2 -c64 -d10s --latency -s bench/http/intake.lua http://127.0.0.1:PORT
--
-- Every request is POST /api/v1/intake with the product note's sample payload (bench/sample-order.json,
-- sent as UTF-8, Content-Type application/json) and `Authorization: Bearer $BENCH_TOKEN`. BENCH_PAYLOAD
-- may name another payload file.
--
-- done() prints one machine-readable line (bench/run parses it):
--   intake: requests=N seconds=S rps=R p50_ms=X p99_ms=Y sent=N status_201=N non_2xx=N socket_errors=N
-- `sent` counts requests written; `sent - requests` were still in flight when wrk stopped (the server may
-- have committed them, but wrk never read their answers).

local function script_dir()
  local src = debug.getinfo(1, "S").source
  return (src:match("^@(.*/)") or "./")
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    error("intake.lua: cannot read payload " .. tostring(path) .. ": " .. tostring(err))
  end
  local data = f:read("*a")
  f:close()
  return data
end

local token = os.getenv("BENCH_TOKEN")
if token == nil or token == "" then
  error("intake.lua: set BENCH_TOKEN to the HTTP source's bearer token")
end
local payload_path = os.getenv("BENCH_PAYLOAD") or (script_dir() .. "../sample-order.json")
local payload = read_file(payload_path)

wrk.method = "POST"
wrk.path = "/api/v1/intake"
wrk.body = payload
wrk.headers["Content-Type"] = "application/json; charset=utf-8"
wrk.headers["Authorization"] = "Bearer " .. token

-- setup() runs in the main Lua state, once per thread; keep the threads to read their counters in done().
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

-- The rest runs inside each thread's own Lua state.
local req
sent, s201, s2xx, non2xx = 0, 0, 0, 0

function init(args)
  req = wrk.format()
end

function request()
  sent = sent + 1
  return req
end

function response(status, headers, body)
  if status == 201 then
    s201 = s201 + 1
  end
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  else
    non2xx = non2xx + 1
    if non2xx <= 3 then
      io.stderr:write(string.format("intake.lua: HTTP %d: %s\n", status, tostring(body):sub(1, 300)))
    end
  end
end

function done(summary, latency, requests)
  local t_sent, t201, t2xx, tnon = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    t_sent = t_sent + thread:get("sent")
    t201 = t201 + thread:get("s201")
    t2xx = t2xx + thread:get("s2xx")
    tnon = tnon + thread:get("non2xx")
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    "intake: requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f sent=%d status_201=%d non_2xx=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    t_sent, t201, tnon, socket_errors))
end
