# her2-status service image.
# Build with scripts/build-image, which first fills wheels/ with the project wheel and
# every pinned dependency (constraints.txt): the image installs from there only, so the
# same file builds without network access (podman --network none) and against the
# public python:3.11-slim-bookworm image alike.
FROM python:3.11-slim-bookworm AS build
COPY wheels/ /wheels/
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/python -m pip install --no-cache-dir --no-index --find-links=/wheels \
        her2-status==0.1.0 \
    && /opt/venv/bin/python -m pip uninstall --yes pip

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/her2 her2
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HER2_WORKERS=2 \
    HER2_THREADS=4
USER 10001:10001
WORKDIR /home/her2
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["her2-status", "serve", "--host", "0.0.0.0", "--port", "8000"]
