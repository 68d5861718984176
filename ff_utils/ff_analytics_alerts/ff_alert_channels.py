"""Alert notification channels: log, webhook (JSON POST) and email (SMTP), off the event loop.

``deliver(payload)`` is O(1) and never blocks: the log channel writes one log record, webhook and
email deliveries are queued to one worker thread that POSTs with ``urllib`` (timeout, retries with
backoff) and sends mail with ``smtplib`` (optional STARTTLS). A failing channel is counted and its
last error kept (``channel_status()``, shown in health); it never breaks the other channels.
"""

from __future__ import annotations

import logging
import os
import queue
import smtplib
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, fields
from email.message import EmailMessage
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps
from ff_utils.ff_analytics_core.ff_logging import get_logger

__all__ = ["FFAlertChannels", "FFChannelStatusDTO", "ff_alert_text"]

logger = get_logger(__name__)
alert_logger = get_logger("alerts")
_STOP = object()


@dataclass(slots=True)
class FFChannelStatusDTO:
    """Delivery outcome counters of one channel target."""

    channel: str
    target: str
    delivered: int = 0
    failed: int = 0
    retries: int = 0
    dropped: int = 0
    last_error: str = ""
    last_failure_at: str | None = None
    last_success_at: str | None = None

    @property
    def healthy(self) -> bool:
        """False when the most recent delivery attempt failed."""
        if self.last_failure_at is None:
            return True
        return self.last_success_at is not None and self.last_success_at > self.last_failure_at

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["healthy"] = self.healthy
        return d


