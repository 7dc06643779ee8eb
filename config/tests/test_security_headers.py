"""What a browser gets from a production-configured app: HTTPS only, HSTS, the proxy's word on the scheme,
and a Content-Security-Policy that allows no inline script."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = False
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def test_plain_http_is_sent_to_https_except_health_probes(client, production):
    response = client.get("/accounts/login/")

    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert client.get("/health").status_code == 200


def test_behind_the_proxy_https_pages_carry_hsts_and_the_policy(client, production):
    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"


def test_no_page_template_holds_an_inline_script_or_handler():
    """The policy refuses inline scripts; this finds one before a browser does."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in root.glob("*/templates/**/*.html"):
        if ".venv" in path.parts:
            continue
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(str(path))
        if re.search(r"\son[a-z]+\s*=\s*[\"']", text):
            offenders.append(str(path))
    assert offenders == []
