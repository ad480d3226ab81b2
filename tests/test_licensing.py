"""Tests for core.licensing: signing, tamper detection and input validation."""

from __future__ import annotations

import base64
import json
import stat
from datetime import date
from pathlib import Path

import pytest

from core.licensing import (
    License,
    LicenseError,
    generate_keypair,
    issue,
    key_id,
    load_public_keys,
    verify,
)

ISSUED = date(2025, 1, 1)
EXPIRES = date(2025, 12, 31)


def _keypair(tmp_path: Path, name: str = "vendor") -> tuple[Path, Path, str]:
    priv, pub = tmp_path / f"{name}.pem", tmp_path / f"{name}.pub.pem"
    kid = generate_keypair(priv, pub)
    return priv, pub, kid


def _issue(priv: Path, **overrides: object) -> bytes:
    kwargs: dict[str, object] = {
        "customer": "ACME GmbH",
        "addons": ["sales", "invoicing"],
        "max_users": 10,
        "expires": EXPIRES,
        "issued": ISSUED,
    }
    kwargs.update(overrides)
    return issue(priv, **kwargs)  # type: ignore[arg-type]


def _replace_payload(data: bytes, change: dict[str, object]) -> bytes:
    """Rewrite the base64 payload (keeping key and signature lines) like an attacker would."""
    lines = data.decode().splitlines()
    payload = json.loads(base64.b64decode(lines[1]))
    payload.update(change)
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    lines[1] = base64.b64encode(raw).decode()
    return ("\n".join(lines) + "\n").encode()


def test_round_trip(tmp_path: Path) -> None:
    priv, pub, kid = _keypair(tmp_path)
    keys = load_public_keys([pub])
    assert list(keys) == [kid]
    assert key_id(pub.read_bytes()) == kid
    assert len(kid) == 16

    lic = verify(_issue(priv, demo=True), keys)
    assert lic.customer == "ACME GmbH"
    assert lic.addons == ("sales", "invoicing")
    assert lic.max_users == 10
    assert (lic.issued, lic.expires) == (ISSUED, EXPIRES)
    assert lic.demo is True
    assert lic.key_id == kid
    assert len(lic.id) == 32 and int(lic.id, 16) >= 0
    assert "key_id" not in lic.to_payload()
    json.dumps(lic.to_payload())  # must be JSON-able


def test_demo_defaults_false_and_ids_unique(tmp_path: Path) -> None:
    priv, pub, _ = _keypair(tmp_path)
    keys = load_public_keys([pub])
    a, b = verify(_issue(priv), keys), verify(_issue(priv), keys)
    assert a.demo is False
    assert a.id != b.id


def test_tampered_payload_rejected(tmp_path: Path) -> None:
    priv, pub, _ = _keypair(tmp_path)
    data = _issue(priv)
    with pytest.raises(LicenseError, match="signature"):
        verify(_replace_payload(data, {"max_users": 1000}), load_public_keys([pub]))


def test_tampered_signature_rejected(tmp_path: Path) -> None:
    priv, pub, _ = _keypair(tmp_path)
    lines = _issue(priv).decode().splitlines()
    sig = bytearray(base64.b64decode(lines[-1].split(":", 1)[1]))
    sig[0] ^= 1
    lines[-1] = "signature: " + base64.b64encode(bytes(sig)).decode()
    with pytest.raises(LicenseError, match="signature"):
        verify("\n".join(lines).encode(), load_public_keys([pub]))


def test_untrusted_key_rejected(tmp_path: Path) -> None:
    evil_priv, _, evil_kid = _keypair(tmp_path, "evil")
    _, good_pub, _ = _keypair(tmp_path, "good")
    with pytest.raises(LicenseError, match="unknown key") as exc:
        verify(_issue(evil_priv), load_public_keys([good_pub]))
    assert evil_kid in str(exc.value)


