"""``ff-metrics bench middleware``: HTTP requests/s through uvicorn with and without FFAnalyticsMiddleware.

A minimal pure-ASGI endpoint (one small JSON body) runs under uvicorn in its own process on
127.0.0.1; an httpx client with ``--concurrency`` keep-alive connections sends ``--requests``
requests after a warm-up. Each round starts a fresh server for each variant, in alternating order;
the medians of ``--repeat`` rounds are compared: ``overhead_percent = (1 - with / without) * 100``.
On a shared machine the client's noise is larger than the middleware, so the bench also times the
middleware itself in-process (direct ASGI calls with and without it, best of 3) and reports its
cost per request as a share of the time per request at the measured throughput (1 / req/s).
Needs the dev extra (uvicorn, httpx).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_bench.ff_bench_support import bench_manager_factory

BENCH_NAME = "middleware"
BENCH_HELP = "HTTP req/s through uvicorn with vs without FFAnalyticsMiddleware (same run, medians)"
BENCH_EXAMPLE = "example: ff-metrics bench middleware --requests 4000 --concurrency 8 --repeat 3"
BODY = b'{"ok":true}'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=3000, help="measured requests per run (default 3000)")
    p.add_argument("--warmup", type=int, default=300, help="requests before measuring (default 300)")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent keep-alive connections (default 8)")
    p.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported (default 3)")


async def _endpoint(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]})
    await send({"type": "http.response.body", "body": BODY})


def _serve(factory: Any, store: str, port: int, with_middleware: bool, ready: Any) -> None:
    """The server process: the manager (for the middleware variant) and uvicorn."""
    import uvicorn

    from ff_utils.ff_analytics_asgi.ff_asgi_middleware import FFAnalyticsMiddleware

    app: Any = _endpoint
    manager = None
    if with_middleware:
        from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import load_config

        cfg = load_config(environment="production")
        cfg.storage.base_path = store
        cfg.analytics.enable_real_time_metrics = False
        manager = factory(cfg)
        asyncio.run(manager.initialize_analytics_system(start_collection=False))
        app = FFAnalyticsMiddleware(_endpoint, manager=manager)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False))
    ready.set()
    server.run()
    if manager is not None:
        manager.close_sync()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _load(url: str, n: int, concurrency: int) -> float:
    import httpx

    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_keepalive_connections=concurrency)) as client:
        counter = iter(range(n))

        async def worker() -> None:
            for _ in counter:
                r = await client.get("/chat")
                if r.status_code != 200:
                    raise RuntimeError(f"bench endpoint answered {r.status_code}")

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - t0)


def _one(factory: Any, store: Path, with_middleware: bool, args: argparse.Namespace) -> float:
    ctx = multiprocessing.get_context("spawn")
    port = _free_port()
    ready = ctx.Event()
    proc = ctx.Process(target=_serve, args=(factory, str(store), port, with_middleware, ready), daemon=True)
    proc.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("bench server did not start")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(_load(url, 1, 1))
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        asyncio.run(_load(url, args.warmup, args.concurrency))
        return asyncio.run(_load(url, args.requests, args.concurrency))
    finally:
        proc.terminate()
        proc.join(30)


def _direct_cost_us(factory: Any, store: Path, n: int = 20000) -> tuple[float, float]:
    """In-process: microseconds per direct ASGI call of the endpoint, without and with the middleware."""
    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import load_config
    from ff_utils.ff_analytics_asgi.ff_asgi_middleware import FFAnalyticsMiddleware

    cfg = load_config(environment="production")
    cfg.storage.base_path = str(store)
    cfg.analytics.enable_real_time_metrics = False
    manager = factory(cfg)
    scope = {"type": "http", "method": "GET", "path": "/chat", "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    wrapped = FFAnalyticsMiddleware(_endpoint, manager=manager)

    async def loop(app: Any) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            await app(scope, receive, send)
        return (time.perf_counter() - t0) / n * 1e6

    async def both() -> tuple[float, float]:
        await manager.initialize_analytics_system(start_collection=False)
        bare = min([await loop(_endpoint) for _ in range(3)])
        mw = min([await loop(wrapped) for _ in range(3)])
        await manager.close()
        return bare, mw

    return asyncio.run(both())


def run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        import httpx  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ValueError(f"bench middleware needs uvicorn and httpx (pip install -e '.[dev]'): {exc}") from None
    for name in ("requests", "warmup", "concurrency", "repeat"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name}: must be >= 1")
    factory = bench_manager_factory(args)
    without: list[float] = []
    with_: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ff-bench-mw-") as tmp:
        for r in range(args.repeat):
            order = (False, True) if r % 2 == 0 else (True, False)
            for mw in order:
                rate = _one(factory, Path(tmp) / f"store-{r}", mw, args)
                (with_ if mw else without).append(rate)
        bare_us, mw_us = _direct_cost_us(factory, Path(tmp) / "direct")
    w, wo = statistics.median(with_), statistics.median(without)
    return {
        "direct_call_us_without": round(bare_us, 3),
        "direct_call_us_with": round(mw_us, 3),
        "middleware_us_per_request": round(mw_us - bare_us, 3),
        "middleware_share_of_http_request_percent": round((mw_us - bare_us) / (1e6 / wo) * 100, 3),
        "requests_per_run": args.requests,
        "concurrency": args.concurrency,
        "repeat": args.repeat,
        "without_middleware_req_per_s_median": round(wo, 1),
        "with_middleware_req_per_s_median": round(w, 1),
        "without_runs": [round(x, 1) for x in without],
        "with_runs": [round(x, 1) for x in with_],
        "ratio_with_over_without": round(w / wo, 4),
        "overhead_percent": round((1 - w / wo) * 100, 2),
        "target_overhead_percent": 3.0,
    }
