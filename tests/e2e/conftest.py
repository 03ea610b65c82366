"""Fixture wiring for end-to-end tests: the real sshd fleet from runbook_engine.testing."""

from __future__ import annotations

from runbook_engine.testing import sshd_fleet, sshd_fleet_factory

__all__ = ["sshd_fleet", "sshd_fleet_factory"]
