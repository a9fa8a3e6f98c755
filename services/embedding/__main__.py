"""`python -m services.embedding [--host H] [--port P]`: serve the embedding stage over gRPC."""

from services.grpc_server import run

run("embedding")
