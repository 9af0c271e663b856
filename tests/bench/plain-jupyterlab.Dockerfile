# The reference for the start-up benchmark: a plain JupyterLab image on the same base, built the
# way people do (`pip install jupyterlab`), nothing trimmed.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
RUN --mount=type=secret,id=ca-bundle \
    python3 -m venv /opt/venv \
 && if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
 && /opt/venv/bin/pip install --no-cache-dir "jupyterlab>=4.4,<5"
ENV PATH=/opt/venv/bin:$PATH
EXPOSE 8888
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--allow-root"]
