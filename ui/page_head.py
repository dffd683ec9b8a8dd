"""Our own lines in the ``<head>`` of every HTML page the app serves, its login page included.

gradio's ``head`` option reaches the app's page only once a visitor is logged in; the login page, whose
form shows nothing on HTTP 429, needs a script too (``ui.app.LOGIN_HEAD``). This ASGI middleware adds
``html`` before ``</head>`` of each uncompressed HTML response and fixes its length; anything else
passes through untouched.
"""

from __future__ import annotations


class Head:
    def __init__(self, app, html: str) -> None:
        self.app = app
        self.html = html.encode("utf-8")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        start: dict | None = None  # the held response start of an HTML page
        chunks: list[bytes] = []
        passing = False

        async def inject(message) -> None:
            nonlocal start, passing
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                html = headers.get(b"content-type", b"").startswith(b"text/html")
                if not html or b"content-encoding" in headers:
                    passing = True
                    await send(message)
                else:
                    start = message
                return
            if passing or start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks).replace(b"</head>", self.html + b"</head>", 1)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, inject)
