-- terrarium's Lua prelude: runs once when the scripting engine starts, before any user script.
--
-- Redis 7 patches its Lua 5.1 with read-only tables and locks the global table and every table
-- reachable from it. terrarium runs an unpatched Lua 5.1, so it builds the same sandbox out of
-- metatables instead:
--
--   user script ──env──▶ G (empty proxy) ──__index──▶ real globals ──__index──▶ error: nonexistent global
--                         └─__newindex──▶ error: Attempt to modify a readonly table
--
-- Library tables (string, math, redis, cjson, ...) are replaced by the same kind of proxy, so
-- `string.x = 1` fails as it does on Redis. The proxies are empty, which is the one visible
-- difference: `pairs(string)` iterates nothing here (protocol-spec/resp.md lists it).
--
-- The chunk receives native, a table of Rust functions, and returns what Rust calls.
--
-- Errors from Rust: a Rust function cannot raise an arbitrary Lua value through mlua, so it
-- leaves the value it means (a string with the caller's position, or an {err = ...} table) in a
-- registry slot and raises a placeholder; the error handler and pcall swap the placeholder for
-- native.take_pending(). Wrapping the natives in Lua instead would break error positions:
-- `return redis.call(...)` is a tail call, and a tail-called Lua wrapper replaces the script's
-- frame, while a C function (which is what a Rust function is to Lua) does not.

local native = ...

local real = {}              -- the real globals; the proxy below is all a script can see
local rawget, rawset, setmetatable, getmetatable, type, tostring, error, select, unpack, xpcall, pcall =
    rawget, rawset, setmetatable, getmetatable, type, tostring, error, select, unpack, xpcall, pcall

-- What Redis 7.0.15 leaves a script: Lua's base functions minus print, dofile, loadfile, getfenv,
-- setfenv and newproxy (measured on the real server), the string, table and math libraries, and
-- Redis's own libraries.
local keep = {
  'xpcall', 'tostring', 'setmetatable', 'next', 'assert', 'tonumber', 'rawequal',
  'collectgarbage', 'getmetatable', 'rawset', 'pcall', 'coroutine', 'type', 'select', 'unpack',
  'gcinfo', 'pairs', 'rawget', 'loadstring', 'ipairs', '_VERSION', 'load', 'error',
  'string', 'table', 'math',
}
local G0 = getfenv(0)
for _, name in ipairs(keep) do real[name] = G0[name] end

local readonly = setmetatable({}, { __mode = 'k' })   -- proxy -> true

local function readonly_error()
  error('Attempt to modify a readonly table', 2)
end

-- What getmetatable() of a protected table returns: itself read-only, so that changing it
-- (`getmetatable(_G).__index = {}`) fails as it does on Redis.
local locked = setmetatable({}, { __newindex = readonly_error, __metatable = false })
readonly[locked] = true

-- An empty table that reads through to `t` and refuses writes.
local function protect(t)
  local p = {}
  readonly[p] = true
  return setmetatable(p, { __index = t, __newindex = readonly_error, __metatable = locked })
end

-- rawset and setmetatable would otherwise get around the proxies.
real.rawset = function(t, k, v)
  if readonly[t] then error('Attempt to modify a readonly table', 0) end
  return rawset(t, k, v)
end
-- Redis 7.0.15 refuses precompiled chunks: loadstring of Lua bytecode gives nil.
real.loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then
    return nil, 'binary chunks are not allowed'
  end
  return loadstring(s, name)
end
real.setmetatable = function(t, mt)
  if readonly[t] then error('Attempt to modify a readonly table', 0) end
  return setmetatable(t, mt)
end

-- redis.call and redis.pcall are Rust functions; between scripts they only say that they can be
-- called inside one. Every native function raises its errors through native.take_pending (see
-- the handler below).
local redis = {}
redis.call = native.call
redis.pcall = native.pcall
local take_pending = native.take_pending

redis.sha1hex = native.sha1hex
redis.error_reply = native.error_reply
redis.status_reply = native.status_reply
redis.log = native.log
redis.setresp = native.setresp
redis.set_repl = native.set_repl
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = native.acl_check_cmd
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = native.version
redis.REDIS_VERSION_NUM = native.version_num

-- math.random and math.randomseed use Redis's own lrand48, so sequences match the real server.
local math2 = {}
for k, v in pairs(math) do math2[k] = v end
math2.random = native.random
math2.randomseed = native.randomseed
real.math = math2

for name, lib in pairs(native.libs) do real[name] = lib end

-- pcall and xpcall as Redis 7 has them: an error raised as a table ({err = ...}) is caught as
-- its message, for scripts written before errors became tables. A killed script cannot catch
-- its own death.
local killed = native.killed
local function caught(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if killed() then error(e, 0) end
  if type(e) == 'userdata' then
    local p = take_pending()
    if p ~= nil then e = p else e = tostring(e) end
  end
  if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then e = rawget(e, 'err') end
  return false, e
end
real.pcall = function(f, ...) return caught(pcall(f, ...)) end
real.xpcall = function(f, h)
  return caught(xpcall(f, function(e)
    if killed() then return e end
    return h(e)
  end))
end

real.redis = redis
for _, name in ipairs({ 'string', 'table', 'math', 'coroutine', 'redis', 'cjson', 'bit', 'struct', 'cmsgpack' }) do
  if real[name] then real[name] = protect(real[name]) end
end

-- The globals a script sees. Reading an undefined name raises Redis's error text.
local G = protect(real)
real._G = G
setmetatable(real, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
})
setfenv(0, G)

-- The error handler every script runs under. Redis's handler looks one or two frames up for the
-- line that failed; native.where skips C frames and this prelude's frames, which finds the same line.
local where = native.where
local function handler(err)
  local source, line = where()
  if type(err) == 'userdata' then
    local p = take_pending()
    if p ~= nil then err = p end
  end
  if type(err) ~= 'table' then
    err = { err = 'ERR ' .. tostring(err) }
  end
  if source then
    rawset(err, 'source', source)
    rawset(err, 'line', line)
  end
  return err
end

real.__redis__err__handler = handler

-- Functions (FUNCTION LOAD) see their own globals: while a library's top level runs, only
-- redis.register_function and redis.log; afterwards, everything a script sees.
local missing = {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
}
local load_redis = {
  register_function = native.register_function,
  log = redis.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = native.version, REDIS_VERSION_NUM = native.version_num,
}
local load_api = setmetatable({ redis = protect(setmetatable(load_redis, missing)) }, missing)
local fmeta = { __index = real, __newindex = readonly_error, __metatable = locked }
local FG = setmetatable({}, fmeta)
readonly[FG] = true

local function load_library(f)
  fmeta.__index = load_api
  local ok, e = pcall(f)
  fmeta.__index = real
  if not ok and type(e) == 'userdata' then
    local p = take_pending()
    if p ~= nil then e = p end
  end
  return ok, e
end

-- What kind of reply a returned table is, probed in Redis's order (luaReplyToRedisReply). Done
-- here because these rawgets of constant keys cost nothing in Lua, and seven lookups through the
-- Rust binding cost more than a short script's commands.
local function kind(r)
  if type(r) ~= 'table' then return nil end
  if type(rawget(r, 'err')) == 'string' then return 'err' end
  if type(rawget(r, 'ok')) == 'string' then return 'ok' end
  if type(rawget(r, 'double')) == 'number' then return 'double' end
  if type(rawget(r, 'big_number')) == 'string' then return 'big_number' end
  local v = rawget(r, 'verbatim_string')
  if type(v) == 'table' and type(rawget(v, 'format')) == 'string' and type(rawget(v, 'string')) == 'string' then
    return 'verbatim_string'
  end
  if type(rawget(r, 'map')) == 'table' then return 'map' end
  if type(rawget(r, 'set')) == 'table' then return 'set' end
  return 'array'
end

local function finish(ok, r)
  if ok then return ok, r, kind(r) end
  return ok, r
end

-- Runs an EVAL body: KEYS and ARGV are globals, as in Redis. They live in the scripts' proxy
-- itself, where functions (which read through `real`) cannot see them, as in Redis.
local function run_eval(f, keys, argv)
  rawset(G, 'KEYS', keys)
  rawset(G, 'ARGV', argv)
  return finish(xpcall(f, handler))
end

-- Runs a function registered by FUNCTION LOAD: keys and args are its parameters.
local function run_fcall(f, keys, args)
  return finish(xpcall(function() return f(keys, args) end, handler))
end

return {
  env = G,
  fenv = FG,
  redis = redis,
  load_library = load_library,
  run_eval = run_eval,
  run_fcall = run_fcall,
  protect = protect,
}
