"""`shopbridge connect` and `shopbridge connections` against both sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from shopbridge.bootstrap import open_store
from shopbridge.cli import main
from shopbridge.clock import SystemClock
from shopbridge.config import Settings
from shopbridge.store import SecretBox
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox
from shopbridge_sandbox.tiktok import TikTokSandbox


@dataclass
class Platforms:
    tiktok: TikTokSandbox
    shopify: ShopifySandbox
    tiktok_url: str
    shopify_url: str


@pytest.fixture
def platforms() -> Iterator[Platforms]:
    tiktok = TikTokSandbox(clock=SystemClock(), faults=Faults())
    shopify = ShopifySandbox(clock=SystemClock(), faults=Faults())
    with BackgroundServer(tiktok.app) as t, BackgroundServer(shopify.app) as s:
        yield Platforms(tiktok, shopify, t.base_url, s.base_url)


SECRETS = (
    "--tiktok-app-secret",
    "--tiktok-auth-code",
    "--shopify-access-token",
    "--shopify-client-secret",
)


# Keeps the tests that only list connections from writing a key file in ./var.
KEY = {"SHOPBRIDGE_SECRET_KEY": SecretBox.generate_key()}


def connect_args(p: Platforms, db: str, **overrides: str) -> list[str]:
    return as_args(connect_options(p, db, **overrides))


def as_args(options: dict[str, str]) -> list[str]:
    return ["connect", *[part for pair in options.items() for part in pair]]


def variable(option: str) -> str:
    return "SHOPBRIDGE_" + option.removeprefix("--").upper().replace("-", "_")


def secrets_to_environment(options: dict[str, str]) -> dict[str, str | None]:
    """Move every secret out of `options` into the environment CliRunner gives `connect`."""
    return {variable(option): options.pop(option) for option in SECRETS}


def connect_options(p: Platforms, db: str, **overrides: str) -> dict[str, str]:
    shop = p.tiktok.add_shop(name="Demo", region="GB")
    store = p.shopify.add_shop("demo")
    return {
        "--database-url": db,
        "--name": "Demo GB",
        "--tiktok-app-key": shop.app_key,
        "--tiktok-app-secret": shop.app_secret,
        "--tiktok-auth-code": p.tiktok.issue_auth_code(shop.shop_id),
        "--tiktok-api-url": p.tiktok_url,
        "--tiktok-auth-url": p.tiktok_url,
        "--shopify-domain": store.domain,
        "--shopify-access-token": store.access_token,
        "--shopify-client-secret": store.client_secret,
        "--shopify-api-url": p.shopify_url,
        "--carrier": "Royal Mail=Royal Mail",
        **overrides,
    }


def test_connect_exchanges_the_auth_code_and_lists_the_connection(
    platforms: Platforms, tmp_path: Path
) -> None:
    """An auth code is exchanged for tokens, the shop's cipher found, and the pairing listed."""
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    runner = CliRunner()
    result = runner.invoke(main, connect_args(platforms, db))
    assert result.exit_code == 0, result.output
    assert "connected #1 Demo GB" in result.output
    assert "(GB)" in result.output
    listed = runner.invoke(main, ["connections", "--database-url", db])
    assert "Demo GB" in listed.output
    assert "reconciled never" in listed.output


def test_connect_with_a_wrong_secret_says_what_failed(platforms: Platforms, tmp_path: Path) -> None:
    """A wrong Shopify token is refused with Shopify's words, and nothing is stored."""
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    runner = CliRunner()
    result = runner.invoke(main, connect_args(platforms, db, **{"--shopify-access-token": "nope"}))
    assert result.exit_code == 1
    assert "Shopify refused the credentials" in result.output
    assert "no connections yet" in runner.invoke(main, ["connections", "--database-url", db]).output


def test_holdback_below_an_hour_is_refused(platforms: Platforms, tmp_path: Path) -> None:
    """The holdback cannot be set below TikTok's 60-minute remorse window."""
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    result = CliRunner().invoke(main, connect_args(platforms, db, **{"--holdback-minutes": "30"}))
    assert result.exit_code == 2
    assert "30 is not in the range x>=60" in result.output


