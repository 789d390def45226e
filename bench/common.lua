-- Shared by bench/get.lua, bench/patch.lua and bench/invite.lua (loaded with dofile from the
-- same directory).
--
-- Every response whose status is not `expected` (200; a script may set another after its
-- dofile, e.g. 201) is counted (and the first few kept); at the end one line
--   BENCH requests=<n> duration_us=<n> rps=<n> p50_us=<n> p90_us=<n> p99_us=<n> max_us=<n> unexpected=<n> socket_errors=<n>
-- is printed for bench/run to parse, followed by samples of any unexpected responses.

local threads = {}
local next_tid = 1

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

-- Per-thread globals, read back in done() with thread:get.
expected = 200
unexpected = 0
samples = ""

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
    if unexpected <= 3 then
      samples = samples .. "  " .. status .. " " .. string.sub(body or "", 1, 300) .. "\n"
    end
  end
end

function done(summary, latency, requests)
  local bad, text = 0, ""
  for _, t in ipairs(threads) do
    bad = bad + (t:get("unexpected") or 0)
    text = text .. (t:get("samples") or "")
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.0f p50_us=%d p90_us=%d p99_us=%d max_us=%d unexpected=%d socket_errors=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    bad, socket_errors))
  if text ~= "" then
    io.write("unexpected responses (samples):\n" .. text)
  end
end
