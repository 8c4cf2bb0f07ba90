-- wrk script for the memory run of scripts/bench-gateway: BENCH_REQUESTS requests (all
-- threads together) from BENCH_CLIENTS distinct clients, cycling through the clients.
--
-- Client i has its own session cookie (32 hex digits, never a live session: half of the
-- clients send the legacy `sid`, half `__Host-sid`) and its own address in
-- X-Forwarded-For (10.x.y.z; the gateway trusts 127.0.0.1 as a proxy), so that:
--   * every request goes through the cookie migration and the cookie validator with a
--     cookie never seen before in this cycle (a lookup miss in the session store);
--   * the rate limiter tracks one key per client (100 000 keys: its capacity);
--   * every 10th request is GET /shop/cart/add, which creates a session (100 000 of them,
--     ten times the session store's capacity: it must evict);
--   * every 100th request carries `Connection: close`, so wrk reconnects: a fresh TLS
--     handshake (session tickets issued, the session cache consulted) ~10 000 times.

local clients = tonumber(os.getenv("BENCH_CLIENTS") or "100000")
local total = tonumber(os.getenv("BENCH_REQUESTS") or "1000000")

local threads = {}
local count = 0

function setup(thread)
   thread:set("id", count)
   table.insert(threads, thread)
   count = count + 1
end

function init(args)
   -- `threads` lives in the main state, not here: the count comes from the script.
   nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
   limit = math.floor(total / nthreads)
   sent = 0
   ok = 0
   limited = 0
   other = 0
   done_responses = 0
end

function request()
   local n = sent
   sent = sent + 1
   local i = (n * nthreads + id) % clients
   local cookie = string.format("cafe%020d%08x", 0, i)
   local name = (i % 2 == 0) and "sid" or "__Host-sid"
   local headers = {
      ["Cookie"] = name .. "=" .. cookie,
      ["X-Forwarded-For"] = string.format("10.%d.%d.%d",
         math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256),
   }
   if n % 100 == 99 then
      headers["Connection"] = "close"
   end
   local path = (n % 10 == 0) and "/shop/cart/add?item=tea" or "/shop"
   return wrk.format("GET", path, headers)
end

function response(status, headers, body)
   done_responses = done_responses + 1
   if status < 400 then
      ok = ok + 1
   elseif status == 429 then
      limited = limited + 1
   else
      other = other + 1
   end
   if done_responses >= limit then
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local o, l, x = 0, 0, 0
   for _, thread in ipairs(threads) do
      o = o + thread:get("ok")
      l = l + thread:get("limited")
      x = x + thread:get("other")
   end
   io.write(string.format("memory run responses: 2xx/3xx %d, 429 %d, other %d (total %d)\n",
      o, l, x, o + l + x))
end
