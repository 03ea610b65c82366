"""Ansible-compatible inventories and host patterns.

Reads the inventories operations teams already have — Ansible INI and YAML, with
groups, ``:children``, ``:vars``, ``group_vars/`` and ``host_vars/`` next to the
file — plus a native YAML form, without needing ansible-core. Inventories the native
parser cannot read (dynamic inventory scripts, inventory plugin configs) are handed to
``ansible-inventory --list`` when ansible-core is installed. See docs/inventory.md.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from runbook_engine.errors import InventoryError, Span
from runbook_engine.executors.base import Host

__all__ = ["Group", "Inventory", "expand_hostname_range", "load_inventory", "parse_inventory_data"]

_VARS_SUFFIXES = ("", ".yml", ".yaml", ".json")
_SKIP_IN_DIR = (".retry", ".pyc", ".pyo", ".bak", ".orig", ".ini~", "~", ".cfg", ".md")


@dataclass(frozen=True, slots=True)
class Group:
    """A named group: its own hosts, child groups and group vars."""

    name: str
    hosts: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    """Hosts (in inventory order, vars already merged) and groups, with Ansible
    host-pattern selection."""

    hosts: tuple[Host, ...]
    groups: Mapping[str, Group]
    source: str = ""

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise InventoryError(f"no host {name!r} in inventory {self.source}")

    def group_hosts(self, name: str) -> tuple[Host, ...]:
        """Every host in the group or any of its descendants, in inventory order."""
        if name == "all":
            return self.hosts
        return tuple(h for h in self.hosts if name in h.groups)

    def select(self, pattern: str | None, strict: bool = True) -> tuple[Host, ...]:
        """Hosts matching an Ansible host pattern (``all``, ``app_tier:!app-02``,
        ``web:&prod``, ``app-0[1:3]``, ``~regex``, globs, comma lists). With
        ``strict``, a term that matches nothing (a typo, an empty group) and a
        pattern that leaves no host are errors, instead of silently running on none."""
        if pattern is None or not pattern.strip():
            pattern = "all"
        terms = split_pattern(pattern)
        include = [t for t in terms if not t.startswith(("!", "&"))]
        intersect = [t[1:] for t in terms if t.startswith("&")]
        exclude = [t[1:] for t in terms if t.startswith("!")]
        if not include:
            include = ["all"]
        chosen: dict[str, Host] = {}
        for term in include:
            for host in self._match(term, pattern, strict):
                chosen.setdefault(host.name, host)
        for term in intersect:
            names = {h.name for h in self._match(term, pattern, strict)}
            chosen = {k: v for k, v in chosen.items() if k in names}
        for term in exclude:
            for host in self._match(term, pattern, strict=False):
                chosen.pop(host.name, None)
        if strict and not chosen:
            # every term matched something, but together they leave nobody: a step on
            # no host would run nothing and pass any ``all …`` expectation
            raise InventoryError(
                f"host pattern {pattern!r} selects no host",
                hint="its :&… and :!… terms remove every host the others give",
            )
        order = {h.name: i for i, h in enumerate(self.hosts)}
        return tuple(sorted(chosen.values(), key=lambda h: order[h.name]))

    def _match(self, term: str, pattern: str, strict: bool) -> tuple[Host, ...]:
        if not term:
            raise InventoryError(f"empty term in host pattern {pattern!r}")
        found = self._match_term(term)
        if strict and not found and term in self.groups:
            raise InventoryError(
                f"host pattern {pattern!r}: group {term!r} has no hosts",
                hint="add hosts to it in the inventory, or target another group",
            )
        if strict and not found:
            raise InventoryError(
                f"host pattern {pattern!r}: {term!r} matches no host or group",
                hint=f"groups: {', '.join(sorted(self.groups)) or 'none'}",
            )
        return found

    def _match_term(self, term: str) -> tuple[Host, ...]:
        if term in ("all", "*"):
            return self.hosts
        if term.startswith("~"):
            try:
                regex = re.compile(term[1:])
            except re.error as exc:
                raise InventoryError(
                    f"bad regular expression in host pattern {term!r}: {exc}"
                ) from exc
            names = {g for g in self.groups if regex.match(g)}
            return tuple(
                h for h in self.hosts if regex.match(h.name) or names.intersection(h.groups)
            )
        if term in self.groups:
            return self.group_hosts(term)
        if any(h.name == term for h in self.hosts):
            return tuple(h for h in self.hosts if h.name == term)
        subscript = re.fullmatch(r"(.+)\[(-?\d+)(?::(-?\d*))?\]", term)
        if subscript and subscript.group(1) in self.groups:
            members = self.group_hosts(subscript.group(1))
            start = int(subscript.group(2))
            if subscript.group(3) is None:
                return members[start : start + 1] if -len(members) <= start < len(members) else ()
            end = int(subscript.group(3)) if subscript.group(3) else len(members) - 1
            return members[start : end + 1]
        if "[" in term:
            try:
                names = set(expand_hostname_range(term))
            except InventoryError:
                names = set()
            if names:
                return tuple(h for h in self.hosts if h.name in names)
        if any(c in term for c in "*?["):
            groups = {g for g in self.groups if fnmatch.fnmatchcase(g, term)}
            return tuple(
                h
                for h in self.hosts
                if fnmatch.fnmatchcase(h.name, term) or groups.intersection(h.groups)
            )
        return ()


def split_pattern(pattern: str) -> list[str]:
    """Terms of a host pattern: split on commas, or on colons outside brackets."""
    if "," in pattern:
        return [t.strip() for t in pattern.split(",") if t.strip()]
    terms, depth, current = [], 0, ""
    for ch in pattern:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == ":" and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += ch
    terms.append(current.strip())
    return terms


def expand_hostname_range(name: str) -> list[str]:
    """``app-[01:03]`` → app-01, app-02, app-03 (Ansible's rules: zero padding kept,
    letters allowed, optional step ``[1:9:2]``, several ranges multiply)."""
    if "[" not in name:
        return [name]
    m = re.search(r"\[([^\]]*)\]", name)
    if not m:
        return [name]
    head, tail = name[: m.start()], name[m.end() :]
    parts = m.group(1).split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InventoryError(
            f"bad host range {m.group(0)!r} in {name!r}", hint="write [01:10] or [a:f]"
        )
    start, end = parts[0], parts[1]
    step = int(parts[2]) if len(parts) == 3 and parts[2] else 1
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") else 0
        values = [str(i).zfill(width) for i in range(int(start), int(end) + 1, step)]
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        values = [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    else:
        raise InventoryError(
            f"bad host range {m.group(0)!r} in {name!r}", hint="write [01:10] or [a:f]"
        )
    if not values:
        raise InventoryError(f"empty host range {m.group(0)!r} in {name!r}")
    return [f"{head}{v}{rest}" for v in values for rest in expand_hostname_range(tail)]


# --------------------------------------------------------------------------- loading


class _Builder:
    """Collects groups and hosts from one or more sources, then merges vars."""

    def __init__(self) -> None:
        self.host_order: list[str] = []
        self.host_vars: dict[str, dict[str, Any]] = {}
        self.group_hosts: dict[str, list[str]] = {"all": [], "ungrouped": []}
        self.group_children: dict[str, list[str]] = {"all": [], "ungrouped": []}
        self.group_vars: dict[str, dict[str, Any]] = {"all": {}, "ungrouped": {}}
        self.group_vars_files: dict[str, dict[str, Any]] = {}
        self.host_vars_files: dict[str, dict[str, Any]] = {}
        # membership sets beside the ordered lists: adding a host stays O(1), so
        # loading is linear in the number of hosts (it was quadratic)
        self._members: dict[str, set[str]] = {"all": set(), "ungrouped": set()}
        self._children: dict[str, set[str]] = {"all": set(), "ungrouped": set()}

    def group(self, name: str) -> None:
        if name not in self.group_hosts:
            self.group_hosts[name] = []
            self.group_children[name] = []
            self.group_vars[name] = {}
            self._members[name] = set()
            self._children[name] = set()

    def add_host(self, name: str, group: str | None, hostvars: Mapping[str, Any]) -> None:
        if name not in self.host_vars:
            self.host_order.append(name)
            self.host_vars[name] = {}
        self.host_vars[name].update(hostvars)
        if group is not None:
            self.group(group)
            if name not in self._members[group]:
                self._members[group].add(name)
                self.group_hosts[group].append(name)

    def add_child(self, parent: str, child: str) -> None:
        self.group(parent)
        self.group(child)
        if child not in self._children[parent]:
            self._children[parent].add(child)
            self.group_children[parent].append(child)

    def build(self, source: str) -> Inventory:
        parents: dict[str, set[str]] = {g: set() for g in self.group_hosts}
        for parent, children in self.group_children.items():
            for child in children:
                parents[child].add(parent)
        for group in self.group_hosts:
            if group not in ("all",) and not parents[group]:
                parents[group].add("all")
        depth = _depths(parents, source)
        in_a_group = {
            h for g, hs in self.group_hosts.items() if g not in ("all", "ungrouped") for h in hs
        }
        ungrouped = set(self.group_hosts["ungrouped"])
        for name in self.host_order:
            if name not in in_a_group and name not in ungrouped:
                ungrouped.add(name)
                self.group_hosts["ungrouped"].append(name)

        @cache
        def ancestors(group: str) -> frozenset[str]:
            seen: set[str] = set()
            todo = [group]
            while todo:
                g = todo.pop()
                if g not in seen:
                    seen.add(g)
                    todo.extend(parents.get(g, ()))
            return frozenset(seen)

        group_of_host: dict[str, set[str]] = {h: {"all"} for h in self.host_order}
        for group, members in self.group_hosts.items():
            for h in members:
                group_of_host[h] |= ancestors(group)
        groups = {
            g: Group(
                name=g,
                hosts=tuple(self.group_hosts[g]),
                children=tuple(self.group_children[g]),
                vars={**self.group_vars[g], **self.group_vars_files.get(g, {})},
            )
            for g in self.group_hosts
        }
        order = {g: (depth[g], _priority(groups[g].vars), g) for g in groups}
        hosts: list[Host] = []
        for name in self.host_order:
            member_of = sorted(group_of_host[name], key=order.__getitem__)
            merged: dict[str, Any] = {}
            for g in member_of:
                merged.update(groups[g].vars)
            merged.update(self.host_vars[name])
            merged.update(self.host_vars_files.get(name, {}))
            hosts.append(host_from_vars(name, merged, tuple(member_of)))
        return Inventory(hosts=tuple(hosts), groups=groups, source=source)


def _priority(group_vars: Mapping[str, Any]) -> int:
    try:
        return int(group_vars.get("ansible_group_priority", 1))
    except (TypeError, ValueError):
        return 1


def _depths(parents: Mapping[str, set[str]], source: str) -> dict[str, int]:
    depth: dict[str, int] = {}

    def walk(group: str, trail: tuple[str, ...]) -> int:
        if group in trail:
            raise InventoryError(
                f"{source}: group {group!r} is its own ancestor ({' → '.join((*trail, group))})"
            )
        if group not in depth:
            ups = parents.get(group, set())
            depth[group] = (
                0 if group == "all" else 1 + max((walk(p, (*trail, group)) for p in ups), default=0)
            )
        return depth[group]

    for group in parents:
        walk(group, ())
    return depth


def host_from_vars(name: str, hostvars: Mapping[str, Any], groups: tuple[str, ...]) -> Host:
    """The executor-facing host: connection settings come from the ansible_* vars."""
    port = hostvars.get("ansible_port", hostvars.get("ansible_ssh_port"))
    user = hostvars.get("ansible_user", hostvars.get("ansible_ssh_user"))
    address = hostvars.get("ansible_host", hostvars.get("ansible_ssh_host", name))
    try:
        port_number = int(port) if port not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise InventoryError(f"host {name!r}: ansible_port {port!r} is not a number") from exc
    return Host(
        name=name,
        address=str(address),
        port=port_number,
        user=str(user) if user is not None else None,
        connection=str(hostvars.get("ansible_connection", "ssh")),
        vars=dict(hostvars),
        groups=groups,
    )


def load_inventory(path: str | os.PathLike[str], use_ansible: bool | None = None) -> Inventory:
    """Read an inventory file or folder. ``use_ansible``: None lets the native parser
    read what it can and hands dynamic inventories to ``ansible-inventory``; True
    always asks ``ansible-inventory --list``; False never does."""
    source = Path(path)
    if not source.exists():
        raise InventoryError(f"inventory {source} does not exist", hint="pass --inventory PATH")
    if use_ansible or (use_ansible is None and _needs_ansible(source)):
        return load_with_ansible_inventory(source)
    builder = _Builder()
    files = _inventory_files(source)
    for file in files:
        _parse_file(file, builder)
    base = source if source.is_dir() else source.parent
    _read_vars_folders(base, builder)
    return builder.build(str(source))


def parse_inventory_data(data: Mapping[str, Any], source: str = "<inventory>") -> Inventory:
    """An inventory from already-loaded YAML data (Ansible YAML or the native form)."""
    builder = _Builder()
    _parse_yaml_data(data, builder, source, {})
    return builder.build(source)


def _inventory_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    return [
        p
        for p in sorted(source.iterdir())
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_SKIP_IN_DIR)
    ]


def _needs_ansible(source: Path) -> bool:
    """Dynamic inventories (executable scripts, ``plugin:`` configs) only ansible reads."""
    for file in _inventory_files(source):
        if os.access(file, os.X_OK) and file.read_bytes()[:2] == b"#!":
            return True
        if file.suffix in (".yml", ".yaml"):
            head = file.read_text(errors="replace")
            if re.search(r"^plugin\s*:", head, re.MULTILINE):
                return True
    return False


def _parse_file(file: Path, builder: _Builder) -> None:
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read inventory {file}: {exc}") from exc
    if file.suffix in (".yml", ".yaml", ".json") or _looks_like_yaml(text):
        data, lines = _load_yaml(text, str(file))
        if data is None:
            return
        if not isinstance(data, Mapping):
            raise InventoryError(
                "an inventory must be a mapping of groups", span=Span(str(file), 1, 1)
            )
        _parse_yaml_data(data, builder, str(file), lines)
    else:
        _parse_ini(text, str(file), builder)


def _looks_like_yaml(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        return stripped.startswith("---") or bool(
            re.match(r"^[A-Za-z0-9_.-]+:\s*(#.*)?$", stripped)
        )
    return False


# --------------------------------------------------------------------------- INI


_SECTION = re.compile(r"^\[([^\]:]+)(?::(\w+))?\]\s*(?:[#;].*)?$")


def _parse_ini(text: str, source: str, builder: _Builder) -> None:
    group, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        span = Span(source, number, 1)
        if line.startswith("["):
            m = _SECTION.match(line)
            if not m:
                raise InventoryError(
                    f"bad section header {line!r}",
                    span=span,
                    hint="[group], [group:vars] or [group:children]",
                )
            group, kind = m.group(1).strip(), m.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise InventoryError(
                    f"unknown section kind {kind!r}", span=span, hint="use :vars or :children"
                )
            builder.group(group)
            continue
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise InventoryError(
                    f"expected key=value in [{group}:vars], got {line!r}", span=span
                )
            builder.group_vars[group][key.strip()] = _ini_literal(value.strip())
        elif kind == "children":
            builder.add_child(group, line.split()[0])
        else:
            _parse_ini_host(line, group, span, builder)


def _parse_ini_host(line: str, group: str, span: Span, builder: _Builder) -> None:
    try:
        quoted = _QUOTING.search(line) is not None
        tokens = shlex.split(line, comments=True) if quoted else line.split()
    except ValueError as exc:
        raise InventoryError(f"cannot parse host line: {exc}", span=span) from exc
    if not tokens:
        return
    name, hostvars = tokens[0], {}
    port_match = _HOST_PORT.fullmatch(name) if ":" in name else None
    if port_match and name.count(":") == 1:
        name = port_match.group(1)
        hostvars["ansible_port"] = int(port_match.group(2))
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise InventoryError(
                f"expected key=value after host {name!r}, got {token!r}", span=span
            )
        hostvars[key] = _ini_literal(value)
    try:
        names = expand_hostname_range(name)
    except InventoryError as exc:
        raise InventoryError(exc.message, span=span, hint=exc.hint) from exc
    for each in names:
        builder.add_host(each, group, hostvars)


_QUOTING = re.compile(r"['\"\\#]")
_HOST_PORT = re.compile(r"([^:\[\]]+|.*\])(?::(\d+))")
_DOTTED = re.compile(r"\d+(?:\.\d+){2,}")


def _ini_literal(value: str) -> Any:
    """Values in Ansible INI are Python literals, inline and under ``:vars`` alike
    (``2222`` is a number, ``'-o A=b'`` is the string without its quotes)."""
    if value[:1].isalpha() and value not in ("True", "False", "None"):
        return value  # a name, host or path: never a literal, and the common case
    if _DOTTED.fullmatch(value):
        return value  # an address or version such as 10.0.0.1 or 2.4.0
    if value.isdigit() and (value == "0" or value[0] != "0") and len(value) <= 100:
        return int(value)
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


# --------------------------------------------------------------------------- YAML


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Records the line of every mapping key, so errors can point at the file. Built on
    libyaml's parser when PyYAML has it (about ten times faster on big inventories)."""


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        loader.lines.setdefault(id(mapping), {})[key] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(text: str, source: str) -> tuple[Any, dict[int, dict[Any, int]]]:
    loader = _LineLoader(text)
    loader.lines = {}
    try:
        return loader.get_single_data(), loader.lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        span = Span(source, mark.line + 1, mark.column + 1) if mark else Span(source, 1, 1)
        raise InventoryError(f"bad YAML: {getattr(exc, 'problem', exc)}", span=span) from exc
    finally:
        loader.dispose()


