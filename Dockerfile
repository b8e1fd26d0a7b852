# Taem: the front-end bundle is built first, then a slim image runs gunicorn as a non-root user.
FROM node:20-slim AS assets
WORKDIR /build/liff_frontend/static_src
COPY liff_frontend/static_src/package.json liff_frontend/static_src/package-lock.json liff_frontend/static_src/.npmrc ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY liff_frontend/static_src ./
RUN npm run build --silent

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TAEM_VAR_DIR=/var/lib/taem DJANGO_STATIC_ROOT=/app/staticfiles DJANGO_MANIFEST_STATIC=1 \
    TAEM_PRODUCTION=1 OMP_THREAD_LIMIT=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gettext tesseract-ocr tesseract-ocr-tha \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /home/taem taem \
 && mkdir -p /var/lib/taem /app && chown taem:taem /var/lib/taem
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY members ./members
COPY loyalty ./loyalty
COPY campaigns ./campaigns
COPY consent ./consent
COPY messaging ./messaging
COPY liff_frontend ./liff_frontend
COPY --from=assets /build/liff_frontend/static/liff_frontend/dist ./liff_frontend/static/liff_frontend/dist
COPY locale ./locale
COPY manage.py ./
RUN pip install --no-cache-dir . \
 && DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput \
 && chown -R taem:taem /app/staticfiles
USER taem
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
