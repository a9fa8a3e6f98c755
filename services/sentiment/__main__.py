"""`python -m services.sentiment [--host H] [--port P]`: serve the sentiment stage over gRPC."""

import sys

from api.cli import app

app(["stage", "sentiment", *sys.argv[1:]])
