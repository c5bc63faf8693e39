"""The ASGI app: health, webhook receivers, and the merchant UI (server-rendered, htmx).

`app.create_app` wires them; `auth` (login, session, CSRF), `orders` (list, detail, answers),
`settings` (holdback, carriers, unlinked SKUs) hold the pages; `accounts` the users.
"""
