# The `make demo` web app: a small HTTP server on port 5000, Python's
# standard library only (so the image builds without a package index).
# Handles SIGTERM itself: as PID 1 in its container nothing else would.
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "5000"))
DATA = os.environ.get("DATA_DIR", "/data")


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        visits = None
        if os.path.isdir(DATA):
            # a counter in /data shows a volume surviving the container
            path = os.path.join(DATA, "visits")
            try:
                with open(path) as f:
                    visits = int(f.read() or 0)
            except (OSError, ValueError):
                visits = 0
            visits += 1
            with open(path, "w") as f:
                f.write(str(visits))
        body = "Hello from skiff! This is %s, served by Python %s.\n" % (
            socket.gethostname(), sys.version.split()[0])
        if visits is not None:
            body += "Visits recorded in %s: %d\n" % (DATA, visits)
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        print("%s - %s" % (self.address_string(), fmt % args), flush=True)


def main():
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Hello)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening on port %d" % PORT, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
