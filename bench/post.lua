-- wrk script for bench/run: POSTs of one JSON body (the argument after `--`) to the URL on the
-- command line, headers from -H, checking that every response is 200. See common.lua.
--
--   wrk ... -s bench/post.lua http://127.0.0.1:PORT/path -- '<json body>'
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

function init(args)
  if not args[1] then error("usage: -- '<json body>'") end
  wrk.method = "POST"
  wrk.body = args[1]
  wrk.headers["Content-Type"] = "application/json"
end
