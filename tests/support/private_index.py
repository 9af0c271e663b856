"""TEST TOOLING ONLY: a private package index with a password, and wheels to put in it (stdlib only).

    python private_index.py wheel DIR NAME VERSION
        writes a pure-Python wheel of module NAME (import NAME; NAME.VERSION == VERSION) into DIR
    python private_index.py serve HOST PORT USER PASSWORD DIR
        serves DIR as a PEP 503 simple index at http://HOST:PORT/simple/, HTTP basic auth
        required; the project `dtu-slow` answers only after 120 s (a build to interrupt).
        Prints `ready PORT` once it listens (PORT 0: a free one).
"""
import base64
import hashlib
import http.server
import os
import sys
import time
import zipfile


def wheel(folder, name, version):
    module = name.replace("-", "_")
    dist = f"{module}-{version}"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: dtu-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    path = os.path.join(folder, f"{dist}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as zf:
        for name_in_zip, text in files.items():
            zf.writestr(name_in_zip, text)
    print(path)


def serve(host, port, user, password, folder):
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    class Index(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, code, body=b"", kind="text/html"):
            self.send_response(code)
            if code == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="dtu"')
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.headers.get("Authorization") != expected:
                return self.answer(401, b"unauthorized")
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 2 and parts[0] == "simple":
                project = parts[1].lower().replace("_", "-")
                if project == "dtu-slow":
                    time.sleep(120)
                wheels = [f for f in sorted(os.listdir(folder))
                          if f.lower().replace("_", "-").startswith(project + "-") and f.endswith(".whl")]
                if not wheels:
                    return self.answer(404, b"not found")
                links = "".join(f'<a href="/files/{w}">{w}</a>\n' for w in wheels)
                return self.answer(200, f"<html><body>{links}</body></html>".encode())
            if len(parts) == 2 and parts[0] == "files" and os.path.isfile(os.path.join(folder, parts[1])):
                with open(os.path.join(folder, parts[1]), "rb") as f:
                    return self.answer(200, f.read(), "application/octet-stream")
            return self.answer(404, b"not found")

    server = http.server.ThreadingHTTPServer((host, int(port)), Index)
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "wheel":
        wheel(*sys.argv[2:5])
    elif sys.argv[1] == "serve":
        serve(*sys.argv[2:7])
    else:
        sys.exit(__doc__)
