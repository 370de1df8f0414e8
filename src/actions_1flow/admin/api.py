"""The admin JSON API under `/admin/api/v1/` (docs/console.md, "Admin API"): what the console's pages call, and
what scripts may call with `Authorization: Bearer <admin token>`. Every figure comes from the query layer the CLI
uses (`pipeline.queries`), every record in the shape the CLI prints (`service.records`); every error is a 4xx JSON
`{"code", "message"}`; secrets are always masked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .. import fql, mapping, times
from ..actions import SubscriptionResult, deliver_event, run_subscription
from ..actions.payload import PayloadValidationError
from ..config import Config, DestinationConfig
from ..ingest import IngestError
from ..jsvalues import dumps as js_dumps
from ..pipeline import DeviceEvent, StoreError, queries
from ..service import records
from ..service.state import ServerState
from ..times import iso
from .auth import AdminAuth, Principal, admin_auth, auth_routes, read_limited_body

PREFIX = "/admin/api/v1"
MAX_BODY = 1024 * 1024
SEND_TIMEOUT_S = 10.0

Handler = Callable[[Request, Principal], Awaitable[Response]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def json_response(data: Any, status: int = 200) -> Response:
    return Response(js_dumps(data), status, media_type="application/json", headers={"Cache-Control": "no-store"})


def problem(status: int, code: str, message: str) -> Response:
    return Response(
        orjson.dumps({"code": code, "message": message}),
        status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The handler behind authentication (401/403/429), with its errors as 4xx JSON (a store that cannot be read
    is a 503: the only 5xx, and not a bug)."""

    async def endpoint(request: Request) -> Response:
        principal = await admin_auth(request).authenticate(request)
        if isinstance(principal, Response):
            return principal
        try:
            return await handler(request, principal)
        except ApiError as exc:
            return problem(exc.status, exc.code, exc.message)
        except StoreError as exc:
            return problem(503, "store_unavailable", str(exc))

    endpoint.__name__ = handler.__name__
    return endpoint


async def body_json(request: Request) -> dict[str, Any]:
    """The request's JSON object body of at most `MAX_BODY` bytes (refused with 413 while it is read)."""
    try:
        body = await read_limited_body(request, MAX_BODY)
    except IngestError as err:
        raise ApiError(err.status, err.code, err.message) from None
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be a whole number, not {raw[:50]!r}") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be between {low} and {high}")
    return value


def parse_moment(text: Any, now: float, name: str) -> float:
    """`times.parse_moment` for the API: a 400 naming the field on a bad value."""
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "invalid_parameter", f"{name} must be a duration ago (30m, 2h, 1d) or an ISO-8601 time")
    try:
        return times.parse_moment(text, now)
    except ValueError as exc:
        raise ApiError(400, "invalid_parameter", f"{name}: {exc}") from None


