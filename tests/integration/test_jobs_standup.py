"""scripts/examples/standup.lua, unmodified, against the emulator: "/standup on|off"
keeps the chat list in lark.store, and the weekday 10:00 cron job posts an interactive
card to each chat on it.

Time is driven honestly: the example keeps its real spec ("0 10 * * 1-5") and the
gateway's zone comes from TZ, as in production. The test gives the daemon a POSIX zone
whose offset (to the second) makes 10:00 local on a weekday fall FIRE_IN seconds after
the start, so the real cron path (parse, zone, next run, timer, run) fires within a
bounded wait; /admin/jobs must announce exactly that instant."""
import calendar
import json
import os
import time

from harness import SRC, GatewayCase, http, wait_until

TOKEN = "v-token-7c1e"
FIRE_IN = 25   # seconds: the daemon's start and three commands fit well within


def example(name):
    with open(os.path.join(SRC, "scripts", "examples", name)) as f:
        return f.read()


def zone_firing_at(fire):
    """A POSIX TZ rule under which `fire` (a UTC instant, whole seconds) is 10:00:00 on a
    weekday, as an offset within a week of UTC."""
    day = 86400
    base = (10 * 3600 - fire % day) % day
    for k in sorted(range(-6, 7), key=abs):
        off = base + k * day
        local_days = (fire + off) // day
        weekday = (local_days + 4) % 7          # 1970-01-01 was a Thursday; Sunday 0
        if 1 <= weekday <= 5 and abs(off) < 167 * 3600:
            sign = "-" if off >= 0 else "+"     # POSIX counts west of Greenwich
            a = abs(off)
            return "<LKT>%s%d:%02d:%02d" % (sign, a // 3600, a % 3600 // 60, a % 60)
    raise AssertionError("no offset found")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Standup(GatewayCase):
    def test_standup_posts_cards_to_chats_switched_on(self):
        em = self.start_emulator(verification_token=TOKEN)
        fire = int(time.time()) + FIRE_IN
        d = self.start_daemon(config=em.gateway_config(),
                              scripts={"standup.lua": example("standup.lua")},
                              env={"TZ": zone_firing_at(fire)})
        status, _, body = http(d.admin_port, "GET", "/admin/jobs")
        job = json.loads(body)["jobs"][0]
        self.assertEqual((job["name"], job["kind"], job["spec"]),
                         ("standup", "cron", "0 10 * * 1-5"))
        self.assertEqual(job["next_run"], iso(fire))

        em.wait_connections(1, timeout=20)
        em.send_text("/standup on", chat_id="oc_team_a", im_message_id="om_su1")
        em.send_text("/standup on", chat_id="oc_team_b", im_message_id="om_su2")
        em.send_text("/standup off", chat_id="oc_team_b", im_message_id="om_su3")
        em.send_text("/standup", chat_id="oc_team_c", im_message_id="om_su4")
        em.wait_acks(4, timeout=20)
        replies = em.wait_api_calls(4, path="/open-apis/im/v1/messages/om_su", answered=True)
        texts = {c["path"].split("/")[-2]: json.loads(c["body"]["content"])["text"]
                 for c in replies}
        self.assertEqual(texts["om_su1"], "Stand-up reminders are on for this chat.")
        self.assertEqual(texts["om_su3"], "Stand-up reminders are off for this chat.")
        self.assertIn("Usage: /standup on | off", texts["om_su4"])
        self.assertLess(time.time(), fire, "the setup outlasted FIRE_IN; the card would "
                        "have gone before the chats were on the list")

        def cards():
            return [c for c in em.api_calls("/open-apis/im/v1/messages")
                    if c["body"].get("msg_type") == "interactive"]
        wait_until(cards, timeout=FIRE_IN + 20, what="the stand-up card")
        wait_until(lambda: json.loads(http(d.admin_port, "GET", "/admin/jobs")[2])
                   ["jobs"][0]["runs"] == 1, timeout=20, what="the run's end")
        sent = cards()
        self.assertEqual([c["body"]["receive_id"] for c in sent], ["oc_team_a"])
        card = json.loads(sent[0]["body"]["content"])
        self.assertEqual(card["header"]["title"]["content"], "Stand-up time")
        self.assertGreaterEqual(time.time(), fire)
        job = json.loads(http(d.admin_port, "GET", "/admin/jobs")[2])["jobs"][0]
        self.assertEqual(job["last_result"], "ok")
        self.assertGreaterEqual(job["last_run"], iso(fire))   # the timer may be late, never early
        # the next one is a day (or a weekend) later, at 10:00 local again
        self.assertEqual((calendar.timegm(time.strptime(job["next_run"],
                                                        "%Y-%m-%dT%H:%M:%SZ")) - fire) % 86400, 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
