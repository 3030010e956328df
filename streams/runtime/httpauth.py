"""Who may call a worker's HTTP routes, how often, and what a refusal looks like.

Every route except ``/health``, ``/ready``, ``/metrics`` and ``/openapi.json`` needs ``Authorization: Bearer <token>``, and each
route needs one scope of that token: ``read`` (lists, search, item signals), ``ingest`` (``POST /events``, ``POST /items``, ``DELETE /items/{id}``),
``admin`` (forget a shopper, read a shopper's profile). A route this table does not name is refused even with a
valid token. Tokens come from ``STREAMREC_API_TOKENS_FILE`` and/or ``STREAMREC_API_TOKENS``; only their SHA-256
digests are kept, and a presented token is compared with every one of them by ``hmac.compare_digest``, without
an early exit, so the time taken says nothing about how close a guess came.

Why this is our own code: the check is a table lookup of a few lines. The aiohttp project's ``aiohttp-security``
is built around identity policies and sessions (cookies, a login flow), which a service-to-service API does not
have, and it would still leave the token table, the scopes and the constant-time compare to us. Rate limits use
the ``limits`` library (moving windows in memory, per worker).

Every error answer is JSON ``{"error": "..."}``, including aiohttp's own 404, 405 and 413 and anything a view
did not expect (500, logged).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from aiohttp import web
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ..errors import ImproperlyConfigured
from ..settings import Settings

log = logging.getLogger(__name__)

SCOPES = ("read", "ingest", "admin")
#: a token shorter than this is refused at start-up: `streamrec token` makes 43-character ones
MIN_TOKEN_LENGTH = 32
#: routes anyone may call: liveness and readiness probes, the Prometheus scrape, the API's description
OPEN_ROUTES = frozenset({("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"), ("GET", "/openapi.json")})
#: (method, route) → the scope it needs
ROUTE_SCOPES = {
    ("GET", "/recommendations/{user_id}"): "read",
    ("GET", "/sessions/{session_id}/recommendations"): "read",
    ("GET", "/search"): "read",
    ("GET", "/items/{item_id}/signals"): "read",
    ("GET", "/items/{item_id}/similar"): "read",
    ("POST", "/events"): "ingest",
    ("POST", "/items"): "ingest",
    ("DELETE", "/items/{item_id}"): "ingest",
    ("DELETE", "/users/{user_id}"): "admin",
    ("DELETE", "/sessions/{session_id}"): "admin",
    ("GET", "/users/{user_id}/profile"): "admin",
}
#: the request key under which a view finds the caller's Token
TOKEN_KEY = "streamrec.token"


@dataclass(frozen=True)
class Token:
    """A caller: its name (for logs and rate limits), its scopes and the SHA-256 digest of its secret."""

    name: str
    scopes: frozenset[str]
    digest: bytes


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def parse_tokens(text: str, source: str) -> list[Token]:
    """Tokens from ``name:scope[,scope]:token`` entries, one per line or separated by ``;`` (``#`` starts a comment).

    A malformed entry is an ImproperlyConfigured naming ``source`` and the entry's number, never its secret.
    """
    tokens = []
    entries = [part for line in text.splitlines() for part in line.split(";")]
    for number, entry in enumerate(entries, 1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, _, rest = entry.partition(":")
        scope_text, _, secret = rest.partition(":")
        name, secret = name.strip(), secret.strip()
        scopes = frozenset(s.strip() for s in scope_text.split(",") if s.strip())
        where = f"{source}, entry {number}"
        if not name or not secret:
            raise ImproperlyConfigured(f"{where}: give each token as name:scope[,scope]:token")
        unknown = scopes - set(SCOPES)
        if not scopes or unknown:
            raise ImproperlyConfigured(f"{where} ({name}): scopes must be among {', '.join(SCOPES)}, got "
                                       f"{scope_text.strip()!r}")
        if len(secret) < MIN_TOKEN_LENGTH or any(ch.isspace() for ch in secret):
            raise ImproperlyConfigured(f"{where} ({name}): a token needs at least {MIN_TOKEN_LENGTH} characters and no "
                                       "spaces (`streamrec token` makes one)")
        tokens.append(Token(name, scopes, _digest(secret)))
    return tokens


def load_tokens(settings: Settings) -> list[Token]:
    """Every token of ``STREAMREC_API_TOKENS_FILE`` and ``STREAMREC_API_TOKENS``."""
    tokens = []
    if settings.api_tokens_file is not None:
        path = Path(settings.api_tokens_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ImproperlyConfigured(f"cannot read STREAMREC_API_TOKENS_FILE {path}: {exc.strerror}") from None
        tokens += parse_tokens(text, str(path))
    if settings.api_tokens is not None:
        tokens += parse_tokens(settings.api_tokens.get_secret_value(), "STREAMREC_API_TOKENS")
    return tokens


class TokenTable:
    """The configured tokens; ``lookup`` compares a presented secret with all of them in constant time."""

    def __init__(self, tokens: Iterable[Token]) -> None:
        self.tokens = tuple(tokens)

    def lookup(self, presented: str) -> Token | None:
        digest = _digest(presented)
        found = None
        for token in self.tokens:  # no early exit: every lookup compares with every token
            if hmac.compare_digest(token.digest, digest):
                found = token
        return found

    def __len__(self) -> int:
        return len(self.tokens)


class Limits:
    """Per-token request rates and per-address wrong-token rates (moving windows, this worker's memory)."""

    def __init__(self, per_token: str, failures: str) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.per_token: list[RateLimitItem] = parse_many(per_token)
        self.failures: list[RateLimitItem] = parse_many(failures)

    def take(self, token: Token) -> float | None:
        """Count one request of ``token``: None when allowed, else the seconds to wait."""
        allowed = [self.limiter.hit(rate, "token", token.name) for rate in self.per_token]
        return None if all(allowed) else self._wait(self.per_token, "token", token.name)

    def locked_out(self, address: str) -> float | None:
        """None while ``address`` may still present tokens, else the seconds until it may again."""
        if all(self.limiter.test(rate, "failure", address) for rate in self.failures):
            return None
        return self._wait(self.failures, "failure", address)

    def failed(self, address: str) -> None:
        """Count one wrong token from ``address``."""
        for rate in self.failures:
            self.limiter.hit(rate, "failure", address)

    def _wait(self, rates: list[RateLimitItem], *keys: str) -> float:
        now = time.time()
        waits = [self.limiter.get_window_stats(rate, *keys).reset_time - now for rate in rates
                 if not self.limiter.test(rate, *keys)]
        return max(waits or [1.0])


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The one shape of every error answer: ``{"error": message}`` with ``status``."""
    return web.json_response({"error": message}, status=status, headers=headers)


def _unauthorized(message: str, code: str | None = None) -> web.Response:
    challenge = 'Bearer realm="streamrec"' + (f', error="{code}"' if code else "")
    return error(401, message, {"WWW-Authenticate": challenge})


def _too_many(message: str, wait: float) -> web.Response:
    return error(429, message, {"Retry-After": str(max(1, math.ceil(wait)))})


def route_of(request: web.Request) -> str | None:
    """The matched route's pattern, e.g. ``/recommendations/{user_id}`` (None when nothing matched)."""
    resource = getattr(request.match_info.route, "resource", None)
    return resource.canonical if resource is not None else None


def middlewares(settings: Settings, table: TokenTable | None = None) -> list:
    """aiohttp middlewares: JSON errors (outermost), then authentication, rate limits and scopes."""
    table = TokenTable(load_tokens(settings)) if table is None else table
    limits = Limits(settings.http_rate_limit, settings.http_auth_failure_limit)
    max_body = settings.http_max_body

    @web.middleware
    async def json_errors(request: web.Request, handler):
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return error(exc.status, _reason(request, exc, max_body),
                         {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return error(500, "internal error (logged by the worker)")

    @web.middleware
    async def authenticate(request: web.Request, handler):
        route = route_of(request)
        if (request.method, route) in OPEN_ROUTES:
            return await handler(request)
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            return _unauthorized("this route needs Authorization: Bearer <token>")
        address = request.remote or "unknown"
        wait = limits.locked_out(address)
        if wait is not None:
            return _too_many("too many wrong tokens from this address; try again later", wait)
        token = table.lookup(presented)
        if token is None:
            limits.failed(address)
            return _unauthorized("unknown token", "invalid_token")
        wait = limits.take(token)
        if wait is not None:
            return _too_many(f"token {token.name!r} is over its rate limit ({settings.http_rate_limit})", wait)
        if request.match_info.http_exception is not None:
            raise request.match_info.http_exception  # 404 / 405, made JSON by json_errors
        scope = ROUTE_SCOPES.get((request.method, route))
        if scope is None:
            raise web.HTTPNotFound()
        if scope not in token.scopes:
            return error(403, f"token {token.name!r} lacks the {scope} scope this route needs")
        if request.content_length is not None and request.content_length > max_body:
            return error(413, f"the body has {request.content_length} bytes; at most {max_body}")
        request[TOKEN_KEY] = token
        return await handler(request)

    return [json_errors, authenticate]


def _reason(request: web.Request, exc: web.HTTPException, max_body: int) -> str:
    if isinstance(exc, web.HTTPNotFound):
        return f"no route {request.path}"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return f"{request.method} is not allowed on {request.path} (allowed: {exc.headers.get('Allow', '')})"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return f"the body is larger than {max_body} bytes"
    return exc.reason or f"HTTP {exc.status}"
