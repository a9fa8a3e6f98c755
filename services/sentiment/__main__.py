"""`python -m services.sentiment [--host H] [--port P]`: serve the sentiment stage over gRPC."""

from services.grpc_server import run

run("sentiment")
