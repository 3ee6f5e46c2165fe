"""What the Chromium tests share: a page served on an origin of its own, and headless Chromium
opening it and handing back the DOM its scripts left."""

from __future__ import annotations

import mimetypes
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")


class Site:
    """``html`` at every path on 127.0.0.1 (another port than the API's, so another origin), and the
    files of ``assets`` (if given) under ``/sdk/``."""

    def __init__(self, assets: Path | None = None) -> None:
        self.html = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, kind = site.html.encode(), "text/html; charset=utf-8"
                if self.path.startswith("/sdk/"):
                    asset = site.asset(self.path.removeprefix("/sdk/").split("?")[0])
                    if asset is None:
                        self.send_error(404)
                        return
                    body, kind = asset
                self.send_response(200)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

        self._assets = assets
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    def asset(self, name: str) -> tuple[bytes, str] | None:
        """The bytes and media type of the file ``name`` in ``assets``; None for any other name."""
        if self._assets is None:
            return None
        path = (self._assets / name).resolve()
        if path.parent != self._assets.resolve() or not path.is_file():
            return None
        return path.read_bytes(), mimetypes.guess_type(path.name)[0] or "text/javascript"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def dump_dom(url: str, virtual_time_ms: int) -> str:
    """The page's DOM after its scripts ran; virtual time lets its requests finish."""
    if CHROMIUM is None:
        pytest.fail("no headless Chromium: run `make browser` (it installs chromium-headless-shell)")
    budget = f"--virtual-time-budget={virtual_time_ms}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", budget, "--dump-dom", url]
    result = subprocess.run(  # noqa: S603 - a fixed browser binary on a local page
        command, capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout
