"""An authorization server stand-in: real RSA keys made by the test, real JWKS and metadata over a real socket.

It signs tokens with whichever of its keys the test names, publishes the keys it is told to, and counts how often
its JWKS was fetched (a resource server must cache it and refetch only on an unknown key id, bounded).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["Issuer", "SigningKey"]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str) -> SigningKey:
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}


@dataclass
class Issuer:
    """``url`` is set once the stand-in listens; ``published`` are the keys its JWKS shows."""

    audience: str
    url: str = ""
    published: list[SigningKey] = field(default_factory=list)
    openid: bool = True  # serve /.well-known/openid-configuration (else only RFC 8414's document)
    jwks_fetches: int = 0

    def app(self) -> Starlette:
        async def openid(request: Request) -> Response:
            if not self.openid:
                return JSONResponse({"error": "not_found"}, status_code=404)
            return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/jwks"})

        async def oauth_metadata(request: Request) -> Response:
            return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/jwks", "token_endpoint": "x"})

        async def jwks(request: Request) -> Response:
            self.jwks_fetches += 1
            return JSONResponse({"keys": [k.jwk() for k in self.published]})

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", openid),
                Route("/.well-known/oauth-authorization-server", oauth_metadata),
                Route("/jwks", jwks),
            ]
        )

    def token(
        self,
        key: SigningKey,
        *,
        scope: str = "recordings:read",
        sub: str = "alice@example.test",
        client_id: str = "agent-1",
        lifetime: float = 300,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.url,
            "aud": self.audience,
            "sub": sub,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "exp": now + int(lifetime),
            **claims,
        }
        return jwt.encode(
            {k: v for k, v in body.items() if v is not None}, key.private, algorithm="RS256", headers={"kid": key.kid}
        )
