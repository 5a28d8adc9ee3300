-- commands.lua: a small command bot. "/ping" answers "pong"; "/help" or an unknown command
-- get the list of commands; plain text is left to other scripts (echo.lua). Add a
-- command with one entry in `commands`.

local commands = {
  ping = { about = "check that the bot is alive", run = function() return "pong" end },
  -- listed here, answered by standup.lua (a command without run is another script's)
  standup = { about = "stand-up cards on weekdays: /standup on | off" },
}

local function help()
  local names = {}
  for name in pairs(commands) do names[#names + 1] = name end
  table.sort(names)
  local lines = { "Commands:" }
  for _, name in ipairs(names) do
    lines[#lines + 1] = "/" .. name .. " - " .. commands[name].about
  end
  return table.concat(lines, "\n")
end

commands.help = { about = "this list", run = help }

function on_p2_message_receive_v1(event)
  local name, args = (lark.message.text(event) or ""):match("^/(%w*)%s*(.*)$")
  if not name then return end
  local cmd = commands[name]
  if cmd and not cmd.run then return end
  local answer = cmd and cmd.run(args, event) or help()
  local res, err = lark.im.reply(event.event.message.message_id, "text", { text = answer })
  if not res then error(err) end
end
