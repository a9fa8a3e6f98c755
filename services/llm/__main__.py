"""`python -m services.llm [--host H] [--port P]`: serve the llm stage over gRPC."""

import sys

from api.cli import app

app(["stage", "llm", *sys.argv[1:]])
