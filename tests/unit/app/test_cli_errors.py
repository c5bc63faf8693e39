"""Every failure of the command line is one line on stderr saying what to do, with a non-zero
status and no traceback (`--debug` shows it): databases, settings, the secret key, the serve
port, a shop that cannot be reached, a connection that does not exist, Ctrl-C at start-up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shopbridge.cli import main
from shopbridge.clock import SystemClock
from shopbridge.store import SecretBox, Store, create_db_engine, upgrade_database
from shopbridge.store.secrets import SECRET_KEY_VARIABLE


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of its own (the default database and key file go to ./var), with no
    shopbridge settings inherited from the environment."""
    for name in list(os.environ):
        if name.startswith("SHOPBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin)


def _one_line_error(result: Result) -> str:
    """The single error line of a failed command (and proof that nothing else was shown)."""
    assert result.exit_code not in (0, None), result.output
    # A command that escaped the handler would leave its exception here, not a SystemExit.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def _sqlite_url(folder: Path, name: str = "shopbridge.sqlite3") -> str:
    return f"sqlite:///{folder / name}"


def _database_with_a_connection(url: str, key: str) -> None:
    """A migrated database holding one connection whose secrets are encrypted with `key`."""
    upgrade_database(url)
    engine = create_db_engine(url)
    try:
        Store(engine, SystemClock(), SecretBox(key)).add_connection(
            name="Elsewhere",
            tiktok_shop_id="7494049642642441621",
            tiktok_access_token="tiktok-access-token",
            shopify_domain="elsewhere.myshopify.com",
            shopify_access_token="shpat_elsewhere",
        )
    finally:
        engine.dispose()


# -- the database URL ----------------------------------------------------------------------


def test_unreachable_postgresql_is_one_line_naming_the_setting(workdir: Path) -> None:
    """Nothing listens on port 1: the driver's reason, where the URL is set, and never the
    URL's password."""
    result = _run("connections", "--database-url", "postgresql://u:hunter22@127.0.0.1:1/db")
    line = _one_line_error(result)
    assert result.exit_code == 1
    assert "cannot connect to the database" in line
    assert "refused" in line.lower()
    assert "SHOPBRIDGE_DATABASE_URL" in line
    assert "hunter22" not in result.output


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "it is not a URL"),
        ("mysql://u:hunter22@localhost/db", "SQLite or PostgreSQL, not 'mysql'"),
        ("postgresql://u:hunter22@localhost:five/db", "its port is not a number"),
    ],
)
def test_database_urls_shopbridge_cannot_use_are_refused_at_once(
    workdir: Path, url: str, reason: str
) -> None:
    """A malformed URL or another database's scheme is refused when the settings are read,
    naming the setting, its source and the two accepted shapes."""
    result = _run("orders", "--database-url", url)
    line = _one_line_error(result)
    assert result.exit_code == 2
    assert "database_url in the command line" in line
    assert reason in line
    assert "postgresql://USER:PASSWORD@HOST/DB" in line
    assert "hunter22" not in result.output


def test_the_environment_variable_is_named_as_the_source(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPBRIDGE_DATABASE_URL", "mysql://localhost/db")
    line = _one_line_error(_run("connections"))
    assert "database_url in the environment" in line


def test_debug_shows_the_traceback(workdir: Path) -> None:
    """`--debug` lets the error through with its traceback, for a bug report."""
    unreachable = "postgresql://u:p@127.0.0.1:1/db"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "shopbridge",
            "--debug",
            "connections",
            "--database-url",
            unreachable,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=workdir,
    )
    assert completed.returncode != 0
    assert "Traceback" in completed.stderr
    assert "OperationalError" in completed.stderr


def test_a_schema_newer_than_this_shopbridge_says_so(workdir: Path) -> None:
    """A database upgraded by a newer shopbridge (a revision this one does not ship)."""
    url = _sqlite_url(workdir)
    upgrade_database(url)
    engine = create_db_engine(url)
    with engine.begin() as db:
        db.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    line = _one_line_error(_run("orders", "--database-url", url))
    assert "'9999'" in line
    assert "newer shopbridge" in line