def _parse_yaml_data(
    data: Mapping[str, Any], builder: _Builder, source: str, lines: Mapping[int, Mapping[Any, int]]
) -> None:
    def span(mapping: Any, key: Any) -> Span | None:
        line = lines.get(id(mapping), {}).get(key)
        return Span(source, line, 1) if line else None

    if (
        "hosts" in data
        and "all" not in data
        and set(data) <= {"hosts", "groups", "vars"}
        and isinstance(data["hosts"], Mapping)
        and all(
            v is None
            or (
                isinstance(v, Mapping)
                and set(v) <= {"address", "port", "user", "connection", "vars", "groups"}
            )
            for v in data["hosts"].values()
        )
    ):
        _parse_native(data, builder, span)
        return

    def walk(name: str, body: Any, parent: Mapping[str, Any]) -> None:
        builder.group(name)
        if body is None:
            return
        if not isinstance(body, Mapping):
            raise InventoryError(
                f"group {name!r} must be a mapping with hosts/children/vars",
                span=span(parent, name),
            )
        unknown = set(body) - {"hosts", "children", "vars"}
        if unknown:
            key = sorted(unknown)[0]
            raise InventoryError(
                f"group {name!r} has unknown key {key!r}",
                span=span(body, key),
                hint="use hosts, children or vars",
            )
        hosts = body.get("hosts") or {}
        if isinstance(hosts, list):
            hosts = dict.fromkeys(hosts)
        if not isinstance(hosts, Mapping):
            raise InventoryError(
                f"hosts of group {name!r} must be a mapping", span=span(body, "hosts")
            )
        for host, hostvars in hosts.items():
            if hostvars is not None and not isinstance(hostvars, Mapping):
                raise InventoryError(
                    f"vars of host {host!r} must be a mapping", span=span(hosts, host)
                )
            try:
                names = expand_hostname_range(str(host))
            except InventoryError as exc:
                raise InventoryError(exc.message, span=span(hosts, host), hint=exc.hint) from exc
            for each in names:
                builder.add_host(each, name, hostvars or {})
        group_vars = body.get("vars") or {}
        if not isinstance(group_vars, Mapping):
            raise InventoryError(
                f"vars of group {name!r} must be a mapping", span=span(body, "vars")
            )
        builder.group_vars[name].update(group_vars)
        children = body.get("children") or {}
        if isinstance(children, list):
            children = dict.fromkeys(children)
        if not isinstance(children, Mapping):
            raise InventoryError(
                f"children of group {name!r} must be a mapping", span=span(body, "children")
            )
        for child, child_body in children.items():
            builder.add_child(name, str(child))
            walk(str(child), child_body, children)

    for name, body in data.items():
        walk(str(name), body, data)


