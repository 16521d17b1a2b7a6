"""``ranvier generate-config`` output loads back to the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ranvier.config import parse_config, parse_config_text
from ranvier.config.template import render_config


def test_default_template_loads_to_defaults(tmp_path: Path) -> None:
    assert parse_config_text(render_config(), tmp_path) == parse_config({}, tmp_path)


@pytest.mark.parametrize(
    ("server_name", "database"),
    [
        ("matrix.example.org", "file:data/ranvier.db"),
        ("example.org:8448", "postgresql://ranvier:p@ss w0rd@db/ranvier?sslmode=disable"),
        ("[::1]:8448", "/var/lib/ranvier/ranvier.db"),
        ("true", "yes"),  # YAML look-alikes must stay strings
    ],
)
def test_choices_are_filled_in(tmp_path: Path, server_name: str, database: str) -> None:
    text = render_config(server_name=server_name, database=database, private_key="k e y.pem")
    config = parse_config_text(text, tmp_path)
    assert config.server_name == server_name
    if database.startswith("postgresql://"):
        assert config.database.connection_string == database
    else:
        assert config.database.dialect == "sqlite"
        assert config.database.connection_string.endswith(database.removeprefix("file:"))
    assert config.global_.private_key == tmp_path / "k e y.pem"


def test_every_section_is_commented(tmp_path: Path) -> None:
    text = render_config()
    data = yaml.safe_load(text)
    assert set(data) == {
        "version",
        "global",
        "client_api",
        "federation_api",
        "media_api",
        "sync_api",
        "user_api",
        "logging",
    }
    lines = text.splitlines()
    for i, line in enumerate(lines):
        # each top-level section is introduced by, or its first key preceded by, a comment
        if line and not line.startswith((" ", "#", "-")) and line.endswith(":"):
            window = lines[max(0, i - 3) : i + 3]
            assert any(w.strip().startswith("#") for w in window), line
