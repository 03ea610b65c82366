"""Property: a secret made of any printable text (quotes, backslashes, newlines)
never appears, in any of the shapes it takes in output, in the terminal, the
journal, any report format, the metrics, the plan or explain."""

from __future__ import annotations

import base64
import io
import json
import shlex
import string
import tempfile
import textwrap
from pathlib import Path
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from runbook_engine.cli.options import load_checked
from runbook_engine.engine import PlainProgress, RunOptions, start_run
from runbook_engine.engine.plan import build_plan
from runbook_engine.explain.checklist import render_checklist
from runbook_engine.metrics import build_registry
from runbook_engine.redaction import MIN_LINE, Redactor
from runbook_engine.report import FORMATS, render_report
from runbook_engine.variables import resolve_vars

BOOK = r"""
runbook: 1
name: secret-forms
vars:
  token: {type: string, secret: true, required: true}
phases:
  - id: p
    steps:
      - id: plain
        shell: printf '%s\n' "{{ token }}"
        capture: {echoed: stdout}
      - id: forms
        shell: >-
          python3 -c 'import sys, json, shlex, urllib.parse as u;
          v = sys.argv[1]; print(repr(v)); print(json.dumps(v)); print(shlex.quote(v));
          print(u.quote(v, safe="")); print("x" * 190 + v)' '{{ token }}'
        capture: {shown: stdout}
      - id: fails
        shell: echo "bad {{ steps.plain.echoed }}" >&2; exit 3
        on_failure: continue
decisions:
  - condition: output mentions the token
    when: steps.forms.stdout contains "x"
    action: warn
"""

#: Printable text with every quote, backslash and shell metacharacter.
CHARS = string.ascii_letters + string.digits + string.punctuation + " "
line = st.text(alphabet=CHARS, min_size=0, max_size=12).map(lambda s: "S3" + s + "q")
secrets = st.lists(line, min_size=1, max_size=3).map("\n".join)


def shapes(secret: str) -> set[str]:
    """What a leak could look like: the value, each line, and their encodings."""
    found: set[str] = set()
    pieces = [secret] + [part for part in secret.split("\n") if len(part) >= MIN_LINE]
    for piece in pieces:
        found |= {
            piece,
            shlex.quote(piece),
            json.dumps(piece)[1:-1],
            repr(piece)[1:-1],
            quote(piece, safe=""),
            base64.b64encode(piece.encode()).decode(),
        }
    return {shape for shape in found if len(shape) >= MIN_LINE}


@settings(max_examples=12)
@given(secret=secrets)
def test_property_secrets_never_appear_in_any_output(secret: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / "runbook.yaml"
        path.write_text(textwrap.dedent(BOOK).lstrip())
        runbook = load_checked(str(path))
        resolved = resolve_vars(runbook, {"token": secret}, (), {})
        terminal = io.StringIO()
        options = RunOptions(runs_dir=root / "runs", initiator="t", workdir=root)
        summary = start_run(runbook, resolved, options, PlainProgress(terminal))
        journal_text = (summary.dir / "journal.jsonl").read_text()
        events = [json.loads(raw) for raw in journal_text.splitlines() if raw.strip()]
        outputs = {
            "terminal": terminal.getvalue(),
            "plan": "\n".join(build_plan(runbook, resolved)),
            "explain": render_checklist(runbook, resolved.values),
            "metrics": generate_latest(build_registry(events)).decode(),
        }
        for file in sorted(summary.dir.rglob("*")):
            if file.is_file() and file.suffix != ".sqlite":
                outputs[str(file.relative_to(root))] = file.read_text(errors="replace")
        for fmt in FORMATS:
            outputs[f"report.{fmt}"] = render_report(events, fmt)
        assert "x" * 190 in journal_text  # the steps ran and printed their forms
        for name, text in outputs.items():
            for shape in shapes(secret):
                assert shape not in text, f"{shape!r} leaked into {name}"


def test_decision_evidence_is_masked_before_it_is_cut() -> None:
    """Evidence kept the first 200 characters, cut before masking: 20 of 40 characters
    of a secret standing at 180 stayed readable."""
    secret = "K" * 20 + "-secret-tail-of-forty-chars"
    clipped = Redactor([secret]).clip("x" * 180 + secret, 200)
    assert "KKKK" not in clipped and clipped == "x" * 180 + "***"
