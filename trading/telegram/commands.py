"""What the bot answers. Every command but `/start` and `/help` acts for the user(s) the chat is linked to,
inside each link's tenant, through trading's selectors and services, and only as far as that user's
permissions go (`tenancy.authz.can`)."""

import logging
from decimal import Decimal

from django.db.models import Count, Q, Sum

from tenancy.authz import can
from tenancy.scoping import tenant_context
from trading import selectors
from trading.models import AccountStatus, PositionStatus, TelegramAccount, TradingAccount
from trading.services import accounts as account_services
from trading.services import telegram as telegram_services
from trading.services.notifications import plain
from trading.telegram import rate_limit
from trading.telegram.client import BotApi, TelegramError, TelegramUnavailable

logger = logging.getLogger(__name__)

HELP = (
    "Commands:\n"
    "/status — your accounts, paused or trading, open positions, today's loss\n"
    "/positions — open positions\n"
    "/profit — realized PnL, in all and today\n"
    "/balance — equity on the exchange\n"
    "/pause [account] — stop taking signals (all accounts, or the one named)\n"
    "/resume [account] — take signals again\n"
    "/help — this list"
)
NOT_LINKED = ("This chat is not linked to an account yet. On the site open Trading → Telegram, take a link "
              "code and send it here as /start <code>.")


def _money(value) -> str:
    return f"{Decimal(value or 0):,.2f}"


def _accounts(link: TelegramAccount):
    return list(selectors.accounts_of(link.user).annotate(
        open_count=Count("positions", filter=Q(positions__status=PositionStatus.OPEN))))


def _status(link: TelegramAccount) -> list[str]:
    lines = []
    for account in _accounts(link):
        state = "⏸ paused" if account.status == AccountStatus.PAUSED else (
            "▶ trading" if account.is_trading else "off")
        line = f"{account.name}: {state}, {account.open_count} open, loss today {_money(selectors.loss_today(account))}"
        if account.status == AccountStatus.PAUSED and account.pause_reason:
            line += f" ({account.pause_reason})"
        lines.append(line)
    return lines


def _positions(link: TelegramAccount) -> list[str]:
    lines = []
    for account in selectors.accounts_of(link.user):
        for position in selectors.open_positions(account):
            lines.append(f"{account.name}: {position.side} {plain(position.quantity)} {position.symbol} "
                         f"@ {plain(position.entry_price)}, x{position.leverage}, "
                         f"PnL {_money(position.unrealized_pnl)}")
    return lines


def _profit(link: TelegramAccount) -> list[str]:
    lines = []
    for account in selectors.accounts_of(link.user):
        closed = selectors.closed_positions(account)
        total = closed.aggregate(total=Sum("realized_pnl"))["total"] or Decimal(0)
        today = closed.filter(close_time__gte=selectors.loss_window_start(account)).aggregate(
            total=Sum("realized_pnl"))["total"] or Decimal(0)
        lines.append(f"{account.name}: realized {_money(total)} in all ({closed.count()} trades), "
                     f"{_money(today)} today")
    return lines


def _balance(link: TelegramAccount) -> list[str]:
    from trading.exchanges.client import ExchangeRefused, ExchangeUnavailable, NoCredential, gateway_for

    lines = []
    for account in selectors.accounts_of(link.user):
        if account.exchange is None:
            continue
        try:
            equity = gateway_for(account).equity()
        except NoCredential:
            lines.append(f"{account.name}: no exchange key yet")
        except (ExchangeRefused, ExchangeUnavailable) as exc:
            lines.append(f"{account.name}: the exchange did not give the balance ({str(exc)[:80]})")
        else:
            lines.append(f"{account.name}: equity {_money(equity)} {account.exchange.quote_currency}")
    return lines


def _chosen(link: TelegramAccount, name: str) -> list[TradingAccount]:
    accounts = list(selectors.accounts_of(link.user))
    if not name:
        return accounts
    return [a for a in accounts if a.name.lower() == name.lower() or str(a.pk) == name]


