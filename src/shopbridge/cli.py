"""The `shopbridge` command."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from shopbridge import __version__
from shopbridge.clock import ClockSpec
from shopbridge.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from shopbridge.bootstrap import Shopbridge
    from shopbridge.store import Store


def _settings(ctx: click.Context, **flags: object) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), **flags)
    except ConfigError as error:
        raise _SettingUnusable(str(error)) from None


class _SettingUnusable(click.ClickException):
    """A setting (flag, variable or config file) that cannot be used: one line naming it, and a
    usage error's exit status."""

    exit_code = 2


class _Interrupted(click.ClickException):
    """Ctrl-C (SIGINT), at any moment of any command: one line and the shell's status for it."""

    exit_code = 130

    def __init__(self) -> None:
        super().__init__("interrupted")

    def show(self, file: Any = None) -> None:
        click.echo("shopbridge: interrupted", err=True)


class _Commands(click.Group):
    """The one place where a failure becomes one line on stderr and a non-zero status.

    Errors the operator can act on (an unreachable or unusable database, a setting, a secret
    key, a port, a name that does not resolve, a shop that cannot be connected, a record that
    does not exist) say what went wrong and what to do (`_explain`); anything else is named in
    one line too. `shopbridge --debug ...` lets every error through with its traceback.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            # click's own shape is three lines (usage, a hint, the error): one is enough.
            hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
            click.echo(f"Error: {error.format_message()}{hint}", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort as abort:
            if isinstance(abort.__cause__, KeyboardInterrupt):
                _Interrupted().show()
                sys.exit(_Interrupted.exit_code)
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                raise
            raise _Interrupted() from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: errors it shows, --help and --version, a refused prompt
        except Exception as error:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(_explain(error)) from None


def _explain(error: Exception) -> str:
    """One line saying what went wrong and what to do about it."""
    import sqlalchemy.exc
    from alembic.util.exc import CommandError

    from shopbridge.engine.connect import ConnectError
    from shopbridge.store import NotFound
    from shopbridge.store.anchor import ClockMismatch
    from shopbridge.store.secrets import SECRET_KEY_VARIABLE, SecretDecryptionError

    where = "check SHOPBRIDGE_DATABASE_URL (or --database-url)"
    if isinstance(error, sqlalchemy.exc.ArgumentError | sqlalchemy.exc.NoSuchModuleError):
        return (
            f"the database URL cannot be used ({_first_line(error)}): use sqlite:///PATH or "
            f"postgresql://USER:PASSWORD@HOST/DB; {where}"
        )
    if isinstance(error, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
        reason = _first_line(error.orig or error)
        if _is_connection_failure(reason):
            return (
                f"cannot connect to the database: {reason}; {where} and that the database "
                "server is running and reachable"
            )
        return f"cannot use the database: {reason}"
    if isinstance(error, CommandError) and "revision" in str(error):
        return (
            f"the database's schema is not one this shopbridge ({__version__}) knows: "
            f"{_first_line(error)}; it was upgraded by a newer shopbridge: run that one, or "
            "point SHOPBRIDGE_DATABASE_URL at another database"
        )
    if isinstance(error, SecretDecryptionError):
        return (
            f"{_first_line(error)} Set {SECRET_KEY_VARIABLE} to the key the connections were "
            "saved with (without it, var/secret.key is used), or connect the shops again"
        )
    if isinstance(error, ConfigError | ConnectError | ClockMismatch):
        return str(error)
    if isinstance(error, NotFound):
        return f"{error}: `shopbridge connections` lists the connections there are"
    if isinstance(error, socket.gaierror):
        return f"a host name could not be resolved ({error.strerror}): check the addresses set"
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return (
            "the address is already in use: stop what listens there, or choose another port "
            "with --port or SHOPBRIDGE_PORT"
        )
    if isinstance(error, OSError) and error.strerror:
        subject = f" {error.filename}" if error.filename else ""
        return f"cannot use{subject}: {error.strerror}"
    return (
        f"unexpected error: {type(error).__name__}: {_first_line(error)} "
        "(run `shopbridge --debug ...` again to see where)"
    )


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


def _is_connection_failure(reason: str) -> bool:
    """Whether the driver could not reach or log in to the server (psycopg) or open the file
    (SQLite), rather than failing on a statement."""
    words = (
        "connection failed",
        "could not connect",
        "connection refused",
        "unable to open",
        "resolve host",
    )
    return any(word in reason.lower() for word in words) or "password authentication" in reason


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shopbridge")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file.")
@click.option("--debug", is_flag=True, help="Show the traceback of any error.")
@click.pass_context
def main(ctx: click.Context, config_file: str | None, debug: bool) -> None:
    """Mirror TikTok Shop orders into Shopify: reserve at once, hold, release when safe."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_file


