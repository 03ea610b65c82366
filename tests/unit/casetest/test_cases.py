"""`runbook test`: cases run through the real engine with stubbed executors."""

from __future__ import annotations

import shutil
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from runbook_engine.casetest.cases import find_cases, load_case_file
from runbook_engine.casetest.reporters import render_junit, render_text
from runbook_engine.casetest.suite import collect, run_cases
from runbook_engine.cli.main import main
from runbook_engine.loader import load_file
from runbook_engine.model import build_runbook

HERE = Path(__file__).parent
BOOK = HERE / "book.yaml"
CASES = HERE / "book.tests.yaml"


def runbook():  # type: ignore[no-untyped-def]
    return build_runbook(load_file(BOOK))


def write_cases(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


PREFIX = """\
runbook-test: 1
defaults:
  inventory: {hosts: {a1: {address: 10.0.0.1}, a2: {}}, groups: {app: [a1, a2]}}
  stubs:
    get-version: {fields: {rc: 0, stdout: v0}}
    push: {all: {rc: 0}}
    smoke: {all: {status: 200}}
    watch: {samples: [{latency: 0.1}]}
    undo-push: {all: {rc: 0}}
cases:
"""


def test_shipped_example_cases_pass() -> None:
    rb = runbook()
    cases, findings = collect(rb, [])
    assert findings == []
    assert [c.name for c in cases] == ["happy path", "smoke fails on one host", "slow for ten minutes"]
    outcomes = run_cases(rb, cases)
    assert [o.failures for o in outcomes] == [(), (), ()]
    slow = outcomes[2].observation
    assert slow is not None
    (decision,) = slow.decisions
    assert (decision.condition, decision.at, decision.sample) == ("Slow", 630.0, 22)


def test_cases_are_found_beside_the_runbook(tmp_path: Path) -> None:
    shutil.copy(BOOK, tmp_path / "rb.yaml")
    assert find_cases(tmp_path / "rb.yaml") == []
    (tmp_path / "rb.tests.yaml").write_text("x: 1\n")
    (tmp_path / "rb.tests").mkdir()
    (tmp_path / "rb.tests" / "b.yaml").write_text("x: 1\n")
    (tmp_path / "rb.tests" / "a.yml").write_text("x: 1\n")
    assert [p.name for p in find_cases(tmp_path / "rb.yaml")] == ["rb.tests.yaml", "a.yml", "b.yaml"]


def test_a_wrong_expectation_fails_at_its_line(tmp_path: Path) -> None:
    path = write_cases(tmp_path, PREFIX + """\
      - name: wrong
        expect:
          status: rolled_back
          captures: {get-version: {old: v9}}
          decisions: [Smoke fails]
          commands: {push: {equals: deploy v2}}
          notifications: []
    """)
    rb = runbook()
    cases, findings = collect(rb, [str(path)])
    assert findings == []
    (outcome,) = run_cases(rb, cases)
    messages = {f.span.line if f.span else 0: f.message for f in outcome.failures}
    assert messages[13].startswith("run ended succeeded, expected rolled_back")
    assert "captured old = 'v0', expected 'v9'" in messages[14]
    assert messages[15] == "decisions fired: none; expected ['Smoke fails']"
    assert "is not equal to 'deploy v2'" in messages[16]
    assert messages[17].startswith("1 notification(s) sent, expected 0")
    text = render_text("book.yaml", [outcome])
    assert text.startswith("FAIL wrong — succeeded")
    assert "0 passed, 1 failed" in text


def test_a_step_without_stub_fails_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = write_cases(tmp_path, f"""\
    runbook-test: 1
    cases:
      - name: no stubs
        vars: {{marker: "{marker}"}}
        inventory: {{hosts: {{a1: {{}}}}, groups: {{app: [a1]}}}}
        stubs:
          push: {{hosts: {{}}}}
        expect: {{status: failed}}
    """)
    rb = runbook()
    cases, findings = collect(rb, [str(path)])
    assert findings == []
    (outcome,) = run_cases(rb, cases)
    assert not marker.exists()  # the shell step's command was never started
    assert outcome.observation is not None and outcome.observation.status == "failed"
    assert [f.message for f in outcome.failures] == [
        "missing stub: no stub for step 'get-version' (attempt 1); nothing was executed"
    ]


def test_a_fanout_stub_must_cover_every_targeted_host(tmp_path: Path) -> None:
    path = write_cases(tmp_path, PREFIX + """\
      - name: partial stub
        stubs: {push: {hosts: {a1: {rc: 0}}}}
        expect: {status: failed}
    """)
    rb = runbook()
    cases, _ = collect(rb, [str(path)])
    (outcome,) = run_cases(rb, cases)
    assert [f.message for f in outcome.failures] == [
        "missing stub: the stub of 'push' gives no result for host(s) a2 (add all: or hosts:); nothing was executed"
    ]


def test_attempt_stubs_and_retry_delays_use_simulated_time(tmp_path: Path) -> None:
    path = write_cases(tmp_path, PREFIX + """\
      - name: smoke recovers on the third attempt
        stubs:
          smoke:
            attempts:
              - {all: {status: 503}}
              - {all: {status: 502}, duration: 5s}
              - {all: {status: 200}}
        expect:
          status: succeeded
          attempts: {smoke: 3}
          succeeded: [smoke]
    """)
    rb = runbook()
    cases, _ = collect(rb, [str(path)])
    (outcome,) = run_cases(rb, cases)
    assert outcome.failures == ()
    seen = outcome.observation
    assert seen is not None
    smoke = next(r for r in seen.finished if r.step == "smoke")
    assert smoke.at == 65.0  # 30 s delay + 5 s attempt + 30 s delay, none of it slept


def test_a_window_that_closes_does_not_fire(tmp_path: Path) -> None:
    path = write_cases(tmp_path, PREFIX + """\
      - name: slow spike
        stubs:
          watch: {samples: [{latency: 5}, {latency: 5}, {latency: 0.1}]}
        expect: {status: succeeded, decisions: []}
    """)
    rb = runbook()
    cases, _ = collect(rb, [str(path)])
    (outcome,) = run_cases(rb, cases)
    assert outcome.failures == ()


@pytest.mark.parametrize(
    ("body", "at", "finding"),
    [
        ("stubs: {get-versoin: {}}\n    expect: {}", "get-versoin", "case 'c': no step 'get-versoin' in casebook [RT101]"),
        ("expect: {ran: [pushh]}", "pushh", "case 'c': no step 'pushh' in casebook [RT101]"),
        ("expect: {decisions: [Smoke fail]}", "Smoke fail", "case 'c': casebook has no decision 'Smoke fail' [RT102]"),
        ("vars: {verison: v2}\n    expect: {}", "verison", "case 'c': casebook declares no var 'verison' [RT104]"),
        ("stubs: {push: {hosts: {a9: {rc: 0}}}}\n    expect: {}", "push", "case 'c': stub of 'push' names host 'a9', which is not in the inventory [RT105]"),
        ("stubs: {smoke: {samples: [{}]}}\n    expect: {}", "smoke", "case 'c': samples: is for monitor steps; 'smoke' is a http step [RT103]"),
        ("stubs: {watch: {fields: {}}}\n    expect: {}", "watch", "case 'c': the stub of monitor step 'watch' needs samples: [RT103]"),
        ("expect: {captures: {get-version: {new: x}}}", "new", "case 'c': step 'get-version' captures no 'new' [RT101]"),
        ("expect: {statuz: failed}", "statuz", "unknown key 'statuz' [RT100]"),
        ("expect: {decisions: [{condition: Slow, not_after: soon}]}", "soon", None),
        ("stubs: {push: {all: {rc: 0}, attempts: []}}\n    expect: {}", "attempts", "unknown key 'attempts' [RT100]"),
    ],
)
def test_case_lint_points_at_the_problem(tmp_path: Path, body: str, at: str, finding: str | None) -> None:
    path = write_cases(tmp_path, PREFIX + "  - name: c\n    " + body + "\n")
    loaded, problems = load_case_file(path)
    if loaded is not None:
        _, problems = collect(runbook(), [str(path)])
    assert problems, "no finding"
    first = problems[0]
    line = path.read_text().splitlines()[first.span.line - 1] if first.span else ""
    assert first.span is not None and line.index(at) + 1 == first.span.col, (first, line)
    if finding is not None:
        assert f"{first.message} [{first.rule}]" == finding


def test_cli_exit_codes_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as passed:
        main(["test", str(BOOK)])
    assert passed.value.code == 0
    assert "3 passed, 0 failed" in capsys.readouterr().out
    bad = write_cases(tmp_path, PREFIX + "  - name: c\n    expect: {status: failed}\n")
    report = tmp_path / "junit.xml"
    with pytest.raises(SystemExit) as failed:
        main(["test", str(BOOK), str(bad), "--format", "junit", "-o", str(report)])
    assert failed.value.code == 1
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    case = suite.find("testcase")
    assert case is not None and case.find("failure") is not None
    typo = write_cases(tmp_path, PREFIX + "  - name: c\n    expect: {ran: [pushh]}\n")
    with pytest.raises(SystemExit) as unusable:
        main(["test", str(BOOK), str(typo)])
    assert unusable.value.code == 2
    err = capsys.readouterr().err
    assert "cases.yaml:12:20: case 'c': no step 'pushh'" in err
    assert "nothing was run" in err


def test_no_cases_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(BOOK, tmp_path / "lonely.yaml")
    with pytest.raises(SystemExit) as exited:
        main(["test", str(tmp_path / "lonely.yaml")])
    assert exited.value.code == 2
    assert "no test cases for" in capsys.readouterr().err


def test_lint_of_a_folder_skips_test_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(BOOK, tmp_path / "book.yaml")
    shutil.copy(CASES, tmp_path / "book.tests.yaml")
    (tmp_path / "book.tests").mkdir()
    shutil.copy(CASES, tmp_path / "book.tests" / "more.yaml")
    with pytest.raises(SystemExit) as exited:
        main(["lint", str(tmp_path)])
    assert exited.value.code == 0, capsys.readouterr().out
    assert "1 file(s) checked" in capsys.readouterr().err


def test_junit_has_one_testcase_per_case() -> None:
    rb = runbook()
    cases, _ = collect(rb, [])
    root = ET.fromstring(render_junit("book.yaml", run_cases(rb, cases)).split("\n", 1)[1])
    assert [c.get("name") for c in root.iter("testcase")] == [c.name for c in cases]


def test_secrets_stay_masked_in_rendered_commands(tmp_path: Path) -> None:
    book = tmp_path / "secret.yaml"
    book.write_text(textwrap.dedent("""\
        runbook: 1
        name: secret
        vars:
          password: {type: string, secret: true, env: DB_PASSWORD}
        phases:
          - id: p
            steps:
              - id: token
                shell: vault read token
                secret_output: true
                capture: {value: stdout}
              - id: use
                shell: login --token {{ steps.token.value }} --password {{ password }}
    """))
    cases = write_cases(tmp_path, """\
        runbook-test: 1
        cases:
          - name: masked
            env: {DB_PASSWORD: pw-very-secret}
            stubs:
              token: {fields: {rc: 0, stdout: tok-very-secret}}
              use: {fields: {rc: 0}}
            expect:
              status: succeeded
              commands: {use: {contains: "--token *** --password ***", not_contains: [tok-very-secret, pw-very-secret]}}
    """)
    rb = build_runbook(load_file(book))
    found, findings = collect(rb, [str(cases)])
    assert findings == []
    (outcome,) = run_cases(rb, found, keep=tmp_path / "keep")
    assert outcome.failures == ()
    journals = list((tmp_path / "keep").rglob("journal.jsonl"))
    assert journals
    for journal in journals:
        text = journal.read_text()
        assert "tok-very-secret" not in text and "pw-very-secret" not in text


def test_a_bad_default_stub_is_reported_once(tmp_path: Path) -> None:
    path = write_cases(tmp_path, PREFIX.replace("    undo-push:", "    undo-pussh:") + """\
      - name: one
        expect: {}
      - name: two
        expect: {}
    """)
    _, findings = collect(runbook(), [str(path)])
    assert [(f.message, f.rule) for f in findings] == [("defaults: no step 'undo-pussh' in casebook", "RT101")]


def test_a_different_path_names_the_first_difference(tmp_path: Path) -> None:
    path = write_cases(tmp_path, PREFIX + """\
      - name: wrong path
        expect:
          path: [get-version, "push: failed", smoke, watch, tell]
    """)
    rb = runbook()
    cases, _ = collect(rb, [str(path)])
    (outcome,) = run_cases(rb, cases)
    (failure,) = outcome.failures
    assert failure.message.startswith(
        "path differs at position 2: 'push: succeeded' where the case expects 'push: failed'; the run's path:"
    )


def test_cases_for_another_runbook_are_refused(tmp_path: Path) -> None:
    path = write_cases(tmp_path, "runbook-test: 1\nrunbook: other.yaml\ncases:\n  - {name: c, expect: {}}\n")
    _, findings = collect(runbook(), [str(path)])
    (finding,) = findings
    assert finding.rule == "RT106" and finding.span is not None and (finding.span.line, finding.span.col) == (2, 10)
    same = write_cases(tmp_path, f"runbook-test: 1\nrunbook: {BOOK}\ncases:\n  - {{name: c, expect: {{}}}}\n")
    assert collect(runbook(), [str(same)])[1] == []
