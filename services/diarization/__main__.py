"""`python -m services.diarization [--host H] [--port P]`: serve the diarization stage over gRPC."""

from services.grpc_server import run

run("diarization")
