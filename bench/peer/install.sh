#!/bin/sh
# Installs the benchmark's peer (bench/peer/app.py: FastAPI + PyTorch) from Debian: these packages load only in
# the system interpreter, /usr/bin/python3. Needs root (apt-get). Large (PyTorch): a few minutes.
set -eu
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  python3-torch python3-fastapi python3-uvicorn python3-uvloop python3-httptools
/usr/bin/python3 -c 'import torch, fastapi, uvicorn, uvloop, httptools; print("peer ready: torch", torch.__version__, "fastapi", fastapi.__version__)'
