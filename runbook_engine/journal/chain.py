"""The hash chain that makes a journal tamper-evident.

Each record carries ``prev`` (the hash of the record before it) and ``hash`` =
sha256(prev + canonical JSON of the record without ``hash`` and ``mac``). Editing,
inserting, removing or reordering any line breaks the chain from that line on.
``mac`` (see `anchor`) comes last on the line and is checked by `audit`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

#: ``prev`` of the first record of every journal.
GENESIS = "0" * 64


def canonical(record: dict[str, Any]) -> str:
    """The one JSON text of a record that its hash covers. Values JSON cannot hold
    (paths, datetimes) are written as their text, so the line parses back to the
    very same canonical text; ASCII escapes keep undecodable output bytes safe."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


#: Fields of a line that its hash does not cover (they are computed from it).
UNHASHED = ("hash", "mac")


def record_hash(prev: str, record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k not in UNHASHED}
    return hashlib.sha256((prev + canonical(body)).encode("utf-8")).hexdigest()


def line_of(record: dict[str, Any]) -> bytes:
    """The exact bytes of a record's journal line: its canonical JSON with the
    hash, then the MAC, last. `verify` compares every line with this, byte for byte."""
    body = canonical({k: v for k, v in record.items() if k not in UNHASHED})
    mac = f',"mac":"{record["mac"]}"' if "mac" in record else ""
    return f'{body[:-1]},"hash":"{record["hash"]}"{mac}}}\n'.encode()


def verify_journal(path: Path | str) -> list[str]:
    """Every problem found in a journal file, each naming its line; empty if intact.

    A torn last line (a write cut short by a crash, see `has_torn_tail`) is not a
    problem: readers ignore it and resume discards it, recording that it did.
    """
    path = Path(path)
    problems: list[str] = []
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [f"{path}: cannot read journal: {exc.strerror or exc}"]
    lines = data.split(b"\n")
    torn = lines[-1] != b""
    if not torn:
        lines.pop()
    prev = GENESIS
    expected_seq = 1
    for number, raw in enumerate(lines, start=1):
        where = f"{path}:{number}"
        try:
            record = json.loads(raw.decode("utf-8"))
        except ValueError:
            record = None
        if not isinstance(record, dict):
            if not (torn and number == len(lines)):
                problems.append(f"{where}: not a JSON record")
            break
        if record.get("seq") != expected_seq:
            problems.append(
                f"{where}: sequence number {record.get('seq')!r}, expected {expected_seq}"
            )
        if record.get("prev") != prev:
            problems.append(
                f"{where}: chain broken: prev does not match the hash of line {number - 1}"
            )
        digest = record_hash(str(record.get("prev", "")), record)
        if record.get("hash") != digest:
            problems.append(f"{where}: record edited: its hash does not match its content")
        elif raw != line_of(record).rstrip(b"\n"):
            problems.append(f"{where}: record edited: not byte for byte what the runner wrote")
        prev = str(record.get("hash", ""))
        expected_seq = record["seq"] + 1 if isinstance(record.get("seq"), int) else expected_seq + 1
    return problems


def has_torn_tail(path: Path | str) -> bool:
    """Whether the journal ends in an incomplete line (the runner died mid-write)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    tail = data[data.rfind(b"\n") + 1 :]
    if not tail:
        return False
    try:
        record = json.loads(tail)
    except ValueError:
        return True
    return not isinstance(record, dict)
