-- POST /orders/{id}/events/dispatch on a different paid order every request, for wrk
-- (bench/bench_wrk.py). wrk ... -s dispatch.lua URL -- PREFIX TOKEN: thread t sends PREFIX-t-1,
-- PREFIX-t-2, ..., orders the bench stored beforehand, more of them than the run can reach (one
-- past them would be a 404: the bench refuses a run with any answer that is not 2xx). Each
-- event carries its own Idempotency-Key (R15).

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

function init(args)
  prefix, token = args[1], args[2]
  sent = 0
  body = '{"at":"2026-03-02T10:00:00+08:00","tracking_number":"LP00012345"}'
end

function request()
  sent = sent + 1
  local id = string.format("%s-%d-%d", prefix, thread_no, sent)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = id .. "-dispatch",
  }
  return wrk.format("POST", "/orders/" .. id .. "/events/dispatch", headers, body)
end
