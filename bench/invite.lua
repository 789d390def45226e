-- wrk script for bench/run: invitation creation.
--
--   wrk ... -s bench/invite.lua http://127.0.0.1:PORT/v1/workspaces/<ws>/invitations -- <label>
--
-- POST {"email": "<label>-t<thread>-<n>@bench.example", "role": "viewer"} with
-- Content-Type: application/json (and the headers from -H). <label> names the wrk run
-- ("warmup", "measure"), <thread> is the wrk thread (1, 2, …; set in setup, see common.lua) and
-- <n> counts that thread's requests, so no email repeats anywhere in a bench/run (a repeated
-- email would revoke and replace the pending invitation: more work than a plain invite).
-- Every response must be 201; see common.lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
expected = 201

local prefix = nil
local headers = {}
local sent = 0

function init(args)
  local label = args[1]
  if not (label and label:match("^[%w-]+$")) then
    error("usage: -- <label> (letters, digits, dashes)")
  end
  prefix = label .. "-t" .. tid .. "-"
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
end

function request()
  if not prefix then
    -- wrk calls request() once in its main state (where init has not run) to check it.
    return wrk.format("POST", nil, headers, '{}')
  end
  sent = sent + 1
  local body = string.format('{"email":"%s%d@bench.example","role":"viewer"}', prefix, sent)
  return wrk.format("POST", nil, headers, body)
end
