"""Manifests are data, validated with errors that name the file (issue 2, item 4)."""

from __future__ import annotations

import pytest

from core.loader import DiscoveryError, discover
from core.manifest import ManifestError, load_manifest, parse_version


def write(tmp_path, text):
    path = tmp_path / "addon.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_manifest_is_read_into_a_frozen_dataclass(tmp_path):
    m = load_manifest(
        write(
            tmp_path,
            """
name = "sales"
label = "Sales"
version = "1.2"
depends = ["crm_base>=0.1", "planner"]
license = "commercial"
auto_install = false
post_install = "sales.setup:post_install"
""",
        )
    )
    assert m.name == "sales" and m.commercial
    assert [str(d) for d in m.depends] == ["crm_base>=0.1", "planner"]
    assert m.depends[0].accepts("0.1.0") and not m.depends[0].accepts("0.0.9")
    with pytest.raises(AttributeError):
        m.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('label = "X"\nversion = "1.0"', "missing required key 'name'"),
        ('name = "x1"\nlabel = "X"\nversion = "1.0"\ncolour = "red"', "unknown key(s): colour"),
        ('name = "x1"\nlabel = "X"\nversion = "one"', "version 'one'"),
        ('name = "X-1"\nlabel = "X"\nversion = "1.0"', "name 'X-1'"),
        ('name = "core"\nlabel = "X"\nversion = "1.0"', "reserved"),
        ('name = "x1"\nlabel = "X"\nversion = "1.0"\nlicense = "gpl"', "license must be"),
        ('name = "x1"\nlabel = "X"\nversion = "1.0"\ndepends = ["a b"]', "bad dependency"),
        ('name = "x1"\nlabel = "X"\nversion = "1.0"\ndepends = ["x1"]', "itself"),
        ('name = "x1"\nlabel = "X"\nversion = "1.0"\ndepends = "a"', "'depends' must be"),
        ('name = "x1"\nlabel = "X"\nversion = "1.0"\npost_install = "!"', "dotted path"),
        ('name = "x1"\nlabel = [', "not valid TOML"),
    ],
)
def test_bad_manifest_names_the_file_and_the_problem(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_versions_compare_numerically():
    assert parse_version("1.10") > parse_version("1.9.5")
    assert parse_version("2.0") == (2, 0, 0)


def test_folder_and_manifest_name_must_agree(tmp_path):
    folder = tmp_path / "alpha"
    folder.mkdir()
    (folder / "addon.toml").write_text('name = "beta"\nlabel = "B"\nversion = "1.0"\n')
    with pytest.raises(ManifestError, match="differs from its folder"):
        discover([tmp_path])


def test_an_addon_name_cannot_be_provided_twice(tmp_path):
    folder = tmp_path / "crm_base"
    folder.mkdir()
    (folder / "addon.toml").write_text('name = "crm_base"\nlabel = "B"\nversion = "1.0"\n')
    with pytest.raises(DiscoveryError, match="provided twice"):
        discover([tmp_path])


def test_safe_mode_sees_only_bundled_addons(tmp_path):
    folder = tmp_path / "extra_one"
    folder.mkdir()
    (folder / "addon.toml").write_text('name = "extra_one"\nlabel = "E"\nversion = "1.0"\n')
    assert "extra_one" in discover([tmp_path])
    found = discover([tmp_path], safe_mode=True)
    assert "extra_one" not in found
    assert all(info.bundled for info in found.values())
