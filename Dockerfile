# inferq with the Whisper endpoint: the server, tiny.en's weights (from their package), the
# store on the /data volume, run as a user of its own. Every `inferq serve` flag is read from
# its INFERQ_* variable (INFERQ_BACKEND, INFERQ_ENDPOINTS, INFERQ_WORKERS, ...).
#
#   docker build -t inferq .
#   docker run -p 8000:8000 -v inferq-data:/data inferq     # prints the admin token on first start
#
# BASE is any Debian-like image with Python 3.11+ and venv. Python packages come from PyPI,
# or, on a machine without an index, from wheels put in ./wheelhouse first
# (`pip wheel -w wheelhouse '.[server,whisper]'`).
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
COPY pyproject.toml README.md wheelhouse* /src/
COPY inferq /src/inferq
RUN python3 -m venv /opt/inferq \
 && if ls /src/*.whl >/dev/null 2>&1; then \
        /opt/inferq/bin/pip install --no-cache-dir --no-index --find-links /src "inferq[server,whisper]"; \
    else \
        /opt/inferq/bin/pip install --no-cache-dir "/src[server,whisper]"; \
    fi \
 && find /opt/inferq -name __pycache__ -prune -exec rm -rf {} +

FROM ${BASE}
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home inferq
COPY --from=build /opt/inferq /opt/inferq
ENV PATH=/opt/inferq/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/data \
    INFERQ_HOST=0.0.0.0 \
    INFERQ_PORT=8000 \
    INFERQ_BACKEND=sqlite:////data/inferq.db \
    INFERQ_ENDPOINTS=whisper
USER inferq
WORKDIR /data
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['INFERQ_PORT'], timeout=2)"]
ENTRYPOINT ["inferq"]
CMD ["serve"]
