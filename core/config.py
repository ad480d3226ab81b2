"""Configuration from environment variables, with an optional per-instance TOML file.

Every setting has an environment variable (``VITRYLO_<NAME>``); the instance folder may hold
``vitrylo.toml`` with the same names in lower case. The environment wins, so a deployment
can override what ``vitrylo init`` wrote.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

INSTANCE_CONFIG = "vitrylo.toml"


class ConfigError(Exception):
    """A setting has a value the product cannot run with."""


def _truthy(value: str | bool | None) -> bool:
    if isinstance(value, bool):
        return value
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """The settings one process runs with."""

    instance_path: Path
    database_url: str
    secret_key: str
    safe_mode: bool = False
    addons_paths: tuple[Path, ...] = ()
    trusted_keys: tuple[Path, ...] = ()
    debug: bool = False
    https: bool = False
    session_idle_minutes: int = 60
    session_lifetime_hours: int = 12
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read the settings: explicit overrides, then the environment, then the TOML file."""
        env = dict(os.environ if env is None else env)
        instance = Path(
            str(overrides.get("instance_path") or env.get("VITRYLO_INSTANCE_PATH") or "instance")
        ).resolve()
        file_values = _read_instance_file(instance)

        def pick(name: str, default: object = None) -> object:
            if name in overrides and overrides[name] is not None:
                return overrides[name]
            env_name = f"VITRYLO_{name.upper()}"
            if env.get(env_name, "").strip():  # an empty variable counts as unset
                return env[env_name]
            return file_values.get(name, default)

        database_url = str(pick("database_url") or f"sqlite:///{instance / 'vitrylo.sqlite3'}")
        secret_key = str(pick("secret_key") or "")
        if not secret_key:
            secret_key = _instance_secret(instance)
        keys_value = pick("trusted_keys", ())
        if isinstance(keys_value, str):
            keys_value = [p for p in keys_value.split(os.pathsep) if p]
        trusted = tuple(
            (instance / p).resolve() if not Path(p).is_absolute() else Path(p)
            for p in keys_value  # type: ignore[union-attr]
        )
        paths_value = pick("addons_path", ())
        if isinstance(paths_value, str):
            paths_value = [p for p in paths_value.split(os.pathsep) if p]
        return cls(
            instance_path=instance,
            database_url=database_url,
            secret_key=secret_key,
            safe_mode=_truthy(pick("safe_mode", False)),  # type: ignore[arg-type]
            addons_paths=tuple(Path(str(p)).resolve() for p in paths_value),  # type: ignore[union-attr]
            trusted_keys=trusted,
            debug=_truthy(pick("debug", False)),  # type: ignore[arg-type]
            https=_truthy(pick("https", False)),  # type: ignore[arg-type]
            session_idle_minutes=_positive_int(
                pick("session_idle_minutes", 60), "session_idle_minutes"
            ),
            session_lifetime_hours=_positive_int(
                pick("session_lifetime_hours", 12), "session_lifetime_hours"
            ),
            extra={k: v for k, v in overrides.items() if k not in cls.__dataclass_fields__},
        )


def _positive_int(value: object, name: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigError(f"VITRYLO_{name.upper()} must be a whole number above 0, not {value!r}")
    return number


def _read_instance_file(instance: Path) -> dict[str, object]:
    path = instance / INSTANCE_CONFIG
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _instance_secret(instance: Path) -> str:
    """A secret key kept in the instance folder, so sessions survive a restart.

    Reading the settings never creates the instance folder (``vitrylo --help`` must leave
    no trace); without one the key lives only as long as the process.
    """
    path = instance / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(48)
    if not instance.is_dir():
        return value
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return value


def write_instance_config(instance: Path, values: dict[str, object]) -> None:
    """Merge ``values`` into the instance's TOML file (used by ``vitrylo init``)."""
    current = _read_instance_file(instance)
    current.update(values)
    lines = []
    for key, value in sorted(current.items()):
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, list | tuple):
            items = ", ".join(_toml_str(str(v)) for v in value)
            lines.append(f"{key} = [{items}]")
        else:
            lines.append(f"{key} = {_toml_str(str(value))}")
    instance.mkdir(parents=True, exist_ok=True)
    (instance / INSTANCE_CONFIG).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
