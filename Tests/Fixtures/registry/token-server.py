#!/usr/bin/env python3
"""The token endpoint of the registry tests: answers GET /token (any query) with DIR/token,
which make-token.sh wrote. With USER:PASSWORD it wants HTTP Basic credentials first, the way
Docker's token protocol asks a realm: none or others get 401 with a Basic challenge.
Usage: token-server.py PORT DIR [USER:PASSWORD]"""
import base64, http.server, sys

PORT, DIRECTORY = int(sys.argv[1]), sys.argv[2]
EXPECTED = "Basic " + base64.b64encode(sys.argv[3].encode()).decode() if len(sys.argv) > 3 else None


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.split("?")[0] != "/token":
            return self.answer(404, b"")
        if EXPECTED is not None and self.headers.get("Authorization") != EXPECTED:
            return self.answer(401, b'{"details":"bad credentials"}', [("WWW-Authenticate", 'Basic realm="crpod-test-token"')])
        with open(DIRECTORY + "/token", "rb") as token:
            self.answer(200, token.read(), [("Content-Type", "application/json")])


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
