-- wrk script for bench/run: usage ingestion.
--
--   wrk ... -s bench/ingest.lua http://127.0.0.1:PORT/v1/workspaces/<ws>/usage/events -- <label> [spread]
--
-- POSTs batches of 1,000 events (800 `location_events`, 200 `action_deliveries`, so 900
-- event units; quantity 1) with a fresh Idempotency-Key per batch: "<label>[-spread]-t<thread>-<n>",
-- so no batch is a retry and every one is counted. Without `spread` every event occurred now
-- (one hour: 2 rollup rows per batch); with `spread` event i occurred i x 40 minutes ago, so a
-- batch touches 1,000 different hours over about 28 days (1,000 rollup rows, 1 or 2 months).
-- Every response must be 200; see common.lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local prefix = nil
local headers = {}
local sent = 0
local body = nil

function init(args)
  local label = args[1]
  if not (label and label:match("^[%w-]+$")) then
    error("usage: -- <label> (letters, digits, dashes)")
  end
  -- The variant is part of the key: the two variants' batches differ, and a key reused for a
  -- different batch is refused (409).
  prefix = label .. (args[2] == "spread" and "-spread" or "") .. "-t" .. tid .. "-"
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  local spread = args[2] == "spread"
  local now = os.time()
  local events = {}
  for i = 1, 1000 do
    local meter = (i % 5 == 0) and "action_deliveries" or "location_events"
    if spread then
      local at = os.date("!%Y-%m-%dT%H:%M:%SZ", now - i * 2400)
      events[i] = string.format('{"meter":"%s","occurred_at":"%s"}', meter, at)
    else
      events[i] = string.format('{"meter":"%s"}', meter)
    end
  end
  body = '{"events":[' .. table.concat(events, ",") .. ']}'
end

function request()
  if not prefix then
    return wrk.format("POST", nil, headers, '{}')
  end
  sent = sent + 1
  headers["Idempotency-Key"] = prefix .. sent
  return wrk.format("POST", nil, headers, body)
end
