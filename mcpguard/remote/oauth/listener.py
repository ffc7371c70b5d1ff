"""The one-shot loopback listener the browser is redirected to after signing in (RFC 8252 section 7.3).

Bound to 127.0.0.1 only (not ``localhost``, which may resolve to another interface), on a port the
system picks unless a registration fixed one. It answers the first request to the callback path and
stops; anything else gets 404 and is ignored. It gives up after a time-out, so a user who closed the
browser tab leaves no thread and no open port behind. The page it shows holds no code or token.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import parse_qs, urlsplit

CALLBACK_PATH = "/callback"
_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>mcpguard</title>"
    b"<p>mcpguard received the answer of the sign-in. You can close this tab.</p>"
)


class LoopbackListener:
    """Accepts exactly one redirect on ``http://127.0.0.1:PORT/callback``.

    Args:
        port: The port to take (a registration's redirect URI); 0 or a port in use: one the system picks.
    """

    def __init__(self, port: int = 0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        self._sock = sock
        self.port: int = sock.getsockname()[1]
        self.redirect_uri = f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def wait(self, timeout: float) -> dict[str, str]:
        """The query parameters of the redirect; raises TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no answer from the browser")
                self._sock.settimeout(left)
                try:
                    conn, _ = self._sock.accept()
                except TimeoutError:
                    continue
                params = self._serve(conn)
                if params is not None:
                    return params
        finally:
            self.close()

    def _serve(self, conn: socket.socket) -> dict[str, str] | None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data and len(data) < 16384:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                return None
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split(" ")
            target = urlsplit(parts[1]) if len(parts) >= 2 and parts[0] == "GET" else None
            if target is None or target.path != CALLBACK_PATH:
                self._reply(conn, b"404 Not Found", b"not found")
                return None
            self._reply(conn, b"200 OK", _PAGE)
            return {k: v[0] for k, v in parse_qs(target.query, keep_blank_values=True).items()}

    @staticmethod
    def _reply(conn: socket.socket, status: bytes, body: bytes) -> None:
        head = b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n"
        head += b"Cache-Control: no-store\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        try:
            conn.sendall(head + body)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
