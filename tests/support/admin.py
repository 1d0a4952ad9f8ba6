"""Log a test client in as the administrator through the real /login form.

    token = login_client(client, "a-local-password-123")
    client.post("/config", data={"threshold": "0.3"})   # X-CSRF-Token is now a default header

Works with starlette's TestClient and httpx.Client (cookies are kept by the client).
"""

from __future__ import annotations

import re

import httpx

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_NAV_TOKEN = re.compile(
    r'action="/logout">\s*<input type="hidden" name="csrf_token" value="([^"]+)"'
)


def login_client(client: httpx.Client, password: str, next_path: str = "/dashboard") -> str:
    """Log in; return the session's CSRF token, also set as the client's X-CSRF-Token header."""
    page = client.get("/login", params={"next": next_path})
    match = _TOKEN.search(page.text)
    if match is None:
        raise AssertionError(f"no login form at /login ({page.status_code}): {page.text[:500]}")
    response = client.post(
        "/login",
        data={"password": password, "csrf_token": match.group(1), "next": next_path},
        follow_redirects=False,
    )
    if response.status_code != 303:
        raise AssertionError(f"login failed with {response.status_code}: {response.text[:500]}")
    home = client.get("/")
    nav = _NAV_TOKEN.search(home.text)
    if nav is None:
        raise AssertionError("logged in, but the page has no logout form with a CSRF token")
    client.headers["X-CSRF-Token"] = nav.group(1)
    return nav.group(1)