def test_connect_with_an_own_organization_app_uses_client_credentials(
    platforms: Platforms, tmp_path: Path
) -> None:
    """No pasted token: the client-credentials grant gives one, and the connection renews it."""

    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    app = platforms.shopify.app_settings()
    args = connect_args(
        platforms,
        db,
        **{
            "--shopify-access-token": "",
            "--shopify-client-id": app["client_id"],
            "--shopify-client-secret": app["client_secret"],
        },
    )
    key = SecretBox.generate_key()
    result = CliRunner().invoke(main, args, env={"SHOPBRIDGE_SECRET_KEY": key})
    assert result.exit_code == 0, result.output
    store = open_store(Settings(database_url=db), clock=SystemClock(), secret_box=SecretBox(key))
    [connection] = store.list_connections()
    assert connection.shopify_auth == "client_credentials"
    tokens = store.tokens(connection.id, "shopify")
    assert tokens is not None and tokens.expires_at is not None and tokens.refresh_token is None


def test_secrets_from_the_environment_connect_without_a_warning(
    platforms: Platforms, tmp_path: Path
) -> None:
    """Every secret in its SHOPBRIDGE_... variable: nothing secret on the command line, no
    warning, and the pairing is made."""
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    options = connect_options(platforms, db)
    env = {**secrets_to_environment(options), "SHOPBRIDGE_SECRET_KEY": SecretBox.generate_key()}
    result = CliRunner().invoke(main, as_args(options), env=env)
    assert result.exit_code == 0, result.output
    assert "connected #1 Demo GB" in result.stdout
    assert "visible in ps" not in result.stderr


def test_secrets_from_files_use_their_first_line_stripped(
    platforms: Platforms, tmp_path: Path
) -> None:
    """Each --...-file gives the first line of its file, without surrounding blanks; what the
    platforms do not check (the Shopify client secret) is stored as read."""
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    options = connect_options(platforms, db)
    client_secret = options["--shopify-client-secret"]
    for option in SECRETS:
        secret_file = tmp_path / option.removeprefix("--")
        secret_file.write_text(f"  {options.pop(option)}\t\nnot this line\n")
        options[f"{option}-file"] = str(secret_file)
    key = SecretBox.generate_key()
    result = CliRunner().invoke(main, as_args(options), env={"SHOPBRIDGE_SECRET_KEY": key})
    assert result.exit_code == 0, result.output
    assert "visible in ps" not in result.stderr
    store = open_store(Settings(database_url=db), clock=SystemClock(), secret_box=SecretBox(key))
    [connection] = store.list_connections()
    assert connection.shopify_client_secret == client_secret


def test_a_secret_on_the_command_line_still_works_but_warns(
    platforms: Platforms, tmp_path: Path
) -> None:
    """The plain options keep working for existing scripts, each with a one-line warning."""
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    env = {"SHOPBRIDGE_SECRET_KEY": SecretBox.generate_key()}
    result = CliRunner().invoke(main, connect_args(platforms, db), env=env)
    assert result.exit_code == 0, result.output
    warned = ["--tiktok-app-secret", "--tiktok-auth-code"]
    warned += ["--shopify-client-secret", "--shopify-access-token"]
    warnings = [line for line in result.stderr.splitlines() if "visible in ps" in line]
    assert warnings == [
        f"warning: {option} is visible in ps and shell history; "
        f"use {variable(option)} or {option}-file"
        for option in warned
    ]


@pytest.mark.parametrize(
    ("missing", "error"),
    [
        (
            "--shopify-client-secret",
            "Error: no Shopify client secret: set SHOPBRIDGE_SHOPIFY_CLIENT_SECRET or give "
            "--shopify-client-secret-file PATH",
        ),
        (
            "--tiktok-auth-code",
            "Error: no TikTok authorization code: set SHOPBRIDGE_TIKTOK_AUTH_CODE or give "
            "--tiktok-auth-code-file PATH; or, for a TikTok seller access token, set "
            "SHOPBRIDGE_TIKTOK_ACCESS_TOKEN or give --tiktok-access-token-file PATH",
        ),
    ],
)
def test_a_missing_secret_without_a_terminal_is_one_line_naming_its_sources(
    platforms: Platforms, tmp_path: Path, missing: str, error: str
) -> None:
    """No terminal to ask on: one line says which variable or file option gives the secret,
    and nothing is stored."""
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    options = connect_options(platforms, db)
    env = secrets_to_environment(options)
    env[variable(missing)] = None
    runner = CliRunner()
    result = runner.invoke(main, as_args(options), env=env)
    assert result.exit_code == 2
    assert result.output.splitlines() == [error]
    listed = runner.invoke(main, ["connections", "--database-url", db], env=KEY)
    assert "no connections yet" in listed.output


