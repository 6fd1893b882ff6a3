-- POST /orders with a new order id on every request, for wrk (bench/bench_wrk.py).
-- wrk ... -s create.lua URL -- PREFIX TOKEN: ids PREFIX-<thread>-<n>, so no two requests of
-- the run, nor of two runs with different prefixes, name the same order (none is a replay).

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

function init(args)
  prefix, token = args[1], args[2]
  sent = 0
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"order_id":"%s-%d-%d","amount":"25.00","currency":"USD","paid_at":"2026-03-02T09:00:00+08:00"}',
    prefix, thread_no, sent)
  return wrk.format("POST", "/orders", headers, body)
end
