"""The demo's release packages: what each version ships, built as reproducible tarballs.

Every release ships the same service code (``app/``) and differs where real releases
do: VERSION, ``config/app.yml``, ``config/app.env`` and the migrations it carries.
v2.4.1-broken turns on ``record_source`` but ships no migration adding that column,
so it starts, then fails every health check and ingest with HTTP 500.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP_SOURCE = HERE / "app"
MIGRATIONS = HERE / "migrations"
#: Fixed mtime so that the same release always has the same checksum.
BUILD_TIME = 1764547200  # 2025-12-01T00:00:00Z


@dataclass(frozen=True)
class Release:
    version: str
    api_version: str
    metadata_enabled: bool
    record_source: bool
    last_migration: str  # id of the newest migration the release ships

    @property
    def tarball(self) -> str:
        return f"app-{self.version}.tar.gz"

    def config(self) -> str:
        lines = [
            f"# app {self.version} configuration (validate with bin/validate-config)",
            "service_name: ingestion",
            "log_level: info",
            f"metadata_enabled: {str(self.metadata_enabled).lower()}",
        ]
        if self.record_source:
            lines.append("record_source: true")
        return "\n".join(lines) + "\n"

    def migrations(self) -> list[Path]:
        return sorted(
            path for path in MIGRATIONS.glob("*.sql") if path.name[:8] <= self.last_migration
        )


INSTALLED = Release("v2.3.0", "v1", False, False, "20251101")
TARGET = Release("v2.4.0", "v2", True, False, "20251215")
BROKEN = Release("v2.4.1-broken", "v2", True, True, "20251215")
RELEASES = (INSTALLED, TARGET, BROKEN)


def _files(release: Release) -> list[tuple[str, bytes, int]]:
    """(path inside the release, content, mode) for every file the release ships."""
    files = [
        ("VERSION", f"{release.version}\n".encode(), 0o644),
        ("config/app.yml", release.config().encode(), 0o644),
        ("config/app.env", f"API_VERSION={release.api_version}\n".encode(), 0o644),
    ]
    for path in sorted(APP_SOURCE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            mode = 0o755 if path.parent.name == "bin" else 0o644
            files.append((path.relative_to(APP_SOURCE).as_posix(), path.read_bytes(), mode))
    files.extend(
        (f"migrations/{path.name}", path.read_bytes(), 0o644) for path in release.migrations()
    )
    return sorted(files)


def _tarball(release: Release) -> bytes:
    """The release as ``app/...`` entries, so ``tar --strip-components=1`` installs it."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folders = {"app"}
        for name, _, _ in _files(release):
            parts = name.split("/")[:-1]
            folders.update("/".join(["app", *parts[: i + 1]]) for i in range(len(parts)))
        for folder in sorted(folders):
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, BUILD_TIME
            tar.addfile(info)
        for name, data, mode in _files(release):
            info = tarfile.TarInfo(f"app/{name}")
            info.size, info.mode, info.mtime = len(data), mode, BUILD_TIME
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def build(release: Release, deploy_dir: Path) -> Path:
    """Write the tarball and its ``sha256sum -c`` file into deploy_dir, and the
    release's production configs into ``configs/<version>/`` (seed step 3.2)."""
    configs = deploy_dir / "configs" / release.version
    configs.mkdir(parents=True, exist_ok=True)
    for name, data, _ in _files(release):
        if name.startswith("config/"):
            (configs / name.removeprefix("config/")).write_bytes(data)
    data = _tarball(release)
    target = deploy_dir / release.tarball
    target.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    (deploy_dir / f"{release.tarball}.sha256").write_text(f"{digest}  {release.tarball}\n")
    return target


def install(tarball: Path, app_dir: Path) -> None:
    """What ``tar -xzf TARBALL --strip-components=1 -C APP_DIR`` does, without tar."""
    app_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")[1:]
            if not parts or ".." in parts:
                continue
            target = app_dir.joinpath(*parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                source = tar.extractfile(member)
                assert source is not None
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read())
                target.chmod(member.mode)
