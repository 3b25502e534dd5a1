-- wrk script: POST a small JSON body with the headers from the environment, report latency as JSON.
wrk.method = "POST"
wrk.body = '{"text": "hello", "n": 1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-OctoAI-Async"] = "1"
local token = os.getenv("BENCH_TOKEN")
if token then wrk.headers["Authorization"] = "Bearer " .. token end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "rps": %.1f, "errors": %d, "non2xx": %d, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.requests / seconds,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
