"""lint and explain import every executor class: the data and web executors must not
pull their heavy backends in at import time."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("httpx", "psycopg", "pymysql", "aiosmtpd")


def test_importing_the_executors_loads_no_backend() -> None:
    code = (
        "import sys\n"
        "import runbook_engine.executors.sql, runbook_engine.executors.http\n"
        "import runbook_engine.executors.notify, runbook_engine.executors.wait\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""
