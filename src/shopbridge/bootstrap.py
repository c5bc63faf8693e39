"""Assemble shopbridge once: settings → clock → store → clients → runtime → bridge → worker/web.

The one place that wires the object graph (cosmicpython's `bootstrap.py` is the model): `serve`,
`worker`, the demo, the rehearsal and the tests all call `bootstrap()`. What a test or a tool
wants different (a manual clock, a store it made, in-memory platforms) is passed in as an
argument; nothing is wired by hand anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shopbridge.alerts import AlertDigest
from shopbridge.clock import Clock, ClockSpec, clock_span
from shopbridge.config import ConfigError, Settings
from shopbridge.engine.bridge import Bridge
from shopbridge.engine.executors import ContextSource
from shopbridge.engine.inbox import InboxHandler, PlatformInboxHandler
from shopbridge.engine.runtime import Runtime
from shopbridge.engine.worker import RetryPolicy, Worker
from shopbridge.store import SecretBox, Store, create_db_engine, upgrade_database
from shopbridge.store.anchor import anchored_clock
from shopbridge.store.secrets import SECRET_KEY_VARIABLE, SecretDecryptionError

if TYPE_CHECKING:
    from starlette.applications import Starlette


@dataclass
class Shopbridge:
    """The assembled service: its parts, and the two things it runs (workers, the web app)."""

    settings: Settings
    clock: Clock
    store: Store
    contexts: ContextSource
    bridge: Bridge
    inbox: InboxHandler
    owns_engine: bool = False

    def worker(self, **overrides: Any) -> Worker:
        """A worker with the settings' batch, concurrency, lease, retries and reconciliation."""
        s = self.settings
        options: dict[str, Any] = {
            "batch_size": s.worker_batch_size,
            "concurrency": s.worker_concurrency,
            "heartbeat_seconds": s.worker_heartbeat_seconds,
            "lease": clock_span(self.clock, s.worker_lease_seconds),
            "retry": RetryPolicy(max_attempts=s.max_attempts),
            "reconcile_every": timedelta(minutes=s.reconcile_minutes),
            "poll_every": timedelta(seconds=s.poll_seconds) if s.poll_seconds > 0 else None,
            "public_url": s.public_url,
            "alerts": AlertDigest(self.store, s) if s.alert_email or s.alert_webhook_url else None,
        }
        options.update(overrides)
        return Worker(self.store, self.clock, self.contexts, self.inbox, self.bridge, **options)

    def web(
        self,
        *,
        wake: Callable[[], None] = lambda: None,
        secret_key: str | None = None,
        secure_cookies: bool | None = None,
    ) -> Starlette:
        """The web app (merchant UI, health, webhook receivers) on this service's store;
        `secure_cookies` overrides the settings' (on when public_url is https)."""
        from shopbridge.web.app import create_app

        return create_app(
            self.store,
            self.bridge,
            wake=wake,
            clock=self.clock,
            secret_key=secret_key,
            secure_cookies=secure_cookies,
            on_connection_changed=self.contexts.forget,
            config=self.settings,
        )

    async def aclose(self) -> None:
        await self.contexts.aclose()
        if self.owns_engine:
            self.store.engine.dispose()


def open_store(
    settings: Settings,
    *,
    clock: Clock | None = None,
    secret_box: SecretBox | None = None,
    migrate: bool = True,
) -> Store:
    """The store at `settings.database_url`, migrated to the newest schema unless `migrate` is
    false. Its clock is `clock`, else the one `settings.clock` names (a scaled one anchored in
    this database; a database anchored by a rehearsal refuses the system clock)."""
    url = settings.resolved_database_url()
    box = secret_box or _secret_box_from_environment()
    if migrate:
        upgrade_database(url)
    engine = create_db_engine(url)
    clock = clock or anchored_clock(engine, ClockSpec.parse(settings.clock))
    return Store(engine, clock, box)


def _secret_box_from_environment() -> SecretBox:
    """The box for SHOPBRIDGE_SECRET_KEY (or var/secret.key), checked before anything else is
    done: a key that is not a Fernet key stops the start with one line saying how to make one."""
    try:
        return SecretBox.from_environment()
    except ValueError as error:
        raise ConfigError(
            f"{SECRET_KEY_VARIABLE} is not a usable key ({error}): it must be a Fernet key, or "
            'several separated by commas, newest first; make one with `python -c "from '
            'cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
        ) from None


def check_secret_key(store: Store) -> None:
    """Refuse to start when the stored connections' secrets cannot be decrypted with this key
    (SHOPBRIDGE_SECRET_KEY unset on a new machine gets a new var/secret.key, which cannot):
    otherwise every connection would fail later, one item at a time."""
    try:
        store.list_connections()
    except SecretDecryptionError:
        raise ConfigError(
            f"the connections' stored secrets cannot be decrypted with this key: set "
            f"{SECRET_KEY_VARIABLE} to the key they were saved with (unset, var/secret.key is "
            "used), or connect the shops again on a new database (a demo's or a rehearsal's "
            "database was made with a key of its own)"
        ) from None


def bootstrap(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    contexts: ContextSource | None = None,
    secret_box: SecretBox | None = None,
    migrate: bool = True,
) -> Shopbridge:
    """Build the service from settings; any part passed in is used instead of being built.

    Without a `store`, the database at `settings.database_url` is migrated (unless `migrate` is
    false) and opened, and the clock is the one `settings.clock` names, anchored in that database
    when it is scaled. Without `contexts`, connections reach the real platforms through their
    stored credentials (`Runtime`).
    """
    settings = settings or Settings()
    owns_engine = store is None
    if store is None:
        store = open_store(settings, clock=clock, secret_box=secret_box, migrate=migrate)
        try:
            check_secret_key(store)
        except ConfigError:
            store.engine.dispose()
            raise
    clock = clock or store.clock
    contexts = contexts or Runtime(store, clock)
    bridge = Bridge(store, clock, contexts.policy)
    inbox = PlatformInboxHandler(store, contexts)
    return Shopbridge(settings, clock, store, contexts, bridge, inbox, owns_engine)
