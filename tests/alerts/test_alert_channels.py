"""Alert channels: webhook to a local HTTP server (ok, 500, timeout), email to a local SMTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from ff_utils.ff_analytics_alerts.ff_alert_channels import FFAlertChannels
from ff_utils.ff_analytics_core.ff_clock import FFManualClock


def _cfg(**kw):
    base = dict(enable_log_alerts=True, alert_log_level="WARNING", enable_webhook_alerts=False,
                webhook_urls=[], webhook_timeout_seconds=0.5, webhook_max_retries=2,
                webhook_retry_backoff_seconds=0.01, enable_email_alerts=False, email_recipients=[],
                smtp_host="127.0.0.1", smtp_port=25, smtp_use_starttls=False, smtp_sender="alerts@test.local")
    base.update(kw)
    return SimpleNamespace(**base)


class _Server:
    """A local HTTP server; ``mode`` ok | 500 | slow."""

    def __init__(self, mode: str = "ok", delay: float = 0.0) -> None:
        self.bodies: list[dict] = []
        self.requests = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                outer.requests += 1
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if mode == "slow":
                    time.sleep(delay)
                if mode == "500":
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(data))
                try:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _alert_payload():
    from ff_utils.ff_analytics_alerts.ff_alert_engine import ff_alert_class

    a = ff_alert_class()(alert_id="alert_x", severity="error", title="CPU high", message="cpu is 97",
                         affected_component="system", rule_id="builtin.cpu_usage", status="firing")
    return {"kind": "alert", "event": "fired", "alert": a}


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _status(ch, channel):
    return [s for s in ch.channel_status() if s["channel"] == channel]


def test_webhook_delivered_with_payload_and_off_the_caller(caplog):
    srv = _Server("ok")
    try:
        ch = FFAlertChannels(_cfg(enable_webhook_alerts=True, webhook_urls=[srv.url]), FFManualClock())
        t0 = time.perf_counter()
        with caplog.at_level("WARNING", logger="ff_analytics.alerts"):
            ch.deliver(_alert_payload())
        assert time.perf_counter() - t0 < 0.2  # queued, not sent inline
        assert ch.wait_idle(5)
        assert srv.bodies[0]["alert"]["alert_id"] == "alert_x"
        assert srv.bodies[0]["alert"]["severity"] == "error" and srv.bodies[0]["event"] == "fired"
        (st,) = _status(ch, "webhook")
        assert st["delivered"] == 1 and st["failed"] == 0 and st["healthy"]
        assert any("CPU high" in r.getMessage() for r in caplog.records)
        ch.close()
    finally:
        srv.close()


def test_webhook_500_is_retried_then_failed_and_others_still_work():
    bad, good = _Server("500"), _Server("ok")
    try:
        ch = FFAlertChannels(_cfg(enable_webhook_alerts=True, webhook_urls=[bad.url, good.url]), FFManualClock())
        ch.deliver(_alert_payload())
        assert ch.wait_idle(10)
        assert bad.requests == 3  # 1 + webhook_max_retries
        by_target = {s["target"]: s for s in _status(ch, "webhook")}
        assert by_target[bad.url]["failed"] == 1 and by_target[bad.url]["retries"] == 2
        assert "500" in by_target[bad.url]["last_error"] and not by_target[bad.url]["healthy"]
        assert by_target[good.url]["delivered"] == 1 and len(good.bodies) == 1
        ch.close()
    finally:
        bad.close()
        good.close()


def test_webhook_timeout_is_retried_then_failed():
    slow = _Server("slow", delay=1.0)
    try:
        ch = FFAlertChannels(_cfg(enable_webhook_alerts=True, webhook_urls=[slow.url], webhook_timeout_seconds=0.2,
                                  webhook_max_retries=1), FFManualClock())
        ch.deliver(_alert_payload())
        assert ch.wait_idle(10)
        (st,) = _status(ch, "webhook")
        assert st["failed"] == 1 and st["retries"] == 1 and st["delivered"] == 0
        assert "timed out" in st["last_error"].lower() or "timeout" in st["last_error"].lower()
        assert slow.requests == 2
        ch.close()
    finally:
        slow.close()


def test_refused_connection_is_recorded():
    port = _free_port()
    ch = FFAlertChannels(_cfg(enable_webhook_alerts=True, webhook_urls=[f"http://127.0.0.1:{port}/x"],
                              webhook_max_retries=0), FFManualClock())
    ch.deliver(_alert_payload())
    assert ch.wait_idle(5)
    (st,) = _status(ch, "webhook")
    assert st["failed"] == 1 and st["last_error"]
    ch.close()


def test_email_delivered_to_local_smtp_server():
    pytest.importorskip("aiosmtpd")
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
            return "250 OK"

    handler = Handler()
    port = _free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        ch = FFAlertChannels(_cfg(enable_log_alerts=False, enable_email_alerts=True,
                                  email_recipients=["ops@test.local"], smtp_port=port), FFManualClock())
        ch.deliver(_alert_payload())
        assert ch.wait_idle(10)
        (mail_from, rcpts, content) = handler.messages[0]
        assert mail_from == "alerts@test.local" and rcpts == ["ops@test.local"]
        assert "CPU high" in content and "alert_x" in content
        (st,) = _status(ch, "email")
        assert st["delivered"] == 1
        ch.close()
    finally:
        ctl.stop()


def test_email_failure_is_recorded():
    port = _free_port()
    ch = FFAlertChannels(_cfg(enable_log_alerts=False, enable_email_alerts=True, email_recipients=["a@b.c"],
                              smtp_port=port), FFManualClock())
    ch.deliver(_alert_payload())
    assert ch.wait_idle(10)
    (st,) = _status(ch, "email")
    assert st["failed"] == 1 and not st["healthy"]
    ch.close()
