"""Issue 25's acceptance, outbound leg: the survey answer that came in through the `1flow-survey` webhook source
(sent three times, once across a server restart: `test_survey_answers_in.py`) leaves through a `webhook`
destination (issue 24's Segment Webhooks (Actions): setting `sharedSecret`, action `send` with `url`, `method`,
`data`; `X-Signature` the hex HMAC-SHA1 of the body) to a local receiver exactly once, with the answers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.server.test_survey_answers_in import ALERT_ID, send_three_times_across_a_restart, survey_config

SHARED_SECRET = "whsec_survey_out_5d1c8e"


class Receiver:
    """A plain HTTP server on loopback that keeps every request it gets and answers 200."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/answers"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_one_survey_submitted_track_reaches_the_webhook_destination_once(tmp_path):
    receiver = Receiver()
    destination = {
        "name": "warehouse-hook",
        "type": "webhook",
        "mode": "cloud",
        "sources": ["answers"],
        "settings": {"sharedSecret": SHARED_SECRET},
        "subscriptions": [
            {
                "name": "Survey answers",
                "subscribe": 'type = "track" and event = "Survey Submitted"',
                "partnerAction": "send",
                "mapping": {"url": receiver.url, "method": "POST", "data": {"@path": "$."}},
            }
        ],
    }
    try:
        sandbox, surveys = send_three_times_across_a_restart(tmp_path, survey_config(tmp_path, [destination]))
        sandbox.stop()
        assert [s["state"] for s in surveys] == ["delivered"] * 3
        deadline = time.monotonic() + 15
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # room for a second delivery, were there one
        assert len(receiver.received) == 1
        headers, body = receiver.received[0]
        signature = {k.lower(): v for k, v in headers.items()}["x-signature"]
        assert signature == hmac.new(SHARED_SECRET.encode(), body, hashlib.sha1).hexdigest()
        sent = json.loads(body)
        assert (sent["type"], sent["event"], sent["userId"]) == ("track", "Survey Submitted", "user-42")
        assert sent["messageId"] == f"1flow-{ALERT_ID}"
        assert [(a["type"], a["answer"]) for a in sent["properties"]["answers"]] == [
            ("nps", 10),
            ("text", "best user experience"),
        ]
    finally:
        receiver.close()
