"""`runbook explain`: the Markdown checklist. A golden file pins the whole rendering of
the monthly runbook (regenerate with UPDATE_GOLDEN=1); the other tests state what a
reviewer relies on, so a golden update cannot silently drop it."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from runbook_engine.cli.main import main
from runbook_engine.durations import format_duration
from runbook_engine.explain import render_checklist
from runbook_engine.lint import analyze
from runbook_engine.loader import load_text
from runbook_engine.model import Runbook, build_runbook
from runbook_engine.variables import resolve_vars

ROOT = Path(__file__).resolve().parents[2]
MONTHLY = ROOT / "runbooks" / "monthly-update.yaml"
GOLDEN = ROOT / "tests" / "golden" / "explain-monthly-update-v2.4.0.md"
SECRETS = {
    "APP_DB_DSN": "postgresql://app:Sup3rS3cret@db/analytics",
    "OPS_WEBHOOK_URL": "https://hooks.example/T0K3N",
}


@pytest.fixture(scope="module")
def monthly() -> Runbook:
    analysis = analyze(str(MONTHLY))
    assert analysis.runbook is not None, analysis.findings
    return analysis.runbook


def explain(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["explain", *args])
    return capsys.readouterr().out


@pytest.fixture
def no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)


def test_golden_monthly_update(capsys: pytest.CaptureFixture[str], no_secret_env: None) -> None:
    out = explain(capsys, str(MONTHLY), "--var", "version=v2.4.0")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(out, encoding="utf-8")
    assert out == GOLDEN.read_text(encoding="utf-8"), (
        "explain output changed; review it and run with UPDATE_GOLDEN=1"
    )


def test_prerequisites_are_unchecked_boxes(monthly: Runbook) -> None:
    text = render_checklist(monthly, resolve_vars(monthly, {"version": "v2.4.0"}).values)
    section = text.split("## Prerequisites\n", 1)[1].split("\n## ", 1)[0]
    boxes = [line for line in section.splitlines() if line.startswith("- [ ] ")]
    assert len(boxes) == len(monthly.prerequisites)
    for item in monthly.prerequisites:
        assert any(line.startswith(f"- [ ] {item.text}") for line in boxes)
    assert (
        "- [ ] Deployment package present — checked by running `test -f /opt/deployments/app-v2.4.0.tar.gz`"
        in boxes
    )


def test_every_phase_with_its_budget_and_every_step(monthly: Runbook) -> None:
    text = render_checklist(monthly, {"version": "v2.4.0"})
    for number, phase in enumerate(monthly.phases, 1):
        budget = f" ({format_duration(phase.budget)})" if phase.budget else ""
        assert f"\n### Phase {number}: {phase.label}{budget}\n" in text
        for index, step in enumerate(phase.steps, 1):
            assert f"\n#### {number}.{index} {step.label}\n" in text
    assert (
        f"\n### Phase {len(monthly.phases) + 1}: {monthly.rollback_title} (if required)\n" in text
    )
    assert (
        text.count("Application downtime begins") == 1
        and text.count("Application downtime ends") == 1
    )


def test_decision_matrix_is_a_table_with_a_row_per_decision(monthly: Runbook) -> None:
    text = render_checklist(monthly, _values(monthly))
    section = text.split("## Rollback Decision Matrix\n", 1)[1].lstrip("\n")
    table = section.split("\n\n", 1)[0]
    rows = table.splitlines()
    assert rows[0] == "| Condition | Severity | Action | Triggered when |"
    assert len(rows) == 2 + len(monthly.decisions)
    for row, decision in zip(rows[2:], monthly.decisions, strict=True):
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert len(cells) == 4, row
        assert cells[0] == decision.condition and cells[1] == decision.severity.upper()
    # the seed's matrix words: "Immediate rollback", "Rollback after 10 min monitoring"
    values = _values(monthly)
    for decision in monthly.decisions:
        if decision.action == "rollback":
            window = decision.window(values)
            wanted = f"Rollback after {window / 60:g} min monitoring" if window else "Immediate rollback"
            assert f"| {decision.severity.upper()} | {wanted}" in table, decision.condition
    assert "| Rollback after 10 min monitoring" in table
    assert "| Immediate rollback. Never run mixed versions in production" in table


def test_success_metrics_and_expected_outcomes_in_words(monthly: Runbook) -> None:
    text = render_checklist(monthly, {"version": "v2.4.0"})
    for metric, target in monthly.success.items():
        assert f"`{target}`" in text and metric.replace("_", " ").capitalize() in text
    assert "✅ **Expected**: every host reports rc = 0" in text


def test_secrets_are_never_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    out = explain(capsys, str(MONTHLY), "--var", "version=v2.4.0")
    for value in SECRETS.values():
        assert value not in out
        assert value.split("//", 1)[1] not in out
    assert "(secret, from $APP_DB_DSN)" in out
    vars_file = tmp_path / "vars.yaml"
    vars_file.write_text("db_dsn: mysql://root:FromAFile@db/x\n")
    out = explain(capsys, str(MONTHLY), "--var", "version=v2.4.0", "--vars-file", str(vars_file))
    assert "FromAFile" not in out


def test_secret_default_is_not_shown_either(
    no_secret_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = explain(capsys, str(MONTHLY), "--var", "version=v2.4.0")
    assert "sqlite:///opt/app/analytics.sqlite" not in out


def test_placeholders_stay_readable_without_vars(
    monthly: Runbook, capsys: pytest.CaptureFixture[str], no_secret_env: None
) -> None:
    out = explain(capsys, str(MONTHLY))
    assert "| `version` | string | **required** |" in out
    assert "sha256sum -c app-{{ version }}.tar.gz.sha256" in out
    assert "{{ host.address }}" in out
    assert "Undefined" not in out and "None" not in out


def test_placeholder_keeps_attribute_and_item_chains() -> None:
    runbook = build_runbook(
        load_text(
            "runbook: 1\nname: p\nphases:\n  - id: p\n    steps:\n      - id: s\n"
            "        shell: \"echo {{ host.vars.app_dir }} {{ steps['record-it'].out }} {{ version | raw }}\"\n",
            "p.yaml",
        )
    )
    text = render_checklist(runbook, {})
    assert "echo {{ host.vars.app_dir }} {{ steps['record-it'].out }} {{ version }}" in text


def test_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_secret_env: None
) -> None:
    target = tmp_path / "checklist.md"
    main(["explain", str(MONTHLY), "--var", "version=v2.4.0", "-o", str(target)])
    out, err = capsys.readouterr()
    assert out == "" and err == f"wrote {target}\n"
    assert target.read_text(encoding="utf-8").startswith("# Monthly Application Update\n")


def test_bad_var_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["explain", str(MONTHLY), "--var", "version=2.4"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert (
        "var 'version' from --var: '2.4' does not match pattern" in err and "Traceback" not in err
    )


def test_a_runbook_with_findings_is_refused_with_the_first_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "runbook: 1\nname: b\nphases:\n  - id: p\n    steps:\n      - id: a\n        shell: echo {{ x }} {{ y }}\n"
    )
    with pytest.raises(SystemExit) as info:
        main(["explain", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{path}:7:24: undefined template variable 'x' [RB202]"
    assert err[1] == "          shell: echo {{ x }} {{ y }}"
    assert err[2] == "                         ^"
    assert "1 more finding(s): run `runbook lint" in err[3]


def test_no_runs_of_blank_lines(monthly: Runbook) -> None:
    """Regression: a step without outcome lines left two blank lines behind it."""
    assert "\n\n\n" not in render_checklist(monthly, {})


def test_html_checklist_is_a_page_with_the_decision_table_and_no_raw_html(tmp_path: Path) -> None:
    from html.parser import HTMLParser

    from runbook_engine.explain.html import markdown_to_html

    page = markdown_to_html("# Update\n\n| a | b |\n|---|---|\n| <script>x</script> | 2 |\n", "Update <v2>")

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.seen.append(tag)

    parser = Tags()
    parser.feed(page)
    assert {"html", "title", "h1", "table", "td"} <= set(parser.seen)
    assert "script" not in parser.seen and "&lt;script&gt;" in page
    assert "<title>Update &lt;v2&gt;</title>" in page


def _values(monthly: Runbook) -> dict[str, object]:
    return dict(resolve_vars(monthly, {"version": "v2.4.0"}).values)


def _step_section(text: str, title: str) -> str:
    return text.split(f" {title}\n", 1)[1].split("\n####", 1)[0].split("\n### ", 1)[0]


def test_a_working_directory_is_valid_shell(monthly: Runbook) -> None:
    """Regression: `(cd DIR) cmd` runs cmd outside DIR; a reader pasting it got it wrong."""
    text = render_checklist(monthly, _values(monthly))
    assert re.search(r"^cd /opt/deployments && \S", text, re.M)
    assert "(cd " not in text


def _fences(text: str) -> list[tuple[str, str]]:
    """(executor, code fence language) of every step that shows a command."""
    found = []
    for section in text.split("\n#### ")[1:]:
        executor = re.search(r"^\*executor: `(\w+)`", section, re.M)
        fence = re.search(r"^```(\w*)$", section, re.M)
        if executor and fence:
            found.append((executor.group(1), fence.group(1)))
    return found


def test_code_fences_carry_each_executors_language(monthly: Runbook) -> None:
    fences = _fences(render_checklist(monthly, _values(monthly)))
    by_executor: dict[str, set[str]] = {}
    for executor, language in fences:
        by_executor.setdefault(executor, set()).add(language)
    assert by_executor["ssh"] == {"bash"} and by_executor["shell"] == {"bash"}
    assert by_executor["ansible"] == {"bash"} and by_executor["http"] == {"http"}
    assert by_executor["notify"] == {"text"}
    assert by_executor["sql"] <= {"sql", "text"}
    assert "yaml" not in {language for _, language in fences}


def test_a_monitor_step_is_prose_and_its_probe_a_request(monthly: Runbook) -> None:
    text = render_checklist(monthly, _values(monthly))
    section = next(s for s in text.split("\n#### ") if "*executor: `monitor`*" in s)
    assert re.search(
        r"^Watch for \S+, one sample every \S+ on hosts `app_tier`; the decision matrix is "
        r"checked on every sample\.$",
        section,
        re.M,
    ), section
    assert "```http\nGET http://" in section
    assert "{'" not in section and "probe:" not in section


def test_a_manual_gate_shows_inputs_approvers_timeout_and_what_then() -> None:
    doc = load_text(
        textwrap.dedent(
            """
            runbook: 1
            name: gates
            phases:
              - id: one
                steps:
                  - id: approve
                    timeout: 30m
                    manual:
                      prompt: Approve the shutdown of site {{ site }}
                      approvers: [bob, carol]
                      distinct_from_initiator: true
                      on_timeout: rollback
                      inputs:
                        ticket: {pattern: "CHG-[0-9]+", description: change ticket}
                        backup_id: {type: string}
                        dry: {type: bool, required: false}
            vars:
              site: {type: string}
            """
        ),
        "gates.yaml",
    )
    text = render_checklist(build_runbook(doc), {"site": "ams1"})
    section = _step_section(text, "approve")
    assert "- [ ] **Approval**: Approve the shutdown of site ams1" in section
    assert "  - Approvers: bob, carol" in section
    assert "  - The approver must not be the person who started the run" in section
    assert "  - Input `ticket` (matching `CHG-[0-9]+`): change ticket" in section
    assert "  - Input `backup_id`" in section and "  - Input `dry` (bool, optional)" in section
    assert "  - Timeout: 30m, then the run rolls back" in section
    assert "```" not in section


def test_html_checklist_has_real_checkboxes(monthly: Runbook) -> None:
    from html.parser import HTMLParser

    from runbook_engine.explain.html import markdown_to_html

    page = markdown_to_html(render_checklist(monthly, {}), monthly.label)

    class Boxes(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.boxes: list[dict[str, str | None]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "input":
                self.boxes.append(dict(attrs))

    parser = Boxes()
    parser.feed(page)
    markdown = render_checklist(monthly, {})
    items = [line for line in markdown.splitlines() if line.lstrip().startswith("- [ ] ")]
    assert len(parser.boxes) == len(items) >= len(monthly.prerequisites) + 1
    assert all(box.get("type") == "checkbox" for box in parser.boxes)
    assert "[ ]" not in page
