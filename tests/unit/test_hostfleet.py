"""Address blocks for isolated hosts: parallel fleets never share one, a deleted
fleet's block is free again, a pinned block is honoured (no root needed)."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest

from runbook_engine import hostfleet


@pytest.fixture(autouse=True)
def claims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "claims"
    monkeypatch.setattr(hostfleet, "CLAIMS_DIR", folder)
    monkeypatch.delenv(hostfleet.ADDRESS_ENV, raising=False)
    return folder


def test_two_fleets_get_different_blocks_and_one_owner_keeps_its_own(tmp_path: Path) -> None:
    first = hostfleet.claim_block(tmp_path / "a", 4, [0])
    second = hostfleet.claim_block(tmp_path / "b", 4, [0])
    assert not set(first.addresses) & set(second.addresses)
    assert first.addresses[0].endswith(".11") and len(first.addresses) == 4
    again = hostfleet.claim_block(tmp_path / "a", 4, [0], first=first.first)
    assert again == first


def test_a_released_or_deleted_fleet_frees_its_block(tmp_path: Path) -> None:
    first = hostfleet.claim_block(tmp_path / "a", 2, [0])
    hostfleet.release_block(tmp_path / "a")
    assert hostfleet.claim_block(tmp_path / "b", 2, [0]) == first
    (tmp_path / "b" / ".address-block").unlink()  # as if the fleet folder were deleted
    assert hostfleet.claim_block(tmp_path / "c", 2, [0]) == first


def test_a_block_with_a_port_in_use_is_skipped(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.12", 0))
        busy.listen()
        port = busy.getsockname()[1]
        block = hostfleet.claim_block(tmp_path / "a", 3, [port])
    assert "127.0.0.12" not in block.addresses


def test_a_pinned_block_is_the_only_candidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hostfleet.ADDRESS_ENV, "127.0.9.21")
    assert hostfleet.claim_block(tmp_path / "a", 2, [0]).addresses == ("127.0.9.21", "127.0.9.22")
    with pytest.raises(RuntimeError, match="RUNBOOK_FLEET_ADDRESSES=127.0.9.21"):
        hostfleet.claim_block(tmp_path / "b", 2, [0])


def test_a_fleet_under_a_path_every_host_replaces_is_refused() -> None:
    assert hostfleet.overlapping_path(Path("/tmp/x/fleet")) == "/tmp"
    assert hostfleet.overlapping_path(Path("/opt")) == "/opt"
    assert hostfleet.overlapping_path(Path("/var/tmp/fleet")) is None


def test_hosts_run_the_interpreter_behind_a_venv_hidden_under_tmp(tmp_path: Path) -> None:
    """A checkout under /tmp (its venv hidden by each host's own /tmp) still gives hosts a
    Python they can see: the real interpreter behind the venv's symlink."""
    venv_python = Path("/tmp") / tmp_path.name / "python"
    venv_python.parent.mkdir(parents=True, exist_ok=True)
    real = Path(sys.executable).resolve()
    venv_python.unlink(missing_ok=True)
    venv_python.symlink_to(real)
    try:
        chosen = hostfleet.host_python(str(venv_python))
    finally:
        shutil.rmtree(venv_python.parent)
    assert chosen == str(real)
    assert hostfleet.overlapping_path(Path(chosen)) is None


def test_an_interpreter_only_under_a_host_path_is_refused_in_one_line(tmp_path: Path) -> None:
    hidden = Path("/tmp") / tmp_path.name / "python3"
    hidden.parent.mkdir(parents=True, exist_ok=True)
    hidden.write_text("")
    try:
        with pytest.raises(RuntimeError, match="lies under /tmp"):
            hostfleet.host_python(str(hidden))
    finally:
        shutil.rmtree(hidden.parent)
