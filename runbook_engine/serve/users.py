"""The console's users file: one account per approver, passwords as argon2id hashes.

    users:
      dba-lead:
        password: $argon2id$v=19$m=65536,t=3,p=4$...   # runbook serve --add-user dba-lead
        slack: U012AB3CD                               # Slack user id, for the buttons

The account name is the approver name that ``approvers:`` and ``approvals.from`` list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runbook_engine.errors import RunError


@dataclass(frozen=True)
class User:
    name: str
    password_hash: str | None = None
    slack: str | None = None


@dataclass(frozen=True)
class Users:
    by_name: Mapping[str, User]

    def get(self, name: str) -> User | None:
        return self.by_name.get(name)

    def by_slack_id(self, slack_id: str) -> User | None:
        return next((u for u in self.by_name.values() if u.slack and u.slack == slack_id), None)

    def check_password(self, name: str, password: str) -> User | None:
        """The user when the password matches its hash; the same work is done for an
        unknown name, so timing does not tell which names exist."""
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        user = self.by_name.get(name)
        stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
        try:
            PasswordHasher().verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return user if user is not None and user.password_hash else None


#: A hash of a random password, verified against when the name is unknown.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$61Y1DYYvydZcJZfm4Xya5A$0M9FIDWtSjKIcTB3uADdBo55NiM5Ve3J2FxZaMKXMRQ"


def load_users(path: Path | None) -> Users:
    if path is None or not path.exists():
        return Users({})
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RunError(f"{path}: cannot read the users file: {exc}") from None
    entries = raw.get("users") if isinstance(raw, Mapping) else None
    if not isinstance(entries, Mapping):
        raise RunError(f"{path}: expected a mapping 'users: {{NAME: {{password: HASH}}}}'")
    users: dict[str, User] = {}
    for name, entry in entries.items():
        entry = entry if isinstance(entry, Mapping) else {}
        users[str(name)] = User(
            name=str(name),
            password_hash=str(entry["password"]) if entry.get("password") else None,
            slack=str(entry["slack"]) if entry.get("slack") else None,
        )
    return Users(users)


def add_user(path: Path, name: str, password: str, slack: str | None = None) -> None:
    """Add or replace ``name`` with an argon2id hash of ``password``; the file is
    written with mode 0600 (a hash is not a password, but need not be public)."""
    from argon2 import PasswordHasher

    raw: dict[str, Any] = {}
    if path.exists():
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = dict(raw.get("users") or {})
    entry = dict(entries.get(name) or {})
    entry["password"] = PasswordHasher().hash(password)
    if slack:
        entry["slack"] = slack
    entries[name] = entry
    raw["users"] = entries
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(raw, fh, sort_keys=True)
    os.replace(tmp, path)
