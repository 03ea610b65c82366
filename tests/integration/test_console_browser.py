"""The console in a real browser (Debian's chromium driven by Playwright): log in,
see the paused demo-like run, approve it with its inputs, watch it finish live over
Server-Sent Events, open the report. Keeps docs/console-run-page.png up to date."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from console_harness import SECRET, Console

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console-run-page.png"


@pytest.mark.service("chromium")
def test_approve_a_paused_run_in_the_browser_and_watch_it_finish(tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium is not installed (make system-deps installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    console = Console(tmp_path)
    run_id = console.paused_run()
    with console.serving(), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{console.url}/")
            page.fill("input[name=user]", "dba-lead")
            page.fill("input[name=password]", "lead-password")
            page.click("button[type=submit]")
            row = page.locator("table.runs tr", has_text=run_id)
            sync_api.expect(row).to_contain_text("paused")
            sync_api.expect(row).to_contain_text("dba-approval")
            row.locator("a").first.click()

            gate = page.locator("#gate-dba-approval")
            sync_api.expect(gate).to_contain_text("DBA approves the schema migration")
            page.fill("input[name='input:ticket']", "CHG-2024")
            page.fill("input[name='input:hosts']", "3")
            if os.environ.get("UPDATE_SCREENSHOT") == "1" or not SCREENSHOT.exists():
                page.screenshot(path=str(tmp_path / "run-page.png"), full_page=True)
                shutil.copyfile(tmp_path / "run-page.png", SCREENSHOT)
            gate.locator("button.approve").click()

            # the run continues in a supervised `runbook resume`; the page follows it live
            output = page.locator("#output")
            sync_api.expect(output).to_contain_text("migration 3 of 3 applied", timeout=60_000)
            sync_api.expect(page.locator("#run-status")).to_have_text("succeeded", timeout=60_000)
            sync_api.expect(page.locator("#step-smoke")).to_contain_text("succeeded")
            assert SECRET not in page.content()

            page.click("a[href$='/report/html']")
            sync_api.expect(page.locator("body")).to_contain_text("succeeded")
            assert run_id in page.content() and SECRET not in page.content()
        finally:
            browser.close()

