# shopbridge's container image: `docker build -t shopbridge .`, then see compose.yaml.
#
# Every build step is packaging/build.sh (CI runs the same script in a clean folder, so what
# this image installs is tested where there is no docker): it creates the account that runs
# shopbridge and installs the package, not editable, into /opt/shopbridge, then checks that
# `shopbridge --version`, `--help` and a migration work from the installed copy.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package is built from (the rest is kept out by .dockerignore too).
COPY pyproject.toml README.md LICENSE /build/
COPY src /build/src
COPY packaging/build.sh /build/packaging/build.sh
RUN /build/packaging/build.sh --prefix /opt/shopbridge --source /build --create-user shopbridge \
    && rm -rf /build

# Listen on every address inside the container; publish the port where it should be reached.
ENV PATH=/opt/shopbridge/bin:$PATH \
    SHOPBRIDGE_HOST=0.0.0.0 \
    SHOPBRIDGE_PORT=8000
# The SQLite default and the key file fallback would live in ./var here: use PostgreSQL and
# SHOPBRIDGE_SECRET_KEY in production (compose.yaml does), or mount a volume on this folder.
WORKDIR /var/lib/shopbridge
USER shopbridge
EXPOSE 8000

# No curl in a slim image: Python's urllib asks /healthz (any non-2xx answer raises).
# Workers serve no HTTP: compose.yaml turns this off for them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SHOPBRIDGE_PORT', '8000') + '/healthz', timeout=4)"]

# SIGTERM (docker stop) lets uvicorn finish the requests in flight and the worker its items.
STOPSIGNAL SIGTERM
CMD ["shopbridge", "serve"]
