"""Signed licence files (Ed25519).

Pure module: no database, no web framework. It only reads, writes and checks licence
files and reports their state; callers decide what to do with an expired or invalid
licence (which must never cause data loss).

File format (UTF-8 text)::

    -----BEGIN VITRYLO LICENSE-----
    <base64 of canonical JSON payload>
    -----END VITRYLO LICENSE-----
    key: <key_id>
    signature: <base64 Ed25519 signature over the exact payload bytes>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "License",
    "LicenseError",
    "generate_keypair",
    "issue",
    "key_id",
    "load_public_keys",
    "verify",
]

BEGIN = "-----BEGIN VITRYLO LICENSE-----"
END = "-----END VITRYLO LICENSE-----"
FORMAT_VERSION = 1
ALL_ADDONS = "*"
_ADDON_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_REQUIRED_FIELDS = ("id", "customer", "addons", "max_users", "issued", "expires")


class LicenseError(Exception):
    """A licence (or key) problem; the message says in plain English what is wrong."""


@dataclass(frozen=True)
class License:
    """The verified content of a licence file."""

    id: str
    customer: str
    addons: tuple[str, ...]
    max_users: int
    issued: date
    expires: date
    demo: bool = False
    key_id: str = ""  # fingerprint of the public key that verified it (set by verify)

    def covers(self, addon: str) -> bool:
        """Whether this licence allows ``addon`` ("*" means all commercial addons)."""
        return ALL_ADDONS in self.addons or addon in self.addons

    def is_expired(self, today: date | None = None) -> bool:
        """Expired only once ``today`` is past ``expires`` (the last day is still valid)."""
        return (today or date.today()) > self.expires

    def to_payload(self) -> dict[str, Any]:
        """JSON-able payload that gets signed; ``key_id`` is not part of it."""
        return {
            "v": FORMAT_VERSION,
            "id": self.id,
            "customer": self.customer,
            "addons": list(self.addons),
            "max_users": self.max_users,
            "issued": self.issued.isoformat(),
            "expires": self.expires.isoformat(),
            "demo": self.demo,
        }


def _canonical(payload: Mapping[str, Any]) -> bytes:
    """Deterministic JSON bytes, so the same payload always gives the same signature."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key_id_of(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def _load_public_pem(pem: bytes, origin: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise LicenseError(f"{origin}: not a valid PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise LicenseError(f"{origin}: public key is not an Ed25519 key")
    return key


def key_id(public_key_pem: bytes) -> str:
    """Short stable fingerprint: first 16 hex chars of sha256 of the raw public key."""
    return _key_id_of(_load_public_pem(public_key_pem, "public key"))


def _write_new(path: Path, content: bytes, mode: int) -> None:
    """Create ``path`` exclusively (no overwrite race) with ``mode`` set from the start."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise LicenseError(f"{path}: file already exists, refusing to overwrite it") from exc
    except OSError as exc:
        raise LicenseError(f"{path}: cannot create file ({exc.strerror})") from exc
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), mode)  # the umask may have narrowed it; be exact
        fh.write(content)


def generate_keypair(private_path: Path, public_path: Path) -> str:
    """Create a vendor key pair; never overwrites, since losing a key breaks issued licences."""
    private_path, public_path = Path(private_path), Path(public_path)
    for path in (private_path, public_path):
        if path.exists():
            raise LicenseError(f"{path}: file already exists, refusing to overwrite it")
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(private_path, private_pem, 0o600)
    _write_new(public_path, public_pem, 0o644)
    return _key_id_of(private.public_key())


def load_public_keys(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """Load the trusted public keys, indexed by key id."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise LicenseError(f"{path}: cannot read public key file ({exc.strerror})") from exc
        key = _load_public_pem(pem, str(path))
        keys[_key_id_of(key)] = key
    return keys


