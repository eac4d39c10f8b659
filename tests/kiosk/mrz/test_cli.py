"""``bordergate mrz read IMAGE... --json``: one JSON line per image, in order."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bordergate.cli import app
from hardware_mocks.document_page import write_sample
from tests.kiosk.mrz.conftest import sample

KEYS = [
    "file",
    "valid",
    "format",
    "mrz",
    "document_type",
    "issuing_state",
    "surname",
    "given_names",
    "document_number",
    "nationality",
    "birth_date",
    "sex",
    "expiry_date",
    "errors",
]


def test_json_lines_in_order(tmp_path: Path) -> None:
    s = sample(7001, "clean", "TD3")
    good = write_sample(s, tmp_path, 1)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "readme.txt"
    text.write_text("hello")
    camera = write_sample(sample(7005, "camera", "TD3"), tmp_path, 2)
    files = [str(good), str(empty), str(text), str(camera)]
    result = CliRunner().invoke(app, ["mrz", "read", *files, "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["file"] for r in rows] == files
    first = rows[0]
    assert list(first) == KEYS
    fields = s.truth["fields"]
    assert first["valid"] is True
    assert first["format"] == "TD3"
    assert first["mrz"] == s.truth["mrz_lines"]
    assert first["document_type"] == "P"
    assert first["issuing_state"] == fields["issuing_state"]
    assert first["document_number"] == fields["document_number"]
    assert first["nationality"] == fields["nationality"]
    assert first["birth_date"] == fields["birth_date"]
    assert first["expiry_date"] == fields["expiry_date"]
    assert first["sex"] in ("M", "F", "X")
    assert first["errors"] == []
    for bad in rows[1:3]:
        assert list(bad) == ["file", "valid", "errors"]
        assert bad["valid"] is False
        assert len(bad["errors"]) == 1
    assert rows[3]["mrz"] == sample(7005, "camera", "TD3").truth["mrz_lines"]


def test_human_output(tmp_path: Path) -> None:
    good = write_sample(sample(7001, "clean", "TD3"), tmp_path, 1)
    result = CliRunner().invoke(app, ["mrz", "read", str(good)])
    assert result.exit_code == 0
    assert "valid TD3" in result.output
