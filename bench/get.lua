-- wrk script for bench/run: GETs of the URL on the command line (wrk's prebuilt static
-- request, headers from -H), checking that every response is 200. See common.lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
