# The Jejak image: one image for every process of compose.yaml (`jejak serve`, `jejak project --follow`,
# `jejak token …`, `jejak db secure`). No test or notebook dependencies.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY workflow ./workflow
COPY projections ./projections
COPY entrypoints ./entrypoints
COPY demo ./demo
COPY reference ./reference
RUN pip install . && useradd --system --uid 10001 jejak
USER jejak
EXPOSE 8000
# Readiness: the database answers (a server that cannot reach it answers 503 and recovers by itself)
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request, sys; \
sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)" || exit 1
ENTRYPOINT ["jejak"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
