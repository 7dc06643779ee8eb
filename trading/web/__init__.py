"""The signal-trading pages under /trading/ (server-rendered, htmx): overview, account, settings, Telegram,
CSV exports and the profit chart's data. Views parse input, find the user's own rows (another person's
account is a 404) and call trading's services and selectors."""
