# One image for both gateways: `docker run IMAGE serve web` or `docker run IMAGE serve mobile`.

FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY shared ./shared
COPY core_clients ./core_clients
COPY bff_web ./bff_web
COPY bff_mobile ./bff_mobile
# No devstack and no dev group: the image holds what `bff serve` and `bff config check` need.
RUN uv sync --frozen --no-dev

FROM python:3.11-slim AS runtime
RUN groupadd --system bff && useradd --system --gid bff --no-create-home --home-dir /app bff
WORKDIR /app
COPY --from=build --chown=root:root /app /app
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BFF_ENV=prod \
    BFF_LOG_FORMAT=json \
    PORT=8000
USER bff
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/health/live\", timeout=2)"]
ENTRYPOINT ["bff"]
CMD ["serve", "web", "--host", "0.0.0.0", "--port", "8000"]