def ff_alert_text(payload: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of a notification payload."""
    if payload.get("kind") == "digest":
        return f"[alerts] digest: {payload.get('held_back', 0)} notification(s) held back", str(payload.get("message", ""))
    a = payload.get("alert")
    get = a.get if isinstance(a, dict) else (lambda k, d=None: getattr(a, k, d))
    event = payload.get("event", "fired")
    subject = f"[{str(get('severity', '')).upper()}] {get('title', '')} ({event})"
    flags = " flapping" if get("flapping", False) else ""
    flags += " escalated" if get("escalated", False) else ""
    body = (
        f"{get('message', '')}\ncomponent: {get('affected_component', '')}\nrule: {get('rule_id', '')}\n"
        f"alert_id: {get('alert_id', '')}\nstatus: {get('status', '')}{flags}\nsince: {get('timestamp', '')}\n"
    )
    actions = get("recommended_actions", None) or []
    if actions:
        body += "actions:\n" + "".join(f"  - {x}\n" for x in actions)
    return subject, body


class FFAlertChannels:
    """Fan a notification out to the enabled channels of the alerting config."""

    def __init__(self, alerting_config: Any, clock: FFClock, *, queue_size: int = 10_000) -> None:
        cfg = alerting_config
        self.clock = clock
        self.log_enabled = bool(getattr(cfg, "enable_log_alerts", True))
        level = getattr(cfg, "alert_log_level", "WARNING")
        lvl = logging.getLevelName(str(level).upper()) if isinstance(level, str) else int(level)
        self.log_level = lvl if isinstance(lvl, int) else logging.WARNING
        self.webhook_urls = list(getattr(cfg, "webhook_urls", []) or []) if getattr(cfg, "enable_webhook_alerts", False) else []
        self.webhook_timeout = float(getattr(cfg, "webhook_timeout_seconds", 5.0))
        self.webhook_retries = max(0, int(getattr(cfg, "webhook_max_retries", 3)))
        self.retry_backoff = float(getattr(cfg, "webhook_retry_backoff_seconds", 0.5))
        self.email_recipients = list(getattr(cfg, "email_recipients", []) or []) if getattr(cfg, "enable_email_alerts", False) else []
        self.smtp_host = str(getattr(cfg, "smtp_host", "localhost"))
        self.smtp_port = int(getattr(cfg, "smtp_port", 25))
        self.smtp_starttls = bool(getattr(cfg, "smtp_use_starttls", False))
        self.smtp_timeout = float(getattr(cfg, "smtp_timeout_seconds", self.webhook_timeout))
        self.smtp_sender = str(getattr(cfg, "smtp_sender", "ff-analytics@localhost"))
        self.smtp_username = str(getattr(cfg, "smtp_username", "") or "")
        self.smtp_password_env = str(getattr(cfg, "smtp_password_env", "") or "")
        self._status: dict[tuple[str, str], FFChannelStatusDTO] = {}
        if self.log_enabled:
            self._st("log", "logger")
        for url in self.webhook_urls:
            self._st("webhook", url)
        if self.email_recipients:
            self._st("email", f"{self.smtp_host}:{self.smtp_port}")
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def after_fork(self) -> None:
        """Child of ``os.fork()``: empty queue, new lock and worker (the parent's thread is gone)."""
        self._queue = queue.Queue(maxsize=self._queue.maxsize)
        self._worker = None
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def _st(self, channel: str, target: str) -> FFChannelStatusDTO:
        key = (channel, target)
        st = self._status.get(key)
        if st is None:
            st = self._status[key] = FFChannelStatusDTO(channel, target)
        return st

    # ------------------------------------------------------------------ delivery
    def deliver(self, payload: dict[str, Any]) -> None:
        """Notify every channel; remote channels are queued for the worker thread."""
        if self.log_enabled:
            try:
                subject, body = ff_alert_text(payload)
                alert_logger.log(self.log_level, "%s | %s", subject, body.replace("\n", " | ").rstrip(" |"))
                self._ok(self._st("log", "logger"))
            except Exception as exc:
                self._fail(self._st("log", "logger"), exc)
        if not self.webhook_urls and not self.email_recipients:
            return
        body = ff_dumps(_wire(payload))
        jobs: list[tuple[str, str, Any]] = [("webhook", url, body) for url in self.webhook_urls]
        if self.email_recipients:
            jobs.append(("email", f"{self.smtp_host}:{self.smtp_port}", ff_alert_text(payload)))
        self._ensure_worker()
        for job in jobs:
            with self._lock:
                self._pending += 1
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                with self._lock:
                    self._pending -= 1
                st = self._st(job[0], job[1])
                st.dropped += 1
                self._fail(st, RuntimeError("delivery queue full"))

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._run, name="ff-alert-channels", daemon=True)
            self._worker.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            channel, target, data = job
            try:
                if channel == "webhook":
                    self._post(target, data)
                else:
                    self._email(data)
            except Exception:  # never let the worker die
                logger.exception("alert channel %s %s crashed", channel, target)
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending <= 0:
                        self._idle.notify_all()

    def _post(self, url: str, body: bytes) -> None:
        st = self._st("webhook", url)
        last: Exception | None = None
        for attempt in range(self.webhook_retries + 1):
            if attempt:
                st.retries += 1
                time.sleep(self.retry_backoff * (2 ** (attempt - 1)))  # worker thread: pacing only
            req = urllib.request.Request(
                url, data=body, method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "ff-analytics-alerts"},
            )
            try:
                with urllib.request.urlopen(req, timeout=self.webhook_timeout) as resp:
                    resp.read(65536)
                    if 200 <= resp.status < 300:
                        self._ok(st)
                        return
                    last = RuntimeError(f"HTTP {resp.status}")
            except urllib.error.HTTPError as exc:
                last = RuntimeError(f"HTTP {exc.code}")
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    break  # a client error will not get better by retrying
            except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
                last = exc
        self._fail(st, last or RuntimeError("unknown webhook failure"))

    def _email(self, text: tuple[str, str]) -> None:
        st = self._st("email", f"{self.smtp_host}:{self.smtp_port}")
        subject, body = text
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = self.smtp_sender
        msg["To"] = ", ".join(self.email_recipients)
        msg.set_content(body)
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.smtp_timeout) as smtp:
                if self.smtp_starttls:
                    smtp.starttls()
                if self.smtp_username:
                    smtp.login(self.smtp_username, os.environ.get(self.smtp_password_env, "") if self.smtp_password_env else "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            self._fail(st, exc)
            return
        self._ok(st)

    def _ok(self, st: FFChannelStatusDTO) -> None:
        st.delivered += 1
        st.last_success_at = ff_iso(self.clock.now())

    def _fail(self, st: FFChannelStatusDTO, exc: BaseException) -> None:
        st.failed += 1
        st.last_error = f"{type(exc).__name__}: {exc}"[:300]
        st.last_failure_at = ff_iso(self.clock.now())
        logger.warning("alert channel %s %s failed: %s", st.channel, st.target, st.last_error)

    # ------------------------------------------------------------------ status + shutdown
    def channel_status(self) -> list[dict[str, Any]]:
        """One entry per channel target with counters, last error and ``healthy``."""
        return [st.to_dict() for st in self._status.values()]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block (a worker-side wait; call off the loop) until queued deliveries finish."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Let queued deliveries finish (bounded) and stop the worker."""
        if self._worker is None:
            return
        self.wait_idle(timeout)
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            return
        self._worker.join(timeout=1.0)
        self._worker = None


def _wire(payload: dict[str, Any]) -> dict[str, Any]:
    """JSON body of a webhook: the payload plus its source (the alert DTO serializes natively)."""
    return {**payload, "source": "ff-analytics"}
