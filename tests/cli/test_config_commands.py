"""generate-config, check-config and config errors, through the real command."""

from __future__ import annotations

from pathlib import Path

from ranvier.config import parse_config, parse_config_text
from tests.cli.helpers import ranvier


def test_generate_config_output_loads_back_to_defaults(tmp_path: Path) -> None:
    out = ranvier("generate-config")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("# ranvier configuration.")
    assert parse_config_text(out.stdout, tmp_path) == parse_config({}, tmp_path)


def test_generate_config_choices(tmp_path: Path) -> None:
    dsn = "postgresql://ranvier@127.0.0.1/ranvier"
    out = ranvier("generate-config", "--server-name", "example.org:8448", "--database", dsn)
    assert out.returncode == 0, out.stderr
    config = parse_config_text(out.stdout, tmp_path)
    assert config.server_name == "example.org:8448"
    assert config.database.connection_string == dsn


def test_generate_config_rejects_bad_choices_with_status_2() -> None:
    out = ranvier("generate-config", "--server-name", "bad name", "--database", "mysql://x")
    assert out.returncode == 2
    assert "--server-name: expected a server name" in out.stderr
    assert "--database: expected postgresql://" in out.stderr
    assert out.stdout == ""


def test_generate_config_output_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "r.yaml"
    target.write_text("mine\n")
    out = ranvier("generate-config", "--output", str(target))
    assert out.returncode == 1
    assert "already exists" in out.stderr
    assert target.read_text() == "mine\n"


def test_invalid_config_exits_2_listing_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "global:\n  server_name: ''\n  database:\n    max_open_conns: lots\n"
        "user_api:\n  bcrypt_cost: 2\nclient_api:\n  rate_limiting:\n    cooloff_ms: soon\n"
    )
    for command in ("run", "migrate", "check-config"):
        out = ranvier(command, "--config", str(config))
        assert out.returncode == 2, (command, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert lines[0] == f"ranvier: invalid configuration in {config}:"
        assert sorted(line.strip().split(":")[0] for line in lines[1:]) == [
            "client_api.rate_limiting.cooloff_ms",
            "global.database.max_open_conns",
            "global.server_name",
            "user_api.bcrypt_cost",
        ]
        assert "Traceback" not in out.stderr
    assert not (tmp_path / "ranvier.db").exists()  # nothing was started


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    out = ranvier("run", "--config", str(tmp_path / "absent.yaml"))
    assert out.returncode == 2
    assert "cannot read config file" in out.stderr


def test_check_config_reports_missing_key_then_ok(tmp_path: Path) -> None:
    out = ranvier("generate-config", "--output", str(tmp_path / "r.yaml"))
    assert out.returncode == 0
    out = ranvier("check-config", "--config", str(tmp_path / "r.yaml"))
    assert out.returncode == 1
    assert "ranvier generate-keys --private-key" in out.stderr
    key = tmp_path / "matrix_key.pem"
    assert ranvier("generate-keys", "--private-key", str(key)).returncode == 0
    out = ranvier("check-config", "--config", str(tmp_path / "r.yaml"))
    assert out.returncode == 0, out.stderr
    assert "server name:  localhost" in out.stdout
    assert "registration: disabled" in out.stdout


def test_usage_errors_exit_2() -> None:
    assert ranvier().returncode == 2
    assert ranvier("frobnicate").returncode == 2
    assert ranvier("run").returncode == 2  # --config is required
