-- wrk script for the sign-in flood of bench/login.sh: POST /login with a 1 MiB login.
--
--   wrk -t2 -c24 -d12s -s bench/http/login_flood.lua http://127.0.0.1:PORT
--
-- Every request is a form post of `login=<1 MiB of letters>&password=x&csrf=x`; BENCH_LOGIN_BYTES sets the
-- size. leadgate should refuse it after reading a few KiB (413) and close the connection; wrk reconnects and
-- counts that as a socket error.
--
-- done() prints one machine-readable line:
--   login_flood: requests=N seconds=S rps=R status_413=N other=N socket_errors=N

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local size = tonumber(os.getenv("BENCH_LOGIN_BYTES") or "") or 1048576
wrk.method = "POST"
wrk.path = "/login"
wrk.body = "login=" .. string.rep("a", size) .. "&password=x&csrf=x"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local req
s413, other = 0, 0

function init(args)
  req = wrk.format()
end

function request()
  return req
end

function response(status, headers, body)
  if status == 413 then
    s413 = s413 + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t413, tother = 0, 0
  for _, thread in ipairs(threads) do
    t413 = t413 + thread:get("s413")
    tother = tother + thread:get("other")
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "login_flood: requests=%d seconds=%.2f rps=%.0f status_413=%d other=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds, t413, tother,
    e.connect + e.read + e.write + e.timeout))
end
