"""What editors read: each bundled YAML file names, on its first line, the schema sopengine checks it with."""

from __future__ import annotations

from .conftest import ROOT, SOPS

MODELINE = "# yaml-language-server: $schema="


def _schema_of(name: str) -> str:
    if name.endswith(".test.yaml"):
        return "scenario-file.schema.json"
    if name.endswith(".input.yaml"):
        return "input-mapping.schema.json"
    return "sop-file.schema.json"


def test_every_bundled_yaml_file_starts_with_a_modeline_naming_its_schema() -> None:
    files = sorted(SOPS.glob("*.yaml"))
    assert len(files) > 3
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(MODELINE), path.name
        target = (path.parent / first.removeprefix(MODELINE)).resolve()
        assert target == (ROOT / "schemas" / _schema_of(path.name)).resolve(), path.name
        assert target.is_file()
