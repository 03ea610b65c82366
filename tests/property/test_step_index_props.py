"""The step index that makes ``failed(glob)`` cheap must always agree with a plain walk
over every step's status, whatever order the statuses change in."""

from __future__ import annotations

from collections import Counter
from fnmatch import fnmatchcase

from hypothesis import given
from hypothesis import strategies as st

from runbook_engine.predicates.evaluator import StepIndex

STEPS = ["prepare.backup", "deploy.code", "deploy.migrate", "verify.smoke-a", "verify.smoke-b"]
GLOBS = ["verify.smoke-*", "deploy.*", "*", "smoke-a", "*migrate", "nothing.*"]
STATUSES = ["pending", "running", "succeeded", "failed", "skipped", "rolled_back"]


def walk(status: dict[str, str], glob: str) -> Counter[str]:
    return Counter(
        s for step, s in status.items() if fnmatchcase(step, glob) or fnmatchcase(step.partition(".")[2], glob)
    )


@given(
    changes=st.lists(st.tuples(st.sampled_from(STEPS), st.sampled_from(STATUSES)), max_size=40),
    asked_early=st.sets(st.sampled_from(GLOBS)),
)
def test_index_counts_match_a_walk(changes: list[tuple[str, str]], asked_early: set[str]) -> None:
    status: dict[str, str] = {step: "pending" for step in STEPS}
    index = StepIndex(status)
    for glob in asked_early:  # some globs are cached before any change, others after
        index.counts(glob)
    for step, new in changes:
        old = status.get(step)
        status[step] = new
        index.changed(step, old, new)
        for glob in GLOBS:
            got = Counter({k: v for k, v in index.counts(glob).items() if v})
            assert got == walk(status, glob), (glob, status)