def test_untrusted_key_claiming_trusted_id_rejected(tmp_path: Path) -> None:
    evil_priv, _, _ = _keypair(tmp_path, "evil")
    _, good_pub, good_kid = _keypair(tmp_path, "good")
    lines = _issue(evil_priv).decode().splitlines()
    lines[-2] = f"key: {good_kid}"
    with pytest.raises(LicenseError, match="signature"):
        verify("\n".join(lines).encode(), load_public_keys([good_pub]))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        b"\xff\xfe\x00garbage",
        b"-----BEGIN VITRYLO LICENSE-----\n!!!\n-----END VITRYLO LICENSE-----\n",
        b"-----BEGIN VITRYLO LICENSE-----\nYWJj\n-----END VITRYLO LICENSE-----\n",
    ],
)
def test_garbage_rejected(tmp_path: Path, data: bytes) -> None:
    _, pub, _ = _keypair(tmp_path)
    with pytest.raises(LicenseError):
        verify(data, load_public_keys([pub]))


def test_expiry() -> None:
    lic = License(
        id="0" * 32, customer="c", addons=("*",), max_users=1, issued=ISSUED, expires=EXPIRES
    )
    assert not lic.is_expired(EXPIRES)  # last day still valid
    assert lic.is_expired(date(2026, 1, 1))
    assert not lic.is_expired(ISSUED)


def test_expired_licence_still_verifies(tmp_path: Path) -> None:
    priv, pub, _ = _keypair(tmp_path)
    lic = verify(
        _issue(priv, issued=date(2020, 1, 1), expires=date(2020, 1, 2)), load_public_keys([pub])
    )
    assert lic.is_expired()


def test_covers() -> None:
    base = {"id": "0" * 32, "customer": "c", "max_users": 1, "issued": ISSUED, "expires": EXPIRES}
    everything = License(addons=("*",), **base)  # type: ignore[arg-type]
    some = License(addons=("sales", "crm"), **base)  # type: ignore[arg-type]
    assert everything.covers("sales") and everything.covers("anything_else")
    assert some.covers("sales") and some.covers("crm")
    assert not some.covers("invoicing")


def test_generate_keypair_refuses_overwrite_and_protects_key(tmp_path: Path) -> None:
    priv, pub, _ = _keypair(tmp_path)
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    before = priv.read_bytes()
    with pytest.raises(LicenseError, match="already exists"):
        generate_keypair(priv, tmp_path / "other.pub.pem")
    with pytest.raises(LicenseError, match="already exists"):
        generate_keypair(tmp_path / "other.pem", pub)
    assert priv.read_bytes() == before
    assert not (tmp_path / "other.pem").exists()


def test_load_public_keys_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(LicenseError, match=r"nope\.pem"):
        load_public_keys([missing])
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(LicenseError, match=r"bad\.pem"):
        load_public_keys([bad])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"customer": ""}, "customer"),
        ({"customer": "   "}, "customer"),
        ({"max_users": 0}, "max_users"),
        ({"max_users": True}, "max_users"),
        ({"expires": date(2024, 12, 31)}, "before issued"),
        ({"addons": []}, "addons"),
        ({"addons": "sales"}, "addons"),
        ({"addons": ["Sales"]}, "invalid addon name"),
        ({"addons": ["1crm"]}, "invalid addon name"),
        ({"addons": ["sales-x"]}, "invalid addon name"),
    ],
)
def test_issue_rejects_bad_input(tmp_path: Path, overrides: dict, message: str) -> None:
    priv, _, _ = _keypair(tmp_path)
    with pytest.raises(LicenseError, match=message):
        _issue(priv, **overrides)


def test_issue_missing_private_key(tmp_path: Path) -> None:
    with pytest.raises(LicenseError, match="private key"):
        _issue(tmp_path / "missing.pem")


def test_missing_field_rejected(tmp_path: Path) -> None:
    """A validly signed payload lacking a field still fails with a clear message."""
    from cryptography.hazmat.primitives import serialization

    priv, pub, kid = _keypair(tmp_path)
    key = serialization.load_pem_private_key(priv.read_bytes(), password=None)
    payload = json.dumps({"v": 1, "customer": "x"}, sort_keys=True, separators=(",", ":")).encode()
    data = (
        "-----BEGIN VITRYLO LICENSE-----\n"
        f"{base64.b64encode(payload).decode()}\n"
        "-----END VITRYLO LICENSE-----\n"
        f"key: {kid}\n"
        f"signature: {base64.b64encode(key.sign(payload)).decode()}\n"  # type: ignore[union-attr]
    ).encode()
    with pytest.raises(LicenseError, match="missing field"):
        verify(data, load_public_keys([pub]))
