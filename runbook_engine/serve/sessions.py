"""Login sessions of the console: a random token in an HttpOnly, SameSite=Strict
cookie (Secure over TLS), kept in memory only, each with its own CSRF token that
every form posts back. Restarting the server logs everyone out, which is fine for
a console whose state lives in the journals."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

COOKIE = "runbook_session"
#: Seconds a session lives after login.
LIFETIME = 12 * 3600.0


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    expires: float
    method: str = "console"


@dataclass
class SessionStore:
    sessions: dict[str, Session] = field(default_factory=dict)

    def open(self, user: str, method: str = "console") -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), time.time() + LIFETIME, method)
        self.sessions[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        session = self.sessions.get(token)
        if session is None or session.expires < time.time():
            self.sessions.pop(token, None)
            return None
        return session

    def close(self, token: str | None) -> None:
        if token:
            self.sessions.pop(token, None)


def csrf_ok(session: Session, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(session.csrf, str(given))
