"""Addon manifests (``addon.toml``): pure data, read without importing the addon."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
VERSION_RE = re.compile(r"^\d+\.\d+(\.\d+)?$")
DOTTED_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$|^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")
LICENSE_KINDS = ("free", "commercial")
RESERVED_NAMES = frozenset({"core", "static", "admin", "api", "auth"})

_ALLOWED = {
    "name": str,
    "label": str,
    "summary": str,
    "version": str,
    "depends": list,
    "license": str,
    "category": str,
    "auto_install": bool,
    "post_install": str,
    "pre_uninstall": str,
    "demo": str,
    "author": str,
    "website": str,
}
_REQUIRED = ("name", "label", "version")
_DEPEND_RE = re.compile(r"^([a-z][a-z0-9_]*)\s*(?:(>=|==)\s*(\d+\.\d+(?:\.\d+)?))?$")


class ManifestError(Exception):
    """A manifest that cannot be used; the message names the file and the problem."""


def parse_version(text: str) -> tuple[int, ...]:
    """``"1.2"`` → ``(1, 2, 0)``: versions compare as tuples of three numbers."""
    parts = tuple(int(p) for p in text.split("."))
    return parts + (0,) * (3 - len(parts))


@dataclass(frozen=True)
class Dependency:
    """One entry of ``depends``: an addon name with an optional version constraint."""

    name: str
    op: str = ""
    version: str = ""

    def accepts(self, version: str) -> bool:
        if not self.op:
            return True
        have, want = parse_version(version), parse_version(self.version)
        return have >= want if self.op == ">=" else have == want

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.version}"


@dataclass(frozen=True)
class Manifest:
    """A validated ``addon.toml``."""

    name: str
    label: str
    version: str
    summary: str = ""
    depends: tuple[Dependency, ...] = ()
    license: str = "free"
    category: str = "Other"
    auto_install: bool = False
    post_install: str = ""
    pre_uninstall: str = ""
    demo: str = ""
    author: str = ""
    website: str = ""

    @property
    def commercial(self) -> bool:
        return self.license == "commercial"

    @property
    def depend_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.depends)


def load_manifest(path: Path) -> Manifest:
    """Read and validate one manifest file; any problem raises ``ManifestError``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: no addon.toml") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}") from exc
    return validate_manifest(data, source=str(path))


def validate_manifest(data: dict[str, object], source: str) -> Manifest:
    """Check keys, types and formats; the error names ``source`` and the offending key."""
    unknown = sorted(set(data) - set(_ALLOWED))
    if unknown:
        raise ManifestError(f"{source}: unknown key(s): {', '.join(unknown)}")
    for key in _REQUIRED:
        if not data.get(key):
            raise ManifestError(f"{source}: missing required key '{key}'")
    for key, kind in _ALLOWED.items():
        if key in data and not isinstance(data[key], kind):
            raise ManifestError(f"{source}: '{key}' must be a {kind.__name__}")
    name = str(data["name"])
    if not NAME_RE.match(name) or name in RESERVED_NAMES:
        raise ManifestError(
            f"{source}: name '{name}' must be 2-40 lower-case letters, digits or '_', "
            "starting with a letter, and not a reserved word"
        )
    version = str(data["version"])
    if not VERSION_RE.match(version):
        raise ManifestError(f"{source}: version '{version}' must look like 1.0 or 1.0.2")
    license_kind = str(data.get("license", "free"))
    if license_kind not in LICENSE_KINDS:
        raise ManifestError(f"{source}: license must be one of {', '.join(LICENSE_KINDS)}")
    depends = []
    for item in data.get("depends", []):  # type: ignore[union-attr]
        match = _DEPEND_RE.match(str(item).strip()) if isinstance(item, str) else None
        if not match:
            raise ManifestError(f"{source}: bad dependency {item!r} (use 'name' or 'name>=1.0')")
        if match.group(1) == name:
            raise ManifestError(f"{source}: an addon cannot depend on itself")
        depends.append(Dependency(match.group(1), match.group(2) or "", match.group(3) or ""))
    for key in ("post_install", "pre_uninstall", "demo"):
        value = str(data.get(key, ""))
        if value and not DOTTED_RE.match(value):
            raise ManifestError(f"{source}: '{key}' must be a dotted path like 'pkg.module:func'")
    return Manifest(
        name=name,
        label=str(data["label"]),
        version=version,
        summary=str(data.get("summary", "")),
        depends=tuple(depends),
        license=license_kind,
        category=str(data.get("category", "Other")),
        auto_install=bool(data.get("auto_install", False)),
        post_install=str(data.get("post_install", "")),
        pre_uninstall=str(data.get("pre_uninstall", "")),
        demo=str(data.get("demo", "")),
        author=str(data.get("author", "")),
        website=str(data.get("website", "")),
    )
