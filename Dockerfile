# Taem: a slim image running gunicorn as a non-root user.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TAEM_VAR_DIR=/var/lib/taem DJANGO_STATIC_ROOT=/app/staticfiles DJANGO_MANIFEST_STATIC=1 \
    TAEM_PRODUCTION=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gettext \
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
COPY locale ./locale
COPY manage.py ./
RUN pip install --no-cache-dir . \
 && DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput \
 && chown -R taem:taem /app/staticfiles
USER taem
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