def test_an_unreadable_or_empty_secret_file_is_refused(
    platforms: Platforms, tmp_path: Path
) -> None:
    """A secret file that is missing, empty, or given with the option itself is one clear
    line, and nothing is stored."""
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    options = connect_options(platforms, db)
    env = secrets_to_environment(options)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    missing = tmp_path / "missing"
    runner = CliRunner()
    cases = {
        f"Error: cannot read --tiktok-app-secret-file {missing}: No such file or directory": [
            "--tiktok-app-secret-file",
            str(missing),
        ],
        f"Error: --shopify-client-secret-file {empty} is empty: the secret goes on line 1": [
            "--shopify-client-secret-file",
            str(empty),
        ],
        "Error: give --shopify-access-token or --shopify-access-token-file, not both": [
            "--shopify-access-token",
            "shpat_x",
            "--shopify-access-token-file",
            str(empty),
        ],
    }
    for error, extra in cases.items():
        result = runner.invoke(main, [*as_args(options), *extra], env=env)
        assert result.exit_code == 2, result.output
        assert result.output.splitlines()[-1:] == [error]
    listed = runner.invoke(main, ["connections", "--database-url", db], env=KEY)
    assert "no connections yet" in listed.output


def test_a_missing_secret_is_asked_for_with_hidden_input_on_a_terminal(
    platforms: Platforms, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal a missing secret is asked for, not echoed, and used (TikTok checks the
    app secret's signatures)."""
    monkeypatch.setattr("shopbridge.cli._stdin_is_a_terminal", lambda: True)
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    options = connect_options(platforms, db)
    env = {**secrets_to_environment(options), "SHOPBRIDGE_SECRET_KEY": SecretBox.generate_key()}
    app_secret = env["SHOPBRIDGE_TIKTOK_APP_SECRET"]
    env["SHOPBRIDGE_TIKTOK_APP_SECRET"] = None
    assert app_secret
    result = CliRunner().invoke(main, as_args(options), env=env, input=f"{app_secret}\n")
    assert result.exit_code == 0, result.output
    assert "TikTok app secret:" in result.stderr
    assert app_secret not in result.output
    assert "connected #1 Demo GB" in result.stdout


def test_inventory_sync_links_and_corrects_with_a_progress_line(
    platforms: Platforms, tmp_path: Path
) -> None:
    """`shopbridge inventory sync` reads both catalogs, corrects TikTok's stock (Shopify less
    the default buffer), says what it could not link, and shows its progress."""
    from shopbridge_sandbox.shopify import VariantSpec
    from shopbridge_sandbox.tiktok import SkuSpec

    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    env = {"SHOPBRIDGE_SECRET_KEY": SecretBox.generate_key()}
    runner = CliRunner()
    assert runner.invoke(main, connect_args(platforms, db), env=env).exit_code == 0
    store = open_store(
        Settings(database_url=db), secret_box=SecretBox(env["SHOPBRIDGE_SECRET_KEY"])
    )
    shop_id = store.get_connection(1).tiktok_shop_id
    assert shop_id is not None
    platforms.tiktok.add_product(
        shop_id, "Tee", [SkuSpec("TEE", "10.00", 30), SkuSpec("HAT", "5.00", 4)]
    )
    platforms.shopify.add_product(
        "demo", "Tee", [VariantSpec(sku="TEE", price="10.00", available=12)]
    )

    result = runner.invoke(main, ["inventory", "sync", "--database-url", db], env=env)
    assert result.exit_code == 0, result.output
    assert platforms.tiktok.inventory(shop_id, "TEE") == 10
    assert platforms.tiktok.inventory(shop_id, "HAT") == 4, "not in Shopify: left alone"
    assert "Demo GB: Reading TikTok's catalog" in result.output
    assert "Comparing and correcting 2/2 (100 %)" in result.output
    assert "1 SKUs follow Shopify; 1 TikTok SKUs have no Shopify match" in result.output

    mapping = tmp_path / "mapping.csv"
    mapping.write_text("tiktok_sku,shopify_sku\nHAT,TEE\nHAT,CAP\n")
    refused = runner.invoke(
        main,
        ["inventory", "import-links", "--connection", "1", "--database-url", db, str(mapping)],
        env=env,
    )
    assert refused.exit_code == 1
    assert "row 2: TikTok SKU 'HAT' is mapped twice (also row 1)" in refused.output
    assert store.stock.links(1) == {}, "nothing of a bad file is saved"
