#!/usr/bin/env python3
"""A registry that never finishes a blob: answers a manifest for any tag except `missing`
(404), then sends 64 KiB of each blob it announces as 16 MiB, touches MARKER and stalls.
For tests that kill a pull mid-download. Usage: slow-registry.py PORT MARKER"""
import http.server, json, sys, time

PORT, MARKER = int(sys.argv[1]), sys.argv[2]
DIGEST = "sha256:" + "ab" * 32
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 16 << 20},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + "cd" * 32, "size": 16 << 20}],
}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if "/manifests/" in self.path and not self.path.endswith("/missing"):
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(len(MANIFEST)))
            self.end_headers()
            self.wfile.write(MANIFEST)
        elif "/blobs/" in self.path:
            self.send_response(200)
            self.send_header("Content-Length", str(16 << 20))
            self.end_headers()
            self.wfile.write(b"\0" * 65536)
            self.wfile.flush()
            open(MARKER, "w").close()
            time.sleep(120)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
