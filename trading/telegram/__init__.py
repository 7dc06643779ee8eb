"""The Telegram bot of trading: the Bot API client (client), Telegram's rate limits (rate_limit), and the
bot's commands (commands). Delivery of the notification outbox and linking are services
(trading.services.telegram); the webhook view is trading.hooks.telegram_webhook."""
