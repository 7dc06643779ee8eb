"""Copy trading for MetaTrader EAs: the line protocol (`protocol`), the follower options (`options`), the
database side (`services`, synchronous, run from the server's thread pool), the cross-process bus (`bus`),
the asyncio server (`server`) and an EA simulator (`simulator`). The protocol is in docs/copytrade-protocol.md."""
