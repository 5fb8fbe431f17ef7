"""OAuth 2.1 resource server: JWT access tokens checked against the issuer's keys, the RFC 9728 metadata, challenges.

* :class:`JwksCache` holds the issuer's signing keys: fetched once (from ``HMS_RECORDINGS_OAUTH_JWKS_URL``, else
  the ``jwks_uri`` of the issuer's ``/.well-known/openid-configuration`` or ``oauth-authorization-server``
  document), kept ``jwks_cache_seconds``, and fetched again early when a token names a key id the cache does not hold
  (the issuer rotated its keys) - at most once per ``jwks_refetch_interval``, so that tokens with made-up key ids
  cannot make this server hammer the issuer. Documents are bounded in size and key count.
* :class:`JwtVerifier` checks signature (asymmetric algorithms only, never ``none`` or HMAC), ``iss``, ``aud``,
  ``exp``, ``nbf`` (with a small leeway) and a subject, and turns the claims into a
  :class:`~hms_recordings.runtime.access.Principal` (scopes from ``scope`` or ``scp``, client from ``client_id`` or
  ``azp``).
* :class:`OAuthAuth` is the ASGI layer: no token or a bad one is a 401 with the challenge of RFC 6750 / RFC 9728
  (``resource_metadata`` and ``scope``); a good one leaves the principal in the request's state (and the SDK's
  ``scope["user"]``, so that an MCP session stays bound to the caller who opened it).

The access token is read here and nowhere else: it is never logged, never kept, never forwarded upstream (upstream
requests are built from the capability file only, with the server's own 100ms credential).
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import jwt
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hms_recordings.errors import ConfigError
from hms_recordings.faces.problems import problem_response
from hms_recordings.runtime.access import PRINCIPAL_KEY, Principal
from hms_recordings.server.middleware import bearer_token

__all__ = [
    "ALGORITHMS",
    "FaceAuth",
    "JwksCache",
    "JwtVerifier",
    "OAuthAuth",
    "TokenRefused",
    "challenge",
    "check_issuer",
    "metadata_route",
    "metadata_url",
]

logger = logging.getLogger("hms_recordings.oauth")

#: Signature algorithms accepted: asymmetric only (an HMAC key would have to be shared with us; ``none`` is no
#: signature at all).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_DOCUMENT_BYTES = 256 * 1024  # a JWKS or metadata document larger than this is refused
MAX_KEYS = 64  # keys kept from one JWKS
MAX_TOKEN_CHARS = 16 * 1024


class TokenRefused(Exception):
    """The token is not accepted; the message says why, without the token (it goes into the challenge)."""


Clock = Callable[[], float]


class JwksCache:
    """The issuer's signing keys by key id (see the module docstring for when they are fetched)."""

    def __init__(
        self,
        issuer: str,
        *,
        jwks_url: str | None = None,
        client: httpx2.AsyncClient | None = None,
        cache_seconds: float = 600.0,
        refetch_interval: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self._client = client or httpx2.AsyncClient(timeout=httpx2.Timeout(5.0), follow_redirects=False)
        self.cache_seconds = cache_seconds
        self.refetch_interval = refetch_interval
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._forced_at: float | None = None  # the last refetch an unknown key id caused
        self._lock = anyio.Lock()
        self.fetches = 0  # how many times the JWKS was fetched (operations and tests read it)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _get_json(self, url: str) -> dict[str, Any]:
        async with self._client.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise TokenRefused(f"the issuer's {urlsplit(url).path} answered {response.status_code}")
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise TokenRefused(f"the issuer's {urlsplit(url).path} is larger than {MAX_DOCUMENT_BYTES} bytes")
        try:
            document = json.loads(body)
        except ValueError:
            raise TokenRefused(f"the issuer's {urlsplit(url).path} is not JSON") from None
        if not isinstance(document, dict):
            raise TokenRefused(f"the issuer's {urlsplit(url).path} is not a JSON object")
        return document

    async def discover(self) -> str:
        """The JWKS URL: the configured one, else the issuer's metadata's ``jwks_uri`` (OpenID first, then RFC 8414)."""
        if self.jwks_url is not None:
            return self.jwks_url
        parts = urlsplit(self.issuer)
        base, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
        candidates = (
            f"{base}{path}/.well-known/openid-configuration",
            f"{base}/.well-known/oauth-authorization-server{path}",  # RFC 8414 §3.1: inserted before the path
        )
        failures = []
        for url in candidates:
            try:
                document = await self._get_json(url)
            except (TokenRefused, httpx2.HTTPError) as exc:
                failures.append(str(exc) or type(exc).__name__)
                continue
            if str(document.get("issuer", "")).rstrip("/") != self.issuer.rstrip("/"):
                failures.append(f"{url} names another issuer")
                continue
            jwks_uri = document.get("jwks_uri")
            if isinstance(jwks_uri, str) and jwks_uri.startswith(("https://", "http://")):
                self.jwks_url = jwks_uri
                return jwks_uri
            failures.append(f"{url} has no jwks_uri")
        raise TokenRefused("cannot find the issuer's keys: " + "; ".join(failures))

    async def _fetch(self) -> None:
        url = await self.discover()
        document = await self._get_json(url)
        keys: dict[str, jwt.PyJWK] = {}
        for raw in (document.get("keys") or [])[:MAX_KEYS]:
            if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(raw)
            except jwt.PyJWTError:
                continue  # a key type or algorithm we cannot use: skipped, the others still serve
            keys[str(raw.get("kid", ""))] = key
        self.fetches += 1
        self._keys, self._fetched_at = keys, self._clock()

    def holds(self, kid: str) -> bool:
        """Whether the keys fetched last include ``kid`` (and are not past their cache time)."""
        fetched = self._fetched_at
        return kid in self._keys and fetched is not None and self._clock() - fetched < self.cache_seconds

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key with this id, fetching the JWKS when the cache is empty, stale, or does not know the id."""
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self.cache_seconds
        if kid in self._keys and not stale:
            return self._keys[kid]
        async with self._lock:
            now = self._clock()
            fetched, forced = self._fetched_at, self._forced_at
            stale = fetched is None or now - fetched >= self.cache_seconds
            # An unknown key id may mean the issuer rotated: fetch again, but at most once per refetch interval.
            unknown = kid not in self._keys and (forced is None or now - forced >= self.refetch_interval)
            if stale or unknown:
                if not stale:
                    self._forced_at = now
                try:
                    await self._fetch()
                except httpx2.HTTPError as exc:
                    if not self._keys:
                        raise TokenRefused(f"cannot reach the issuer's keys ({type(exc).__name__})") from None
                    logger.warning("JWKS refresh failed (%s); keeping the keys fetched before", type(exc).__name__)
        if kid not in self._keys:
            raise TokenRefused("the token is signed with a key the issuer does not publish")
        return self._keys[kid]


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(str(s) for s in raw if isinstance(s, str))
    return frozenset()


class JwtVerifier:
    """Checks one access token and says who it names (see the module docstring).

    A token that verified is remembered (at most ``max_remembered``, each until its ``exp`` plus the leeway and no
    longer than ``remember_seconds``), so that a client sending the same token call after call pays the signature
    check once: the cost per call is then a lookup (``bench/oauth_verify.py`` measures both). A remembered token is
    still refused as soon as its key leaves the issuer's JWKS."""

    def __init__(
        self,
        keys: JwksCache,
        *,
        audience: str,
        leeway: float = 30.0,
        max_remembered: int = 4096,
        remember_seconds: float = 300.0,
        wall_clock: Clock = time.time,
    ) -> None:
        self.keys = keys
        self.issuer = keys.issuer
        self.audience = audience
        self.leeway = leeway
        self.max_remembered = max_remembered
        self.remember_seconds = remember_seconds
        self._wall = wall_clock
        self._verified: OrderedDict[str, tuple[Principal, float, str]] = OrderedDict()  # token -> (who, until, kid)

    async def verify(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRefused("the token is too long")
        known = self._verified.get(token)
        if known is not None:
            principal, until, kid = known
            if self._wall() < until and self.keys.holds(kid):
                return principal
            del self._verified[token]
        principal, exp, kid = await self._check(token)
        if self.max_remembered > 0:
            self._verified[token] = (principal, min(exp + self.leeway, self._wall() + self.remember_seconds), kid)
            while len(self._verified) > self.max_remembered:
                self._verified.popitem(last=False)
        return principal

    async def _check(self, token: str) -> tuple[Principal, float, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused("the token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise TokenRefused(f"the token's algorithm is not one of {', '.join(ALGORITHMS)}")
        kid = str(header.get("kid", ""))
        key = await self.keys.key(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRefused("the token is not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused("the token was issued for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRefused("the token was issued by another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(f"the token has no {exc.claim} claim") from None
        except jwt.PyJWTError:
            raise TokenRefused("the token's signature does not verify") from None
        client = claims.get("client_id", claims.get("azp"))
        principal = Principal(str(claims["sub"]), str(client) if client is not None else None, _scopes(claims))
        return principal, float(claims["exp"]), kid


# ------------------------------------------------------------------------------------------ metadata, challenges


def metadata_url(resource: str) -> str:
    """RFC 9728 §3.1: ``/.well-known/oauth-protected-resource`` inserted between the host and the resource's path."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path.rstrip('/')}"


def metadata_route(resource: str, issuer: str, scopes: list[str], name: str) -> Route:
    """The protected-resource metadata document, served without authentication (clients read it to find the
    authorization server)."""
    document = {
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": name,
    }

    async def endpoint(request: Request) -> Response:
        return JSONResponse(document, headers={"Cache-Control": "max-age=300"})

    return Route(urlsplit(metadata_url(resource)).path, endpoint, methods=["GET"])


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def challenge(resource: str, scopes: list[str], error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3, RFC 9728 §5.1). Without ``error`` when the request
    carried no token at all, as RFC 6750 §3.1 asks."""
    parts = []
    if error is not None:
        parts.append(f'error="{error}"')
    if description is not None:
        parts.append(f'error_description="{_quoted(description)}"')
    parts.append(f'resource_metadata="{metadata_url(resource)}"')
    if scopes:
        parts.append(f'scope="{" ".join(scopes)}"')
    return "Bearer " + ", ".join(parts)


@dataclass(frozen=True)
class FaceAuth:
    """What one face tells its callers: its resource URL and the scopes to ask for."""

    resource: str
    scopes: list[str]
    problems: bool  # answer with RFC 9457 problem documents (REST) rather than the OAuth JSON error (MCP)


class OAuthAuth:
    """Requires a valid access token on every path but the exempt ones (see the module docstring)."""

    def __init__(self, app: ASGIApp, verifier: JwtVerifier, face: FaceAuth, *, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.verifier = verifier
        self.face = face
        self.exempt = (*exempt, urlsplit(metadata_url(face.resource)).path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        token = (bearer_token(scope) or b"").decode("latin-1")
        if not token:
            await self._refuse(scope, receive, send, None, "send Authorization: Bearer <access token>")
            return
        try:
            principal = await self.verifier.verify(token)
        except TokenRefused as exc:
            await self._refuse(scope, receive, send, "invalid_token", str(exc))
            return
        scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
        # The SDK binds a stateful MCP session to the principal that opened it (issuer, client, subject).
        access = AccessToken(
            token="[verified]",  # never the token itself: nothing downstream needs it
            client_id=principal.client_id or principal.subject,
            scopes=sorted(principal.scopes),
            subject=principal.subject,
            claims={"iss": self.verifier.issuer},
        )
        scope["user"] = AuthenticatedUser(access)
        scope["auth"] = AuthCredentials(sorted(principal.scopes))
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: str | None, description: str) -> None:
        header = challenge(self.face.resource, self.face.scopes, error, description if error else None)
        response: Response
        if self.face.problems:
            response = problem_response(error or "unauthorized", 401, description, headers={"WWW-Authenticate": header})
        else:
            body = {"error": error or "invalid_request", "error_description": description}
            response = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": header})
        await response(scope, receive, send)


def check_issuer(issuer: str) -> None:
    """An issuer over plain HTTP is accepted on loopback only (a test or a local issuer); anywhere else the keys
    could be swapped on the way."""
    parts = urlsplit(issuer)
    if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"HMS_RECORDINGS_OAUTH_ISSUER must be an https URL (got {issuer!r})")
