# A webhook receiver for the alert tests: Python's own http.server on 127.0.0.1:PORT,
# answering every POST with 200 and appending one JSON line per request to OUT:
# {"path", "content_type", "body"} (body parsed as JSON). Usage: receiver.py PORT OUT
import http.server
import json
import sys

port, out = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        line = {
            "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "body": json.loads(body),
        }
        with open(out, "a") as f:
            f.write(json.dumps(line) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
