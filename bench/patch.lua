-- wrk script for bench/run: role changes.
--
--   wrk ... -s bench/patch.lua http://127.0.0.1:PORT -- <targets-file> <workspace-id> <threads>
--
-- PATCH /v1/workspaces/<ws>/members/<user_id> with {"role":"viewer"} / {"role":"editor"}.
-- Each wrk thread owns its own slice of the user ids in <targets-file> (one a line, all
-- editors at the start), walks them round-robin and flips the role on every pass, so every
-- request really changes a role (an UPDATE plus an audit event) and no two threads write the
-- same row. Every response must be 200; see common.lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local paths = {}
local headers = {}
local sent = 0
local bodies = { '{"role":"viewer"}', '{"role":"editor"}' }

function init(args)
  local file, ws, nthreads = args[1], args[2], tonumber(args[3])
  if not (file and ws and nthreads) then
    error("usage: -- <targets-file> <workspace-id> <threads>")
  end
  local ids = {}
  for line in io.lines(file) do
    if line ~= "" then table.insert(ids, line) end
  end
  for i = tid, #ids, nthreads do
    table.insert(paths, "/v1/workspaces/" .. ws .. "/members/" .. ids[i])
  end
  if #paths == 0 then error("no target user ids for thread " .. tid) end
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
end

function request()
  local k = #paths
  if k == 0 then
    -- wrk calls request() once in its main state (where init has not run) to check it.
    return wrk.format("PATCH", "/", headers, bodies[1])
  end
  local path = paths[(sent % k) + 1]
  local body = bodies[(math.floor(sent / k) % 2) + 1]
  sent = sent + 1
  return wrk.format("PATCH", path, headers, body)
end
