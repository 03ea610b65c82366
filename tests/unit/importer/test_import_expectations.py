"""Expected-outcome phrases → predicates, and the guard that keeps a predicate only
when the step's executor can evaluate it (lint's own check)."""

from __future__ import annotations

import pytest

from runbook_engine.importer import expectations
from runbook_engine.importer.draft import DraftStep
from runbook_engine.importer.procedure import fits

LITERALS = {"v2.4.0": "version", "v2.3.0": "previous_version"}


@pytest.mark.parametrize(
    ("text", "codes", "fanout", "first"),
    [
        ("✅ Expected: Checksum matches", (), False, ("checksum matches",)),
        ("✅ All failed=0 - Proceed to deployment", ("failed=0",), True, ("all failed == 0",)),
        ('✅ Expected: HTTP 200, {"status": "accepted"}', ('{"status": "accepted"}',), False, ("status == 200", 'json.status == "accepted"')),
        ('✅ Expected: HTTP 200, {"version": "v2.4.0"}', ('{"version": "v2.4.0"}',), True, ("all status == 200", "all json.version == vars.version")),
        ("✅ All hosts show v2.4.0", (), True, ("all stdout == vars.version",)),
        ("✅ Expected: All hosts show v2.3.0 (previous version)", (), True, ("all stdout == vars.previous_version",)),
        ("Expected: All hosts report SUCCESS", (), True, ("all failed == 0",)),
        ('✅ Expected: "Configuration valid" on all hosts', (), True, ('stdout contains "Configuration valid" on all hosts',)),
        ('✅ "a" or "b"', (), False, ('stdout contains "a" or stdout contains "b"',)),
        ("✅ Expected: Non-zero count showing recent data", (), False, ("rows[0].count > 0",)),
        ("Expected: exit code 0", (), False, ("rc == 0",)),
        ("Expected: status code: 204", (), True, ("all status == 204",)),
        ("✅ Checksums verified", (), False, ("checksum matches",)),
    ],
)
def test_phrases(text: str, codes: tuple[str, ...], fanout: bool, first: tuple[str, ...]) -> None:
    assert expectations.kind_of(text) == "expected"
    result = expectations.phrase(text, codes, LITERALS, fanout)
    assert result.candidates and result.candidates[0] == first


@pytest.mark.parametrize(
    "text", ["✅ Expected: Recent log entries", "✅ Expected: Database at v2.3.0 schema", "✅ Files being created/processed"]
)
def test_phrases_without_a_predicate(text: str) -> None:
    assert expectations.phrase(text, (), LITERALS, True).candidates == ()


def test_kinds() -> None:
    assert expectations.kind_of("Expected Output:") == "sample"
    assert expectations.kind_of("Example Output:") == "example"
    assert expectations.kind_of("❌ Migration failed - STOP, initiate rollback") == "failure"
    assert expectations.kind_of("⚠️ Critical: Verify backups") == "caution"
    assert expectations.kind_of("💡 Save this") == "tip"
    assert expectations.kind_of("Run the command below.") == "prose"
    assert expectations.wants_rollback("❌ Migration failed - STOP, initiate rollback (see Phase 6)")
    assert not expectations.wants_rollback("❌ Any failures - See the weekly runbook")


def test_output_samples() -> None:
    recap = "PLAY RECAP ****\napp-01 : ok=10 changed=3 failed=0\n"
    assert expectations.output(recap, {}, True).candidates == (("all failed == 0",),)
    assert expectations.output("app-01 : ok=8 failed=1\n", {}, True).candidates == ()
    adhoc = "app-01 | CHANGED | rc=0 >>\nv2.4.0\n\napp-02 | CHANGED | rc=0 >>\nv2.4.0\n"
    assert expectations.output(adhoc, LITERALS, True).candidates[0] == ("all rc == 0", "all stdout == vars.version")
    generic = expectations.output("Migration v2.4.0: SUCCESS\n- Added table", LITERALS, True)
    assert generic.candidates == (('stdout contains "Migration " + vars.version + ": SUCCESS" on all hosts',),)


def test_string_literals_are_escaped() -> None:
    assert expectations.literal('say "hi"\\\n') == '"say \\"hi\\"\\\\\\n"'


def test_fits_follows_the_executor() -> None:
    shell = DraftStep("s", "shell", "sha256sum -c x", 1)
    ssh = DraftStep("s", "ssh", "cat VERSION", 1, hosts="app")
    playbook = DraftStep("p", "ansible", {"playbook": "site.yml"}, 1)
    http = DraftStep("h", "http", {"url": "http://x"}, 1)
    assert fits("checksum matches", shell) and not fits("checksum matches", ssh)
    assert fits("all stdout == vars.version", ssh) and not fits("all json.status == 1", ssh)
    assert fits("all failed == 0", playbook) and not fits('stdout contains "x" on all hosts', playbook)
    assert fits('status == 200 and json.status == "ok"', http) and not fits("all rc == 0", http)
    assert not fits("rows[0].count > 0", shell)