# -- the secret key ------------------------------------------------------------------------


def test_a_secret_key_that_is_not_a_fernet_key_is_named(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_KEY_VARIABLE, "not-a-key")
    line = _one_line_error(_run("connections", "--database-url", _sqlite_url(workdir)))
    assert f"{SECRET_KEY_VARIABLE} is not a usable key" in line
    assert "Fernet.generate_key()" in line
    assert "not-a-key" not in line


def test_a_wrong_secret_key_is_named_by_commands_and_stops_the_worker_at_start(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connections were saved with another key (a demo's database, another machine's
    key file): the commands say which variable to set, and a worker does not start at all."""
    url = _sqlite_url(workdir)
    _database_with_a_connection(url, SecretBox.generate_key())
    monkeypatch.setenv(SECRET_KEY_VARIABLE, SecretBox.generate_key())
    listing = _one_line_error(_run("connections", "--database-url", url))
    assert "cannot be decrypted" in listing
    assert SECRET_KEY_VARIABLE in listing
    started = _one_line_error(_run("worker", "--database-url", url))
    assert "stored secrets cannot be decrypted" in started
    assert SECRET_KEY_VARIABLE in started


def test_the_secret_key_warning_stays_off_the_commands_output(workdir: Path) -> None:
    """Without SHOPBRIDGE_SECRET_KEY a key file is used, with a warning: on stderr, so what
    `shopbridge orders` prints can be read by a script."""
    result = _run("orders")
    assert result.exit_code == 0, result.output
    assert result.stdout == "no mirrored orders yet\n"
    assert SECRET_KEY_VARIABLE in result.stderr
    assert (workdir / "var" / "secret.key").exists()


# -- connect -------------------------------------------------------------------------------


def _connect(workdir: Path, *extra: str) -> Result:
    secret = workdir / "secret.txt"
    secret.write_text("a-secret\n")
    return _run(
        "connect",
        "--database-url",
        _sqlite_url(workdir),
        "--name",
        "My shop",
        "--tiktok-app-key",
        "key",
        "--tiktok-app-secret-file",
        str(secret),
        "--tiktok-auth-code-file",
        str(secret),
        "--shopify-domain",
        "my-store.myshopify.com",
        "--shopify-access-token-file",
        str(secret),
        "--shopify-client-secret-file",
        str(secret),
        *extra,
    )


def test_a_shop_host_that_does_not_resolve_is_not_called_a_refusal(workdir: Path) -> None:
    """A `.invalid` name never resolves (RFC 2606), so nothing leaves this machine: the
    platform was never reached, and the line says so instead of blaming the credentials."""
    result = _connect(
        workdir,
        "--tiktok-auth-url",
        "https://auth.shopbridge-test.invalid",
        "--tiktok-api-url",
        "https://api.shopbridge-test.invalid",
    )
    line = _one_line_error(result)
    assert "could not reach TikTok Shop" in line
    assert "auth.shopbridge-test.invalid could not be resolved" in line
    assert "refused the credentials" not in line
    assert "nothing was saved" in line


def test_an_unknown_timezone_is_refused_before_anything_is_asked(workdir: Path) -> None:
    line = _one_line_error(_connect(workdir, "--timezone", "Mars/Olympus"))
    assert "--timezone" in line
    assert "'Mars/Olympus' is not an IANA timezone" in line


# -- connection ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["orders", "--connection", "99"],
        ["inventory", "sync", "--connection", "99"],
        ["inventory", "import-links", "--connection", "99", "links.csv"],
        ["user", "create", "--email", "a@example.com", "--password-stdin", "--connection", "99"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_every_command_taking_a_connection_refuses_one_that_does_not_exist(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """Connection #1 exists, #99 does not: each command names the missing one and where to
    see the others, before doing anything (the user's password is not even read)."""
    (workdir / "links.csv").write_text("tiktok_sku,shopify_sku\nA,B\n")
    key = SecretBox.generate_key()
    monkeypatch.setenv(SECRET_KEY_VARIABLE, key)
    url = _sqlite_url(workdir)
    _database_with_a_connection(url, key)
    result = _run(*command, "--database-url", url, stdin="a long enough password 42\n")
    line = _one_line_error(result)
    assert "no connection 99 (there are: #1;" in line
    assert "shopbridge connections" in line


# -- serve ---------------------------------------------------------------------------------


class _Serve:
    """`shopbridge serve` as its own process, its output in files (a pipe nobody reads while it
    runs could fill up and stall it)."""

    def __init__(self, workdir: Path, port: int) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
        environment[SECRET_KEY_VARIABLE] = SecretBox.generate_key()
        self.out, self.err = workdir / "serve.out", workdir / "serve.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "shopbridge", "serve", "--port", str(port)],
                cwd=workdir,
                env=environment,
                stdout=out,
                stderr=err,
            )

    def interrupt(self, after: float) -> float:
        """Send SIGINT `after` seconds from now; how long it took to end once sent."""
        time.sleep(after)
        sent = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        finally:
            self.process.kill()
        return time.monotonic() - sent

    @property
    def stdout(self) -> str:
        return self.out.read_text()

    @property
    def stderr(self) -> str:
        return self.err.read_text()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_on_a_port_in_use_says_so_before_announcing_itself(workdir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        serve = _Serve(workdir, port)
        serve.process.wait(timeout=60)
    assert serve.process.returncode == 1
    assert "Traceback" not in serve.stderr
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in serve.stderr
    assert "--port" in serve.stderr
    assert " on http://" not in serve.stdout
    # Refused before the database was touched.
    assert not (workdir / "var" / "shopbridge.sqlite3").exists()


def test_a_second_serve_is_refused_while_the_first_is_still_starting(workdir: Path) -> None:
    """The port is held from the first moment: a second serve started while the first is still
    migrating gets the one line too, and the first goes on to serve."""
    port = _free_port()
    first = _Serve(workdir, port)
    deadline = time.monotonic() + 60
    while not _accepts(port):
        assert first.process.poll() is None, first.stderr
        assert time.monotonic() < deadline, "the first serve never took the port"
        time.sleep(0.02)
    second_folder = workdir / "second"
    second_folder.mkdir()
    second = _Serve(second_folder, port)
    second.process.wait(timeout=60)
    assert second.process.returncode == 1
    assert "Traceback" not in second.stderr
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in second.stderr
    deadline = time.monotonic() + 120
    while f" on http://127.0.0.1:{port}" not in first.stdout:
        assert first.process.poll() is None, first.stderr
        assert time.monotonic() < deadline, "the first serve never announced itself"
        time.sleep(0.1)
    first.interrupt(0)
    assert "Traceback" not in first.stderr


@pytest.mark.parametrize("after", [0.3, 1.0])
def test_ctrl_c_while_serve_starts_ends_it_at_once(workdir: Path, after: float) -> None:
    """SIGINT while modules load and the database is migrated (the first second or two):
    one line, status 130, no traceback, within a moment."""
    serve = _Serve(workdir, _free_port())
    took = serve.interrupt(after)
    assert serve.process.returncode == 130, serve.stderr
    assert "Traceback" not in serve.stderr
    assert serve.stderr.splitlines()[-1] == "shopbridge: interrupted"
    # At once: about 0.1 s on an idle machine; the bound leaves room for a loaded one.
    assert took < 10, f"{took:.1f} s"


def test_ctrl_c_once_serving_stops_it_cleanly(workdir: Path) -> None:
    port = _free_port()
    serve = _Serve(workdir, port)
    deadline = time.monotonic() + 180
    while f" on http://127.0.0.1:{port}" not in serve.stdout or not _accepts(port):
        if serve.process.poll() is not None or time.monotonic() > deadline:
            serve.process.kill()
            pytest.fail(f"serve did not start listening: {serve.stderr[-2000:]}")
        time.sleep(0.1)
    took = serve.interrupt(0)
    assert serve.process.returncode == 130, serve.stderr
    assert "Traceback" not in serve.stderr
    assert serve.stderr.splitlines()[-1] == "shopbridge: interrupted"
    assert took < 30, f"{took:.1f} s"


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