database_option = click.option(
    "--database-url", help="SQLAlchemy URL; default: SQLite in ./var (SHOPBRIDGE_DATABASE_URL)."
)


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
@database_option
@click.pass_context
def db_upgrade(ctx: click.Context, database_url: str | None) -> None:
    """Create or migrate the database schema to the latest version."""
    from shopbridge.store import upgrade_database

    url = _settings(ctx, database_url=database_url).resolved_database_url()
    upgrade_database(url)
    click.echo(f"database at {_safe(url)} is up to date")


clock_option = click.option(
    "--clock",
    help="system (default), or scaled:FACTOR to run time FACTOR times faster, shared by every "
    "process on the database (rehearsals).",
)


@main.command()
@database_option
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option(
    "--worker/--web-only",
    "serve_worker",
    default=None,
    help="Also run a worker in this process (default), or only the web app.",
)
@clock_option
@click.pass_context
def serve(
    ctx: click.Context,
    database_url: str | None,
    host: str | None,
    port: int | None,
    serve_worker: bool | None,
    clock: str | None,
) -> None:
    """Run the web app (merchant UI, health, webhooks) and a worker in one process."""
    settings = _settings(
        ctx, database_url=database_url, host=host, port=port, serve_worker=serve_worker, clock=clock
    )
    _run_service(settings, with_web=True)


@main.command()
@database_option
@clock_option
@click.pass_context
def worker(ctx: click.Context, database_url: str | None, clock: str | None) -> None:
    """Run a worker only (start several, on PostgreSQL, to scale out)."""
    settings = _settings(ctx, database_url=database_url, clock=clock)
    _run_service(settings, with_web=False)


