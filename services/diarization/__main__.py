"""`python -m services.diarization [--host H] [--port P]`: serve the diarization stage over gRPC."""

import sys

from api.cli import app

app(["stage", "diarization", *sys.argv[1:]])
