"""Where exchange rates come from: a provider interface and the local file provider.

`EXCHANGE_RATE_PROVIDER` names the provider class (dotted path); the default
reads `EXCHANGE_RATE_FILE`, a JSON file in the repository, so nothing needs
the internet. A provider for a real market feed implements `fetch()` the same
way and is named in the setting.

File format::

    {"source": "fixture",                       # optional, default "file:<name>"
     "fetched_at": "2026-01-01T00:00:00Z",      # optional, default: time of reading
     "rates": [{"fiat": "THB", "crypto": "USDT", "rate": "36.45"}, ...]}

`rate` is units of fiat for one unit of crypto.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string


class ExchangeRateProviderError(RuntimeError):
    """The provider could not give usable rates (unreadable file, bad entry, feed down)."""


@dataclass(frozen=True)
class RateQuote:
    fiat: str
    crypto: str
    rate: Decimal
    source: str
    fetched_at: datetime


class ExchangeRateProvider:
    """Base of rate providers: `fetch()` returns the current quotes."""

    def fetch(self) -> list[RateQuote]:
        raise NotImplementedError


class FileExchangeRateProvider(ExchangeRateProvider):
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path or settings.EXCHANGE_RATE_FILE)

    def fetch(self) -> list[RateQuote]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ExchangeRateProviderError(f"Cannot read exchange rates from {self.path}: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("rates"), list):
            raise ExchangeRateProviderError(f"{self.path}: expected an object with a 'rates' list.")
        source = str(document.get("source") or f"file:{self.path.name}")[:64]
        fetched_at = _parse_time(document.get("fetched_at"), self.path) or timezone.now()
        return [_quote(entry, index, source, fetched_at, self.path) for index, entry in enumerate(document["rates"])]


def _parse_time(value, path: Path) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_datetime(str(value))
    if parsed is None or timezone.is_naive(parsed):
        raise ExchangeRateProviderError(f"{path}: fetched_at must be an ISO time with a zone, got {value!r}.")
    return parsed


def _quote(entry, index: int, source: str, fetched_at: datetime, path: Path) -> RateQuote:
    if not isinstance(entry, dict):
        raise ExchangeRateProviderError(f"{path}: rates[{index}] is not an object.")
    try:
        fiat = str(entry["fiat"]).strip().upper()
        crypto = str(entry["crypto"]).strip().upper()
        rate = Decimal(str(entry["rate"]))
    except (KeyError, InvalidOperation) as exc:
        raise ExchangeRateProviderError(f"{path}: rates[{index}] needs fiat, crypto and a decimal rate.") from exc
    if not rate.is_finite() or rate <= 0 or rate.adjusted() >= 12:
        raise ExchangeRateProviderError(f"{path}: rates[{index}] rate must be a positive number below 10^12.")
    return RateQuote(fiat=fiat, crypto=crypto, rate=rate.quantize(Decimal("1e-8")), source=source,
                     fetched_at=_parse_time(entry.get("fetched_at"), path) or fetched_at)


def get_provider() -> ExchangeRateProvider:
    return import_string(settings.EXCHANGE_RATE_PROVIDER)()
