"""Serve the web reader on this computer only (127.0.0.1): the page, onnxruntime-web and OpenCV.js from
node_modules/ (`npm ci` here), and the models under /models/ (the repository's exported/ by default).

    python examples/web/serve.py [--port 8000] [--models DIR]      then open http://127.0.0.1:8000/

Every response carries the cross-origin isolation headers (COOP same-origin, COEP require-corp): with them the page
gets SharedArrayBuffer (onnxruntime-web's wasm threads) and performance.now() to microseconds instead of 100 us.
The camera needs a secure context, which http://127.0.0.1 and http://localhost are. Python's standard library only.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent
MODELS = PAGE.parent.parent / "exported"
TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".onnx": "application/octet-stream", ".json": "application/json", ".html": "text/html; charset=utf-8"}


class Handler(http.server.SimpleHTTPRequestHandler):
    """Files of the page's folder, /models/... from the models folder; isolation headers on every answer."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}
    models: Path = MODELS

    def translate_path(self, path: str) -> str:
        if path.split("?", 1)[0].startswith("/models/"):
            inside = super().translate_path("/" + path[len("/models/"):])  # normalized, relative to the page folder
            return str(self.models / Path(inside).relative_to(self.directory))
        return super().translate_path(path)

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # quiet: a test or a user reads the page, not the access log
        pass


def server(port: int = 8000, models: Path = MODELS) -> http.server.ThreadingHTTPServer:
    """A server on 127.0.0.1:port (0: any free port) for the page and `models`."""
    handler = functools.partial(type("Bound", (Handler,), {"models": Path(models).resolve()}), directory=str(PAGE))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free one); default 8000")
    parser.add_argument("--models", type=Path, default=MODELS, help=f"folder served as /models/; default {MODELS}")
    args = parser.parse_args(argv)
    if not (PAGE / "node_modules" / "onnxruntime-web").is_dir():
        print(f"serve.py: no onnxruntime-web: run `npm ci` in {PAGE} first (or `make web`)", file=sys.stderr)
        return 2
    if not args.models.is_dir():
        print(f"serve.py: no such models folder: {args.models}", file=sys.stderr)
        return 2
    try:
        httpd = server(args.port, args.models)
    except OSError as exc:
        print(f"serve.py: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"serving http://127.0.0.1:{httpd.server_address[1]}/  (models from {args.models}; Ctrl-C stops)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
