#!/usr/bin/env python3
"""Decision events under load and switched off, with real RADIUS clients (radclient).

- A burst of 200 requests with a wrong shared secret is one NAS-level event (the rest of
  the minute is counted, not written).
- `[events] enabled = false`: rejects and drops make no events, and the server still
  answers.
"""

import contextlib
import re
import time

from harness import IntegrationTest, main, nas_secret, run


class EventFloodTest(IntegrationTest):
    def radclient(self, inst, secret, code="auth", attrs="User-Name = \"pap\", User-Password = \"x\"", count=1):
        body = "\n\n".join([attrs + ", Message-Authenticator = 0x00"] * count) + "\n"
        return run(["radclient", "-r", "1", "-t", "1", "-p", "20", "--", f"127.0.0.1:{inst.radius_port}", code,
                    secret], check=False, input=body, timeout=120)

    def counters(self, inst):
        _, body = inst.api("GET", "/service/counters", expect=200)
        return body["counters"]

    def test_a_burst_with_a_wrong_secret_is_one_event(self):
        inst = self.instance()
        self.radclient(inst, "not-the-secret", count=200)
        time.sleep(2)  # the writer stores within a second
        with contextlib.closing(inst.ledger()) as db:
            rows = db.execute("SELECT reason, nas_ip, count FROM events WHERE kind = 'nas'").fetchall()
        self.assertEqual(rows, [("bad_message_authenticator", "127.0.0.1", 1)])
        self.assertEqual(self.counters(inst)["events_dropped"], 0)

    def test_events_can_be_switched_off(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            text = f.read()
        text, n = re.subn(r"(?m)^(\[events\][^\n]*\n)enabled = true", r"\1enabled = false", text)
        self.assertEqual(n, 1)
        with open(inst.config, "w") as f:
            f.write(text)
        inst.start()
        rejected = self.radclient(inst, nas_secret(inst))
        self.assertIn("Access-Reject", rejected.stdout + rejected.stderr)
        self.radclient(inst, "not-the-secret")
        time.sleep(2)
        self.assertEqual(inst.count("events"), 0)
        counters = self.counters(inst)
        self.assertEqual((counters["events_emitted"], counters["events_dropped"]), (0, 0))


if __name__ == "__main__":
    main()
