-- card_button.lua: a card with buttons. "/card" answers with a card holding two buttons.
-- "Approve" is quick: the click is answered within the platform's 3 s with a toast and
-- a new card. "Slow report" takes longer than that: the gateway answers the click {}
-- at its ack deadline, and the handler updates the card afterwards with the click's
-- token (lark.card.update_later).

local card = lark.card

local function menu()
  return card.new({ title = "Card buttons", template = "blue" })
    :markdown("Pick one. **Approve** answers at once; **Slow report** takes a few seconds.")
    :divider()
    :actions({ card.button("Approve", { value = { op = "approve" }, type = "primary" }),
               card.button("Slow report", { value = { op = "report" } }) })
    :note("larkgw example: card_button.lua")
end

function on_p2_message_receive_v1(event)
  if lark.message.text(event) ~= "/card" then return end
  local res, err = lark.im.reply(event.event.message.message_id, "interactive", menu():json())
  if not res then error(err) end
end

-- card.action.trigger: event.event.action.value is the clicked button's value,
-- event.event.token the card's token, event.event.operator the user who clicked.
function on_p2_card_action_trigger(event)
  local e = event.event
  local op = type(e.action) == "table" and type(e.action.value) == "table" and e.action.value.op
  local who = type(e.operator) == "table" and e.operator.open_id or "someone"
  if op == "approve" then
    return card.answer({
      toast = card.toast("success", "Approved"),
      card = card.new({ title = "Approved", template = "green" })
        :markdown("Approved by <at id=" .. who .. "></at>."),
    })
  elseif op == "report" then
    lark.sleep(3.5)  -- the slow work; the click was answered {} meanwhile
    local res, err = card.update_later(e.token, card.new({ title = "Report", template = "green" })
      :markdown("The report is ready.")
      :note("updated after the click"))
    if not res then error(err) end
  end
end
