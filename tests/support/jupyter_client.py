"""Talks to a JupyterLab server as a client would (tests only).

    python jupyter_client.py BASE_URL TOKEN check
    python jupyter_client.py BASE_URL TOKEN kernel CODE
    python jupyter_client.py BASE_URL TOKEN save PATH...
    python jupyter_client.py BASE_URL TOKEN files PATH...
`check` prints one JSON object: the status codes of /api/status with and without the token, the output of
a kernel that imports dimtensor (over the kernel websocket), and the path of a file written
through the contents API. `save` saves a notebook at each API path as the file browser does (a new
notebook in the folder the browser opens in, then one PUT per path) and prints, per path, the status
and the server's message, and the browser's first folder. `files` prints, per path, whether the file
is there and whether the server offers to save it.
"""
import re
import json
import sys
import urllib.error
import urllib.request
import uuid

import websocket  # websocket-client

base, token, action = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]


def request(method, path, body=None, auth=True):
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = f"token {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read().decode() or "null")
        except ValueError:
            return err.code, None


def run_in_kernel(code):
    status, kernel = request("POST", "/api/kernels", {"name": "python3"})
    assert status == 201, status
    # The token in a header, as JupyterHub's single-user servers accept it (not in the URL).
    ws_url = base.replace("http://", "ws://") + f"/api/kernels/{kernel['id']}/channels"
    ws = websocket.create_connection(ws_url, timeout=60, header=[f"Authorization: token {token}"])
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False},
    }))
    out, error = [], None
    while True:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            error = msg["content"]["ename"] + ": " + msg["content"]["evalue"]
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            break
    ws.close()
    request("DELETE", f"/api/kernels/{kernel['id']}")
    return "".join(out), error


if action == "check":
    with_token, _ = request("GET", "/api/status")
    without_token, _ = request("GET", "/api/status", auth=False)
    output, error = run_in_kernel(
        "from importlib.metadata import version\n"
        "from dimtensor import DimArray, units\n"
        "print(DimArray([3.0], units.m) / DimArray([2.0], units.s), version('dimtensor'))\n"
    )
    written, _ = request("PUT", "/api/contents/work/from-jupyter.txt",
                         {"type": "file", "format": "text", "content": "written by the contents API\n"})
    print(json.dumps({"status_with_token": with_token, "status_without_token": without_token,
                      "kernel_output": output, "kernel_error": error, "contents_put": written}))
elif action == "kernel":
    output, error = run_in_kernel(sys.argv[4])
    print(json.dumps({"output": output, "error": error}))
elif action == "save":
    try:
        page = urllib.request.urlopen(urllib.request.Request(
            base + "/lab", headers={"Authorization": f"token {token}"}), timeout=30).read().decode()
    except (urllib.error.URLError, ValueError):
        page = ""  # a hub's lab page may want its login first
    first_view = re.search(r'"preferredPath": "([^"]*)"', page)
    first_view = first_view.group(1) if first_view else ""
    # "New notebook" in the file browser's first view.
    status, model = request("POST", "/api/contents/" + first_view, {"type": "notebook"})
    results = {"first_view": first_view,
               "new_notebook": {"status": status, "path": (model or {}).get("path"),
                                "message": (model or {}).get("message")}}
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "kept?"}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    for path in sys.argv[4:]:
        status, model = request("PUT", "/api/contents/" + path, {"type": "notebook", "content": notebook})
        results[path] = {"status": status, "message": (model or {}).get("message")}
    print(json.dumps(results))
elif action == "files":
    results = {}
    for path in sys.argv[4:]:
        status, model = request("GET", "/api/contents/" + path + "?content=0")
        results[path] = {"status": status, "writable": (model or {}).get("writable")}
    print(json.dumps(results))
else:
    sys.exit(f"unknown action {action}")
