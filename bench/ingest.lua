-- wrk script for bench/run: usage ingestion.
--
--   wrk ... -s bench/ingest.lua http://127.0.0.1:PORT/v1/workspaces/<ws>/usage/events -- <label>
--
-- POSTs batches of 1,000 events (800 `location_events`, 200 `action_deliveries`, so 900
-- event units; quantity 1, occurred_at now) with a fresh Idempotency-Key per batch:
-- "<label>-t<thread>-<n>", so no batch is a retry and every one is counted. Every response
-- must be 200; see common.lua.
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
  prefix = label .. "-t" .. tid .. "-"
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  local events = {}
  for i = 1, 1000 do
    if i % 5 == 0 then
      events[i] = '{"meter":"action_deliveries"}'
    else
      events[i] = '{"meter":"location_events"}'
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
