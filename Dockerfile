# Taem: the front-end bundle is built first, then a slim image runs gunicorn as a non-root user.
# The same image runs every process of docker-compose.yml (web, migrate, worker, beat).
# Checked by tests/deploy/test_dockerfile.py (COPY sources, CMD program); see docs/operations.md.
FROM node:20-slim AS assets
WORKDIR /build/liff_frontend/static_src
COPY liff_frontend/static_src/package.json liff_frontend/static_src/package-lock.json liff_frontend/static_src/.npmrc ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY liff_frontend/static_src ./
RUN npm run build --silent

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TAEM_VAR_DIR=/var/lib/taem DJANGO_STATIC_ROOT=/app/staticfiles DJANGO_MANIFEST_STATIC=1 \
    DJANGO_MEDIA_ROOT=/var/lib/taem/media TAEM_PRODUCTION=1 OMP_THREAD_LIMIT=1 WEB_CONCURRENCY=3
# Tesseract (Thai + English) reads receipts in the worker. The compiled translations (.mo) are
# committed, so gettext is not needed. /var/lib/taem (media, celery beat's schedule file) belongs
# to the runtime user; a named volume mounted on /var/lib/taem/media inherits that owner.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-tha \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /home/taem taem \
 && mkdir -p /var/lib/taem/media /app && chown -R taem:taem /var/lib/taem
WORKDIR /app
# The dependencies (pinned in pyproject.toml) in their own layer; the project runs from /app.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY manage.py ./
COPY config ./config
COPY members ./members
COPY loyalty ./loyalty
COPY campaigns ./campaigns
COPY consent ./consent
COPY messaging ./messaging
COPY liff_frontend ./liff_frontend
COPY --from=assets /build/liff_frontend/static/liff_frontend/dist ./liff_frontend/static/liff_frontend/dist
COPY locale ./locale
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput -v0
USER taem
EXPOSE 8000
# Workers and beat override this (docker-compose.yml disables it there): only web serves HTTP.
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
# WEB_CONCURRENCY (gunicorn reads it) = sync workers: cores + 1 (on 2 vCPU, 3 keep both cores busy while
# one waits on PostgreSQL; 4 only add switching, BENCHMARKS.md). Request lines are logged by the
# app itself (JSON, with the request id), so gunicorn's access log stays off.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--timeout", "30", "--graceful-timeout", "20"]
