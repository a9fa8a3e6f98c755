"""`python -m services.asr [--host H] [--port P]`: serve the asr stage over gRPC."""

from services.grpc_server import run

run("asr")
