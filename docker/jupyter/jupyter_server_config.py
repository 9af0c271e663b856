# Nothing saved from JupyterLab is lost: the file browser saves only where a save outlives the
# container. That is a place the engine mounted (the work folder, --data, -v, a hub user's volume);
# everything else under the server's root (the home folder, the example notebooks) is the image's
# and would go with the container. There a save is refused with a message that says why, and files
# open read-only, so JupyterLab offers "Save As" instead of failing on each autosave.
# Read by jupyter lab and jupyterhub-singleuser alike; the settings in the JSON file beside it stay.
import glob
import os
import sys

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError


def _unescape(field):
    # /proc/self/mountinfo writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def kept_places(mountinfo="/proc/self/mountinfo"):
    """The mount points other than the container's own root: what the engine mounted in."""
    places = []
    try:
        with open(mountinfo, encoding="utf-8") as lines:
            for line in lines:
                fields = line.split()
                if " - " not in line or len(fields) < 5:
                    continue
                fstype = fields[fields.index("-") + 1]
                point = _unescape(fields[4])
                # tmpfs goes with the container like its root does.
                if point != "/" and fstype != "tmpfs":
                    places.append(point.rstrip("/"))
    except OSError:
        pass
    return places


KEPT = kept_places()


class KeptContentsManager(AsyncLargeFileManager):
    """Saves, copies and renames only into a kept place."""

    def is_kept(self, path):
        os_path = os.path.abspath(self._get_os_path(path.strip("/")))
        return any(os_path == p or os_path.startswith(p + "/") for p in KEPT)

    def refuse(self, path):
        raise HTTPError(
            403,
            f"Not saved: /{path.strip('/')} is inside the container and would be lost when the lab "
            "stops. Save it under work/ (your folder on the host): File > Save As...",
        )

    def _base_model(self, path):
        model = super()._base_model(path)
        if not self.is_kept(path):
            model["writable"] = False
        return model

    async def save(self, model, path=""):
        if not self.is_kept(path):
            self.refuse(path)
        return await super().save(model, path)

    async def rename_file(self, old_path, new_path):
        if not self.is_kept(new_path):
            self.refuse(new_path)
        return await super().rename_file(old_path, new_path)

    async def copy(self, from_path, to_path=None):
        target = to_path if to_path is not None else os.path.dirname(from_path.strip("/"))
        if not self.is_kept(target):
            self.refuse(target)
        return await super().copy(from_path, to_path)


c = get_config()  # noqa: F821 (defined by the config loader)
c.ServerApp.contents_manager_class = KeptContentsManager
# The file browser opens in the user's folder, where "New notebook" is kept.
if os.path.isdir("/home/dimtensor/work"):
    c.ContentsManager.preferred_dir = "work"

# The packages installed by hand (`pip install` in the lab, kept in PYTHONUSERBASE): one log line
# that dimtensor-up reads to tell the user what the project's files do not list.
def _hand_installed(base=os.environ.get("PYTHONUSERBASE", "")):
    found = glob.glob(os.path.join(base, "lib", "python*", "site-packages", "*.dist-info")) if base else []
    return sorted(os.path.basename(d)[: -len(".dist-info")].replace("-", " ", 1) for d in found)


_packages = _hand_installed()
print(f"dimtensor-up: installed by hand: {len(_packages)}: {', '.join(_packages)}", file=sys.stderr, flush=True)

# --idle-timeout (dimtensor-up sets DIMTENSOR_UP_IDLE_TIMEOUT in seconds): idle kernels are shut
# down (busy ones never, open browser tabs or not); once no kernel is left and nothing asked the
# server for as long, the server stops, and with it the container: its GPUs are free. The
# server's own shutdown_no_activity_timeout never fires here (its timer is started before the
# server's event loop), so a thread asks /api/status, which does not count as activity. An open
# JupyterLab tab polls the server, which does (jupyterlab/jupyterlab#9379).
def _stop_when_idle(timeout):
    import json
    import signal
    import threading
    import time
    import urllib.request

    def token():
        path = os.environ.get("JUPYTER_TOKEN_FILE")
        if path:
            with open(path, encoding="utf-8") as f:
                return f.read().strip()
        return os.environ.get("JUPYTER_TOKEN", "")

    def watch():
        interval = max(1, min(60, timeout // 4))
        while True:
            time.sleep(interval)
            try:
                request = urllib.request.Request(
                    "http://127.0.0.1:8888/api/status", headers={"Authorization": f"token {token()}"}
                )
                with urllib.request.urlopen(request, timeout=10) as answer:
                    status = json.load(answer)
            except (OSError, ValueError):
                continue
            last = status.get("last_activity", "").replace("Z", "+00:00")
            try:
                import datetime

                idle = time.time() - datetime.datetime.fromisoformat(last).timestamp()
            except ValueError:
                continue
            if status.get("kernels", 1) == 0 and idle > timeout:
                print(
                    f"dimtensor-up: idle for {int(idle)} s (--idle-timeout {timeout} s): stopping the lab",
                    file=sys.stderr,
                    flush=True,
                )
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="dimtensor-up-idle", daemon=True).start()


_idle = os.environ.get("DIMTENSOR_UP_IDLE_TIMEOUT", "")
if _idle.isdigit() and int(_idle) > 0:
    c.MappingKernelManager.cull_idle_timeout = int(_idle)
    c.MappingKernelManager.cull_interval = max(1, min(60, int(_idle) // 4))
    c.MappingKernelManager.cull_connected = True
    c.MappingKernelManager.cull_busy = False
    _stop_when_idle(int(_idle))


# A kernel killed for memory otherwise looks like a crash ("kernel died, restarting"): the
# container's memory cgroup counts its OOM kills (cgroup v2 memory.events, v1 oom_control); each
# new one gets a log line, which dimtensor-up's foreground `jupyter` and `logs` show.
def _oom_kills():
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        try:
            with open(path, encoding="utf-8") as lines:
                for line in lines:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def _memory_limit():
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read().strip()
            if text.isdigit() and int(text) < 1 << 60:
                return f"{int(text) / (1 << 30):.1f} GiB"
            return "none"
        except OSError:
            continue
    return "unknown"


def _watch_memory():
    import threading
    import time

    seen = _oom_kills()
    if seen is None:
        return

    def watch(seen=seen):
        while True:
            time.sleep(2)
            now = _oom_kills()
            if now is not None and now > seen:
                print(
                    f"dimtensor-up: out of memory: {now - seen} process(es) in the lab killed "
                    f"(memory limit: {_memory_limit()}); a kernel that died starts again empty",
                    file=sys.stderr,
                    flush=True,
                )
                seen = now

    threading.Thread(target=watch, name="dimtensor-up-oom", daemon=True).start()


_watch_memory()
