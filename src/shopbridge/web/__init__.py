"""The ASGI app: health, webhook receivers, and the merchant UI (server-rendered, htmx).

`app.create_app` wires them; `auth` (login, session, CSRF), `account` (password change),
`orders` (list, detail, answers), `settings` (holdback, carriers, unlinked SKUs) hold the pages;
`accounts` the users, `sessions` the server-side sessions, `throttle` the login throttle and
`passwords` the password policy.
"""
