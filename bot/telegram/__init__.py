"""The Telegram adapter: how updates come in and messages go out, and Telegram's rules.

| module | holds |
|---|---|
| `application` | PTB's Application, built with the services |
| `polling` | long polling through the inbox, keeping updates as Telegram sent them |
| `webhook` | the webhook route of the bot's HTTP server (`web.server`) |
| `processor` | the chat-ordered update processor |
| `sender` | the `Sender` the delivery worker uses |
| `limits` | Telegram's limits and errors: 429s, error codes, the answers' rate limiter |
| `scheduler` | the JobQueue waking the agenda engine |

The callbacks that turn updates into service calls are in `handlers/`.
"""
