"""A small TCP proxy in front of the test S3 server that cuts the connection at the N-th request.

It reads the HTTP/1.1 requests passing through (keep-alive, Content-Length or chunked bodies), so
it can count them and make the server look as if it died at an exact request: the N-th matching
request's headers and the start of its body are forwarded, then both sides are reset, and from
then on nothing listens on the port (connections refused, as with a dead server) until
``restore()`` listens on the same port again.
Bound to 127.0.0.1 only.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a killed process's sockets are."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


@dataclass
class S3Proxy:
    upstream: tuple[str, int]
    requests: list[tuple[str, str]] = field(default_factory=list)
    down: bool = False
    graceful: bool = False
    _cut: tuple[int, str | None] | None = None  # (remaining matching requests before the cut, method)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _socks: set[socket.socket] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.port = 0
        self._stopped = False
        self._listen()
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))  # the same port again after a restart
        server.listen(64)
        self.port = server.getsockname()[1]
        self._server: socket.socket | None = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    # -- control -------------------------------------------------------------------------------
    def cut_at(self, n: int, method: str | None = None, graceful: bool = False) -> None:
        """The server dies during the n-th request from now (only ``method`` requests count).

        ``graceful``: the connections end with FIN (a server shut down) instead of RST (killed).
        """
        with self._lock:
            self._cut = (n, method)
            self.graceful = graceful

    def kill(self) -> None:
        """The server dies now: open connections are reset, new ones refused (nothing listens)."""
        with self._lock:
            self.down = True
            socks = list(self._socks)
            server, self._server = self._server, None
        if server is not None:
            _reset(server)
        for s in socks:
            if self.graceful:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            else:
                _reset(s)

    def restore(self) -> None:
        """The server is back."""
        with self._lock:
            self.down = False
            self._cut = None
            listening = self._server is not None
        if not listening and not self._stopped:
            self._listen()

    def count(self, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for m, _ in self.requests if method is None or m == method)

    def close(self) -> None:
        self._stopped = True
        self.kill()

    # -- plumbing ------------------------------------------------------------------------------
    def _accept(self, server: socket.socket) -> None:
        while not self._stopped:
            try:
                client, _ = server.accept()
            except OSError:
                return
            if self.down:
                _reset(client)
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=30)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._socks.update((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        try:
            self._requests(client, upstream)
        except OSError:
            pass
        finally:
            _reset(client)
            _reset(upstream)
            with self._lock:
                self._socks.discard(client)
                self._socks.discard(upstream)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _reset(dst)

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        buf = b""

        def need(n: int) -> bool:
            nonlocal buf
            while len(buf) < n:
                data = client.recv(65536)
                if not data:
                    return False
                buf += data
            return True

        while True:
            while b"\r\n\r\n" not in buf:
                data = client.recv(65536)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, path = (lines[0].split(" ") + ["", ""])[:2]
            headers = {
                k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
            }
            with self._lock:
                if self.down:
                    return
                self.requests.append((method, path))
                cut = False
                if self._cut is not None and (self._cut[1] is None or self._cut[1] == method):
                    left = self._cut[0] - 1
                    self._cut = (left, self._cut[1])
                    cut = left <= 0
            if cut:
                # The server dies mid-request: it got the headers and part of the body.
                upstream.sendall(head + b"\r\n\r\n" + buf[:512])
                self.kill()
                return
            upstream.sendall(head + b"\r\n\r\n")
            if headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    while b"\r\n" not in buf:
                        if not need(len(buf) + 1):
                            return
                    size_line, rest = buf.split(b"\r\n", 1)
                    size = int(size_line.split(b";")[0], 16)
                    total = len(size_line) + 2 + size + 2
                    if not need(total):
                        return
                    upstream.sendall(buf[:total])
                    buf = buf[total:]
                    if size == 0:
                        break
            else:
                length = int(headers.get("content-length", "0") or 0)
                if not need(length):
                    return
                upstream.sendall(buf[:length])
                buf = buf[length:]
