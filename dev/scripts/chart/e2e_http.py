"""End-to-end HTTP checks against a running stack's gateway (`make e2e`).

Usage: e2e_http.py [GATEWAY_URL]   (default http://localhost:8080)

Standard library only. Exercises what the README promises through the
gateway: health, discovery, the public auth flow, token-protected reads of
the Northwind data, and the status codes for a missing token, a missing
resource and a forbidden delete. It writes only one new user account.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

BASE = (sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8080").rstrip("/")
failures: list[str] = []


def call(method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("accept", "application/json")
    if data is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except (urllib.error.URLError, OSError) as err:
        return 0, f"no answer: {err}"
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def expect(what: str, status: int, want: int, ok: bool = True, body: Any = None) -> bool:
    good = status == want and ok
    print(f"  {'ok  ' if good else 'FAIL'}  {what} -> {status}")
    if not good:
        failures.append(f"{what}: got {status}, want {want}; body: {str(body)[:300]}")
    return good


def field(obj: Any, *names: str) -> Any:
    """The first of `names` present in a JSON object (the DTOs use snake_case,
    but the checks should not break on a rename of a wrapper field)."""
    if isinstance(obj, dict):
        for name in names:
            if name in obj:
                return obj[name]
    return None


def wait_until_ready(deadline_s: float = 60) -> None:
    """The stack is Ready before this runs, but the gateway may still be
    discovering services; give it a bounded moment."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if call("GET", "/readyz")[0] == 200:
            return
        time.sleep(2)


def main() -> int:
    print(f"== HTTP end-to-end checks against {BASE}")
    wait_until_ready()
    status, body = call("GET", "/healthz")
    expect("GET /healthz", status, 200, body=body)
    status, body = call("GET", "/readyz")
    expect("GET /readyz", status, 200, body=body)
    # The operational endpoints answer on the gateway's health port only (OPS_ENDPOINTS).
    for path in ("/services", "/metrics"):
        status, body = call("GET", path)
        expect(f"GET {path} is not served on the API port", status, 404, body=body)
    status, body = call("GET", "/openapi.json")
    expect("GET /openapi.json documents /customers", status, 200, "/customers" in json.dumps(field(body, "paths")), body)
    status, body = call("GET", "/.well-known/jwks.json")
    expect("GET /.well-known/jwks.json has keys", status, 200, bool(field(body, "keys")), body)

    status, body = call("GET", "/customers")
    expect("GET /customers without a token is refused", status, 401, body=body)

    suffix = uuid.uuid4().hex[:12]
    username, email, password = f"e2e-{suffix}", f"e2e-{suffix}@example.com", "e2e-" + uuid.uuid4().hex
    # The register contract (contract::auth::RegisterRequest) requires all three fields
    # and rejects unknown ones.
    status, body = call("POST", "/auth/register", {"username": username, "email": email, "password": password})
    expect("POST /auth/register", status, 201, field(body, "username") == username, body)
    status, body = call("POST", "/auth/login", {"email": email, "password": password})
    token = field(body, "access_token", "accessToken", "token")
    expect("POST /auth/login returns an access token", status, 200, isinstance(token, str), body)
    status, body = call("POST", "/auth/login", {"email": email, "password": "wrong-" + password})
    expect("POST /auth/login with a wrong password", status, 401, body=body)
    if not isinstance(token, str):
        return finish()

    status, body = call("GET", "/auth/me", token=token)
    expect("GET /auth/me is the new user", status, 200, email in json.dumps(body), body)
    status, body = call("GET", "/customers?limit=5", token=token)
    items = field(body, "items", "data")
    total = field(body, "total")
    expect("GET /customers is paginated over (at least) the 91 seeded customers", status, 200,
           isinstance(total, int) and total >= 91 and isinstance(items, list) and 0 < len(items) <= 5, body)
    status, body = call("GET", "/customers/ALFKI", token=token)
    expect("GET /customers/ALFKI", status, 200, "ALFKI" in json.dumps(body), body)
    status, body = call("GET", "/customers/ZZZZZ", token=token)
    expect("GET /customers/ZZZZZ is not found", status, 404, body=body)
    status, body = call("DELETE", "/customers/ALFKI", token=token)
    expect("DELETE /customers/ALFKI without the admin role is forbidden", status, 403, body=body)
    status, body = call("GET", "/products?limit=5", token=token)
    expect("GET /products", status, 200, isinstance(field(body, "total"), int), body)
    for path in ("/products/1", "/categories", "/suppliers"):
        status, body = call("GET", path, token=token)
        expect(f"GET {path}", status, 200, body=body)
    return finish()


def finish() -> int:
    if failures:
        print(f"== {len(failures)} HTTP check(s) failed:")
        for failure in failures:
            print(f"   - {failure}")
        return 1
    print("== all HTTP checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
