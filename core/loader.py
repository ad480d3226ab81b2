"""Finding addons: the bundled ``addons/`` package, extra folders and pip packages.

All three go through :func:`discover`, so a partner's pip package has the same powers as a
bundled addon. Nothing here imports addon code: manifests are read as data, and importing
happens later, in :mod:`core.plugins`, only for the addons that are used.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from core.manifest import Manifest, ManifestError, load_manifest

ENTRY_POINT_GROUP = "vitrylo.addons"
BUNDLED_PATH = Path(__file__).resolve().parent.parent / "addons"


class DiscoveryError(Exception):
    """Two addons claim one name, or an entry point does not lead to an addon."""


@dataclass(frozen=True)
class AddonInfo:
    """An addon found on disk: its manifest and where its code lives."""

    manifest: Manifest
    path: Path
    module: str
    source: str  # "bundled", "path" or "entry_point"

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def migrations_path(self) -> Path | None:
        path = self.path / "migrations"
        return path if path.is_dir() else None

    @property
    def bundled(self) -> bool:
        return self.source == "bundled"


def discover(extra_paths: Iterable[Path] = (), *, safe_mode: bool = False) -> dict[str, AddonInfo]:
    """Every addon available to this process, by name.

    In safe mode only the bundled addons are returned, so a broken third-party addon can
    never stop an administrator from starting the product.
    """
    found: dict[str, AddonInfo] = {}
    for info in _scan_folder(BUNDLED_PATH, "addons.", "bundled"):
        _add(found, info)
    if safe_mode:
        return found
    for folder in extra_paths:
        folder = Path(folder).resolve()
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
        for info in _scan_folder(folder, "", "path"):
            _add(found, info)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _add(found, _from_entry_point(ep.name, ep.value))
    return found


def _add(found: dict[str, AddonInfo], info: AddonInfo) -> None:
    other = found.get(info.name)
    if other is not None and other.path != info.path:
        raise DiscoveryError(
            f"addon '{info.name}' is provided twice: by {other.path} and by {info.path}"
        )
    found[info.name] = info


def _scan_folder(folder: Path, prefix: str, source: str) -> list[AddonInfo]:
    if not folder.is_dir():
        return []
    infos = []
    for child in sorted(folder.iterdir()):
        manifest_path = child / "addon.toml"
        if not manifest_path.is_file():
            continue
        manifest = load_manifest(manifest_path)
        if manifest.name != child.name:
            raise ManifestError(
                f"{manifest_path}: name '{manifest.name}' differs from its folder '{child.name}'"
            )
        infos.append(AddonInfo(manifest, child, prefix + child.name, source))
    return infos


def _from_entry_point(name: str, value: str) -> AddonInfo:
    module = value.split(":")[0].strip()
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DiscoveryError(f"entry point '{name}' = '{value}' is not an importable package")
    path = Path(next(iter(spec.submodule_search_locations))).resolve()
    manifest = load_manifest(path / "addon.toml")
    if manifest.name != name:
        raise DiscoveryError(
            f"entry point '{name}' leads to an addon named '{manifest.name}' ({path})"
        )
    return AddonInfo(manifest, path, module, "entry_point")
