"""A size limit on request bodies (HTTP 413), enforced before anything parses them: the body is read up to
the limit, and whatever comes after is drained unread so that the client still gets the answer.

(FastAPI's own ``max_body_size`` answers a body whose declared length is over the limit with a ``text/plain``
413 that replaces the application's response, so the refusal could not be ``application/problem+json``.)"""

from __future__ import annotations

import json

from entrypoints.problems import PROBLEM_JSON, TYPE_PREFIX

DRAIN_FACTOR = 16  # past this many times the limit, stop reading and let the connection close


class BodyLimit:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes * DRAIN_FACTOR:
            return await self._refuse(scope, send, int(declared))
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk, more = message.get("body", b""), message.get("more_body", False)
            size += len(chunk)
            if size > self.max_bytes * DRAIN_FACTOR:
                return await self._refuse(scope, send, size)
            if size <= self.max_bytes:
                chunks.append(chunk)
        if size > self.max_bytes:
            return await self._refuse(scope, send, size)
        body, delivered = b"".join(chunks), False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope, send, size: int) -> None:
        problem = {"type": TYPE_PREFIX + "too-large", "title": "The request body is too large", "status": 413,
                   "detail": f"the body has {size} bytes or more; at most {self.max_bytes} are accepted",
                   "instance": scope.get("path", "")}
        payload = json.dumps(problem).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
