"""payments.pay.selectors.payment_url: the hosted page's absolute link, as reverse() would build it."""

from django.urls import reverse, set_script_prefix

from payments.pay.selectors import payment_url


def test_it_is_what_reverse_gives_under_each_script_prefix(settings):
    settings.SITE_URL = "https://pay.example"
    try:
        for prefix in ("/", "/p2p/", "/"):  # the first call's prefix must not stick
            set_script_prefix(prefix)
            expected = "https://pay.example" + reverse("pay:order", kwargs={"hash_id": "H6bunOCfHXQccWz2QznieQ"})

            assert payment_url("H6bunOCfHXQccWz2QznieQ") == expected
        set_script_prefix("/p2p/")
        assert payment_url("abc") == "https://pay.example/p2p/pay/abc"
    finally:
        set_script_prefix("/")
