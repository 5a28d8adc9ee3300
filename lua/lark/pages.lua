-- lark.api.pages(path, opts): every item of a paged list endpoint, one at a time, across
-- page_tokens (data.items, data.has_more, data.page_token). Each page is one
-- lark.api.get, so the handler yields between pages like any call. A failed page raises
-- its err (tostring reads "OpenAPI error ..."): wrap the loop in pcall to go on.
--   for chat in lark.api.pages("im/v1/chats", { page_size = 50, max_items = 200 }) do ... end
-- opts: query (a table), page_size, max_items (stop after that many), tenant_key,
-- timeout, token — the last three as for lark.api.get.
local PASS = { tenant_key = true, timeout = true, token = true }
local OWN = { query = true, page_size = true, max_items = true }

local function check_opts(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("bad argument #2 to 'pages' (table expected, got %s)"):format(type(opts)), 3)
  end
  for k in pairs(opts) do
    if not PASS[k] and not OWN[k] then
      error(("bad argument #2 to 'pages' (unknown option '%s')"):format(tostring(k)), 3)
    end
  end
  if opts.query ~= nil and type(opts.query) ~= "table" then
    error("bad argument #2 to 'pages' (option 'query': table expected)", 3)
  end
  for _, k in ipairs({ "page_size", "max_items" }) do
    local v = opts[k]
    if v ~= nil and (math.type(v) ~= "integer" or v < 1) then
      error(("bad argument #2 to 'pages' (option '%s': a positive integer expected)"):format(k), 3)
    end
  end
  return opts
end

return function(path, opts)
  if type(path) ~= "string" then
    error(("bad argument #1 to 'pages' (string expected, got %s)"):format(type(path)), 2)
  end
  opts = check_opts(opts)
  local query = {}
  for k, v in pairs(opts.query or {}) do query[k] = v end
  if opts.page_size then query.page_size = opts.page_size end
  local get = { query = query }
  for k in pairs(PASS) do get[k] = opts[k] end
  local items, i, given, done = {}, 0, 0, false
  return function()
    if opts.max_items and given >= opts.max_items then return nil end
    while i >= #items do
      if done then return nil end
      local res, err = lark.api.get(path, get)
      if not res then error(err, 2) end
      local data = res.data or {}
      items, i = data.items or {}, 0
      local token = data.page_token
      done = not data.has_more or type(token) ~= "string" or token == ""
      query.page_token = token
    end
    i = i + 1
    given = given + 1
    return items[i]
  end
end
