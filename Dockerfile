# Production image for every process of the service: web (uvicorn, or daphne with
# ASGI_SERVER=daphne), migrate and the workers. docker-compose.yml builds it once and runs it
# with different commands.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=pubkyproject.settings.production \
    PORT=8000

WORKDIR /app

# Dependencies first, so code changes reuse this layer. requirements.txt is the production set:
# the embedded PostgreSQL/Valkey wheels of ./scripts/run (requirements-embedded.txt) and the test
# tools (requirements-dev.txt) stay out of the image.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# collectstatic only reads settings; these throwaway values satisfy the production checks for
# this one build step and are not kept in the image's environment. The result (hashed,
# compressed copies) is served by WhiteNoise from the app itself.
RUN SECRET_KEY=collectstatic-only-not-a-secret-0123456789abcdef \
    PUBKY_KEY_ENCRYPTION_KEY=0000000000000000000000000000000000000000000000000000000000000000 \
    DATABASE_URL=postgres://build:build@127.0.0.1:1/build \
    REDIS_URL=redis://127.0.0.1:1/0 \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput --verbosity 0

RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin app
USER app:app

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "scripts/healthcheck.py"]
CMD ["scripts/serve"]
