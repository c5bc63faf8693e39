"""The `shopbridge` command."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

import click

from shopbridge import __version__
from shopbridge.config import ConfigError, Settings, load_settings


def _settings(ctx: click.Context, **flags: object) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), **flags)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shopbridge")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file.")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
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


@main.command()
@database_option
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.pass_context
def serve(ctx: click.Context, database_url: str | None, host: str | None, port: int | None) -> None:
    """Run the web app (health, webhooks) and a worker in one process."""
    settings = _settings(ctx, database_url=database_url, host=host, port=port)
    asyncio.run(_serve(settings, with_web=True))


@main.command()
@database_option
@click.pass_context
def worker(ctx: click.Context, database_url: str | None) -> None:
    """Run a worker only (start several, on PostgreSQL, to scale out)."""
    settings = _settings(ctx, database_url=database_url)
    asyncio.run(_serve(settings, with_web=False))


async def _serve(settings: Settings, with_web: bool) -> None:
    import uvicorn

    from shopbridge.clock import SystemClock
    from shopbridge.engine.inbox import PlatformInboxHandler
    from shopbridge.engine.runtime import Runtime
    from shopbridge.engine.worker import RetryPolicy, Worker
    from shopbridge.store import Store, create_db_engine, upgrade_database
    from shopbridge.store.secrets import SecretBox
    from shopbridge.web.app import create_app

    url = settings.resolved_database_url()
    upgrade_database(url)
    clock = SystemClock()
    store = Store(create_db_engine(url), clock, SecretBox.from_environment())
    runtime = Runtime(store, clock)
    contexts = runtime.context
    the_worker = Worker(
        store,
        clock,
        contexts,
        PlatformInboxHandler(store, contexts),
        batch_size=settings.worker_batch_size,
        lease=timedelta(seconds=settings.worker_lease_seconds),
        retry=RetryPolicy(max_attempts=settings.max_attempts),
    )
    stop = asyncio.Event()
    worker_task = asyncio.create_task(the_worker.run(stop, settings.worker_idle_seconds))
    if with_web:
        app = create_app(store, wake=the_worker.wake.set)
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port, log_level=settings.log_level
        )
        click.echo(
            f"shopbridge {__version__} on http://{settings.host}:{settings.port} ({_safe(url)})"
        )
        # uvicorn owns SIGINT/SIGTERM here; when it has shut down, the worker stops too.
        await uvicorn.Server(config).serve()
    else:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"shopbridge worker {the_worker.worker_id} on {_safe(url)}")
        await stop.wait()
    stop.set()
    await worker_task
    await runtime.aclose()


@main.command()
@click.option("--orders", default=40, show_default=True, help="How many TikTok orders to simulate.")
@click.option(
    "--database-url", help="Where the demo keeps its state (default: a fresh SQLite file)."
)
def demo(orders: int, database_url: str | None) -> None:
    """Drive a scripted stream of orders through every workflow path and check the rules."""
    from shopbridge.demo import run_demo

    sys.exit(asyncio.run(run_demo(orders, database_url)))


@main.group()
def sandbox() -> None:
    """Run a platform sandbox on loopback."""


@sandbox.command("tiktok")
@click.option("--port", default=9001, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--clock-factor", default=1.0, show_default=True, help="Simulated seconds per second."
)
def sandbox_tiktok(port: int, host: str, clock_factor: float) -> None:
    """A TikTok Shop Open API (202309) sandbox with a seeded demo shop."""
    from shopbridge.sandbox.tiktok.cli import serve as serve_tiktok

    serve_tiktok(port, host=host, clock_factor=clock_factor)


@sandbox.command("shopify")
@click.option("--port", default=9002, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def sandbox_shopify(port: int, host: str) -> None:
    """A Shopify Admin GraphQL (2026-07) sandbox with a seeded demo store."""
    from shopbridge.sandbox.shopify.cli import serve as serve_shopify

    serve_shopify(port, host=host)


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
