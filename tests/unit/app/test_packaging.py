"""What ships: the build script the image runs, and the commands, settings and health check that
the Dockerfile, compose.yaml and the systemd units name (checked here, where there is no docker
and no systemd to run them)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from shopbridge import __version__
from shopbridge.cli import main
from shopbridge.config import Settings
from shopbridge.store import SecretBox
from shopbridge.store.secrets import SECRET_KEY_VARIABLE

ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = ROOT / "packaging" / "build.sh"
UNITS = (
    ROOT / "deploy" / "shopbridge-serve.service",
    ROOT / "deploy" / "shopbridge-worker@.service",
)
BUILT_PREFIX_VARIABLE = "SHOPBRIDGE_TEST_BUILT_PREFIX"


def _build_wanted() -> bool:
    return os.environ.get("CI", "").lower() == "true" or bool(
        os.environ.get("SHOPBRIDGE_TEST_BUILD")
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """shopbridge installed by packaging/build.sh in a folder of its own: the one .ci/run built
    before the suite (SHOPBRIDGE_TEST_BUILT_PREFIX), else a new one. Building takes one to two
    minutes (a virtual environment and every dependency), so outside CI it runs only when
    SHOPBRIDGE_TEST_BUILD=1 asks for it."""
    given = os.environ.get(BUILT_PREFIX_VARIABLE)
    if given:
        return Path(given)
    if not _build_wanted():
        pytest.skip("building the package takes minutes: CI=true or SHOPBRIDGE_TEST_BUILD=1")
    prefix = tmp_path_factory.mktemp("build") / "shopbridge"
    completed = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--prefix", str(prefix)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return prefix


def test_the_built_package_prints_its_version_from_its_own_copy(installed: Path) -> None:
    """The installed command prints this source's version, and runs the package copied into
    the prefix, not the source tree (never an editable install)."""
    version = subprocess.run(
        [str(installed / "bin" / "shopbridge"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert version.stdout.strip() == f"shopbridge, version {__version__}"
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import shopbridge; print(shopbridge.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=installed,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed)


def test_the_build_script_refuses_to_install_over_a_folder_in_use(tmp_path: Path) -> None:
    """A prefix that holds anything is refused before anything is installed into it."""
    (tmp_path / "something").write_text("mine\n")
    completed = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--prefix", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert f"{tmp_path} is not empty" in completed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["something"]
    missing = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True)
    assert missing.returncode == 2
    assert "--prefix" in missing.stderr


def test_the_changelog_releases_this_version() -> None:
    """The newest release in CHANGELOG.md is the version `shopbridge --version` prints."""
    releases = re.findall(r"^## \[(\d[^\]]*)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert releases, "CHANGELOG.md lists no release"
    assert releases[0] == __version__
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text


# -- the commands and settings that the deployment files name ------------------------------


def _compose_commands() -> list[list[str]]:
    text = (ROOT / "compose.yaml").read_text()
    return [json.loads(listed) for listed in re.findall(r"^\s*command: (\[.*\])\s*$", text, re.M)]


def _dockerfile_instruction(name: str) -> str:
    """The text of a Dockerfile instruction, its continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    [line] = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    return line[len(name) + 1 :].strip()


def _unit_commands() -> list[list[str]]:
    commands = []
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                commands.append(shlex.split(line.removeprefix("ExecStart=")))
    return commands


def _assert_is_a_shopbridge_command(argv: list[str]) -> None:
    assert Path(argv[0]).name == "shopbridge", argv
    result = CliRunner().invoke(main, [*argv[1:], "--help"])
    assert result.exit_code == 0, f"{argv}: {result.output}"


def test_every_command_the_deployment_files_run_exists() -> None:
    """compose.yaml's services, the Dockerfile's CMD and the units' ExecStart are real
    shopbridge commands: db upgrade, serve and worker."""
    compose = _compose_commands()
    docker = [json.loads(_dockerfile_instruction("CMD"))]
    units = _unit_commands()
    assert sorted(" ".join(c[1:]) for c in compose) == ["db upgrade", "serve", "worker"]
    assert sorted(" ".join(c[1:]) for c in units) == ["serve", "worker"]
    for argv in [*compose, *docker, *units]:
        _assert_is_a_shopbridge_command(argv)


def test_every_variable_the_deployment_files_set_is_a_setting() -> None:
    """A misspelt SHOPBRIDGE_ variable would be refused by load_settings at start; caught here
    instead, for compose.yaml, the example environment file and the Dockerfile."""
    known = {f"SHOPBRIDGE_{f.name.upper()}" for f in fields(Settings)} | {SECRET_KEY_VARIABLE}
    texts = [
        (ROOT / "compose.yaml").read_text(),
        (ROOT / "deploy" / "shopbridge.env.example").read_text(),
        (ROOT / "Dockerfile").read_text(),
    ]
    named = {name for text in texts for name in re.findall(r"\b(SHOPBRIDGE_[A-Z_]+)[:=]", text)}
    # compose.yaml's own knob (where to publish the port) is not a setting of shopbridge's.
    named.discard("SHOPBRIDGE_PUBLISH")
    assert {"SHOPBRIDGE_DATABASE_URL", SECRET_KEY_VARIABLE} <= named
    assert named <= known, sorted(named - known)


def test_compose_runs_the_migration_once_before_the_service_and_two_workers() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert "condition: service_completed_successfully" in text
    assert "condition: service_healthy" in text
    assert re.search(r"^\s*replicas: 2\s*$", text, re.M)
    assert "image: postgres:15" in text
    assert "pg_isready" in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_systemd_units_pass_systemd_analyze(tmp_path: Path) -> None:
    """Each unit is valid for systemd, once its ExecStart points at a shopbridge that exists."""
    here = shutil.which("shopbridge", path=str(Path(sys.executable).parent))
    assert here is not None
    for unit in UNITS:
        text = unit.read_text().replace("/opt/shopbridge/bin/shopbridge", here)
        for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "Restart=on-failure"):
            assert option in text, f"{unit.name} lacks {option}"
        name = unit.name.replace("@.", "@1.")
        (tmp_path / name).write_text(text)
        verified = subprocess.run(
            ["systemd-analyze", "verify", str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verified.returncode == 0, verified.stderr
        assert "User=shopbridge" in text and "EnvironmentFile=" in text


def test_the_image_healthcheck_passes_on_serve_and_fails_without_it(tmp_path: Path) -> None:
    """The Dockerfile's HEALTHCHECK command, as docker would run it, against a real `serve`."""
    instruction = _dockerfile_instruction("HEALTHCHECK")
    check = json.loads(instruction[instruction.index("CMD ") + 4 :])
    assert check[0] == "python"
    check[0] = sys.executable
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment |= {"SHOPBRIDGE_PORT": str(port), SECRET_KEY_VARIABLE: SecretBox.generate_key()}

    def healthy() -> bool:
        answer = subprocess.run(check, env=environment, capture_output=True, timeout=30)
        return answer.returncode == 0

    assert not healthy()
    serve = subprocess.Popen(
        [sys.executable, "-m", "shopbridge", "serve"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not healthy():
            assert serve.poll() is None, "serve stopped"
            assert time.monotonic() < deadline, "serve never became healthy"
            time.sleep(0.3)
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    assert serve.returncode == 0
