"""`python -m services.llm [--host H] [--port P]`: serve the llm stage over gRPC."""

from services.grpc_server import run

run("llm")
