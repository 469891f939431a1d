-- wrk script: POST an OpenAI chat body (adapted from shared/bench/peers/lua/post.lua). Env:
--   BODY_FILE        JSON body
--   STREAM=1         add "stream": true
--   WRK_HEADERS      extra headers, one "Name: value" per line
--   SESSION_POOL=N   rotate "session_id": "<SESSION_PREFIX>-<k mod N>" over the requests, and
--   SESSION_PREFIX   summarise the x-session-history-turns response header (printed by done()).
wrk.method = "POST"
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
local body = f:read("*a")
f:close()
if os.getenv("STREAM") == "1" then body = body:gsub("^%s*{", '{"stream":true,', 1) end
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
for line in (os.getenv("WRK_HEADERS") or ""):gmatch("[^\n]+") do
  local k, v = line:match("^%s*([^:]+):%s*(.-)%s*$")
  if k then wrk.headers[k] = v end
end

local pool = tonumber(os.getenv("SESSION_POOL") or "0") or 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

if pool > 0 then
  local prefix = os.getenv("SESSION_PREFIX") or "s"
  local reqs = {}
  local n = 0
  hist_sum, hist_n, hist_max = 0, 0, 0

  function init(args)
    for i = 0, pool - 1 do
      local b = body:gsub("^%s*{", '{"session_id":"' .. prefix .. "-" .. i .. '",', 1)
      reqs[i + 1] = wrk.format(nil, nil, nil, b)
    end
  end

  function request()
    n = n + 1
    return reqs[(n % pool) + 1]
  end

  function response(status, headers, _)
    local h = tonumber(headers["x-session-history-turns"] or "")
    if h then
      hist_sum = hist_sum + h
      hist_n = hist_n + 1
      if h > hist_max then hist_max = h end
    end
  end

  function done(summary, latency, requests)
    local s, c, m = 0, 0, 0
    for _, t in ipairs(threads) do
      s = s + (t:get("hist_sum") or 0)
      c = c + (t:get("hist_n") or 0)
      m = math.max(m, t:get("hist_max") or 0)
    end
    if c > 0 then io.write(string.format("HISTORY_TURNS mean=%.1f max=%d\n", s / c, m)) end
  end
end
