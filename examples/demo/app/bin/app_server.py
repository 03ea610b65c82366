#!/usr/bin/env python3
"""The demo ingestion service, one per app host, started by ``scripts/service.sh``.

It takes its code, VERSION and config from the host's installed ``opt/app/``, so a
deployed release really changes what the service does (v2.4.0 writes event metadata,
v2.4.1-broken asks the database for a column no migration creates and answers 500).
Settings come from the environment that service.sh exports from ``service.env``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_BODY = 1 << 20
#: Seconds an event waits in the queue folder before the worker stores it, like a real
#: batching consumer: the folder always holds the last second's events.
QUEUE_DELAY = 1.0
#: Fault switches in the queue folder (this host's /tmp), set by ``fleet.py fault``.
STALLED = "fault.queue-stalled"
LOG_ERRORS = "fault.log-errors"


def read_config(path: Path) -> dict[str, str]:
    """The flat ``key: value`` YAML the app uses (stdlib only, no YAML parser)."""
    settings: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            key, _, value = text.partition(":")
            settings[key.strip()] = value.strip().strip("\"'")
    return settings


def rss_kb() -> int:
    """This process's resident memory, for the matrix's "memory leak evident"."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def utc_now() -> datetime:
    return datetime.now(UTC)


class App:
    """What one host's service knows: its release, its settings and where it writes."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.app_dir = Path(environ["APP_DIR"])
        self.log_dir = Path(environ["LOG_DIR"])
        self.db_path = environ["DB_PATH"]
        self.host_name = environ["HOST_NAME"]
        self.port = int(environ["HTTP_PORT"])
        self.address = environ.get("HTTP_ADDRESS", "127.0.0.1")
        self.queue_dir = Path(environ["QUEUE_DIR"])
        self.traffic_every = float(environ.get("TRAFFIC_EVERY", "0.5"))
        self._errors: list[float] = []
        self.api_version = environ.get("API_VERSION", "v1")
        self.version = (self.app_dir / "VERSION").read_text(encoding="utf-8").strip()
        self.config = read_config(self.app_dir / "config" / "app.yml")
        self.metadata_enabled = self.config.get("metadata_enabled") == "true"
        self.record_source = self.config.get("record_source") == "true"
        self._log_lock = threading.Lock()

    def log(self, name: str, level: str, message: str) -> None:
        if level == "ERROR":
            self._errors.append(time.monotonic())
        stamp = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._log_lock, open(self.log_dir / name, "a", encoding="utf-8") as log:
            log.write(f"{stamp} {level} [{self.host_name}] {message}\n")

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.db_path, timeout=10)

    def check_database(self) -> None:
        """Raise sqlite3.Error when the schema this release needs is not there."""
        with self.connect() as db:
            db.execute("SELECT 1 FROM events LIMIT 1").fetchall()
            if self.metadata_enabled:
                db.execute("SELECT 1 FROM event_metadata LIMIT 1").fetchall()
            if self.record_source:
                db.execute("SELECT source FROM events LIMIT 1").fetchall()

    def enqueue(self, event: Any) -> str:
        """Accept an event: it waits as ``<id>.processing`` in the queue folder."""
        self.check_database()
        event_id = uuid.uuid4().hex
        spool = self.queue_dir / f".{event_id}.tmp"
        spool.write_text(json.dumps(event, sort_keys=True), encoding="utf-8")
        spool.rename(self.queue_dir / f"{event_id}.processing")
        self.log("ingestion.log", "INFO", f"accepted event {event_id} api={self.api_version} version={self.version}")
        return event_id

    def backlog(self) -> int:
        return sum(1 for _ in self.queue_dir.glob("*.processing"))

    def recent_errors(self, seconds: float = 60.0) -> int:
        horizon = time.monotonic() - seconds
        self._errors = [t for t in self._errors if t >= horizon]
        return len(self._errors)

    def work_queue(self, stop: threading.Event) -> None:
        """Store every event that waited `QUEUE_DELAY`; a stalled queue stores none."""
        while not stop.wait(0.2):
            if (self.queue_dir / STALLED).exists():
                continue
            horizon = time.time() - QUEUE_DELAY
            for path in sorted(self.queue_dir.glob("*.processing")):
                try:
                    if path.stat().st_mtime > horizon:
                        continue
                    event = json.loads(path.read_text(encoding="utf-8"))
                    self.store(event)
                    path.unlink()
                except (OSError, ValueError, sqlite3.Error) as error:
                    self.log("app.log", "ERROR", f"queue: cannot store {path.name}: {error}")
                    break

    def make_traffic(self, stop: threading.Event) -> None:
        """Production traffic: an event now and then, and the minor errors a fault asks for."""
        number = 0
        while not stop.wait(self.traffic_every):
            number += 1
            with contextlib.suppress(OSError, sqlite3.Error):
                self.enqueue({"source": "traffic", "n": number})
            if (self.queue_dir / LOG_ERRORS).exists():
                self.log("app.log", "ERROR", f"minor: upstream timeout on request {number} (retried)")

    def store(self, event: Any) -> int:
        now = utc_now()
        created_at = now.strftime("%Y-%m-%d %H:%M:%S")
        payload = json.dumps(event, sort_keys=True)
        db = self.connect()
        try:
            with db:
                if self.record_source:
                    cursor = db.execute(
                        "INSERT INTO events (payload, created_at, source) VALUES (?, ?, ?)",
                        (payload, created_at, self.host_name),
                    )
                else:
                    cursor = db.execute(
                        "INSERT INTO events (payload, created_at) VALUES (?, ?)",
                        (payload, created_at),
                    )
                event_id = int(cursor.lastrowid or 0)
                if self.metadata_enabled:
                    db.execute(
                        "INSERT INTO event_metadata (event_id, api_version, host, received_at)"
                        " VALUES (?, ?, ?, ?)",
                        (event_id, self.api_version, self.host_name, created_at),
                    )
        finally:
            db.close()
        return event_id


class Handler(BaseHTTPRequestHandler):
    server_version = "demo-app"
    app: App

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/v1/health":
            self.reply(404, {"status": "not found"})
            return
        body = {
            "status": "healthy",
            "version": self.app.version,
            "api_version": self.app.api_version,
            "host": self.app.host_name,
            "queue_depth": self.app.backlog(),
            "recent_errors": self.app.recent_errors(),
            "rss_kb": rss_kb(),
        }
        try:
            self.app.check_database()
        except sqlite3.Error as error:
            self.app.log("app.log", "ERROR", f"health check failed: {error}")
            self.reply(500, {**body, "status": "unhealthy", "error": str(error)})
            return
        self.reply(200, body)

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/v1/ingest":
            self.reply(404, {"status": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self.reply(400, {"status": "rejected", "reason": "a JSON body is required"})
            return
        try:
            event = json.loads(self.rfile.read(length))
        except ValueError:
            self.app.log("app.log", "WARNING", "rejected ingest: body is not JSON")
            self.reply(400, {"status": "rejected", "reason": "body is not JSON"})
            return
        try:
            self.app.enqueue(event)
        except sqlite3.Error as error:
            self.app.log("app.log", "ERROR", f"ingest failed: {error}")
            self.reply(500, {"status": "failed", "error": str(error)})
            return
        self.reply(200, {"status": "accepted"})

    def reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        self.app.log("access.log", "INFO", format % args)


def main() -> int:
    with contextlib.suppress(OSError):  # already a session leader
        os.setsid()  # own session: a runner killing its process group must not stop us
    app = App(dict(os.environ))
    handler = type("AppHandler", (Handler,), {"app": app})
    server = ThreadingHTTPServer((app.address, app.port), handler)
    server.daemon_threads = True
    app.queue_dir.mkdir(parents=True, exist_ok=True)
    halt = threading.Event()
    for work in (app.work_queue, app.make_traffic):
        threading.Thread(target=work, args=(halt,), daemon=True).start()

    def stop(signum: int, _frame: Any) -> None:
        app.log("app.log", "INFO", f"stopping on {signal.Signals(signum).name}")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    app.log(
        "app.log",
        "INFO",
        f"{app.version} (api {app.api_version}) listening on {app.address}:{app.port} pid={os.getpid()}",
    )
    server.serve_forever(poll_interval=0.1)
    halt.set()
    server.server_close()
    app.log("app.log", "INFO", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
