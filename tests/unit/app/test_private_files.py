"""What shopbridge creates for its database and its secret key is for its own account only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from shopbridge.cli import main
from shopbridge.store import create_db_engine


@pytest.fixture
def fresh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A new working folder with no database URL, config or key in the environment, under the
    usual umask 022, so that the permissions seen come from shopbridge, not from the umask."""
    monkeypatch.chdir(tmp_path)
    for name in ("SHOPBRIDGE_DATABASE_URL", "SHOPBRIDGE_CONFIG", "SHOPBRIDGE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    previous = os.umask(0o022)
    yield tmp_path
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_db_upgrade_in_a_fresh_folder_makes_var_and_the_database_private(
    fresh_folder: Path,
) -> None:
    """`shopbridge db upgrade` creates var/ 0700 and the SQLite file 0600, and the -wal and
    -shm files SQLite makes while the database is open are 0600 too."""
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    var = fresh_folder / "var"
    database = var / "shopbridge.sqlite3"
    assert mode(var) == 0o700
    assert mode(database) == 0o600
    engine = create_db_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
            journals = [database.with_name(database.name + end) for end in ("-wal", "-shm")]
            assert {path.name: mode(path) for path in journals} == {
                "shopbridge.sqlite3-wal": 0o600,
                "shopbridge.sqlite3-shm": 0o600,
            }
    finally:
        engine.dispose()


def test_the_generated_secret_key_file_is_private(fresh_folder: Path) -> None:
    """Without SHOPBRIDGE_SECRET_KEY the key file shopbridge writes beside the database is
    0600, and nothing in var/ is readable by others."""
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["connections"])
    assert result.exit_code == 0, result.output
    var = fresh_folder / "var"
    assert mode(var / "secret.key") == 0o600
    assert {path.name: mode(path) for path in var.iterdir()} == {
        path.name: 0o600 for path in var.iterdir()
    }
    assert mode(var) == 0o700


def test_a_database_placed_by_the_operator_keeps_its_permissions(fresh_folder: Path) -> None:
    """A database file that exists already is migrated, its permissions left as they were."""
    shared = fresh_folder / "shared"
    shared.mkdir(mode=0o750)
    database = shared / "shopbridge.sqlite3"
    database.touch(mode=0o640)
    result = CliRunner().invoke(main, ["db", "upgrade", "--database-url", f"sqlite:///{database}"])
    assert result.exit_code == 0, result.output
    assert (mode(shared), mode(database)) == (0o750, 0o640)
