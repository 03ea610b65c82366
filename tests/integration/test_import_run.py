"""An imported procedure runs: a Markdown procedure with a checksum check and a
smoke test is imported and executed by `runbook run` against real files and a real
HTTP server on 127.0.0.1, and its translated expectations decide the outcome."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

RUNBOOK = str(Path(sys.executable).parent / "runbook")

PROCEDURE = """# Local Release Check

## Steps

### 1. Verify Deployment Package

```bash
cd {folder}
sha256sum -c pkg.tar.gz.sha256
```

✅ **Expected**: Checksum matches

### 2. Smoke Test

```bash
curl http://127.0.0.1:{port}/v1/health
```

✅ **Expected**: HTTP 200, `{{"status": "healthy"}}`
"""


@pytest.fixture
def health() -> Iterator[tuple[int, dict[str, str]]]:
    answer = {"status": "healthy"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], answer
    finally:
        server.shutdown()
        server.server_close()


def _imported(tmp_path: Path, port: int) -> Path:
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "pkg.tar.gz").write_bytes(b"release bytes")
    digest = hashlib.sha256(b"release bytes").hexdigest()
    (folder / "pkg.tar.gz.sha256").write_text(f"{digest}  pkg.tar.gz\n", encoding="utf-8")
    source = tmp_path / "procedure.md"
    source.write_text(PROCEDURE.format(folder=folder, port=port), encoding="utf-8")
    draft = tmp_path / "draft.yaml"
    subprocess.run([RUNBOOK, "import", str(source), "-o", str(draft), "--strict"], check=True, capture_output=True)
    return draft


def _run(draft: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK, "run", str(draft), "--yes", "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )


def test_the_imported_draft_runs_and_succeeds(tmp_path: Path, health: tuple[int, dict[str, str]]) -> None:
    draft = _imported(tmp_path, health[0])
    text = draft.read_text(encoding="utf-8")
    assert "expect: checksum matches" in text and 'expect: status == 200 and json.status == "healthy"' in text
    done = _run(draft, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_translated_expectations_decide(tmp_path: Path, health: tuple[int, dict[str, str]]) -> None:
    port, answer = health
    draft = _imported(tmp_path, port)
    answer["status"] = "degraded"
    done = _run(draft, tmp_path)
    assert done.returncode != 0 and "smoke-test" in done.stdout + done.stderr
    (tmp_path / "release" / "pkg.tar.gz").write_bytes(b"tampered")
    answer["status"] = "healthy"
    again = _run(draft, tmp_path)
    assert again.returncode != 0 and "verify-deployment-package" in again.stdout + again.stderr
