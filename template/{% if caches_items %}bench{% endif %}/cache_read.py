"""Cached against uncached reads of GET /api/v1/items/{id}, on a running server.

    uv run python bench/cache_read.py --url http://127.0.0.1:8000 --requests 300

Creates an item, then times reads that hit the cache and reads that miss it (each miss follows
an untimed PATCH, which invalidates the entry). Prints the medians and the speed-up; exits 1
when cached reads are not faster. Needs a rate limit above 2 x requests per window.
"""

import argparse
import statistics
import sys
import time
import uuid

import httpx


def timed_get(client: httpx.Client, path: str, expected: str) -> float:
    start = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    if response.headers.get("X-Cache") != expected:
        sys.exit(f"expected X-Cache: {expected}, got {response.headers.get('X-Cache')}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--token", help="bearer token, when the items routes need one")
    args = parser.parse_args(argv)

    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    with httpx.Client(base_url=args.url, headers=headers, timeout=10) as client:
        created = client.post("/api/v1/items", json={"name": f"bench-{uuid.uuid4().hex[:8]}"})
        created.raise_for_status()
        path = f"/api/v1/items/{created.json()['id']}"
        misses: list[float] = []
        hits: list[float] = []
        for n in range(args.requests):
            client.patch(path, json={"description": f"round {n}"}).raise_for_status()
            misses.append(timed_get(client, path, "miss"))
            hits.append(timed_get(client, path, "hit"))
        client.delete(path)

    miss, hit = statistics.median(misses), statistics.median(hits)
    print(f"uncached read: median {miss * 1000:.2f} ms")
    print(f"cached read:   median {hit * 1000:.2f} ms")
    print(f"speed-up:      {miss / hit:.2f}x over {args.requests} reads each")
    return 0 if hit < miss else 1


if __name__ == "__main__":
    sys.exit(main())
