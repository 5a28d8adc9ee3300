-- assistant.lua: a chat assistant. Each message goes to a language model that speaks
-- the OpenAI chat completions API; its answer streams into a reply card like a
-- typewriter. Per-chat memory in lark.store (bounded turns and bytes), "/reset" forgets
-- it, a friendly card when the model fails. The event is acked at once; the handler
-- goes on for as long as limits.handler_max_s allows (raise it: models can be slow).
--
-- The operator allows the model's host and hands over the settings (see the README):
--   http = { allow = { "api.deepseek.com" } }
--   vars = { llm_url = env("LLM_URL"), llm_key = env("LLM_KEY"), llm_model = "deepseek-chat" }
-- Without llm_url the bot stays quiet.

local MAX_TURNS = 10            -- question/answer pairs remembered per chat
local MAX_BYTES = 16 * 1024     -- and at most this much text
local MEMORY_TTL = 24 * 3600    -- a quiet chat forgets after a day
local TIMEOUT = 120             -- seconds for the model's answer to start
local SYSTEM = "You are a helpful assistant in a Feishu chat. Answer concisely, in Markdown."

local function memory_key(chat_id) return "assistant:history:" .. chat_id end

local function recall(chat_id)
  local saved = lark.store.get(memory_key(chat_id))
  local history = saved and lark.json.decode(saved)
  return type(history) == "table" and history or {}
end

-- Keeps the last MAX_TURNS pairs, then drops the oldest until the text fits MAX_BYTES.
local function remember(chat_id, history)
  while #history > 2 * MAX_TURNS do table.remove(history, 1) end
  local text = lark.json.encode(history)
  while #text > MAX_BYTES and #history > 0 do
    table.remove(history, 1)
    text = lark.json.encode(history)
  end
  lark.store.set(memory_key(chat_id), text, MEMORY_TTL)
end

-- What the model said when it refused: the OpenAI error body, or the status.
local function refusal(res)
  local body = {}
  for piece in res:chunks() do
    body[#body + 1] = piece
    if #body > 64 then break end
  end
  local decoded = lark.json.decode(table.concat(body))
  local msg = type(decoded) == "table" and type(decoded.error) == "table" and decoded.error.message
  return ("HTTP %d%s"):format(res.status, type(msg) == "string" and ": " .. msg:sub(1, 200) or "")
end

-- Streams the model's answer into card; the whole answer, or nil and why not.
local function ask(vars, history, card)
  local messages = { { role = "system", content = vars.llm_system or SYSTEM } }
  for _, m in ipairs(history) do messages[#messages + 1] = m end
  local res, err = lark.http.post(vars.llm_url .. "/v1/chat/completions", {
    headers = { Authorization = "Bearer " .. (vars.llm_key or "") },
    json = { model = vars.llm_model or "deepseek-chat", stream = true, messages = messages },
    stream = true, timeout = TIMEOUT })
  if not res then return nil, tostring(err) end
  if res.status ~= 200 then return nil, refusal(res) end
  local parts, done = {}, false
  -- a stream that breaks off raises: keep what came and say so
  local ok, broke = pcall(function()
    for ev in res:sse() do
      if ev.data == "[DONE]" then done = true break end
      local chunk = lark.json.decode(ev.data)
      local choice = type(chunk) == "table" and type(chunk.choices) == "table" and chunk.choices[1]
      local delta = type(choice) == "table" and type(choice.delta) == "table"
                    and choice.delta.content
      if type(delta) == "string" and delta ~= "" then
        parts[#parts + 1] = delta
        card:push(delta)
      end
    end
  end)
  local answer = table.concat(parts)
  if not ok then return nil, "the answer was cut off: " .. tostring(broke), answer end
  if not done then return nil, "the answer was cut off", answer end
  return answer
end

function on_p2_message_receive_v1(event)
  local vars = lark.vars or {}
  local msg = event.event.message
  local text = lark.message.text(event)
  if not vars.llm_url or not text or text == "" then return end
  if text == "/reset" then
    lark.store.set(memory_key(msg.chat_id), nil)
    local res, err = lark.im.reply(msg.message_id, "text", { text = "Conversation forgotten." })
    if not res then error(err) end
    return
  end
  if text:sub(1, 1) == "/" then return end         -- other commands belong to commands.lua
  local history = recall(msg.chat_id)
  history[#history + 1] = { role = "user", content = text }
  local card, err = lark.card.stream(msg.message_id,
                                     { title = "Assistant", summary = "Thinking…" })
  if not card then error(err) end
  local answer, why, partial = ask(vars, history, card)
  if not answer then
    lark.log.warn("assistant: the model failed: " .. why)
    card:finish((partial and partial ~= "" and partial .. "\n\n" or "") ..
                "*Sorry, the model is not answering right now (" .. why .. "). " ..
                "Try again in a moment.*")
    return
  end
  local ok, ferr = card:finish(answer)
  if not ok then error(ferr) end
  history[#history + 1] = { role = "assistant", content = answer }
  remember(msg.chat_id, history)
end
