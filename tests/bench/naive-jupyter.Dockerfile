# A JupyterLab image as it would be without the fast-start work (docker/README.md, "Fast start"):
# the given dimtensor JupyterLab image with rfc3987-syntax back and the default server settings.
ARG IMAGE=ghcr.io/marcoloco23/dimtensor:jupyter
FROM ${IMAGE}
USER 0:0
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
 && pip install --no-cache-dir rfc3987-syntax \
 && rm /opt/venv/etc/jupyter/jupyter_server_config.json /opt/venv/share/jupyter/lab/settings/overrides.json
USER 1000:1000
