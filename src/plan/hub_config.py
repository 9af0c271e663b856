# JupyterHub for a shared machine, written by dimtensor-up @VERSION@ (`dimtensor-up hub`).
# `dimtensor-up hub` rewrites this file only while it is as written (the checksum on its last
# line); once edited, it is kept unless you pass --force (the old one is then saved as .bak).
import asyncio
import json
import socket
import time

from dockerspawner import DockerSpawner
from nativeauthenticator import NativeAuthenticator
from tornado import web
from tornado.httpclient import AsyncHTTPClient

# One profile per lab image and GPU request (`dimtensor-up hub --labs/--gpus`).
PROFILES = json.loads(r"""@PROFILES@""")
ADMIN = "@ADMIN@"
# On every lab: the hub it belongs to (`dimtensor-up stop` of the hub removes them), its user,
# and with --one-gpu-each the GPU it holds.
LABELS = json.loads(r"""@LABELS@""")
USER_LABEL = "@USER_LABEL@"
GPU_LABEL = "@GPU_LABEL@"


class DimtensorAuthenticator(NativeAuthenticator):
    """NativeAuthenticator whose admin account exists from the first start, with the password
    from the admin-password file beside this one (a compose secret)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not self.user_exists(ADMIN):
            with open("/run/secrets/admin_password") as f:
                self.create_user(ADMIN, f.read().strip())


async def claim_gpu(spawner, pool):
    """One GPU of `pool` for this user's lab: the one it had if that is free, else the first free
    one; none free is a spawn error naming who holds them."""
    labs = await spawner.docker("containers", filters={"label": [f"{GPU_LABEL}"] + [f"{k}={v}" for k, v in LABELS.items()]})
    held = {}
    for lab in labs:
        owner = lab["Labels"].get(USER_LABEL)
        if owner and owner != spawner.user.name:
            held[lab["Labels"][GPU_LABEL]] = owner
    free = [gpu for gpu in pool if gpu not in held]
    if not free:
        holders = ", ".join(f"GPU {gpu}: {held[gpu]}" for gpu in pool)
        # An HTTPError's message reaches the user (the spawn page, the REST answer); others say "error".
        raise web.HTTPError(409, f"all {len(pool)} GPUs are in use ({holders}); ask one of them to stop their lab, or choose a CPU profile")
    return spawner.claimed_gpu if spawner.claimed_gpu in free else free[0]


async def choose_profile(spawner):
    """The chosen profile's image and GPUs, with the labs' hardening (no capabilities, no
    privilege escalation; the image's tini is their init)."""
    slug = spawner.user_options.get("profile") or PROFILES[0]["slug"]
    profile = next((p for p in PROFILES if p["slug"] == slug), None)
    if profile is None:
        raise ValueError(f"no profile {slug!r}; choose one of {', '.join(p['slug'] for p in PROFILES)}")
    spawner.image = profile["image"]
    host_config = {"cap_drop": ["@CAP_DROP@"], "security_opt": json.loads(r"""@SECURITY_OPT@"""), "shm_size": profile["shm_size"]}
    spawner.environment.update(profile["environment"])
    labels = dict(LABELS, **{USER_LABEL: spawner.user.name})
    if profile["gpu_pool"]:
        gpu = await claim_gpu(spawner, list(profile["gpu_pool"]))
        spawner.claimed_gpu = gpu
        host_config["device_requests"] = [profile["gpu_pool"][gpu]]
        labels[GPU_LABEL] = gpu
    elif profile["device_request"]:
        host_config["device_requests"] = [profile["device_request"]]
    else:
        # The GPU images ask for all GPUs; without a request, none (as `dimtensor-up jupyter`).
        spawner.environment["NVIDIA_VISIBLE_DEVICES"] = "void"
    spawner.extra_host_config = host_config
    spawner.extra_create_kwargs = {"labels": labels}


class DimtensorSpawner(DockerSpawner):
    """DockerSpawner that returns once the lab answers HTTP, polled every 0.1 s as `dimtensor-up
    jupyter` polls: the hub's own check backs off exponentially (up to seconds between tries),
    and finds the lab up at its first try instead. It keeps the GPU a user had (`--one-gpu-each`)
    in its state, so their next lab gets it again when it is free."""

    claimed_gpu = None

    def get_state(self):
        state = super().get_state()
        if self.claimed_gpu is not None:
            state["claimed_gpu"] = self.claimed_gpu
        return state

    def load_state(self, state):
        super().load_state(state)
        self.claimed_gpu = state.get("claimed_gpu", self.claimed_gpu)

    async def start(self):
        ip, port = await super().start()
        url = f"http://{ip}:{port}{self.server.base_url}api"
        deadline = time.monotonic() + self.http_timeout
        client = AsyncHTTPClient()
        while time.monotonic() < deadline:
            try:
                response = await client.fetch(url, raise_error=False, request_timeout=2)
                if response.code < 500:
                    break
            except Exception:  # not listening or not answering yet
                pass
            await asyncio.sleep(0.1)
        return ip, port


def options_form(spawner):
    options = "".join(f'<option value="{p["slug"]}">{p["display"]}</option>' for p in PROFILES)
    return f'<label for="profile">Lab</label><select class="form-control" name="profile" id="profile">{options}</select>'


c = get_config()  # noqa: F821
c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
# The labs reach the hub at its address on the hub's own network (no DNS needed there).
c.JupyterHub.hub_connect_url = f"http://{socket.gethostbyname(socket.gethostname())}:8081"
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "/srv/jupyterhub/jupyterhub-proxy.pid"

c.JupyterHub.authenticator_class = DimtensorAuthenticator
c.Authenticator.admin_users = {ADMIN}
# NativeAuthenticator is the gate: sign-ups wait until the admin authorizes them (/hub/authorize).
c.Authenticator.allow_all = True
c.NativeAuthenticator.open_signup = False
c.NativeAuthenticator.minimum_password_length = 8

c.JupyterHub.spawner_class = DimtensorSpawner
c.DockerSpawner.options_form = options_form
c.DockerSpawner.options_from_form = lambda form: {"profile": form.get("profile", [""])[0]}
c.DockerSpawner.pre_spawn_hook = choose_profile
c.DockerSpawner.image = PROFILES[0]["image"]
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
c.DockerSpawner.notebook_dir = "/home/dimtensor"
c.DockerSpawner.default_url = "/lab"
c.DockerSpawner.network_name = "@NETWORK@"
c.DockerSpawner.prefix = "@PREFIX@"
# Each user's folder is a volume of their own: it outlives their lab and the hub.
c.DockerSpawner.volumes = {"@PREFIX@-home-{username}": "@HOME_MOUNT@"}
c.DockerSpawner.remove = True
c.DockerSpawner.extra_create_kwargs = {"labels": LABELS}
c.DockerSpawner.start_timeout = 300
c.DockerSpawner.http_timeout = 120
