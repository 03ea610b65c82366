"""Suite-wide rules.

* Tests that need a real service carry ``@pytest.mark.service("name")``. Locally such
  a test may skip when the service is missing; under ``CI=true`` a skip of a service
  test is turned into a failure, because CI must exercise the real thing.
* Hypothesis runs a bounded, derandomized profile under CI so a green run stays green.
* The on-disk caches and the state dir (locks, installation key, default runs dir)
  of the code under test live in temporary folders.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

IN_CI = os.environ.get("CI") == "true"

# the lint-verdict cache of `runbook run` goes to a throw-away folder, never the
# developer's ~/.cache (subprocesses inherit it)
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="runbook-tests-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)
# the state dir (locks, installation key, default runs dir) too: no test may write to
# the developer's ~/.local/state
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="runbook-tests-state-")
atexit.register(shutil.rmtree, os.environ["XDG_STATE_HOME"], ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("service")
    if IN_CI and marker is not None and report.skipped:
        name = marker.args[0] if marker.args else "a service"
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"CI=true: test needing {name} skipped instead of running: {reason}"
