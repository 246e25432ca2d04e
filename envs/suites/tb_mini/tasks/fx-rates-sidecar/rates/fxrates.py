"""FX rates by date: GET /rate?from=EUR&to=USD&date=2024-03-01 -> {"rate": 1.08}; 404 if none."""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TO_USD = {
    ("EUR", "2024-03-01"): 1.08,
    ("EUR", "2024-03-04"): 1.09,
    ("GBP", "2024-03-01"): 1.26,
    ("JPY", "2024-03-04"): 0.0067,
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/health":
            return self._send(200, {"ok": True})
        if url.path == "/rate" and q.get("to") == "USD":
            if q.get("from") == "USD":
                return self._send(200, {"rate": 1.0})
            rate = TO_USD.get((q.get("from"), q.get("date")))
            if rate is not None:
                return self._send(200, {"rate": rate})
        return self._send(404, {"error": "no rate"})

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", 9090), Handler).serve_forever()
