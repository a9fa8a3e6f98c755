"""Calls in Spanish and German through the local model: what the llm stage costs when it
answers every field (sentiment included), and how well it labels sentiment.

    python -m bench languages [--model NAME] [--runtime server|inprocess]

The English-only stages leave a call in another language without sentiment and without
the rules' fields (docs/languages.md); a configured model answers them instead. Each call
below (written transcripts, roles and sentiment labelled by hand) goes through the local
model twice: the sentiment task alone (one batched request for every line of the call), then
every task the pipeline asks in that language (facts, action items, sentiment, summary).
The English call is the same conversation in English with the default fields (facts and
summary), for the cost beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterable
from typing import Any

from core.domain import Conversation, Role, SentimentLabel, Speaker, Utterance, Word

WORDS_PER_S = 2.5
# (language, [(role, text, gold sentiment)]); written for this bench, not tuned against.
CALLS: list[tuple[str, list[tuple[str, str, str]]]] = [
    (
        "es",
        [
            (
                "agent",
                "Buenos días, gracias por llamar a Telefónica. ¿En qué puedo ayudarle?",
                "neutral",
            ),
            (
                "customer",
                "Estoy muy enfadado, me han cobrado dos veces la factura de este mes.",
                "negative",
            ),
            ("agent", "Lo siento mucho. Voy a revisar su cuenta ahora mismo.", "neutral"),
            ("customer", "Es la tercera vez que llamo y nadie me soluciona nada.", "negative"),
            ("agent", "Ya veo el cargo duplicado. Le devuelvo los cuarenta euros hoy.", "neutral"),
            ("customer", "Perfecto, muchísimas gracias, es usted muy amable.", "positive"),
        ],
    ),
    (
        "de",
        [
            (
                "agent",
                "Guten Tag, vielen Dank für Ihren Anruf. Wie kann ich Ihnen helfen?",
                "neutral",
            ),
            (
                "customer",
                "Mein Internet funktioniert seit drei Tagen nicht, das ist eine Katastrophe.",
                "negative",
            ),
            ("agent", "Das tut mir leid. Ich prüfe Ihren Anschluss.", "neutral"),
            ("customer", "Ich arbeite von zu Hause und verliere jeden Tag Geld.", "negative"),
            ("agent", "Ein Techniker kommt morgen zwischen acht und zwölf Uhr.", "neutral"),
            ("customer", "Super, das freut mich sehr, vielen Dank!", "positive"),
        ],
    ),
    (
        "en",
        [
            ("agent", "Good morning, thank you for calling. How can I help you?", "neutral"),
            (
                "customer",
                "I'm really annoyed, I was charged twice on this month's bill.",
                "negative",
            ),
            ("agent", "I'm very sorry. I'll check your account right now.", "neutral"),
            (
                "customer",
                "This is the third time I've called and nobody fixes anything.",
                "negative",
            ),
            ("agent", "I can see the double charge. I'll refund the forty euros today.", "neutral"),
            ("customer", "Perfect, thank you so much, you're very kind.", "positive"),
        ],
    ),
]


def conversation(language: str, lines: list[tuple[str, str, str]]) -> Conversation:
    utterances, clock = [], 0.0
    for index, (role, text, _) in enumerate(lines):
        seconds = len(text.split()) / WORDS_PER_S
        words = [Word(w, clock, clock + seconds) for w in text.split()]
        speaker = "S1" if role == "agent" else "S2"
        utterances.append(
            Utterance(index, speaker, clock, clock + seconds, text, words, None, Role(role))
        )
        clock += seconds + 0.5
    speakers = [Speaker("S1", Role.AGENT, 0), Speaker("S2", Role.CUSTOMER, 1)]
    return Conversation(utterances, speakers, language, clock)


async def run(model: str, runtime: str) -> list[dict[str, Any]]:
    from bootstrap.settings import Settings
    from services.llm.llama import LlamaCallAnalyzer, shared_runtime

    llama = shared_runtime(model, Settings().models_dir, runtime=runtime)
    analyzer = LlamaCallAnalyzer(llama)
    rows = []
    try:
        for language, lines in CALLS:
            conv = conversation(language, lines)
            gold = [SentimentLabel(s) for *_, s in lines]
            row: dict[str, Any] = {"language": language, "lines": len(lines)}
            if language != "en":
                t0 = time.perf_counter()
                reply = await analyzer.read(conv, conv.utterances, frozenset({"sentiment"}))
                row["sentiment_s"] = time.perf_counter() - t0
                labels = reply.sentiment or {}
                row["correct"] = sum(labels.get(i) == g for i, g in enumerate(gold))
                row["labels"] = [str(labels.get(i, "-")) for i in range(len(gold))]
            fields = analyzer.fields_for(conv)
            t0 = time.perf_counter()
            analysis = await analyzer.analyze(conv)
            row["all_s"] = time.perf_counter() - t0
            row["fields"] = ",".join(sorted(fields))
            row["summary"] = analysis.summary
            rows.append(row)
            print(row, flush=True)
    finally:
        await analyzer.aclose()
        await llama.release()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| call | lines | sentiment task alone (s) | sentiment right | every task asked (s) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        right = f"{r['correct']}/{r['lines']}" if "correct" in r else "(rules)"
        alone = f"{r['sentiment_s']:.1f}" if "sentiment_s" in r else "-"
        out.append(f"| {r['language']} | {r['lines']} | {alone} | {right} | {r['all_s']:.1f} |")
    return "\n".join(out)


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench languages", description=__doc__)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct-q4_k_m")
    parser.add_argument("--runtime", default="inprocess", choices=("server", "inprocess"))
    args = parser.parse_args(list(argv) if argv is not None else None)
    rows = asyncio.run(run(args.model, args.runtime))
    print(table(rows))
    for r in rows:
        print(f"{r['language']}: fields {r['fields']}; summary: {r['summary']}")


if __name__ == "__main__":
    main()
