#!/usr/bin/env bash
# The images' smoke tests, run by tests/run.sh here and by the release workflow before a push:
#   docker/smoke-test.sh IMAGE_REF base|ml|full|jupyter|hub
# For JupyterLab images (jupyter, jupyter-base, jupyter-ml) pass `jupyter`.
set -euo pipefail
image="$1"; kind="$2"
# An arbitrary UID, as dimtensor-up runs containers with the caller's.
run() { docker run --rm --user 4321:4321 "$image" "$@"; }

echo "smoke: $image ($kind)"
uid=$(docker run --rm "$image" id -u)
[ "$uid" != 0 ] || { echo "FAIL: $image runs as root by default" >&2; exit 1; }
# The image's own init (tini) is PID 1: an orphan is reaped (with python as PID 1 it stays a
# zombie) and `docker stop` reaches the program at once (PID 1 ignores an unhandled SIGTERM).
[ "$(docker run --rm "$image" cat /proc/1/comm)" = tini ] || { echo "FAIL: PID 1 of $image is not tini" >&2; exit 1; }
zombies=$(run python -c "
import os, subprocess, time
subprocess.run(['sh', '-c', 'sleep 0.2 &'], check=True)
time.sleep(1.5)
print(sum(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0] == 'Z' for p in os.listdir('/proc') if p.isdigit()))
")
[ "$zombies" = 0 ] || { echo "FAIL: $image leaves $zombies zombie(s): no init reaps orphans" >&2; exit 1; }
# Stopped once it runs (a signal before tini has set itself up, slow under emulation, is not the case).
cid=$(docker run -d --user 4321:4321 "$image" sh -c 'echo running; exec sleep 300')
for _ in $(seq 100); do docker logs "$cid" 2>/dev/null | grep -q running && break; sleep 0.2; done
t0=$SECONDS; docker stop -t 20 "$cid" >/dev/null; docker rm "$cid" >/dev/null
(( SECONDS - t0 < 10 )) || { echo "FAIL: docker stop of $image waited for the kill: SIGTERM was not passed on" >&2; exit 1; }
echo "  init: tini is PID 1, reaps orphans, passes SIGTERM on"
if [ "$kind" = hub ]; then
  # The hub of `dimtensor-up hub`: its proxy, spawner and authenticator, and the JupyterHub
  # version the lab images' jupyterhub-singleuser has (docker/requirements/hub.in, jupyter.in).
  run sh -c 'configurable-http-proxy --version >/dev/null && python -c "
import jupyterhub, dockerspawner, nativeauthenticator
print(\"  jupyterhub\", jupyterhub.__version__, \"| dockerspawner\", dockerspawner.__version__)
"'
  want=$(sed -n 's/^jupyterhub==//p' docker/requirements/jupyter.in)
  have=$(run python -c 'import jupyterhub; print(jupyterhub.__version__)')
  [ "$have" = "$want" ] || { echo "FAIL: the hub has JupyterHub $have, the labs $want" >&2; exit 1; }
  echo "smoke: $image ok"
  exit 0
fi
run python -c "
import importlib.metadata as m, numpy
assert int(numpy.__version__.split('.')[0]) < 2, numpy.__version__
print('  numpy', numpy.__version__, '| dimtensor', m.version('dimtensor'))
"
run python -c "from dimtensor import DimArray, units; print('  ', DimArray([1], units.m))"

case "$kind" in
  base) ;;
  ml)
    run python -c "
from dimtensor.torch import DimTensor
import platform, torch, jax, importlib.metadata as m
# PyPI's aarch64 torch is CPU-only; on x86-64 it must carry CUDA.
assert torch.version.cuda or platform.machine() == 'aarch64', 'torch is not built for CUDA'
print('  torch', torch.__version__, 'CUDA', torch.version.cuda, '| jax', jax.__version__, '| jax-cuda12-plugin', m.version('jax-cuda12-plugin'), '|', platform.machine())
" ;;
  full)
    run python -c "
import torch, jax, scipy, sympy, pandas, polars, xarray, h5py, pyarrow, sklearn, matplotlib, plotly
from dimtensor.torch import DimTensor
import platform, boto3, mp_api.client
# mp-api's S3 client: a current boto3 (a resolver once walked it back to 0.0.3 of 2014).
assert int(boto3.__version__.split('.')[0]) >= 1, f'boto3 {boto3.__version__}'
print('  integrations import: torch', torch.__version__, '(CUDA', str(torch.version.cuda) + ')', 'jax', jax.__version__, 'pandas', pandas.__version__, 'boto3', boto3.__version__, '|', platform.machine())
" ;;
  jupyter)
    run jupyter --version | sed 's/^/  /' | head -n 3
    # A JupyterHub single-user server, at the hub image's JupyterHub version.
    want=$(sed -n 's/^jupyterhub==//p' docker/requirements/jupyter.in)
    have=$(run jupyterhub-singleuser --version)
    [ "$have" = "$want" ] || { echo "FAIL: jupyterhub-singleuser $have, the hub has $want" >&2; exit 1; }
    echo "  jupyterhub-singleuser $have"
    # The known slow import must stay out (docker/README.md, "Fast start"): a structural check.
    run python -c "
import importlib.util, sys
assert importlib.util.find_spec('rfc3987_syntax') is None, 'rfc3987_syntax is installed again'
import jupyter_server.serverapp, jupyterlab.labapp
slow = {'rfc3987_syntax', 'lark'} & set(sys.modules)
assert not slow, f'imported at server start: {slow}'
print('  server start-up imports neither rfc3987_syntax nor lark')
"
    # `pip install` in the lab: a user install, behind the venv, held to the lab's pins.
    run python -c "
import os, site, sys
pins = dict(l.strip().split('==', 1) for l in open(os.environ['PIP_CONSTRAINT']) if '==' in l)
from importlib.metadata import version
assert pins['numpy'] == version('numpy') and pins['dimtensor'] == version('dimtensor'), pins
assert os.environ['PIP_USER'] == '1' and site.ENABLE_USER_SITE and site.USER_BASE == '/home/dimtensor/.packages'
print('  pip install: user site', site.USER_SITE, '| constraints:', len(pins), 'pins, numpy', pins['numpy'])
"
    # The example notebooks run, as an arbitrary user.
    run sh -c 'cd /home/dimtensor/notebooks && for nb in *.ipynb; do jupyter execute "$nb" >/dev/null 2>&1 || { jupyter execute "$nb"; exit 1; }; echo "  executed $nb"; done' ;;
  *) echo "usage: $0 IMAGE base|ml|full|jupyter|hub" >&2; exit 2 ;;
esac
echo "smoke: $image ok"
