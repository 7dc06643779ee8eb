"""403, 404 and 405 are pages of the site: its layout and navigation, a word on what happened, a way on."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_404_is_the_sites_page_with_navigation(client):
    client.force_login(UserFactory())

    response = client.get("/no-such-page/")

    text = response.content.decode()
    assert response.status_code == 404
    assert "Nothing here" in text and 'href="/"' in text and "Log out" in text


def test_a_403_is_styled_and_says_what_to_do(client, settings):
    user = UserFactory(is_staff=True)  # staff standing without a profile: no flag opens an order's actions
    client.force_login(user)

    response = client.get(reverse("admin:payments_orderhistory_status", args=[1]))

    text = response.content.decode()
    assert response.status_code == 403
    assert "You may not open this page" in text and "Log out" in text and "<nav" in text


def test_a_get_of_a_post_only_address_gets_the_405_page_and_keeps_allow(client):
    client.force_login(UserFactory())

    response = client.get(reverse("accounts:logout"))

    text = response.content.decode()
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert "not opened that way" in text and "Allowed: POST." in text and "<nav" in text


def test_a_405_asked_for_as_json_keeps_its_empty_body(client):
    response = client.get(reverse("accounts:logout"), HTTP_ACCEPT="application/json")

    assert response.status_code == 405 and response.content == b""


def test_a_405_that_has_a_body_is_left_alone(rf):
    from django.http import HttpResponseNotAllowed

    from core.error_pages import StyledMethodNotAllowedMiddleware

    body = b'{"error": {"code": "method_not_allowed"}}'
    answer = HttpResponseNotAllowed(["POST"], content=body, content_type="application/json")
    response = StyledMethodNotAllowedMiddleware(lambda request: answer)(rf.get("/api/v1/x", HTTP_ACCEPT="*/*"))

    assert response.content == body and response["Content-Type"] == "application/json"
