"""`python -m services.embedding [--host H] [--port P]`: serve the embedding stage over gRPC."""

import sys

from api.cli import app

app(["stage", "embedding", *sys.argv[1:]])
