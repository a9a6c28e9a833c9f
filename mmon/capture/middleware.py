"""Capture middleware: pure ASGI (FastAPI, Starlette, any ASGI app) and WSGI (Flask, Django, any WSGI app).

Neither imports a web framework. The sampling draw comes first: a request that is not sampled is
handed to the app untouched (no wrapper, no copy). For a sampled one the middleware wraps
``receive``/``send`` (ASGI) or ``wsgi.input``/the response iterable (WSGI), keeping a reference to
each chunk as it passes by — the body is never read twice and every message is forwarded as it
comes, so streaming responses stream. Once the response is complete the exchange is queued as it
is (chunk references and the server's header list): joining the bodies, decoding the headers and
building the record happen on the writer's background thread, not on the request path. If
either body is larger than ``max_body_bytes`` the record is skipped and counted (``too_large``),
if the exchange did not complete (client gone, app error, body not read) it is counted
(``incomplete``). The HTTP status is recorded. ``inference_id_header`` names the request header
holding the caller's inference id (SageMaker's ``X-Amzn-SageMaker-Inference-Id`` by default);
only headers in ``header_allowlist`` are kept, as ``eventMetadata.customAttributes`` (SageMaker's
custom-attributes header verbatim, others as ``name=value``), and they pass the writer's
redaction hook like everything else.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping, Sequence
from typing import Any, Generic, TypeVar

from mmon.capture.encode import CaptureRecord
from mmon.capture.writer import CaptureWriter

CUSTOM_ATTRIBUTES_HEADER = "x-amzn-sagemaker-custom-attributes"
INFERENCE_ID_HEADER = "x-amzn-sagemaker-inference-id"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[..., Iterable[bytes]]
AppT = TypeVar("AppT", ASGIApp, WSGIApp)  # the app a middleware wraps


class _Exchange:
    """One sampled request/response as it passes by: chunk references, sizes, status."""

    __slots__ = ("t", "cap", "req", "req_size", "req_done", "resp", "resp_size", "resp_done", "status", "out_ct", "over")

    def __init__(self, cap: int) -> None:
        self.t = time.time()
        self.cap = cap
        self.req: list[bytes] = []
        self.resp: list[bytes] = []
        self.req_size = self.resp_size = 0
        self.req_done = self.resp_done = self.over = False
        self.status: int | None = None
        self.out_ct = ""

    def add_req(self, chunk: bytes) -> None:
        if chunk and not self.over:
            self.req_size += len(chunk)
            self.req.append(chunk)
            self._check()

    def add_resp(self, chunk: bytes) -> None:
        if chunk and not self.over:
            self.resp_size += len(chunk)
            self.resp.append(chunk)
            self._check()

    def _check(self) -> None:
        if self.req_size + self.resp_size > self.cap:
            self.over = True  # stop keeping references: memory stays bounded for huge streams
            self.req, self.resp = [], []


class _Options:
    def __init__(
        self,
        writer: CaptureWriter,
        paths: Sequence[str] | None,
        inference_id_header: str | None,
        header_allowlist: Sequence[str],
        max_body_bytes: int | None,
    ) -> None:
        self.writer = writer
        self.paths = frozenset(paths) if paths else None
        self.id_header = inference_id_header.lower() if inference_id_header else None
        self.allow = tuple(h.lower() for h in header_allowlist)
        self.cap = writer.max_payload_bytes if max_body_bytes is None else max_body_bytes
        # The only request headers the middleware decodes (on the background thread).
        self.wanted = frozenset({"content-type", *self.allow, *([self.id_header] if self.id_header else [])})
        # The same as WSGI environ keys (content-type has its own key there).
        self.environ_keys = tuple(("HTTP_" + h.upper().replace("-", "_"), h) for h in sorted(self.wanted - {"content-type"}))

    def finish(self, ex: _Exchange, raw_headers: Any, completed: bool) -> None:
        """Queue a completed exchange as it is (``record`` makes it a record later), or count why
        not. Never raises. ``raw_headers``: ASGI's ``[(name, value), ...]`` bytes or a dict."""
        w = self.writer
        try:
            if ex.over:
                w._count("dropped_too_large")
                return
            if not completed:
                w._count("dropped_incomplete")
                return
            n = (ex.req_size if w.capture_input else 0) + (ex.resp_size if w.capture_output else 0)
            if n > w.max_payload_bytes:
                w._count("dropped_too_large")
                return
            w._put((self, ex, raw_headers, n), n, "captured")
        except Exception as exc:  # noqa: BLE001
            w._count("dropped_error")
            w._error("middleware", exc, count=False)

    def record(self, ex: _Exchange, raw_headers: Any) -> CaptureRecord:
        """The record of a queued exchange (on the writer's background thread)."""
        w = self.writer
        if isinstance(raw_headers, dict):
            headers: dict[str, str] = raw_headers
        else:
            wanted = self.wanted
            headers = {}
            for k, v in raw_headers:
                name = k.decode("latin-1").lower()
                if name in wanted:
                    headers[name] = v.decode("latin-1")
        kept = {h: headers[h] for h in self.allow if h in headers}
        attrs = "; ".join(v if h == CUSTOM_ATTRIBUTES_HEADER else f"{h}={v}" for h, v in kept.items()) or None
        return CaptureRecord(
            b"".join(ex.req) if w.capture_input else None,
            b"".join(ex.resp) if w.capture_output else None,
            headers.get("content-type", ""),
            ex.out_ct,
            ex.t,
            headers.get(self.id_header) if self.id_header else None,
            status=ex.status,
            headers=kept or None,
            custom_attributes=attrs,
        )


