"""Talks to a JupyterHub as its users would, through its pages and REST API (tests only).

    python hub_client.py HUB_URL signup USER PASSWORD          -> {"status": …, "message": …}
    python hub_client.py HUB_URL authorize ADMIN PASSWORD USER -> {"status": …}
    python hub_client.py HUB_URL token USER PASSWORD           -> {"token": … | null, "login": status}
    python hub_client.py HUB_URL spawn USER TOKEN PROFILE      -> {"status": …, "ready_s": …, "url": …}
    python hub_client.py HUB_URL get TOKEN PATH                -> {"status": …}
HUB_URL is the hub's root (http://127.0.0.1:8000). Forms carry the _xsrf cookie's value.
"""
import http.cookiejar
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

base = sys.argv[1].rstrip("/")
action = sys.argv[2]
jar = http.cookiejar.CookieJar()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def call(method, path, form=None, body=None, token=None):
    headers = {}
    data = None
    xsrf = next((c.value for c in jar if c.name == "_xsrf"), None)
    if form is not None:
        form = dict(form, _xsrf=xsrf or "")
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"token {token}"
    elif xsrf and method != "GET":
        headers["X-XSRFToken"] = xsrf
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with opener.open(req, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def login(user, password):
    call("GET", "/hub/login")
    status, _ = call("POST", "/hub/login", form={"username": user, "password": password})
    return status


out = {}
if action == "signup":
    user, password = sys.argv[3], sys.argv[4]
    call("GET", "/hub/signup")
    status, text = call("POST", "/hub/signup", form={
        "username": user, "signup_password": password, "signup_password_confirmation": password})
    out = {"status": status, "created": "information has been sent to the admin" in text or "successfully" in text}
elif action == "authorize":
    admin, password, user = sys.argv[3], sys.argv[4], sys.argv[5]
    out["login"] = login(admin, password)
    out["status"], _ = call("GET", f"/hub/authorize/{user}")
elif action == "token":
    user, password = sys.argv[3], sys.argv[4]
    out["login"] = login(user, password)
    status, text = call("POST", f"/hub/api/users/{user}/tokens", body={"note": "tests"})
    out["token"] = json.loads(text)["token"] if status in (200, 201) else None
    out["token_status"] = status
elif action == "spawn":
    user, token, profile = sys.argv[3], sys.argv[4], sys.argv[5]
    start = time.perf_counter()
    status, text = call("POST", f"/hub/api/users/{user}/server", body={"profile": profile}, token=token)
    out["status"], out["body"] = status, text[:300]
    if status in (201, 202):
        while time.perf_counter() - start < 600:
            s, t = call("GET", f"/hub/api/users/{user}", token=token)
            server = (json.loads(t).get("servers") or {}).get("", {}) if s == 200 else {}
            if server.get("ready"):
                out["ready_s"] = round(time.perf_counter() - start, 3)
                out["url"] = base + server["url"].rstrip("/")
                break
            time.sleep(0.1)
elif action == "stop":
    user, token = sys.argv[3], sys.argv[4]
    out["status"], _ = call("DELETE", f"/hub/api/users/{user}/server", token=token)
elif action == "get":
    token, path = sys.argv[3], sys.argv[4]
    out["status"], _ = call("GET", path, token=token)
else:
    sys.exit(f"unknown action {action}")
print(json.dumps(out))
