-- standup.lua: a weekday stand-up reminder. "/standup on" in a chat adds the chat to the
-- list, "/standup off" takes it off; every weekday at 10:00 a card asks each chat on the
-- list for its stand-up. The list lives in lark.store, so it survives reloads.
--
-- The schedule is a cron spec in the gateway's zone (the TZ environment variable, else
-- UTC); the config's vars can change both: vars = { standup_cron = "30 9 * * 1-5",
-- standup_tz = "Asia/Shanghai" }.

local vars = lark.vars or {}
local SPEC = vars.standup_cron or "0 10 * * 1-5"
local KEY = "standup:chats"   -- "chat_id tenant_key" lines

local function load_chats()
  local chats = {}
  for chat, tenant in (lark.store.get(KEY) or ""):gmatch("(%S+) (%S*)\n") do
    chats[chat] = tenant
  end
  return chats
end

local function save_chats(chats)
  local lines = {}
  for chat, tenant in pairs(chats) do lines[#lines + 1] = chat .. " " .. tenant .. "\n" end
  table.sort(lines)
  return lark.store.set(KEY, table.concat(lines))
end

local function card()
  return {
    config = { wide_screen_mode = true },
    header = { template = "blue", title = { tag = "plain_text", content = "Stand-up time" } },
    elements = {
      { tag = "div", text = { tag = "lark_md",
        content = "**Yesterday** what got done?\n**Today** what is next?\n" ..
                  "**Blockers** anything in the way?" } },
    },
  }
end

-- Each chat is posted with the tenant it was switched on from (marketplace apps); one
-- chat failing does not stop the others, but fails the run so /admin/jobs shows it.
local function post_standup()
  local failed = 0
  for chat, tenant in pairs(load_chats()) do
    local opts = tenant ~= "" and { tenant_key = tenant } or nil
    local res, err = lark.im.send("chat_id", chat, "interactive", card(), opts)
    if not res then
      failed = failed + 1
      lark.log.warn("stand-up card to " .. chat .. " failed: " .. tostring(err))
    end
  end
  if failed > 0 then error(failed .. " chat(s) did not get the stand-up card") end
end

lark.cron(SPEC, post_standup, { name = "standup", tz = vars.standup_tz })

local answers = {
  on = "Stand-up reminders are on for this chat.",
  off = "Stand-up reminders are off for this chat.",
}

function on_p2_message_receive_v1(event)
  local arg = (lark.message.text(event) or ""):match("^/standup%s*(%a*)%s*$")
  if not arg then return end
  local msg = event.event.message
  local chats = load_chats()
  if arg == "on" then
    chats[msg.chat_id] = event.header.tenant_key or ""
  elseif arg == "off" then
    chats[msg.chat_id] = nil
  end
  local text = answers[arg]
  if text then
    assert(save_chats(chats))
  else
    text = "Usage: /standup on | off (cards on weekdays, spec " .. SPEC .. ")"
  end
  local res, err = lark.im.reply(msg.message_id, "text", { text = text })
  if not res then error(err) end
end
