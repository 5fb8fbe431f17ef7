"""What OAuth costs per call: access-token verification with a warm JWKS cache, against a call's server CPU.

    .venv/bin/python bench/oauth_verify.py [--calls N] [--rounds R]

One run, side by side, over loopback:

* an issuer stand-in (this process) serves a JWKS with one RSA-2048 key; tokens are RS256;
* the emulator runs in its own process, so that its CPU is not counted as the server's;
* two ``hms-recordings serve`` processes on the built-in capability, REST face: one with OAuth
  (``HMS_RECORDINGS_OAUTH_ISSUER``), one with the static token (``HMS_RECORDINGS_AUTH_TOKEN``), the baseline;
* each round sends ``N`` sequential ``GET /recordings`` (``hms-list-recordings``) to each server in turn, reading the
  server process's CPU time (user + system, ``/proc``) before and after; rounds alternate the order.

Reported: server CPU per call for each, their difference (what OAuth adds per call: verification, the scope check,
the token bucket, the audit observer's check), the ratio of that difference to the OAuth server's CPU per call, and
:meth:`JwtVerifier.verify` timed on its own in this process (warm JWKS cache), both with the full signature check
every time and for a token seen before (what a client sending one token call after call gets), as a second view.
Third view, the least noisy: the inbound layers alone (OAuth layer with the per-tool admission against the static
token's layer), driven as ASGI callables 20,000 times each.
Target (issue 16): under 5 % of a call's server CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from procs import ServerProcess, cpu_seconds, free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hms_recordings.hms.tokens import AppCredentials, mint_management_token
from hms_recordings.server.oauth import JwksCache, JwtVerifier

AUDIENCE = "https://bench.example.test"
STATIC = "bench-static-token-0123456789abcdef"


def make_issuer(port: int) -> tuple[Starlette, rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    url = f"http://127.0.0.1:{port}"
    jwk = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "bench", "use": "sig", "alg": "RS256"}

    async def openid(request: Request) -> JSONResponse:
        return JSONResponse({"issuer": url, "jwks_uri": f"{url}/jwks"})

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse({"keys": [jwk]})

    routes = [Route("/.well-known/openid-configuration", openid), Route("/jwks", jwks)]
    return Starlette(routes=routes), key, url


def token(key: rsa.RSAPrivateKey, issuer: str) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "aud": AUDIENCE, "sub": "bench", "scope": "recordings:read", "iat": now, "exp": now + 7200}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "bench"})


@asynccontextmanager
async def serving(app: Starlette, port: int) -> Any:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # bounded below: the task fails if it cannot listen
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def wait_http(url: str, process: ServerProcess, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + 30
    async with httpx2.AsyncClient(trust_env=False) as client:
        while time.monotonic() < deadline:
            process.check_alive()
            try:
                if (await client.get(url, headers=headers)).status_code < 500:
                    return
            except httpx2.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.name} did not answer at {url}")


async def burst(base: str, headers: dict[str, str], calls: int, pid: int) -> float:
    """Server CPU seconds per call over ``calls`` sequential list calls."""
    async with httpx2.AsyncClient(base_url=base, headers=headers, trust_env=False, timeout=30) as client:
        before = cpu_seconds(pid)
        for _ in range(calls):
            response = await client.get("/recordings")
            if response.status_code != 200:
                raise RuntimeError(f"{base}: {response.status_code} {response.text[:200]}")
        return (cpu_seconds(pid) - before) / calls


async def layer_cost(verifier: JwtVerifier, bearer: str, count: int = 20_000) -> dict[str, float]:
    """CPU seconds per request of the inbound layers alone, driven as ASGI callables around an app that does
    nothing: the OAuth layer (remembered token) plus the per-tool admission, against the static token's layer."""
    from hms_recordings.capability.loader import load_file
    from hms_recordings.runtime.access import ScopePolicy, principal_of
    from hms_recordings.runtime.compiled import CompiledTool
    from hms_recordings.server.gate import admission
    from hms_recordings.server.middleware import BearerAuth
    from hms_recordings.server.oauth import FaceAuth, OAuthAuth
    from hms_recordings.server.ratelimit import TokenBuckets
    from hms_recordings.server.settings import CallSettings
    from hms_recordings.server.targets import select_inventory

    tool: CompiledTool = select_inventory(load_file(), CallSettings()).tools["hms-list-recordings"]
    admit = admission(ScopePolicy("recordings:read", "recordings:write"), TokenBuckets(6e6, 1_000_000), AUDIENCE)

    async def admitted(scope: Any, receive: Any, send: Any) -> None:
        principal = principal_of(scope)
        assert principal is not None and admit(principal, tool) is None

    async def nothing(scope: Any, receive: Any, send: Any) -> None:
        return None

    layers = {
        "oauth_and_admission": (OAuthAuth(admitted, verifier, FaceAuth(AUDIENCE, ["recordings:read"], True)), bearer),
        "static_token": (BearerAuth(nothing, STATIC), STATIC),
    }
    out: dict[str, float] = {}
    for name, (layer, secret) in layers.items():
        headers = [(b"authorization", f"Bearer {secret}".encode())]
        started = time.process_time()
        for _ in range(count):
            await layer({"type": "http", "path": "/recordings", "headers": headers, "state": {}}, None, None)
        out[name] = (time.process_time() - started) / count
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    hms = str(Path(sys.executable).parent / "hms-recordings")
    logs = Path(tempfile.mkdtemp(prefix="bench-oauth-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_")}
    issuer_port, emulator_port = free_port(), free_port()
    app, key, issuer = make_issuer(issuer_port)
    bearer = token(key, issuer)
    async with serving(app, issuer_port):
        emulator = ServerProcess(
            "emulator",
            [hms, "emulator", "--port", str(emulator_port), "--start-delay", "0", "--processing-time", "0"],
            base_env,
            logs,
        )
        servers: dict[str, tuple[ServerProcess, str, dict[str, str]]] = {}
        try:
            await wait_http(f"http://127.0.0.1:{emulator_port}/openapi.json", emulator)
            upstream = f"recordings=http://127.0.0.1:{emulator_port}/v2"
            env = {
                **base_env,
                "HMS_MANAGEMENT_TOKEN": mint_management_token(AppCredentials.development(), valid_for=86_400),
            }
            variants = {
                "oauth": (
                    {
                        "HMS_RECORDINGS_OAUTH_ISSUER": issuer,
                        "HMS_RECORDINGS_OAUTH_AUDIENCE": AUDIENCE,
                        "HMS_RECORDINGS_EVENTS_DB": str(logs / "events.sqlite3"),
                        "HMS_RECORDINGS_RATE_LIMIT": "100000",
                        "HMS_RECORDINGS_RATE_BURST": "10000",
                    },
                    {"Authorization": f"Bearer {bearer}"},
                ),
                "static": ({"HMS_RECORDINGS_AUTH_TOKEN": STATIC}, {"Authorization": f"Bearer {STATIC}"}),
            }
            for name, (extra, headers) in variants.items():
                port, rest = free_port(), free_port()
                argv = [hms, "serve", "--upstream", upstream, "--port", str(port), "--rest-port", str(rest)]
                process = ServerProcess(name, argv, {**env, **extra}, logs)
                servers[name] = (process, f"http://127.0.0.1:{rest}", headers)
                await wait_http(f"http://127.0.0.1:{rest}/recordings", process, headers)
            for process, base, headers in servers.values():  # warm-up: caches, JWKS, imports
                await burst(base, headers, 50, process.pid)
            samples: dict[str, list[float]] = {name: [] for name in servers}
            for round_ in range(args.rounds):
                order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                for name in order:
                    process, base, headers = servers[name]
                    samples[name].append(await burst(base, headers, args.calls, process.pid))
        finally:
            for process, _base, _headers in servers.values():
                process.stop()
            emulator.stop()
        # verify() alone in this process, warm JWKS cache: the full check (signature and claims) every time, and
        # the same token again (remembered, as a client sends it call after call).
        verify_seconds: dict[str, float] = {}
        for name, remembered in (("signature_every_time", 0), ("remembered_token", 4096)):
            verifier = JwtVerifier(JwksCache(issuer), audience=AUDIENCE, max_remembered=remembered)
            await verifier.verify(bearer)
            started = time.process_time()
            count = 2000
            for _ in range(count):
                await verifier.verify(bearer)
            verify_seconds[name] = (time.process_time() - started) / count
            if remembered:
                layers = await layer_cost(verifier, bearer)
            await verifier.keys.aclose()
    oauth = statistics.median(samples["oauth"])
    static = statistics.median(samples["static"])
    result = {
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "server_cpu_us_per_call": {"oauth": round(oauth * 1e6, 1), "static_token": round(static * 1e6, 1)},
        "oauth_added_us_per_call": round((oauth - static) * 1e6, 1),
        # Per round, the two servers ran back to back: the median of their differences is less exposed to the
        # machine's load changing between rounds than the difference of the medians.
        "paired_difference_median_us": round(
            statistics.median(a - b for a, b in zip(samples["oauth"], samples["static"], strict=True)) * 1e6, 1
        ),
        "oauth_added_share_of_call": round((oauth - static) / oauth, 4),
        "verify_us_warm_jwks": {k: round(v * 1e6, 1) for k, v in verify_seconds.items()},
        "verify_share_of_call": {k: round(v / oauth, 4) for k, v in verify_seconds.items()},
        "inbound_layer_us_per_request": {k: round(v * 1e6, 1) for k, v in layers.items()},
        "inbound_layer_added_share_of_call": round((layers["oauth_and_admission"] - layers["static_token"]) / oauth, 4),
        "samples_us": {k: [round(v * 1e6, 1) for v in vs] for k, vs in samples.items()},
        "target_share": 0.05,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
