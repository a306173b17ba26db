-- wrk script: POST /v1/embeddings (or $ROUTE: /embed, /v1/collections/NAME/query with k = $K and,
-- when $MODE is set, "mode": $MODE) with
-- one distinct short query per request.
-- Queries come from $QUERIES (JSONL lines {"text": "..."}; default /work/corpus/queries.jsonl); the
-- JSON string is passed through verbatim, so no JSON library is needed. Each wrk thread starts at its
-- own offset, so no query repeats within a run shorter than the file.
-- At the end one line is printed for scripts/load/run.sh:
--   RESULT requests=N seconds=S rps=R p50_ms=A p90_ms=B p99_ms=C max_ms=D non2xx=E socket_errors=F
local path = os.getenv("QUERIES") or "/work/corpus/queries.jsonl"
local route = os.getenv("ROUTE") or "/v1/embeddings"

local threads = {}
local next_index = 0

function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
  table.insert(threads, thread)
end

local queries = {}
local counter = 0
local offset = 0

function init(args)
  for line in io.lines(path) do
    local text = line:match('^%s*{%s*"text"%s*:%s*(".*")%s*}%s*$')
    if text then queries[#queries + 1] = text end
  end
  assert(#queries > 0, "no queries in " .. path)
  offset = (thread_index or 0) * 5000
end

function request()
  counter = counter + 1
  local text = queries[(offset + counter - 1) % #queries + 1]
  local body
  if route == "/embed" then
    body = '{"inputs":' .. text .. '}'
  elseif route:find("/query$") then
    local mode = os.getenv("MODE")
    body = '{"text":' .. text .. ',"k":' .. (os.getenv("K") or "10")
      .. (mode and mode ~= "" and (',"mode":"' .. mode .. '"') or "") .. '}'
  else
    body = '{"input":' .. text .. '}'
  end
  return wrk.format("POST", route, { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  print(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d socket_errors=%d",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
