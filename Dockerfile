# syntax=docker/dockerfile:1
# Pause: one image for the web processes and the one-shot migrate (docker-compose.yml).
#   docker build -t pause .
#   docker run -e DJANGO_SECRET_KEY=... -e DJANGO_ALLOWED_HOSTS=... -e DATABASE_URL=... pause

# --- 1. The live board (frontend/), built only when the project has one -------------------
FROM node:20-slim AS frontend
WORKDIR /src
# The whole context: the board's build reads the protocol schema in docs/ as well.
COPY . .
RUN if [ -f frontend/package.json ]; then \
      npm --prefix frontend ci --no-audit --no-fund --loglevel=error \
      && npm --prefix frontend run -s build; \
    else \
      mkdir -p frontend/dist; \
    fi

# --- 2. Python dependencies, translations and static files --------------------------------
FROM python:3.12-slim AS build
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# gettext for compilemessages; only this stage needs it. Debian's current version is fine.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install --no-deps -r requirements.txt && pip check
COPY . .
COPY --from=frontend /src/frontend/dist frontend/dist
# Settings refuse to load without a secret when debug is off; this one only lives in the
# build (collectstatic and compilemessages touch neither sessions nor the database).
RUN export DJANGO_SECRET_KEY=build-only-not-a-secret DJANGO_DEBUG=false \
    && python manage.py compilemessages --ignore=.venv -v0 \
    && python manage.py collectstatic --noinput -v0 \
    && python -m compileall -q pause rooms

# --- 3. Runtime image ---------------------------------------------------------------------
FROM python:3.12-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=pause.settings \
    PAUSE_DATA_DIR=/app/var \
    PORT=8000
RUN groupadd --system --gid 10001 pause \
    && useradd --system --uid 10001 --gid pause --home-dir /app --shell /usr/sbin/nologin pause
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
# The only place the process may write (SQLite when DATABASE_URL is unset).
RUN mkdir -p /app/var && chown pause:pause /app/var
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "deploy/healthcheck.py"]
# docker-compose.yml overrides this with the same command (one YAML anchor).
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", \
     "--websocket-max-message-size", "16777216", "pause.asgi:application"]
