"""The control API under /_sandbox/: JSON in and out, no signature (see the package docstring).

Errors answer `{"error": "..."}` with 404 (unknown shop, order, ...), 409 (the order's state
forbids it) or 400 (malformed input).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shopbridge.clock import ManualClock
from shopbridge_sandbox.tiktok.errors import NotFound, SandboxError
from shopbridge_sandbox.tiktok.models import SkuSpec
from shopbridge_sandbox.tiktok.returns import DEFAULT_REASON

if TYPE_CHECKING:
    from shopbridge_sandbox.tiktok.sandbox import TikTokSandbox

Endpoint = Callable[[Request], Awaitable[JSONResponse]]


def control_routes(sandbox: TikTokSandbox) -> list[Route]:
    def guarded(action: Callable[[Request, dict[str, Any]], Any]) -> Endpoint:
        async def endpoint(request: Request) -> JSONResponse:
            try:
                body = await request.json() if await request.body() else {}
                result = action(request, body)
                if hasattr(result, "__await__"):
                    result = await result
            except NotFound as exc:
                return JSONResponse({"error": str(exc)}, status_code=404)
            except SandboxError as exc:
                return JSONResponse({"error": str(exc)}, status_code=409)
            except (ValueError, KeyError, TypeError) as exc:
                return JSONResponse({"error": f"bad request: {exc}"}, status_code=400)
            return JSONResponse(result)

        return endpoint

    def path(request: Request, name: str) -> str:
        return str(request.path_params[name])

    def create_shop(request: Request, body: dict[str, Any]) -> Any:
        creds = sandbox.add_shop(
            name=body.get("name", "Demo US"),
            region=body.get("region", "US"),
            webhook_url=body.get("webhook_url"),
            warehouses=body.get("warehouses", ()),
        )
        return {
            **dataclasses.asdict(creds),
            "warehouse_ids": sandbox.warehouse_ids(creds.shop_id),
            "delivery_option_id": sandbox.delivery_option_id(creds.shop_id),
        }

    def add_product(request: Request, body: dict[str, Any]) -> Any:
        shop_id = path(request, "shop_id")
        specs = [SkuSpec(**sku) for sku in body["skus"]]
        product_id = sandbox.add_product(shop_id, body["title"], specs)
        skus = {s.seller_sku: sandbox.sku_id(shop_id, s.seller_sku) for s in specs}
        return {"product_id": product_id, "sku_ids": skus}

    def set_webhook(request: Request, body: dict[str, Any]) -> Any:
        sandbox.set_webhook_url(path(request, "shop_id"), body.get("url"))
        return {"url": body.get("url")}

    def auth_code(request: Request, body: dict[str, Any]) -> Any:
        return {"auth_code": sandbox.issue_auth_code(path(request, "shop_id"))}

    def deauthorize(request: Request, body: dict[str, Any]) -> Any:
        shop_id = path(request, "shop_id")
        sandbox.deauthorize(shop_id, body.get("app_key"))
        return {"shop_id": shop_id, "deauthorized": True}

    def get_app(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.app_settings(path(request, "app_key"))

    def set_app(request: Request, body: dict[str, Any]) -> Any:
        unknown = set(body) - {"redirect_url", "access_token_lifetime"}
        if unknown:
            raise ValueError(
                f"cannot set {sorted(unknown)}; use redirect_url, access_token_lifetime"
            )
        lifetime = body.get("access_token_lifetime")
        return sandbox.configure_app(
            path(request, "app_key"),
            redirect_url=body.get("redirect_url"),
            access_token_lifetime=None if lifetime is None else float(lifetime),
        )

    def inventory(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.stock(path(request, "shop_id"), path(request, "seller_sku"))

    def promotion_lock(request: Request, body: dict[str, Any]) -> Any:
        shop_id, seller_sku = path(request, "shop_id"), path(request, "seller_sku")
        sandbox.promotion_lock(shop_id, seller_sku, body.get("locked", True))
        return sandbox.stock(shop_id, seller_sku)

    def list_orders(request: Request, body: dict[str, Any]) -> Any:
        since = request.query_params.get("updated_since")
        orders = sandbox.orders(path(request, "shop_id"), int(since) if since else None)
        return {"orders": orders}

    def create_order(request: Request, body: dict[str, Any]) -> Any:
        order_id = sandbox.create_order(
            body["shop_id"],
            {str(k): int(v) for k, v in body["items"].items()},
            paid=bool(body.get("paid", False)),
            on_hold_flow=body.get("on_hold_flow"),
        )
        return sandbox.order(order_id)

    def order_action(act: Callable[[str], Any]) -> Callable[[Request, dict[str, Any]], Any]:
        def action(request: Request, body: dict[str, Any]) -> Any:
            order_id = path(request, "order_id")
            act(order_id)
            return sandbox.order(order_id)

        return action

    def request_cancellation(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.cancellation(sandbox.request_cancellation(path(request, "order_id")))

    def cancel_items(request: Request, body: dict[str, Any]) -> Any:
        cancel_id = sandbox.cancel_items(
            path(request, "order_id"),
            _strings(body, "line_item_ids"),
            role=str(body.get("role", "SYSTEM")),
            reason=body.get("reason"),
        )
        return sandbox.cancellation(cancel_id)

    def combine(request: Request, body: dict[str, Any]) -> Any:
        package_id = sandbox.combine_packages(path(request, "shop_id"), _strings(body, "order_ids"))
        return sandbox.package(package_id)

    def uncombine(request: Request, body: dict[str, Any]) -> Any:
        package_id = path(request, "package_id")
        return {"package_id": package_id, "order_ids": sandbox.uncombine_package(package_id)}

    def split(request: Request, body: dict[str, Any]) -> Any:
        groups = body["groups"]
        if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
            raise ValueError("groups is a list of lists of line item ids")
        package_ids = sandbox.split_order(path(request, "order_id"), groups)
        return {"packages": [sandbox.package(package_id) for package_id in package_ids]}

    def get_package(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.package(path(request, "package_id"))

    def create_return(request: Request, body: dict[str, Any]) -> Any:
        return_id = sandbox.create_return(
            path(request, "order_id"),
            _strings(body, "line_item_ids"),
            return_type=str(body.get("return_type", "RETURN_AND_REFUND")),
            reason=str(body.get("reason") or DEFAULT_REASON),
        )
        return sandbox.return_record(return_id)

    def advance_return(request: Request, body: dict[str, Any]) -> Any:
        return_id = path(request, "return_id")
        sandbox.advance_return(return_id, str(body["status"]))
        return sandbox.return_record(return_id)

    def get_return(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.return_record(path(request, "return_id"))

    def get_order(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.order(path(request, "order_id"))

    def get_cancellation(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.cancellation(path(request, "cancel_id"))

    def get_clock(request: Request, body: dict[str, Any]) -> Any:
        now = sandbox.clock.now()
        return {"now": now.isoformat(), "timestamp": int(now.timestamp())}

    async def advance_clock(request: Request, body: dict[str, Any]) -> Any:
        if not isinstance(sandbox.clock, ManualClock):
            raise SandboxError("the clock can only be advanced when it is a ManualClock")
        sandbox.clock.advance(timedelta(seconds=float(body["seconds"])))
        attempted = await sandbox.tick()
        return {**get_clock(request, body), "webhooks_attempted": attempted}

    async def tick(request: Request, body: dict[str, Any]) -> Any:
        return {"webhooks_attempted": await sandbox.tick()}

    def get_faults(request: Request, body: dict[str, Any]) -> Any:
        return sandbox.faults.settings.as_dict()

    def set_faults(request: Request, body: dict[str, Any]) -> Any:
        sandbox.faults.settings.update(body)
        return sandbox.faults.settings.as_dict()

    def get_settings(request: Request, body: dict[str, Any]) -> Any:
        return {"webhook_cancel_spelling": sandbox.webhook_cancel_spelling}

    def set_settings(request: Request, body: dict[str, Any]) -> Any:
        spelling = body.get("webhook_cancel_spelling", sandbox.webhook_cancel_spelling)
        if spelling not in ("CANCEL", "CANCELLED"):
            raise ValueError("webhook_cancel_spelling is CANCEL or CANCELLED")
        sandbox.webhook_cancel_spelling = spelling
        return get_settings(request, body)

    def webhooks(request: Request, body: dict[str, Any]) -> Any:
        return {
            "deliveries": [
                {
                    "id": d.id,
                    "url": d.url,
                    "body": d.body.decode(),
                    "status": d.status,
                    "attempts": d.attempts,
                    "due_at": d.due_at.isoformat(),
                    "history": [[at.isoformat(), result] for at, result in d.history],
                }
                for d in sandbox.deliveries()
            ]
        }

    def r(path: str, action: Callable[[Request, dict[str, Any]], Any], method: str) -> Route:
        return Route(path, guarded(action), methods=[method])

    return [
        r("/shops", create_shop, "POST"),
        r("/shops/{shop_id}/products", add_product, "POST"),
        r("/shops/{shop_id}/webhook", set_webhook, "PUT"),
        r("/shops/{shop_id}/auth_code", auth_code, "POST"),
        r("/shops/{shop_id}/deauthorize", deauthorize, "POST"),
        r("/apps/{app_key}", get_app, "GET"),
        r("/apps/{app_key}", set_app, "POST"),
        r("/shops/{shop_id}/inventory/{seller_sku}", inventory, "GET"),
        r("/shops/{shop_id}/skus/{seller_sku}/promotion_lock", promotion_lock, "POST"),
        r("/shops/{shop_id}/orders", list_orders, "GET"),
        r("/orders", create_order, "POST"),
        r("/orders/{order_id}", get_order, "GET"),
        r("/orders/{order_id}/pay", order_action(sandbox.pay), "POST"),
        r("/orders/{order_id}/fail_payment", order_action(sandbox.fail_payment), "POST"),
        r("/orders/{order_id}/buyer_cancel", order_action(sandbox.buyer_cancel), "POST"),
        r("/orders/{order_id}/fraud_cancel", order_action(sandbox.fraud_cancel), "POST"),
        r("/orders/{order_id}/request_cancellation", request_cancellation, "POST"),
        r("/orders/{order_id}/collect", order_action(sandbox.carrier_collect), "POST"),
        r("/orders/{order_id}/deliver", order_action(sandbox.deliver), "POST"),
        r("/orders/{order_id}/cancel_items", cancel_items, "POST"),
        r("/orders/{order_id}/split", split, "POST"),
        r("/orders/{order_id}/returns", create_return, "POST"),
        r("/shops/{shop_id}/packages/combine", combine, "POST"),
        r("/packages/{package_id}", get_package, "GET"),
        r("/packages/{package_id}/uncombine", uncombine, "POST"),
        r("/returns/{return_id}", get_return, "GET"),
        r("/returns/{return_id}/advance", advance_return, "POST"),
        r("/cancellations/{cancel_id}", get_cancellation, "GET"),
        r("/clock", get_clock, "GET"),
        r("/clock/advance", advance_clock, "POST"),
        r("/tick", tick, "POST"),
        r("/faults", get_faults, "GET"),
        r("/faults", set_faults, "PUT"),
        r("/settings", get_settings, "GET"),
        r("/settings", set_settings, "PUT"),
        r("/webhooks", webhooks, "GET"),
    ]


def _strings(body: dict[str, Any], name: str) -> list[str]:
    """A required list of ids; a bare string or a number is a 400, not a list of characters."""
    value = body[name]
    if not isinstance(value, list):
        raise ValueError(f"{name} is a list of ids")
    return [str(item) for item in value]
