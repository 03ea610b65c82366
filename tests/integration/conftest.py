"""Fixture wiring for integration tests: the real sshd fleet from runbook_engine.testing."""

from __future__ import annotations

from runbook_engine.testing import isolated_fleet_factory, sshd_fleet, sshd_fleet_factory

__all__ = ["isolated_fleet_factory", "sshd_fleet", "sshd_fleet_factory"]
