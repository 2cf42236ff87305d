-- wrk script: POST GraphQL request bodies read from a file (one JSON body per line),
-- each thread starting at a random line; counts responses that are not 200 or carry errors.
-- Usage: wrk -s wrk_graphql.lua URL -- BODIES_FILE [BEARER_TOKEN]
local bodies = {}
local headers = {["Content-Type"] = "application/json"}
local threads = {}
local counter = 0
errors_seen = 0

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  if args[2] ~= nil and args[2] ~= "" then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  math.randomseed(os.time() + #tostring({}))
  counter = math.random(#bodies)
end

request = function()
  counter = counter % #bodies + 1
  return wrk.format("POST", "/graphql", headers, bodies[counter])
end

response = function(status, hdrs, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors_seen = errors_seen + 1
  end
end

done = function(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("errors_seen")
  end
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.3f, ' ..
    '"p95_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "errors": %d, ' ..
    '"socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, errors,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