class AdminAPI:
    def __init__(self, state: ServerState) -> None:
        self.state = state

    @property
    def config(self) -> Config:
        return self.state.config

    def cloud(self) -> dict[str, list[str]]:
        return {d.name: self.config.sources_of(d) for d in self.config.cloud_destinations()}

    def destination(self, name: Any, *, cloud_only: bool = True) -> DestinationConfig | None:
        if name is None or name == "":
            return None
        pool = self.config.cloud_destinations() if cloud_only else self.config.destinations
        for d in pool:
            if d.name == name:
                return d
        kind = "cloud-mode destinations" if cloud_only else "destinations"
        raise ApiError(
            400,
            "unknown_destination",
            f"unknown destination {str(name)[:100]!r}; the {kind} are: {', '.join(d.name for d in pool) or 'none'}",
        )

    async def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- endpoints -----------------------------------------------------------------------------------------------

    async def session(self, request: Request, principal: Principal) -> Response:
        s = principal.session
        return json_response(
            {"via": principal.via, "csrf": s.csrf if s else None, "expires_at": s.expires_at if s else None}
        )

    async def overview(self, request: Request, principal: Principal) -> Response:
        range_ = request.query_params.get("range", "1h")
        if range_ not in queries.RANGES:
            raise ApiError(400, "invalid_parameter", f"range must be one of {', '.join(queries.RANGES)}")
        return json_response(await self.read(queries.overview, self.state.store, self.cloud(), range_, time.time()))

    async def events(self, request: Request, principal: Principal) -> Response:
        params = request.query_params
        dest = self.destination(params.get("destination"), cloud_only=False)
        status = params.get("status") or None
        limit = _int_param(request, "limit", 50, 1, queries.MAX_PAGE)
        try:
            rows, nxt = await self.read(
                queries.log_page,
                self.state.store,
                destination=dest.name if dest else None,
                status=status,
                q=(params.get("q") or "").strip()[:200] or None,
                cursor=params.get("cursor") or None,
                limit=limit,
            )
        except ValueError as exc:
            raise ApiError(400, "invalid_parameter", str(exc)) from None
        return json_response({"items": [records.log_entry(r.entry, r.source) for r in rows], "next": nxt})

    async def event(self, request: Request, principal: Principal) -> Response:
        message_id = request.path_params["message_id"]
        source = request.query_params.get("source") or None
        sources = [s.name for s in self.config.sources]
        if source is not None:
            if source not in sources:
                raise ApiError(400, "unknown_source", f"unknown source {source[:100]!r}")
            sources = [source]
        detail = await self.read(queries.event_detail, self.state.store, message_id, sources)
        if detail is None:
            raise ApiError(
                404,
                "not_found",
                f"no stored event has messageId {message_id[:200]!r}" + (f" from source {source!r}" if source else ""),
            )
        stored = detail.event
        verdicts = [
            records.verdict(d, r)
            for d in self.config.destinations
            if stored.source in self.config.sources_of(d)
            for r in _run(d, stored.event)
        ]
        return json_response(
            {
                "messageId": message_id,
                "source": stored.source,
                "received_at": iso(stored.received_at),
                "event": stored.event,
                "verdicts": verdicts,
                "deliveries": [records.log_entry(r.entry, r.source) for r in detail.deliveries],
            }
        )

    async def test_event(self, request: Request, principal: Principal) -> Response:
        data = await body_json(request)
        event = data.get("event")
        if not isinstance(event, dict):
            raise ApiError(400, "invalid_event", "event must be a JSON object (a Segment event: type, event, userId …)")
        named = self.destination(data.get("destination"))
        targets = [named] if named is not None else self.config.cloud_destinations()
        send = data.get("send") is True
        results: list[dict[str, Any]] = []
        sent: dict[str, Any] | None = None
        sent_all: list[dict[str, Any]] = []
        for dest in targets:
            if not send:
                results += [records.verdict(dest, r) for r in _run(dest, event)]
                continue
            async with dest.create_client(timeout=SEND_TIMEOUT_S) as client:
                for delivery in await deliver_event(event, dest, client):
                    results.append({**records.verdict(dest, delivery.result), "verdict": delivery.verdict})
                    for outcome in delivery.outcomes:
                        exchange = outcome.exchange.to_dict() if outcome.exchange is not None else None
                        entry = {
                            "destination": dest.name,
                            "subscription": delivery.result.subscription.name,
                            "request": exchange["request"] if exchange else None,
                            "response": exchange["response"] if exchange else None,
                            "error": exchange.get("error") if exchange else None,
                            "outcome": {
                                "kind": outcome.kind.value,
                                "status": outcome.status,
                                "reason": outcome.reason,
                                "hint": outcome.hint,
                            },
                        }
                        sent_all.append(entry)
                        if sent is None:
                            sent = entry
        return json_response({"results": results, "sent": sent, "sent_all": sent_all if send else None})

    async def mapping_preview(self, request: Request, principal: Principal) -> Response:
        data = await body_json(request)
        dest = self.destination(data.get("destination"), cloud_only=False)
        if dest is None:
            pool = self.config.cloud_destinations() or self.config.destinations
            if not pool:
                raise ApiError(400, "unknown_destination", "the configuration has no destinations")
            dest = pool[0]
        subscribe, mapping_, event = data.get("subscribe", ""), data.get("mapping", {}), data.get("event", {})
        action_name = data.get("partnerAction")
        if not isinstance(subscribe, str) or not isinstance(mapping_, dict) or not isinstance(event, dict):
            raise ApiError(400, "invalid_parameter", "subscribe must be a string, mapping and event JSON objects")
        trigger: dict[str, Any] = {"ok": True, "matched": None, "error": None}
        try:
            parsed = fql.parse(subscribe)
        except fql.FQLSyntaxError as exc:
            trigger = {"ok": False, "matched": None, "error": str(exc)}
        else:
            trigger["matched"] = parsed.matches(event)  # never raises (see fql.Subscription)
        result: dict[str, Any] = {"ok": False, "payload": None, "error": None}
        try:
            compiled = mapping.compile(dict(mapping_))
        except mapping.MappingValidationError as exc:
            result["error"] = "\n".join(exc.explained())
        else:
            try:
                mapped = compiled.apply(event)
            except mapping.MappingError as exc:
                result["error"] = f"mapping failed: {exc}"
            else:
                result = {"ok": True, "payload": mapped, "error": None}
                action = dest.definition.actions.get(action_name) if isinstance(action_name, str) else None
                if isinstance(action_name, str) and action is None:
                    result["error"] = f"unknown action {action_name!r} (known: {', '.join(dest.definition.actions)})"
                    result["ok"] = False
                elif action is not None:
                    try:
                        result["payload"] = action.validator(mapped, batch=False)
                    except PayloadValidationError as exc:
                        result = {"ok": False, "payload": mapped, "error": str(exc)}
        sub = {
            "name": data.get("name") or "Subscription",
            "subscribe": subscribe,
            "partnerAction": action_name,
            "mapping": mapping_,
        }
        return json_response(
            {"trigger": trigger, "mapping": result, "yaml": yaml.safe_dump([sub], sort_keys=False, allow_unicode=True)}
        )

    async def replay(self, request: Request, principal: Principal) -> Response:
        data = await body_json(request)
        now = time.time()
        dest = self.destination(data.get("destination"))
        names = [dest.name] if dest else list(self.cloud())
        event: int | None = None
        if data.get("messageId") not in (None, ""):  # one event's dead letters (the console's Replay on an event)
            sources = (
                [s.name for s in self.state.config.sources]
                if data.get("source") in (None, "")
                else [str(data["source"])]
            )
            found = await self.read(self.state.store.find_event, str(data["messageId"]), sources)
            if found is None:
                raise ApiError(404, "not_found", f"no stored event with messageId {data['messageId']!r}")
            event, since, until = found.seq, 0.0, now
        else:
            since = parse_moment(data.get("since"), now, "since")
            until = now if data.get("until") in (None, "") else parse_moment(data.get("until"), now, "until")
            if until <= since:
                raise ApiError(400, "invalid_parameter", "until must be after since")
        dry_run = data.get("dry_run", True) is not False
        if dry_run:
            counts = await self.read(queries.replay_counts, self.state.store, names, since, until, now, event)
            return json_response({"count": sum(counts.values()), "dry_run": True, "by_destination": counts})
        count = await self.read(queries.replay, self.state.store, names, since, until, now, None, event)
        self.state.events_stored()  # wake the worker: the re-queued deliveries are due now
        return json_response({"count": count, "dry_run": False})

    async def config_view(self, request: Request, principal: Principal) -> Response:
        config = self.config
        return json_response(
            {
                "file": str(config.file) if config.file else None,
                "storage": config.storage_description(),
                "sources": [records.source(s) for s in config.sources],
                "destinations": [records.destination(d, config) for d in config.destinations],
            }
        )

    async def destinations(self, request: Request, principal: Principal) -> Response:
        reports: list[DeviceEvent] = await self.read(self.state.store.device_events, 200)
        worker = self.state.delivery
        out = []
        for d in self.config.destinations:
            state, until, reason = "idle", None, None
            if d.mode == "cloud" and worker is not None:
                delivery = worker.delivery_state(d.name)
                state, until, reason = delivery.state, iso(delivery.until), delivery.reason
            elif d.mode == "cloud":
                reason = "no delivery worker in this process (a separate `actions-1flow worker` may deliver)"
            out.append(
                {
                    "destination": d.name,
                    "type": d.type,
                    "mode": d.mode,
                    "settings": d.settings.masked(),
                    "state": state,
                    "until": until,
                    "reason": reason,
                    "device_reports": [records.device_event(r) for r in reports if r.destination == d.name][:5],
                }
            )
        return json_response(out)

    async def device_events(self, request: Request, principal: Principal) -> Response:
        limit = _int_param(request, "limit", 50, 1, 1000)
        reports = await self.read(self.state.store.device_events, limit)
        return json_response({"items": [records.device_event(r) for r in reports]})

    async def reload(self, request: Request, principal: Principal) -> Response:
        reloader = getattr(request.app.state, "reloader", None)
        if reloader is None:
            raise ApiError(409, "no_reload", "this server cannot reload its configuration")
        result = await reloader.reload()
        return json_response(result.to_json(), 200 if result.ok else 400)


def _run(dest: DestinationConfig, event: dict[str, Any]) -> list[SubscriptionResult]:
    settings = dest.setting_values()
    return [run_subscription(dest.definition, compiled, event, settings) for compiled in dest.compiled]


def routes(state: ServerState, auth: AdminAuth) -> list[BaseRoute]:
    """The login/logout routes and the admin API."""
    api = AdminAPI(state)
    table: list[tuple[str, Handler, list[str]]] = [
        ("/session", api.session, ["GET"]),
        ("/overview", api.overview, ["GET"]),
        ("/events", api.events, ["GET"]),
        ("/events/{message_id:path}", api.event, ["GET"]),
        ("/test-event", api.test_event, ["POST"]),
        ("/mapping-preview", api.mapping_preview, ["POST"]),
        ("/replay", api.replay, ["POST"]),
        ("/config", api.config_view, ["GET"]),
        ("/destinations", api.destinations, ["GET"]),
        ("/device-events", api.device_events, ["GET"]),
        ("/reload", api.reload, ["POST"]),
    ]
    return [*auth_routes(), *(Route(PREFIX + path, guarded(h), methods=m) for path, h, m in table)]