def _no_body(raw_headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether an ASGI request announced no body (the app then need not read one)."""
    length = b"0"
    for k, v in raw_headers:
        name = k.lower()
        if name == b"transfer-encoding":
            return False
        if name == b"content-length":
            length = v
    return length.strip() in (b"", b"0")


class _Middleware(Generic[AppT]):
    """What the ASGI and the WSGI middleware are both made with: the app they wrap, the writer, and
    the options (``_Options``) that choose what of a request is captured."""

    def __init__(
        self,
        app: AppT,
        writer: CaptureWriter,
        *,
        paths: Sequence[str] | None = None,
        inference_id_header: str | None = INFERENCE_ID_HEADER,
        header_allowlist: Sequence[str] = (CUSTOM_ATTRIBUTES_HEADER,),
        max_body_bytes: int | None = None,
    ) -> None:
        self.app: AppT = app
        self.writer = writer
        self._o = _Options(writer, paths, inference_id_header, header_allowlist, max_body_bytes)


class CaptureMiddleware(_Middleware[ASGIApp]):
    """Pure ASGI middleware: ``app = CaptureMiddleware(app, writer)``.

    ``paths``: capture only these request paths (e.g. ``["/invocations"]``; default every HTTP
    request). On ASGI lifespan startup the writer's thread is started (uploading what a crashed
    process left in the spool); on lifespan shutdown the writer is closed: flushed within its
    ``flush_timeout``, its thread stopped.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        o = self._o
        if kind != "http" or (o.paths is not None and scope.get("path") not in o.paths) or not _sample(o.writer):
            await self.app(scope, receive, send)
            return
        ex = _Exchange(o.cap)

        async def recv() -> Message:
            msg = await receive()
            if msg["type"] == "http.request":
                try:
                    ex.add_req(msg.get("body", b""))
                    if not msg.get("more_body", False):
                        ex.req_done = True
                except Exception:  # noqa: BLE001, S110 - capture bookkeeping must not break the request
                    ex.over = True
            return msg

        async def snd(msg: Message) -> None:
            try:
                t = msg["type"]
                if t == "http.response.start":
                    ex.status = int(msg["status"])
                    for k, v in msg.get("headers", ()):
                        if k.lower() == b"content-type":
                            ex.out_ct = v.decode("latin-1")
                elif t == "http.response.body":
                    ex.add_resp(msg.get("body", b""))
                    if not msg.get("more_body", False):
                        ex.resp_done = True
            except Exception:  # noqa: BLE001 - forwarded unchanged whatever happens here
                ex.over = True
            await send(msg)

        try:
            await self.app(scope, recv, snd)
        finally:
            try:
                # A copy of the list (not of the headers): the app may change the scope's in place.
                raw = list(scope.get("headers", ()))
                if not ex.req_done and not ex.over and _no_body(raw):
                    ex.req_done = True
            except Exception:  # noqa: BLE001
                raw = []
            o.finish(ex, raw, ex.req_done and ex.resp_done)

    def _lifespan_send(self, send: Send) -> Send:
        async def snd(msg: Message) -> None:
            import asyncio

            if msg.get("type") == "lifespan.startup.complete":
                # Before the server takes traffic: the store's client (imports that would hold the
                # GIL for a second at the first upload), then the thread, which recovers the spool.
                await asyncio.to_thread(self.writer.prepare)
                self.writer.start()
            if msg.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                try:
                    # close, not flush: the process is ending, and atexit must not wait a second
                    # flush_timeout for a store that is down (the whole shutdown stays under 30 s).
                    await asyncio.to_thread(self.writer.close)
                except Exception as exc:  # noqa: BLE001
                    self.writer._error("flush", exc)
            await send(msg)

        return snd


