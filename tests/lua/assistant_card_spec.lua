-- scripts/examples/assistant.lua outside the gateway: a stand-in lark (http with a
-- scripted SSE answer, store, card, im) to check the conversation memory, its bounds,
-- /reset, and the card a failing model leaves. (dkjson comes with busted.)
local json = require("dkjson")
local SRC = os.getenv("LARKGW_SRC") or "."

local function load_bot(lark)
  local env = setmetatable({ lark = lark }, { __index = _G })
  assert(loadfile(SRC .. "/scripts/examples/assistant.lua", "t", env))()
  return env.on_p2_message_receive_v1
end

local function event(text, chat)
  return { event = { message = { message_id = "om_q", chat_id = chat or "oc_1",
                                 content = json.encode({ text = text }) } } }
end

describe("assistant.lua", function()
  local lark, store, requests, cards, replies, answer

  -- A response whose sse() yields the answer word by word, then [DONE] unless cut.
  local function sse_response(words, cut)
    return { status = 200, sse = function()
      local i = 0
      return function()
        i = i + 1
        if i <= #words then
          return { data = json.encode({ choices = { { delta = { content = words[i] } } } }) }
        end
        if i == #words + 1 and not cut then return { data = "[DONE]" } end
      end
    end }
  end

  before_each(function()
    store, requests, cards, replies = {}, {}, {}, {}
    answer = function() return sse_response({ "Hello", " there" }) end
    lark = {
      vars = { llm_url = "http://llm.test", llm_key = "sk-test", llm_model = "m" },
      json = { encode = function(t) return json.encode(t) end,
               decode = function(s) return json.decode(s) end },
      store = { get = function(k) return store[k] end,
                set = function(k, v) store[k] = v return true end },
      log = { warn = function() end, info = function() end },
      http = { post = function(url, opts)
        requests[#requests + 1] = { url = url, opts = opts }
        return answer()
      end },
      im = { reply = function(id, kind, content)
        replies[#replies + 1] = { id = id, kind = kind, content = content }
        return { data = { message_id = "om_r" } }
      end },
      card = { stream = function(target, opts)
        local c = { target = target, opts = opts, pushed = {}, final = nil }
        function c:push(d) self.pushed[#self.pushed + 1] = d return true end
        function c:finish(t) self.final = t return true end
        cards[#cards + 1] = c
        return c
      end },
    }
    package.loaded["lark.message"] = nil
    _G.lark = lark
    lark.message = require("lark.message")
  end)
  after_each(function() _G.lark = nil end)

  it("streams the answer into a reply card and remembers the turn", function()
    local bot = load_bot(lark)
    bot(event("hi"))
    local req = requests[1]
    assert.equal("http://llm.test/v1/chat/completions", req.url)
    assert.equal("Bearer sk-test", req.opts.headers.Authorization)
    assert.is_true(req.opts.stream)
    assert.is_true(req.opts.json.stream)
    assert.equal("m", req.opts.json.model)
    assert.equal("system", req.opts.json.messages[1].role)
    assert.same({ role = "user", content = "hi" }, req.opts.json.messages[2])
    assert.equal("om_q", cards[1].target)
    assert.same({ "Hello", " there" }, cards[1].pushed)
    assert.equal("Hello there", cards[1].final)
    bot(event("again"))
    local msgs = requests[2].opts.json.messages
    assert.same({ "system", "user", "assistant", "user" },
                { msgs[1].role, msgs[2].role, msgs[3].role, msgs[4].role })
    assert.equal("Hello there", msgs[3].content)
  end)

  it("keeps a chat's memory apart from another chat's, and /reset forgets it", function()
    local bot = load_bot(lark)
    bot(event("one", "oc_a"))
    bot(event("two", "oc_b"))
    assert.equal(2, #requests[2].opts.json.messages)          -- system + this question
    bot(event("/reset", "oc_a"))
    assert.equal("Conversation forgotten.", replies[1].content.text)
    bot(event("three", "oc_a"))
    assert.equal(2, #requests[3].opts.json.messages)
    bot(event("four", "oc_b"))
    assert.equal(4, #requests[4].opts.json.messages)
  end)

  it("bounds the memory in turns and bytes", function()
    local bot = load_bot(lark)
    for i = 1, 30 do bot(event("question " .. i)) end
    local history = json.decode(store["assistant:history:oc_1"])
    assert.equal(20, #history)
    assert.equal("question 21", history[1].content)
    answer = function() return sse_response({ string.rep("x", 6000) }) end
    for i = 1, 5 do bot(event("big " .. i)) end
    assert.is_true(#store["assistant:history:oc_1"] <= 16 * 1024)
  end)

  it("leaves a friendly card when the model fails, and forgets nothing it did not say", function()
    local bot = load_bot(lark)
    local refused = setmetatable({ code = "connect" },
                                 { __tostring = function() return "connect refused" end })
    answer = function() return nil, refused end
    bot(event("hi"))
    assert.truthy(cards[1].final:match("Sorry, the model is not answering right now "
                                       .. "%(connect refused%)"))
    assert.is_nil(store["assistant:history:oc_1"])
    answer = function()
      return { status = 500, chunks = function()
        local sent = false
        return function()
          if sent then return nil end
          sent = true
          return json.encode({ error = { message = "overloaded", type = "server_error" } })
        end
      end }
    end
    bot(event("hi"))
    assert.truthy(cards[2].final:match("HTTP 500: overloaded"))
    answer = function() return sse_response({ "half", " an" }, true) end
    bot(event("hi"))
    assert.truthy(cards[3].final:match("^half an\n\n%*Sorry.*cut off"))
    answer = function()
      local res = sse_response({ "broken" }, true)
      local inner = res.sse
      res.sse = function()
        local it = inner()
        return function()
          local ev = it()
          if not ev then error("lark.http closed: the peer closed early", 0) end
          return ev
        end
      end
      return res
    end
    bot(event("hi"))
    assert.truthy(cards[4].final:match("^broken\n\n%*Sorry.*cut off: lark.http closed"))
  end)

  it("stays quiet without a model or on other commands", function()
    local bot = load_bot(lark)
    bot(event("/ping"))
    lark.vars = {}
    bot(event("hi"))
    assert.equal(0, #requests)
    assert.equal(0, #cards)
  end)
end)