def _load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise LicenseError(f"{path}: cannot read private key file ({exc.strerror})") from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise LicenseError(f"{path}: not a valid unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise LicenseError(f"{path}: private key is not an Ed25519 key")
    return key


def _check_fields(
    customer: str, addons: Sequence[str], max_users: int, issued: date, expires: date
) -> None:
    """Shared validation for issue() and verify(), so both accept exactly the same licences."""
    if not isinstance(customer, str) or not customer.strip():
        raise LicenseError("customer must be a non-empty string")
    if isinstance(addons, str) or not isinstance(addons, Sequence):
        raise LicenseError('addons must be a list of addon names or ["*"]')
    if not addons:
        raise LicenseError('addons must not be empty (use ["*"] for all addons)')
    for name in addons:
        if not isinstance(name, str) or not (name == ALL_ADDONS or _ADDON_RE.match(name)):
            raise LicenseError(f'invalid addon name {name!r}: expected [a-z][a-z0-9_]* or "*"')
    if isinstance(max_users, bool) or not isinstance(max_users, int) or max_users < 1:
        raise LicenseError(f"max_users must be an integer >= 1, got {max_users!r}")
    if not isinstance(issued, date) or not isinstance(expires, date):
        raise LicenseError("issued and expires must be dates")
    if expires < issued:
        raise LicenseError(
            f"expires ({expires.isoformat()}) is before issued ({issued.isoformat()})"
        )


def issue(
    private_key_path: Path,
    *,
    customer: str,
    addons: Sequence[str],
    max_users: int,
    expires: date,
    demo: bool = False,
    issued: date | None = None,
) -> bytes:
    """Create and sign a licence; returns the licence file content (UTF-8 bytes)."""
    issued = issued or date.today()
    _check_fields(customer, addons, max_users, issued, expires)
    if not isinstance(demo, bool):
        raise LicenseError("demo must be true or false")
    private = _load_private_key(private_key_path)
    lic = License(
        id=uuid.uuid4().hex,
        customer=customer.strip(),
        addons=tuple(dict.fromkeys(addons)),  # dedupe, keep order
        max_users=max_users,
        issued=issued,
        expires=expires,
        demo=demo,
    )
    payload = _canonical(lic.to_payload())
    signature = private.sign(payload)
    text = "\n".join(
        [
            BEGIN,
            base64.b64encode(payload).decode("ascii"),
            END,
            f"key: {_key_id_of(private.public_key())}",
            f"signature: {base64.b64encode(signature).decode('ascii')}",
            "",
        ]
    )
    return text.encode("utf-8")


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LicenseError(f"not a valid licence file: {what} is not valid base64") from exc


def _parse(data: bytes) -> tuple[bytes, str, bytes]:
    """Split a licence file into (payload bytes, key id, signature)."""
    try:
        text = data.decode("utf-8")
    except (UnicodeDecodeError, AttributeError) as exc:
        raise LicenseError("not a licence file: content is not UTF-8 text") from exc
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if BEGIN not in lines or END not in lines:
        raise LicenseError("not a licence file: BEGIN/END VITRYLO LICENSE markers missing")
    start, end = lines.index(BEGIN), lines.index(END)
    if end <= start + 1:
        raise LicenseError("not a valid licence file: empty licence block")
    payload = _b64decode("".join(lines[start + 1 : end]), "licence block")
    headers: dict[str, str] = {}
    for line in lines[end + 1 :]:
        name, sep, value = line.partition(":")
        if not sep:
            raise LicenseError(f"not a valid licence file: unexpected line {line[:40]!r}")
        headers[name.strip().lower()] = value.strip()
    if not headers.get("key"):
        raise LicenseError("not a valid licence file: 'key:' line missing")
    if not headers.get("signature"):
        raise LicenseError("not a valid licence file: 'signature:' line missing")
    return payload, headers["key"], _b64decode(headers["signature"], "signature")


def _parse_date(value: Any, field: str) -> date:
    if not isinstance(value, str):
        raise LicenseError(f"invalid licence: field '{field}' must be a YYYY-MM-DD date")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise LicenseError(f"invalid licence: field '{field}' is not a valid date") from exc


def verify(data: bytes, trusted_keys: Mapping[str, Ed25519PublicKey]) -> License:
    """Check signature and content; does NOT reject expired licences (see is_expired)."""
    payload, kid, signature = _parse(data)
    key = trusted_keys.get(kid)
    if key is None:
        raise LicenseError(f"licence is signed by an unknown key ({kid}); it is not trusted")
    try:
        key.verify(signature, payload)
    except InvalidSignature as exc:
        raise LicenseError("bad licence signature: the file was modified or forged") from exc

    # Signed data comes from the vendor, but still validate it so a buggy issuer or an
    # old/foreign format cannot crash callers.
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LicenseError("invalid licence: payload is not valid JSON") from exc
    if not isinstance(obj, dict):
        raise LicenseError("invalid licence: payload is not a JSON object")
    if obj.get("v", FORMAT_VERSION) != FORMAT_VERSION:
        raise LicenseError(f"unsupported licence format version {obj.get('v')!r}")
    missing = [f for f in _REQUIRED_FIELDS if f not in obj]
    if missing:
        raise LicenseError(f"invalid licence: missing field(s) {', '.join(missing)}")
    lic_id = obj["id"]
    if not isinstance(lic_id, str) or not _ID_RE.match(lic_id):
        raise LicenseError("invalid licence: field 'id' must be a 32-char hex uuid")
    demo = obj.get("demo", False)
    if not isinstance(demo, bool):
        raise LicenseError("invalid licence: field 'demo' must be true or false")
    addons = obj["addons"]
    if not isinstance(addons, list):
        raise LicenseError("invalid licence: field 'addons' must be a list")
    issued = _parse_date(obj["issued"], "issued")
    expires = _parse_date(obj["expires"], "expires")
    try:
        _check_fields(obj["customer"], addons, obj["max_users"], issued, expires)
    except LicenseError as exc:
        raise LicenseError(f"invalid licence: {exc}") from exc
    return License(
        id=lic_id,
        customer=obj["customer"],
        addons=tuple(addons),
        max_users=obj["max_users"],
        issued=issued,
        expires=expires,
        demo=demo,
        key_id=kid,
    )
