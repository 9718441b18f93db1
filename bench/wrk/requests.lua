-- Sends prepared requests to one endpoint, one per line of a file:
-- "authorization<TAB>x-otp<TAB>cookie<TAB>body" (empty columns send no header).
-- Arguments after "--": method, path, file, mode, threads. Mode "cycle" reuses the lines round-robin;
-- "once" sends each line once (single-use codes), then stops the thread.
-- done() prints one line "BENCH_RESULT {json}" that bench/load.py reads.

local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  local method, path, file, mode, threads = args[1], args[2], args[3], args[4], tonumber(args[5])
  prepared = {}
  local line_number = 0
  for line in io.lines(file) do
    if line_number % threads == thread_index then
      local authorization, otp, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = { ["User-Agent"] = "bench/wrk" }
      if authorization ~= "" then headers["Authorization"] = authorization end
      if otp ~= "" then headers["x-otp"] = otp end
      if cookie ~= "" then headers["Cookie"] = cookie end
      if body ~= "" then
        headers["Content-Type"] = "application/json"
      else
        body = nil
      end
      prepared[#prepared + 1] = wrk.format(method, path, headers, body)
    end
    line_number = line_number + 1
  end
  next_index = 0
  once = mode == "once"
  if not once then
    response = nil -- wrk then skips parsing the answers
  end
end

function request()
  next_index = next_index + 1
  if next_index > #prepared then
    -- Past the end in "once" mode the last request is repeated and refused: counted as errors.
    next_index = once and #prepared or 1
  end
  return prepared[next_index]
end

function response(status, headers, body)
  if next_index >= #prepared then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, '
      .. '"status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    errors.status, errors.connect + errors.read + errors.write + errors.timeout
  ))
end
