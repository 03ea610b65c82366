"""Who acts: an operator identity together with the channel that verified it.

An operator action counts toward ``approvers``, ``approvals`` and
``distinct_from_initiator`` under the name its channel verified: the OS user of the
process (the CLI's default), the principal of an SSH signature checked against an
``allowed_signers`` file, a console login, a trusted proxy header, or a Slack user id
mapped to an approver. A name typed with ``--as`` and not signed is only *claimed*:
it is journaled beside the verified name, and never passes an approver check.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: How a name was verified. ``api`` is a library caller that builds `RunOptions` itself
#: and vouches for the name (tests, embedding programs).
METHODS = ("os-user", "ssh-signature", "console", "proxy-header", "slack", "api")


@dataclass(frozen=True)
class Identity:
    """``name`` as verified by ``method``; ``evidence`` is what a later reader needs
    to check it again (the SSH signature and the signed payload, the Slack user id)."""

    name: str
    method: str
    claimed: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The form the journal keeps (inside the hash chain)."""
        data: dict[str, Any] = {"name": self.name, "method": self.method}
        if self.claimed is not None and self.claimed != self.name:
            data["claimed"] = self.claimed
        data.update(self.evidence)
        return data


def os_user() -> str:
    """The user this process runs as, from the password database (not ``$USER``,
    which anyone can set)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid-{uid}"


def os_identity(claimed: str | None = None) -> Identity:
    """The CLI's identity without a signature: the OS user, whatever ``--as`` says."""
    return Identity(name=os_user(), method="os-user", claimed=claimed)