def _pause(link: TelegramAccount, name: str) -> list[str]:
    lines = []
    for account in _chosen(link, name):
        done = account_services.pause_account(actor=link.user, account=account, reason="paused from Telegram")
        lines.append(f"{account.name}: {'paused' if done else 'was not trading'}")
    return lines or [f"No account named {name!r}."]


def _resume(link: TelegramAccount, name: str) -> list[str]:
    lines = []
    for account in _chosen(link, name):
        done = account_services.resume_account(actor=link.user, account=account)
        lines.append(f"{account.name}: {'resumed' if done else 'was not paused'}")
    return lines or [f"No account named {name!r}."]


# command → (what it does, the permission it needs, heading)
COMMANDS = {
    "/status": (_status, "trading_accounts.view", "Status"),
    "/positions": (_positions, "positions.view", "Open positions"),
    "/profit": (_profit, "positions.view", "Profit"),
    "/balance": (_balance, "trading_accounts.view", "Balance"),
    "/pause": (_pause, "trading_accounts.manage", "Pause"),
    "/resume": (_resume, "trading_accounts.manage", "Resume"),
}
TAKES_ARGUMENT = {"/pause", "/resume"}


def respond(*, chat_id: str, username: str, text: str) -> str:
    """The bot's answer to `text` from `chat_id`."""
    command, _, argument = text.strip().partition(" ")
    command, argument = command.split("@")[0].lower(), argument.strip()
    if command == "/start":
        if not argument:
            return "Hello! " + NOT_LINKED
        try:
            link = telegram_services.link_chat(code=argument, chat_id=chat_id, username=username)
        except telegram_services.LinkRefused as exc:
            return str(exc)
        return f"Linked to {link.user.email}. You will get your trading notifications here.\n\n{HELP}"
    if command == "/help":
        return HELP
    if command not in COMMANDS:
        return "I do not know that command.\n\n" + HELP
    links = telegram_services.links_for_chat(chat_id)
    if not links:
        return NOT_LINKED
    action, permission, heading = COMMANDS[command]
    blocks = []
    for link in links:
        with tenant_context(link.tenant_id):
            if not can(link.user, permission, tenant=link.tenant_id):
                lines = ["You may not do this here."]
            else:
                lines = action(link, argument) if command in TAKES_ARGUMENT else action(link)
        prefix = f"[{link.tenant.name}]\n" if len(links) > 1 else ""
        blocks.append(prefix + ("\n".join(lines) if lines else "Nothing yet."))
    return f"{heading}\n" + "\n\n".join(blocks)


def handle_update(update: dict, *, api: BotApi | None = None) -> str | None:
    """Answer one update (from the webhook or getUpdates); None when it is nothing for us."""
    message = update.get("message") or update.get("edited_message")
    if not isinstance(message, dict):
        return None
    chat = message.get("chat") or {}
    text = message.get("text")
    if chat.get("type") != "private" or not isinstance(text, str) or not text.startswith("/") or "id" not in chat:
        return None
    chat_id = str(chat["id"])
    reply = respond(chat_id=chat_id, username=str(chat.get("username") or ""), text=text[:500])
    try:
        rate_limit.wait_for_slot(chat_id)
        (api or BotApi()).send_message(chat_id, reply)
    except (TelegramError, TelegramUnavailable) as exc:
        logger.warning("telegram: could not answer chat %s: %s", chat_id, exc)
    return reply


def answer_updates(updates: list[dict], *, api: BotApi) -> int | None:
    """Answer polled updates in turn (the `telegram_poll` command, make run's local stand-in); one that fails
    is logged and passed over, as the webhook does, so the rest are answered. The offset that confirms them
    all (None: there were none)."""
    offset = None
    for update in updates:
        try:
            handle_update(update, api=api)
        except Exception:  # noqa: BLE001 - logged; one bad update must not stop the bot
            logger.exception("telegram update %s failed", update.get("update_id"))
        offset = int(update["update_id"]) + 1
    return offset