def _sample(w: CaptureWriter) -> bool:
    try:
        return w.sample()
    except Exception as exc:  # noqa: BLE001
        w._error("sample", exc)
        return False


class _TeeInput:
    """``wsgi.input`` that keeps a reference to what the app reads."""

    def __init__(self, stream: Any, ex: _Exchange, length: int | None) -> None:
        self._s, self._ex, self._length = stream, ex, length

    def _seen(self, data: bytes) -> bytes:
        try:
            self._ex.add_req(data)
            if self._length is not None and self._ex.req_size >= self._length:
                self._ex.req_done = True
        except Exception:  # noqa: BLE001
            self._ex.over = True
        return data

    def read(self, *args: Any) -> bytes:
        data = self._s.read(*args)
        if not data and (not args or args[0] is None or args[0] != 0):
            self._ex.req_done = True  # end of the body: the app read all of it
        return self._seen(data)

    def readline(self, *args: Any) -> bytes:
        return self._seen(self._s.readline(*args))

    def readlines(self, *args: Any) -> list[bytes]:
        return [self._seen(line) for line in self._s.readlines(*args)]

    def __iter__(self) -> Iterator[bytes]:
        for line in self._s:
            yield self._seen(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s, name)


class _Response:
    """The app's response iterable, passed through chunk by chunk; the record is queued on close()."""

    def __init__(self, result: Iterable[bytes], ex: _Exchange, o: _Options, headers: dict[str, str]) -> None:
        self._r, self._ex, self._o, self._headers = result, ex, o, headers
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._r:
            try:
                self._ex.add_resp(chunk)
            except Exception:  # noqa: BLE001
                self._ex.over = True
            yield chunk
        self._ex.resp_done = True

    def close(self) -> None:
        try:
            close = getattr(self._r, "close", None)
            if close is not None:
                close()
        finally:
            if not self._done:
                self._done = True
                self._o.finish(self._ex, self._headers, self._ex.req_done and self._ex.resp_done)


class WSGICaptureMiddleware(_Middleware[WSGIApp]):
    """WSGI middleware: ``app.wsgi_app = WSGICaptureMiddleware(app.wsgi_app, writer)`` (Flask)."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        o = self._o
        if (o.paths is not None and environ.get("PATH_INFO") not in o.paths) or not _sample(o.writer):
            return self.app(environ, start_response)
        ex = _Exchange(o.cap)
        try:
            # Only the headers the record can use (not a scan of the whole environ).
            headers = {h: environ[k] for k, h in o.environ_keys if k in environ}
            if environ.get("CONTENT_TYPE"):
                headers["content-type"] = environ["CONTENT_TYPE"]
            raw_len = environ.get("CONTENT_LENGTH") or ""
            length = int(raw_len) if raw_len.strip().isdigit() else None
            if length == 0 or (length is None and "HTTP_TRANSFER_ENCODING" not in environ):
                ex.req_done = True
            environ["wsgi.input"] = _TeeInput(environ["wsgi.input"], ex, length)
        except Exception as exc:  # noqa: BLE001
            o.writer._error("middleware", exc)
            return self.app(environ, start_response)

        def sr(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            try:
                ex.status = int(status.split(" ", 1)[0])
                for k, v in response_headers:
                    if k.lower() == "content-type":
                        ex.out_ct = v
            except Exception:  # noqa: BLE001
                ex.over = True
            write = start_response(status, response_headers, exc_info) if exc_info else start_response(status, response_headers)

            def tee_write(data: bytes) -> Any:
                ex.add_resp(data)
                return write(data)

            return tee_write

        return _Response(self.app(environ, sr), ex, o, headers)
