"""`python -m services.asr [--host H] [--port P]`: serve the asr stage over gRPC."""

import sys

from api.cli import app

app(["stage", "asr", *sys.argv[1:]])
