"""The sandbox's HTTP face: the Admin GraphQL endpoint, the OAuth pages and endpoint, and the
`/_sandbox/` control API."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shopbridge.clock import ManualClock
from shopbridge_sandbox.faults import ApiFault
from shopbridge_sandbox.shopify.execution import run_request, throttled_body
from shopbridge_sandbox.shopify.oauth_routes import oauth_routes
from shopbridge_sandbox.shopify.schema import API_VERSION
from shopbridge_sandbox.shopify.specs import VariantSpec
from shopbridge_sandbox.shopify.world import Conflict, NotFound, SandboxError

if TYPE_CHECKING:
    from shopbridge_sandbox.shopify.sandbox import ShopifySandbox

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def build_app(sandbox: ShopifySandbox) -> Starlette:
    async def graphql(request: Request) -> Response:
        if request.path_params["version"] != API_VERSION:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        shop = sandbox.world.shop_by_token(request.headers.get("x-shopify-access-token"))
        if shop is None:
            return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
        fault = sandbox.faults.api_fault()
        bucket = sandbox.bucket(shop.name)
        if fault is ApiFault.SERVER_ERROR:
            return JSONResponse({"errors": "Internal Server Error"}, status_code=500)
        if fault is ApiFault.RATE_LIMITED:
            return JSONResponse(
                throttled_body(bucket, 0), status_code=429, headers={"Retry-After": "1"}
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"errors": "Invalid JSON in request body"}, status_code=400)
        answer = run_request(sandbox.world, shop, bucket, body)
        if sandbox.faults.settings.api_latency_seconds:
            await asyncio.sleep(sandbox.faults.settings.api_latency_seconds)
        if fault is ApiFault.TIMEOUT:
            # The change is made but the answer comes too late: the hardest case for a
            # client's retry logic, so the one worth simulating.
            await asyncio.sleep(sandbox.faults.settings.api_timeout_seconds)
        if fault is ApiFault.LOST_ANSWER:
            # Committed, but the answer is lost between Shopify and the client (a proxy's 502).
            return JSONResponse({"errors": "Bad Gateway"}, status_code=502)
        status = sandbox.throttle_status_code if answer.throttled else 200
        return JSONResponse(answer.body, status_code=status)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(sandbox.run_in_background(stop))
        try:
            yield
        finally:
            stop.set()
            await task

    routes = [
        Route("/admin/api/{version}/graphql.json", graphql, methods=["POST"]),
        *oauth_routes(sandbox),
        *control_routes(sandbox),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


Handler = Callable[[Request], Awaitable[Response]]


def _control(fn: Callable[[Request, dict[str, Any]], Any]) -> Handler:
    """Wrap a control action: JSON in, JSON out; NotFound → 404, Conflict → 409, any other
    SandboxError or malformed input → 400, each with its message."""

    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            payload = json.loads(raw) if raw else {}
            result = fn(request, payload)
            if asyncio.iscoroutine(result):
                result = await result
        except NotFound as error:
            return JSONResponse({"error": str(error)}, status_code=404)
        except Conflict as error:
            return JSONResponse({"error": str(error)}, status_code=409)
        except (SandboxError, ValueError, KeyError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(result if result is not None else {"ok": True})

    return endpoint


def control_routes(sandbox: ShopifySandbox) -> list[Route]:
    def shop_name(request: Request) -> str:
        return str(request.path_params["shop"])

    def order_gid(request: Request) -> str:
        raw = str(request.path_params["order_id"])
        return raw if raw.startswith("gid://") else f"gid://shopify/Order/{raw}"

    def add_shop(request: Request, body: dict[str, Any]) -> Any:
        creds = sandbox.add_shop(
            body["name"],
            plan=body.get("plan", "standard"),
            locations=body.get("locations", ["Main warehouse"]),
        )
        return creds.__dict__ | {"location_ids": list(creds.location_ids)}

    def add_product(request: Request, body: dict[str, Any]) -> Any:
        specs = [VariantSpec(**v) for v in body["variants"]]
        return sandbox.add_product(shop_name(request), body["title"], specs)

    def subscribe(request: Request, body: dict[str, Any]) -> Any:
        return {"id": sandbox.subscribe_webhook(shop_name(request), body["topic"], body["url"])}

    def fulfill(request: Request, body: dict[str, Any]) -> Any:
        gid = sandbox.fulfill_order(
            shop_name(request),
            order_gid(request),
            body.get("company"),
            body.get("number"),
            body.get("url"),
            body.get("units"),
        )
        return {"id": gid}

    def cancel(request: Request, body: dict[str, Any]) -> Any:
        sandbox.cancel_order_as_merchant(
            shop_name(request),
            order_gid(request),
            body.get("reason", "OTHER"),
            bool(body.get("restock", True)),
        )
        return sandbox.order(shop_name(request), order_gid(request))

    def adjust(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.adjust_stock(
            shop_name(request), body["sku"], int(body["delta"]), body.get("location_id")
        )

    def set_available(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.set_available(
            shop_name(request), body["sku"], body["available"], body.get("location_id")
        )

    def sell(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.sell(
            shop_name(request),
            body["sku"],
            body.get("quantity", 1),
            body.get("channel", "online_store"),
            body.get("location_id"),
        )

    def add_location(request: Request, body: dict[str, Any]) -> Any:
        return {"id": sandbox.add_location(shop_name(request), body["name"])}

    def read_inventory(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.inventory(
            shop_name(request),
            str(request.path_params["sku"]),
            request.query_params.get("location_id"),
        )

    def list_orders(request: Request, body: dict[str, Any]) -> Any:
        since = request.query_params.get("updated_since")
        return sandbox.orders(
            shop_name(request),
            updated_since=_aware_moment(since, "updated_since") if since else None,
            source_identifier=request.query_params.get("source_identifier"),
        )

    def read_order(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.order(shop_name(request), order_gid(request))

    def uninstall(request: Request, body: dict[str, Any]) -> Any:
        sandbox.uninstall_app(shop_name(request))

    def list_webhooks(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.webhook_subscriptions(shop_name(request))

    def delete_webhook(request: Request, body: dict[str, Any]) -> Any:
        deleted = sandbox.delete_webhook_subscription(
            shop_name(request), str(request.path_params["subscription_id"])
        )
        return {"deleted": deleted}

    def install_request(request: Request, body: dict[str, Any]) -> Any:
        return {"url": sandbox.install_request_url(str(body["app_url"]), shop_name(request))}

    def authorization_code(request: Request, body: dict[str, Any]) -> Any:
        return {"code": sandbox.issue_authorization_code(shop_name(request), body.get("scope"))}

    def app_settings(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.configure_app(**body) if body else sandbox.app_settings()

    def set_bucket(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.set_bucket(shop_name(request), float(body["available"]))

    def advance(request: Request, body: dict[str, Any]) -> Any:
        if not isinstance(sandbox.clock, ManualClock):
            raise SandboxError("the clock can only be advanced on a ManualClock")
        moment = sandbox.clock.advance(float(body["seconds"]))
        return {"now": moment.isoformat()}

    def faults(request: Request, body: dict[str, Any]) -> Any:
        changes = dict(body)
        status = changes.pop("throttle_status_code", None)
        if status is not None:
            if int(status) not in (200, 429):
                raise SandboxError("throttle_status_code must be 200 or 429")
            sandbox.throttle_status_code = int(status)
        sandbox.faults.settings.update(changes)
        return sandbox.faults.settings.as_dict() | {
            "throttle_status_code": sandbox.throttle_status_code
        }

    async def tick(request: Request, body: dict[str, Any]) -> Any:
        return {"attempted": await sandbox.tick()}

    def deliveries(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.deliveries()

    base = "/_sandbox"
    shop = f"{base}/shops/{{shop}}"
    return [
        Route(f"{base}/shops", _control(add_shop), methods=["POST"]),
        Route(f"{shop}/products", _control(add_product), methods=["POST"]),
        Route(f"{shop}/webhooks", _control(subscribe), methods=["POST"]),
        Route(f"{shop}/webhooks", _control(list_webhooks), methods=["GET"]),
        Route(
            f"{shop}/webhooks/{{subscription_id:path}}",
            _control(delete_webhook),
            methods=["DELETE"],
        ),
        Route(f"{shop}/install-request", _control(install_request), methods=["POST"]),
        Route(f"{shop}/authorization-code", _control(authorization_code), methods=["POST"]),
        Route(f"{shop}/orders", _control(list_orders), methods=["GET"]),
        Route(f"{shop}/orders/{{order_id:path}}/fulfill", _control(fulfill), methods=["POST"]),
        Route(f"{shop}/orders/{{order_id:path}}/cancel", _control(cancel), methods=["POST"]),
        Route(f"{shop}/orders/{{order_id:path}}", _control(read_order), methods=["GET"]),
        Route(f"{shop}/inventory/adjust", _control(adjust), methods=["POST"]),
        Route(f"{shop}/inventory/set", _control(set_available), methods=["POST"]),
        Route(f"{shop}/sales", _control(sell), methods=["POST"]),
        Route(f"{shop}/locations", _control(add_location), methods=["POST"]),
        Route(f"{shop}/inventory/{{sku}}", _control(read_inventory), methods=["GET"]),
        Route(f"{shop}/uninstall", _control(uninstall), methods=["POST"]),
        Route(f"{shop}/bucket", _control(set_bucket), methods=["POST"]),
        Route(f"{base}/app", _control(app_settings), methods=["GET", "POST"]),
        Route(f"{base}/clock/advance", _control(advance), methods=["POST"]),
        Route(f"{base}/faults", _control(faults), methods=["GET", "POST"]),
        Route(f"{base}/tick", _control(tick), methods=["POST"]),
        Route(f"{base}/webhooks", _control(deliveries), methods=["GET"]),
    ]


def _aware_moment(value: str, name: str) -> datetime:
    """An ISO 8601 moment with its UTC offset (`Z` or `+HH:MM`), else a SandboxError."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SandboxError(
            f"{name} must be ISO 8601 with an offset, got {value!r} (write '+' as %2B in a URL)"
        ) from None
    if moment.tzinfo is None:
        raise SandboxError(f"{name} must carry a UTC offset, got {value!r}")
    return moment
