"""Test helpers: hand-built conversations and a loopback OpenAI-compatible server."""
