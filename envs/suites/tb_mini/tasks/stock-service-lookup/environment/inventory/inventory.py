"""The warehouse's inventory service: GET /stock?sku=X -> {"sku": X, "qty": N}, 404 if unknown."""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

STOCK = {"A-100": 12, "B-220": 0, "C-310": 7, "D-404": 31, "E-500": 3}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            return self._send(200, {"ok": True})
        sku = parse_qs(url.query).get("sku", [""])[0]
        if url.path == "/stock" and sku in STOCK:
            return self._send(200, {"sku": sku, "qty": STOCK[sku]})
        return self._send(404, {"error": "unknown sku"})

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", 8080), Handler).serve_forever()
