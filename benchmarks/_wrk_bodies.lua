-- wrk's script for `benchmarks.http_ingest --client wrk`: POST batches of distinct valid events for
-- wrk's duration, and count what the service accepted. Arguments after wrk's `--`: a file of event
-- templates (one JSON event a line, its event_id "@@ID@@"), the write key, the events in a body,
-- and a prefix that makes this run's event ids its own. At the end one JSON line goes to stdout.
--
-- Each event's id is the prefix and a counter of this thread, so no two events are the same; the
-- templates are taken in turn, so the bodies hold the benchmark's mix of types and values.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  before, after = {}, {}
  for line in io.lines(args[1]) do
    local at = string.find(line, "@@ID@@", 1, true)
    before[#before + 1] = string.sub(line, 1, at - 1)
    after[#after + 1] = string.sub(line, at + 6)
  end
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
  per_body = tonumber(args[3])
  id_prefix = args[4] .. "-" .. thread_number .. "-"
  made, answered, accepted, first_failure = 0, 0, 0, ""
  by_label, failure_list = {}, "" -- failures counted by label; the list, a line "count<TAB>label" each
end

function request()
  local events = {}
  for i = 1, per_body do
    made = made + 1
    local k = (made - 1) % #before + 1
    events[i] = before[k] .. id_prefix .. made .. after[k]
  end
  return wrk.format("POST", nil, nil, "[" .. table.concat(events, ",") .. "]")
end

function response(status, headers, body)
  answered = answered + 1
  local count = tonumber(string.match(body, '"accepted":(%d+)') or "0")
  if status == 200 or status == 207 then
    accepted = accepted + count
  end
  if status ~= 200 or count ~= per_body then
    local label = "HTTP " .. status
    if status == 200 then
      label = label .. ", not every event accepted"
    end
    by_label[label] = (by_label[label] or 0) + 1
    local lines = {}
    for name, n in pairs(by_label) do
      lines[#lines + 1] = n .. "\t" .. name
    end
    failure_list = table.concat(lines, "\n")
    if first_failure == "" then
      first_failure = label .. ": " .. string.sub(body, 1, 300)
    end
  end
end

local function json_string(text)
  local escaped = string.gsub(text, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. escaped .. '"'
end

function done(summary, latency, requests)
  local totals = { answered = 0, accepted = 0 }
  local first, failures = "", {}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
    if first == "" then
      first = thread:get("first_failure")
    end
    for n, label in string.gmatch(thread:get("failure_list"), "(%d+)\t([^\n]+)") do
      failures[label] = (failures[label] or 0) + tonumber(n)
    end
  end
  local counted = {}
  for label, n in pairs(failures) do
    counted[#counted + 1] = json_string(label) .. ": " .. n
  end
  local errors = summary.errors
  io.write(string.format(
    '{"answered": %d, "accepted": %d, "failures": {%s}, "first_failure": %s, "duration_us": %d,'
      .. ' "p50_us": %d, "p99_us": %d, "socket_errors": %d}\n',
    totals.answered, totals.accepted, table.concat(counted, ", "), json_string(first),
    summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout
  ))
end