def _parse_native(data: Mapping[str, Any], builder: _Builder, span: Any) -> None:
    """``hosts: {app-01: {address, port, user, connection, vars, groups}}``,
    ``groups: {app_tier: [app-01] | {hosts, children, vars}}``, ``vars: {...}``."""
    hosts = data["hosts"]
    for name, body in hosts.items():
        body = body or {}
        hostvars = dict(body.get("vars") or {})
        for key, ansible_key in (
            ("address", "ansible_host"),
            ("port", "ansible_port"),
            ("user", "ansible_user"),
            ("connection", "ansible_connection"),
        ):
            if key in body:
                hostvars[ansible_key] = body[key]
        builder.add_host(str(name), None, hostvars)
        for group in body.get("groups") or ():
            builder.add_host(str(name), str(group), {})
    builder.group_vars["all"].update(data.get("vars") or {})
    groups = data.get("groups") or {}
    if not isinstance(groups, Mapping):
        raise InventoryError(
            "groups must be a mapping of group name to hosts", span=span(data, "groups")
        )
    for name, body in groups.items():
        builder.group(str(name))
        if isinstance(body, list):
            body = {"hosts": body}
        if not isinstance(body, Mapping):
            raise InventoryError(
                f"group {name!r} must be a list of hosts or a mapping", span=span(groups, name)
            )
        for host in body.get("hosts") or ():
            if str(host) not in builder.host_vars:
                raise InventoryError(
                    f"group {name!r} names unknown host {host!r}",
                    span=span(groups, name),
                    hint="declare it under hosts:",
                )
            builder.add_host(str(host), str(name), {})
        for child in body.get("children") or ():
            builder.add_child(str(name), str(child))
        builder.group_vars[str(name)].update(body.get("vars") or {})