def _run_service(settings: Settings, with_web: bool) -> None:
    """Start `serve` or `worker`: the slow start-up (the port, imports, migrating and opening
    the database) runs here, before the event loop.

    There a Ctrl-C is a KeyboardInterrupt at once, which the command group turns into one line
    and status 130; inside the loop, asyncio would only cancel a task stuck in that synchronous
    work, seconds later. The port is taken first, so a port in use is one line before anything
    else is done or printed, and uvicorn serves on that very socket (no second bind to race).
    """
    from shopbridge.logs import configure_logging

    secrets = (
        settings.shopify_client_secret,
        settings.tiktok_app_secret,
        settings.metrics_token,
        settings.smtp_url,
    )
    configure_logging(settings.log_level, settings.log_format, secrets=secrets)
    listener = _listen(settings.host, settings.port) if with_web else None
    exporter = None
    if not with_web and settings.metrics_port:
        from shopbridge.metrics import serve_worker_metrics

        exporter = serve_worker_metrics(settings.metrics_port, settings.metrics_host)
    try:
        from shopbridge.bootstrap import bootstrap

        if with_web:
            import uvicorn  # noqa: F401  (loaded here, where a Ctrl-C ends it at once)

            import shopbridge.web.app  # noqa: F401
        service = bootstrap(settings)
        stopped_by = asyncio.run(_serve(settings, service, listener))
    finally:
        if listener is not None:
            listener.close()
        if exporter is not None:
            exporter.stop()
    if stopped_by == signal.SIGINT:
        raise KeyboardInterrupt


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port for the web app, or one line saying why it cannot be."""
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise click.ClickException(
            f"cannot listen on {where}: {host!r} is not an address of this machine "
            f"({error.strerror}); check --host or SHOPBRIDGE_HOST"
        ) from None
    listener = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a restart may bind while the last run's connections linger in
        # TIME_WAIT. A socket that is listening still refuses a second one (EADDRINUSE).
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        # Listening at once holds the port against another process: two sockets with
        # SO_REUSEADDR may both bind a port while neither listens. Connections that arrive
        # while the database is migrated wait in the backlog until uvicorn accepts them.
        listener.listen(2048)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            reason = (
                "the port is already in use (another shopbridge?): stop what listens there, or "
                "choose another port with --port or SHOPBRIDGE_PORT"
            )
        elif error.errno == errno.EADDRNOTAVAIL:
            reason = "this machine has no such address: check --host or SHOPBRIDGE_HOST"
        elif error.errno == errno.EACCES:
            reason = "a port below 1024 needs privileges: choose one above 1023 with --port"
        else:
            reason = f"{error.strerror or error}"
        raise click.ClickException(f"cannot listen on {where}: {reason}") from None
    return listener


async def _serve(
    settings: Settings, service: Shopbridge, listener: socket.socket | None
) -> signal.Signals | None:
    """Run the web app on `listener` (and a worker), or a worker alone without one, until
    SIGINT or SIGTERM; returns the signal that stopped it (None: uvicorn stopped on its own)."""
    import uvicorn

    from shopbridge.web.accounts import has_users

    url = settings.resolved_database_url()
    stop = asyncio.Event()
    received: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        stop.set()

    loop = asyncio.get_running_loop()
    # Ours from the start; uvicorn puts its own in place while it serves, and on its way out
    # puts these back and raises again the signal it got, which lands here (a plain record).
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    with_web = listener is not None
    run_worker = not with_web or settings.serve_worker
    the_worker = service.worker() if run_worker else None
    worker_task = (
        asyncio.create_task(the_worker.run(stop, settings.worker_idle_seconds))
        if the_worker is not None
        else None
    )
    try:
        if listener is not None:
            wake = the_worker.wake.set if the_worker is not None else (lambda: None)
            app = service.web(wake=wake)
            config = uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level,
                log_config=None,  # our handlers (format, redaction), not uvicorn's own
            )
            address = settings.public_url or f"http://{settings.host}:{settings.port}"
            click.echo(
                f"shopbridge {__version__} on http://{settings.host}:{settings.port} "
                f"({_safe(url)}{'' if run_worker else ', web only'})"
            )
            if not await asyncio.to_thread(has_users, service.store):
                code = app.state.ui.setup_code
                click.echo(f"No account yet: create the first one at {address}/setup?code={code}")
            if not stop.is_set():
                # When uvicorn has shut down (on SIGINT or SIGTERM), the worker stops too.
                await uvicorn.Server(config).serve(sockets=[listener])
        else:
            assert the_worker is not None
            click.echo(f"shopbridge worker {the_worker.worker_id} on {_safe(url)}")
            await stop.wait()
    finally:
        stop.set()
        if worker_task is not None:
            await worker_task
        await service.aclose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return received[0] if received else None


def _open_store(settings: Settings) -> Store:
    """The store for commands that read or change records (never the clock's anchor): they run
    on the wall clock, whatever clock the database's service runs on. Their own output is on
    stdout; log lines (warnings only, such as the secret key's) go to stderr."""
    from shopbridge.bootstrap import open_store
    from shopbridge.clock import SystemClock
    from shopbridge.logs import configure_logging

    configure_logging("warning", settings.log_format)
    return open_store(settings, clock=SystemClock())


def _check_connections(store: Store, connection_ids: Iterable[int]) -> None:
    """Refuse, in one line, a connection id that does not exist (`--connection ID`)."""
    known = set(store.connection_versions())  # ids only: no secret decrypted (nor needed)
    missing = sorted(set(connection_ids) - known)
    if missing:
        listed = ", ".join(str(cid) for cid in missing)
        there = ", ".join(f"#{cid}" for cid in sorted(known)) or "none yet"
        raise click.ClickException(
            f"no connection {listed} (there are: {there}; `shopbridge connections` lists them)"
        )


@dataclass(frozen=True)
class _Secret:
    """A credential `connect` takes: from SHOPBRIDGE_<NAME>, from --<name>-file, or asked for
    with hidden input on a terminal. --<name> itself still works, for the scripts that use it,
    but with a warning: an argument is visible to every user in `ps` and stays in the history."""

    name: str
    what: str

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def variable(self) -> str:
        return "SHOPBRIDGE_" + self.name.upper().replace("-", "_")

    @property
    def parameter(self) -> str:
        return self.name.replace("-", "_")

    def sources(self) -> str:
        return f"set {self.variable} or give {self.flag}-file PATH"


_TIKTOK_APP_SECRET = _Secret("tiktok-app-secret", "TikTok app secret")
_TIKTOK_AUTH_CODE = _Secret("tiktok-auth-code", "TikTok authorization code")
_TIKTOK_ACCESS_TOKEN = _Secret("tiktok-access-token", "TikTok seller access token")
_TIKTOK_REFRESH_TOKEN = _Secret("tiktok-refresh-token", "TikTok refresh token")
_SHOPIFY_ACCESS_TOKEN = _Secret("shopify-access-token", "Shopify admin access token")
_SHOPIFY_CLIENT_SECRET = _Secret("shopify-client-secret", "Shopify client secret")

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _secret_option(secret: _Secret, help_text: str) -> Callable[[_Command], _Command]:
    """`--<name>` (also read from its variable) and `--<name>-file PATH`."""

    def add(command: _Command) -> _Command:
        from_file = click.option(
            f"{secret.flag}-file",
            f"{secret.parameter}_file",
            metavar="PATH",
            help="Or read it from the first line of PATH.",
        )
        inline = click.option(
            secret.flag,
            secret.parameter,
            default="",
            envvar=secret.variable,
            show_envvar=True,
            help=help_text,
        )
        return inline(from_file(command))

    return add


class _SecretUnusable(click.ClickException):
    """A secret missing, unreadable or given twice: one line, and a usage error's exit status."""

    exit_code = 2


def _given_secret(ctx: click.Context, secret: _Secret, options: dict[str, Any]) -> str:
    """The secret from its file, else its variable or argument (warning about the argument);
    empty when none is given. Takes both of its parameters out of `options`."""
    value: str = options.pop(secret.parameter) or ""
    path: str | None = options.pop(f"{secret.parameter}_file")
    on_command_line = bool(value) and (
        ctx.get_parameter_source(secret.parameter) is ParameterSource.COMMANDLINE
    )
    if path is not None:
        if on_command_line:
            raise _SecretUnusable(f"give {secret.flag} or {secret.flag}-file, not both")
        return _read_secret_file(secret, path)
    if on_command_line:
        click.echo(
            f"warning: {secret.flag} is visible in ps and shell history; "
            f"use {secret.variable} or {secret.flag}-file",
            err=True,
        )
    return value


def _read_secret_file(secret: _Secret, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            first_line = handle.readline().strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise _SecretUnusable(f"cannot read {secret.flag}-file {path}: {reason}") from None
    if not first_line:
        raise _SecretUnusable(f"{secret.flag}-file {path} is empty: the secret goes on line 1")
    return first_line


def _timezone(name: str) -> str:
    """An IANA timezone name this machine knows, or a usage error naming the option."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"{name!r} is not an IANA timezone (like Europe/London or America/New_York)",
            param_hint="--timezone",
        ) from None
    return name


def _stdin_is_a_terminal() -> bool:
    return sys.stdin.isatty()


def _needed_secret(secret: _Secret, value: str, otherwise: str = "") -> str:
    """The secret given, or asked for on a terminal (hidden input); without a terminal, a
    one-line error that names where it can come from (`otherwise`: an alternative to it)."""
    if value:
        return value
    while _stdin_is_a_terminal():
        answer = str(click.prompt(secret.what, hide_input=True, err=True)).strip()
        if answer:
            return answer
    alternative = f"; {otherwise}" if otherwise else ""
    raise _SecretUnusable(f"no {secret.what}: {secret.sources()}{alternative}")


@main.command()
@database_option
@click.option("--name", required=True, help="A name for this TikTok shop ↔ Shopify store pairing.")
@click.option("--tiktok-app-key", required=True, envvar="SHOPBRIDGE_TIKTOK_APP_KEY")
@_secret_option(_TIKTOK_APP_SECRET, "Your TikTok Shop app's secret.")
@_secret_option(_TIKTOK_AUTH_CODE, "An authorization code to exchange for tokens, or:")
@_secret_option(_TIKTOK_ACCESS_TOKEN, "A seller access token (and the next option).")
@_secret_option(_TIKTOK_REFRESH_TOKEN, "The access token's refresh token.")
@click.option("--tiktok-shop-id", default="", help="Which authorized shop (needed if several).")
@click.option(
    "--tiktok-api-url", default="https://open-api.tiktokglobalshop.com", show_default=True
)
@click.option("--tiktok-auth-url", default="https://auth.tiktok-shops.com", show_default=True)
@click.option("--shopify-domain", required=True, help="e.g. my-store.myshopify.com")
@_secret_option(
    _SHOPIFY_ACCESS_TOKEN,
    "A legacy admin token (shpat_…), or leave it out and give --shopify-client-id:",
)
@click.option(
    "--shopify-client-id",
    default="",
    envvar="SHOPBRIDGE_SHOPIFY_CLIENT_ID",
    help="An app of your own Shopify organization: tokens by the client-credentials grant.",
)
@_secret_option(_SHOPIFY_CLIENT_SECRET, "Your Shopify app's client secret.")
@click.option("--shopify-api-url", default=None, help="Default: https://<domain>.")
@click.option("--shopify-location-id", default=None, help="Default: the first active location.")
@click.option("--holdback-minutes", default=60, show_default=True, type=click.IntRange(min=60))
@click.option(
    "--carrier",
    "carriers",
    multiple=True,
    metavar="SHOPIFY=TIKTOK",
    help="Map a Shopify tracking company to a TikTok shipping provider; repeatable.",
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    callback=lambda _ctx, _param, value: _timezone(value),
    help="The merchant's IANA timezone, e.g. Europe/London.",
)
@click.pass_context
def connect(
    ctx: click.Context, /, database_url: str | None, carriers: tuple[str, ...], **options: Any
) -> None:
    """Pair a TikTok shop with a Shopify store, after checking both accept the credentials.

    Each secret comes from its SHOPBRIDGE_... variable or from its --...-file PATH (the first
    line), or is asked for (hidden) on a terminal: given as an argument, it shows in ps and in
    the shell's history."""
    from shopbridge.clock import SystemClock
    from shopbridge.engine.connect import ConnectionRequest, create_connection

    mapping = {}
    for pair in carriers:
        shopify_name, sep, tiktok_name = pair.partition("=")
        if not sep or not shopify_name.strip() or not tiktok_name.strip():
            raise click.BadParameter(f"{pair!r} is not SHOPIFY=TIKTOK", param_hint="--carrier")
        mapping[shopify_name.strip()] = tiktok_name.strip()
    given = {
        secret: _given_secret(ctx, secret, options)
        for secret in (
            _TIKTOK_APP_SECRET,
            _TIKTOK_AUTH_CODE,
            _TIKTOK_ACCESS_TOKEN,
            _TIKTOK_REFRESH_TOKEN,
            _SHOPIFY_CLIENT_SECRET,
            _SHOPIFY_ACCESS_TOKEN,
        )
    }
    tiktok_app_secret = _needed_secret(_TIKTOK_APP_SECRET, given[_TIKTOK_APP_SECRET])
    tiktok_auth_code = given[_TIKTOK_AUTH_CODE]
    if not given[_TIKTOK_ACCESS_TOKEN]:
        tiktok_auth_code = _needed_secret(
            _TIKTOK_AUTH_CODE,
            tiktok_auth_code,
            otherwise=f"or, for a {_TIKTOK_ACCESS_TOKEN.what}, {_TIKTOK_ACCESS_TOKEN.sources()}",
        )
    shopify_client_secret = _needed_secret(_SHOPIFY_CLIENT_SECRET, given[_SHOPIFY_CLIENT_SECRET])
    shopify_access_token = given[_SHOPIFY_ACCESS_TOKEN]
    if not options["shopify_client_id"]:
        shopify_access_token = _needed_secret(
            _SHOPIFY_ACCESS_TOKEN,
            shopify_access_token,
            otherwise="or give --shopify-client-id for an app of your own organization",
        )
    request = ConnectionRequest(
        name=options["name"],
        tiktok_app_key=options["tiktok_app_key"],
        tiktok_app_secret=tiktok_app_secret,
        tiktok_access_token=given[_TIKTOK_ACCESS_TOKEN],
        tiktok_refresh_token=given[_TIKTOK_REFRESH_TOKEN],
        tiktok_auth_code=tiktok_auth_code,
        tiktok_shop_id=options["tiktok_shop_id"],
        tiktok_api_base_url=options["tiktok_api_url"],
        tiktok_auth_base_url=options["tiktok_auth_url"],
        shopify_domain=options["shopify_domain"],
        shopify_access_token=shopify_access_token,
        shopify_client_id=options["shopify_client_id"],
        shopify_client_secret=shopify_client_secret,
        shopify_api_base_url=options["shopify_api_url"],
        shopify_location_id=options["shopify_location_id"],
        holdback_minutes=options["holdback_minutes"],
        carrier_mapping=mapping,
        timezone=options["timezone"],
    )
    store = _open_store(_settings(ctx, database_url=database_url))
    connection_id = asyncio.run(create_connection(store, SystemClock(), request))
    record = store.get_connection(connection_id)
    click.echo(
        f"connected #{connection_id} {record.name}: TikTok shop {record.tiktok_shop_id} "
        f"({record.tiktok_region}) -> {record.shopify_domain}, "
        f"holdback {record.holdback_minutes} min"
    )


@main.command()
@database_option
@click.pass_context
def connections(ctx: click.Context, database_url: str | None) -> None:
    """List connections with their status and last reconciliation."""
    store = _open_store(_settings(ctx, database_url=database_url))
    records = store.list_connections()
    if not records:
        click.echo("no connections yet: add one with `shopbridge connect`")
        return
    for r in records:
        last = f"{r.last_reconciled_at:%Y-%m-%d %H:%M}" if r.last_reconciled_at else "never"
        click.echo(
            f"#{r.id:<3} {r.name:<20} {r.status:<8} TikTok {r.tiktok_shop_id} ({r.tiktok_region}) "
            f"-> {r.shopify_domain}  holdback {r.holdback_minutes} min  reconciled {last}"
        )


@main.command()
@database_option
@click.option("--connection", "connection_id", type=int, help="Default: every connection.")
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def orders(
    ctx: click.Context, database_url: str | None, connection_id: int | None, limit: int
) -> None:
    """List mirrored orders, newest first, with their state."""
    store = _open_store(_settings(ctx, database_url=database_url))
    if connection_id is not None:
        _check_connections(store, [connection_id])
    ids = [connection_id] if connection_id is not None else [c.id for c in store.list_connections()]
    rows = [row for cid in ids for row in store.list_mirrors(cid, limit=limit)]
    if not rows:
        click.echo("no mirrored orders yet")
        return
    click.echo(
        f"{'TikTok order':<20} {'Shopify':<8} {'TikTok status':<20} {'mirror':<10} attention"
    )
    for row in sorted(rows, key=lambda r: r.created_at, reverse=True)[:limit]:
        click.echo(
            f"{row.tiktok_order_id:<20} {row.shopify_order_name or '-':<8} "
            f"{row.tiktok_status or '-':<20} {row.phase or '-':<10} {row.attention_reason or ''}"
        )


@main.group()
def inventory() -> None:
    """TikTok's stock follows Shopify's: full syncs and the SKU mapping."""


@inventory.command("sync")
@database_option
@click.option("--connection", "connection_id", type=int, help="Default: every active connection.")
@click.pass_context
def inventory_sync(ctx: click.Context, database_url: str | None, connection_id: int | None) -> None:
    """Compare every linked SKU and correct TikTok's stock now, with progress."""
    settings = _settings(ctx, database_url=database_url)
    failed = asyncio.run(_inventory_sync(settings, connection_id))
    if failed:
        raise click.ClickException(failed)


async def _inventory_sync(settings: Settings, connection_id: int | None) -> str | None:
    """Run the full syncs here (pushing the SKUs itself, alongside any running worker); returns
    why one failed, or None."""
    import os
    import random
    from datetime import timedelta

    from shopbridge.bootstrap import bootstrap
    from shopbridge.engine import stock
    from shopbridge.engine.failures import classify
    from shopbridge.engine.worker import RetryPolicy
    from shopbridge.logs import configure_logging

    configure_logging("warning", settings.log_format)
    service = bootstrap(settings)
    store = service.store
    runner = f"{socket.gethostname()}:{os.getpid()}:inventory-sync"
    retry = RetryPolicy(max_attempts=settings.max_attempts)
    rng = random.Random()
    lease = timedelta(minutes=2)
    problem: str | None = None
    try:
        if connection_id is not None:
            _check_connections(store, [connection_id])
        records = [r for r in store.list_connections() if r.status == "active"]
        if connection_id is not None:
            records = [r for r in records if r.id == connection_id]
            if not records:
                return f"connection #{connection_id} is not active (see `shopbridge connections`)"
        if not records:
            return "no active connection yet: add one with `shopbridge connect`"
        for record in records:
            sync_id = store.stock.start_sync(record.id, runner, stock.SYNC_STALE_AFTER)
            if sync_id is None:
                latest = store.stock.latest_sync(record.id)
                by = f" by {latest.run_by}" if latest and latest.run_by else ""
                click.echo(f"{record.name}: a full sync is already running{by}; skipped")
                continue
            ctx = await service.contexts.context(record.id)
            line = _ProgressLine(record.name)

            async def pusher(cid: int = record.id, ctx: Any = ctx) -> int:
                rows = await asyncio.to_thread(store.stock.claim, runner, 100, lease, cid)
                if rows:
                    await stock.run_claimed(
                        store,
                        ctx,
                        rows,
                        lease,
                        lambda n: retry.delay(n, rng),
                        retry.max_attempts,
                    )
                return len(rows)

            try:
                summary = await stock.run_full_sync(
                    store, ctx, sync_id, pusher=pusher, progress=line.show
                )
            except Exception as error:
                line.end()
                problem = f"{record.name}: the full sync failed: {classify(error).message}"
                click.echo(problem, err=True)
                continue
            line.end()
            click.echo(f"{record.name}: {summary}")
    finally:
        await service.aclose()
    return problem


class _ProgressLine:
    """One line that updates in place on a terminal, or a line per stage (and every few
    seconds) in a log."""

    def __init__(self, name: str) -> None:
        import time

        self.name, self._time = name, time.monotonic
        self.tty = sys.stderr.isatty()
        self._last_stage, self._last_at = "", 0.0

    def show(self, stage: str, done: int, total: int) -> None:
        if total:
            share = f" {done:,}/{total:,} ({done * 100 // total} %)"
        else:
            share = f" {done:,}" if done else ""
        text = f"{self.name}: {stage}{share}"
        now = self._time()
        if self.tty:
            click.echo(f"\r{text:<78}", nl=False, err=True)
        elif stage != self._last_stage or now - self._last_at >= 5:
            click.echo(text, err=True)
            self._last_at = now
        self._last_stage = stage

    def end(self) -> None:
        if self.tty:
            click.echo("", err=True)


@inventory.command("import-links")
@database_option
@click.option("--connection", "connection_id", type=int, required=True)
@click.option("--replace", is_flag=True, help="Replace every mapping (default: add to them).")
@click.argument("csv_file", type=click.File("rb"))
@click.pass_context
def inventory_import_links(
    ctx: click.Context,
    database_url: str | None,
    connection_id: int,
    replace: bool,
    csv_file: Any,
) -> None:
    """Map TikTok seller SKUs to Shopify SKUs whose codes differ, from a CSV file with the
    header `tiktok_sku,shopify_sku`; all rows or none."""
    from shopbridge.store.stock import LinkError, parse_links_csv

    store = _open_store(_settings(ctx, database_url=database_url))
    _check_connections(store, [connection_id])
    try:
        pairs = parse_links_csv(csv_file.read())
        saved = store.stock.save_links(connection_id, pairs, replace=replace)
    except LinkError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{saved} SKU mappings saved; the SKUs they touch are synced again")


@main.command()
@click.option("--orders", default=40, show_default=True, help="How many TikTok orders to play.")
@click.option(
    "--hour-seconds",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Real seconds per sandbox hour.",
)
@click.option("--faults/--no-faults", default=False, help="Duplicate, drop and fail some calls.")
@click.option("--database-url", help="Where the demo keeps its state (default: a new SQLite file).")
@click.option("--verbose", is_flag=True, help="Also print the bridge's own log lines.")
def demo(
    orders: int, hour_seconds: float, faults: bool, database_url: str | None, verbose: bool
) -> None:
    """Both sandboxes and the bridge on loopback: a scripted day of orders through every path."""
    from shopbridge.logs import configure_logging
    from shopbridge_sandbox.demo import run_demo

    # The demo shows its own progress; the bridge's per-webhook log lines would drown it.
    configure_logging("debug" if verbose else "warning")

    try:
        code = asyncio.run(run_demo(orders, database_url, hour_seconds, faults))
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


@main.command()
@click.option("--orders", default=200, show_default=True, help="How many TikTok orders to play.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(min=1),
    help="Items each worker runs at once (raise it with --shopify-latency).",
)
@click.option(
    "--database-url",
    help="PostgreSQL server URL (the rehearsal makes and drops a schema of its own); "
    "default: a new SQLite file.",
)
@click.option(
    "--clock-factor",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1, max=600),
    help="Simulated seconds per real second.",
)
@click.option(
    "--rate",
    default=4.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Orders per real second.",
)
@click.option(
    "--kill-every",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Real seconds between kill -9s of a random shopbridge process (0: none).",
)
@click.option("--faults/--no-faults", default=True, show_default=True)
@click.option("--lease", default=10.0, show_default=True, help="Worker lease, real seconds.")
@click.option("--heartbeat", default=2.0, show_default=True, help="Worker heartbeat, real seconds.")
@click.option(
    "--shopify-latency",
    default=0.0,
    show_default=True,
    help="Real seconds every Shopify answer is late (try more than --lease).",
)
@click.option(
    "--short",
    is_flag=True,
    help="Stop after each order's last scripted act instead of waiting for TikTok to cancel "
    "the unpaid ones after 24 simulated hours.",
)
@click.option("--seed", default=1, show_default=True)
@click.option("--keep", is_flag=True, help="Keep the database and the processes' logs.")
def rehearse(
    orders: int,
    workers: int,
    concurrency: int,
    database_url: str | None,
    clock_factor: float,
    rate: float,
    kill_every: float,
    faults: bool,
    lease: float,
    heartbeat: float,
    shopify_latency: float,
    short: bool,
    seed: int,
    keep: bool,
) -> None:
    """Both sandboxes, serve and N workers as separate processes on one accelerated clock, with
    faults and kill -9, the rules checked all along; prints the figures (exit 1 on a breach)."""
    from shopbridge.logs import configure_logging
    from shopbridge_sandbox.rehearsal import Options
    from shopbridge_sandbox.rehearsal import rehearse as run_rehearsal

    configure_logging("warning")
    if lease < 2 * heartbeat:
        raise click.BadParameter("must be at least twice --heartbeat", param_hint="--lease")
    options = Options(
        orders=orders,
        workers=workers,
        concurrency=concurrency,
        database_url=database_url,
        factor=clock_factor,
        orders_per_second=rate,
        kill_every=kill_every,
        faults=faults,
        lease_seconds=lease,
        heartbeat_seconds=heartbeat,
        shopify_latency=shopify_latency,
        until_unpaid_cancelled=not short,
        seed=seed,
        keep=keep,
    )
    try:
        report = asyncio.run(run_rehearsal(options, click.echo))
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo("rehearsal interrupted", err=True)
        sys.exit(130)
    sys.exit(0 if report.ok else 1)


@main.group()
def sandbox() -> None:
    """Run a platform sandbox on loopback."""


sandbox_clock_option = click.option(
    "--clock",
    default="system",
    show_default=True,
    help="system, scaled:FACTOR, or scaled:FACTOR@EPOCH to share a rehearsal's clock.",
)


def _clock_spec(text: str) -> ClockSpec:
    try:
        return ClockSpec.parse(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--clock") from None


@sandbox.command("tiktok")
@click.option("--port", default=9001, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@sandbox_clock_option
@click.option("--empty", is_flag=True, help="Start with no shop (a rehearsal adds its own).")
@click.option("--app-key", default=None, help="The app's key (default: the same every start).")
@click.option("--app-secret", default=None, help="The app's secret (default: stable).")
@click.option(
    "--redirect-url",
    default=None,
    help="Where the seller authorization page sends the code (shopbridge's TikTok callback).",
)
@click.option(
    "--token-lifetime", default=None, type=float, help="Access token lifetime in seconds (7 days)."
)
def sandbox_tiktok(
    port: int,
    host: str,
    clock: str,
    empty: bool,
    app_key: str | None,
    app_secret: str | None,
    redirect_url: str | None,
    token_lifetime: float | None,
) -> None:
    """A TikTok Shop Open API (202309) sandbox with a seeded demo shop."""
    from shopbridge_sandbox.tiktok.cli import serve as serve_tiktok

    serve_tiktok(
        port,
        host=host,
        clock=_clock_spec(clock).clock(),
        seeded=not empty,
        app_key=app_key,
        app_secret=app_secret,
        redirect_url=redirect_url,
        token_lifetime=token_lifetime,
    )


@sandbox.command("shopify")
@click.option("--port", default=9002, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@sandbox_clock_option
@click.option("--empty", is_flag=True, help="Start with no store (a rehearsal adds its own).")
@click.option("--client-id", default=None, help="The app's client id (default: stable).")
@click.option("--client-secret", default=None, help="The app's client secret (default: stable).")
@click.option(
    "--token-lifetime",
    default=None,
    type=int,
    help="Lifetime of expiring access tokens in seconds (3600).",
)
@click.option(
    "--redirect-url",
    "redirect_urls",
    multiple=True,
    help="An allowed OAuth redirect URL; repeatable (default: any).",
)
def sandbox_shopify(
    port: int,
    host: str,
    clock: str,
    empty: bool,
    client_id: str | None,
    client_secret: str | None,
    token_lifetime: int | None,
    redirect_urls: tuple[str, ...],
) -> None:
    """A Shopify Admin GraphQL (2026-07) sandbox with a seeded demo store."""
    from shopbridge_sandbox.shopify.cli import serve as serve_shopify

    serve_shopify(
        port,
        host=host,
        clock=_clock_spec(clock).clock(),
        seeded=not empty,
        client_id=client_id,
        client_secret=client_secret,
        token_lifetime=token_lifetime,
        redirect_urls=redirect_urls,
    )


@main.group()
def user() -> None:
    """Merchant accounts for the web UI."""


@user.command("create")
@database_option
@click.option("--email", required=True, help="The merchant's login.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (first line); without it, prompt for it.",
)
@click.option(
    "--connection",
    "connection_ids",
    type=int,
    multiple=True,
    metavar="ID",
    help="A connection this user may see; repeatable.",
)
@click.pass_context
def user_create(
    ctx: click.Context,
    database_url: str | None,
    email: str,
    password_stdin: bool,
    connection_ids: tuple[int, ...],
) -> None:
    """Create a web UI user (argon2-hashed password) with access to some connections."""
    from shopbridge.web.accounts import AccountError, create_user

    store = _open_store(_settings(ctx, database_url=database_url))
    try:
        _check_connections(store, connection_ids)
        password = _new_password(password_stdin)
        created = create_user(store, email, password, connection_ids)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    finally:
        store.engine.dispose()
    where = ", ".join(f"#{cid}" for cid in sorted(set(connection_ids))) or "no connection yet"
    click.echo(f"user #{created.id} {created.email} created; sees {where}")


@user.command("password")
@database_option
@click.option("--email", required=True, help="Whose password to set.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from standard input (first line); without it, prompt for it.",
)
@click.pass_context
def user_password(
    ctx: click.Context, database_url: str | None, email: str, password_stdin: bool
) -> None:
    """Set a user's password (e.g. a forgotten one) and sign out all of their sessions."""
    from shopbridge.web.accounts import AccountError, reset_password

    password = _new_password(password_stdin)
    store = _open_store(_settings(ctx, database_url=database_url))
    try:
        changed = reset_password(store, email, password)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    finally:
        store.engine.dispose()
    click.echo(f"password of user #{changed.id} {changed.email} set; every session of theirs ended")


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