# --------------------------------------------------------------------------- vars folders


def _read_vars_folders(base: Path, builder: _Builder) -> None:
    for kind, target in (
        ("group_vars", builder.group_vars_files),
        ("host_vars", builder.host_vars_files),
    ):
        folder = base / kind
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("."):
                continue
            name = entry.name
            for suffix in _VARS_SUFFIXES[1:]:
                if entry.is_file() and name.endswith(suffix):
                    name = name[: -len(suffix)]
            files = (
                sorted(p for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else [entry]
            )
            merged = target.setdefault(name, {})
            for file in files:
                if file.suffix not in _VARS_SUFFIXES:
                    continue
                data, _ = _load_yaml(file.read_text(), str(file))
                if data is None:
                    continue
                if not isinstance(data, Mapping):
                    raise InventoryError(
                        f"{kind} file must hold a mapping of vars", span=Span(str(file), 1, 1)
                    )
                merged.update(data)


# --------------------------------------------------------------------------- ansible-inventory


def ansible_tool(name: str) -> str | None:
    """An ansible-core binary: next to this Python first (the venv), then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def load_with_ansible_inventory(source: Path) -> Inventory:
    """Let ansible-core read what only it can (dynamic scripts, inventory plugins)."""
    tool = ansible_tool("ansible-inventory")
    if tool is None:
        raise InventoryError(
            f"inventory {source} needs ansible-core to be read",
            hint="pip install 'runbook-engine[ansible]'",
        )
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DEPRECATION_WARNINGS": "0"}
    try:
        done = subprocess.run(
            [tool, "-i", str(source), "--list"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InventoryError(f"ansible-inventory failed on {source}: {exc}") from exc
    if done.returncode != 0:
        raise InventoryError(f"ansible-inventory failed on {source}: {done.stderr.strip()[-500:]}")
    try:
        listing = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise InventoryError(f"ansible-inventory printed no JSON for {source}: {exc}") from exc
    return inventory_from_listing(listing, str(source))


def inventory_from_listing(listing: Mapping[str, Any], source: str) -> Inventory:
    """An inventory from the JSON of ``ansible-inventory --list`` (vars already merged)."""
    builder = _Builder()
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    for name, body in listing.items():
        if name == "_meta" or not isinstance(body, Mapping):
            continue
        builder.group(name)
        for host in body.get("hosts", ()):
            builder.add_host(host, name, {})
        for child in body.get("children", ()):
            builder.add_child(name, child)
        builder.group_vars[name].update(body.get("vars") or {})
    for name, values in hostvars.items():
        builder.add_host(name, None, values)
    return builder.build(source)
