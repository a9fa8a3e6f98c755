"""The analysis by field, rules against a model, on the held-out evaluation set.

    python -m bench llm [--providers rules,llama] [--model NAME] [--limit N] [--out FILE]

bench/llm_eval/*.jsonl holds 64 call transcripts with gold labels (bench/llm_eval/README.md);
none of them was read to write a prompt or a rule. Each call becomes a Conversation as the
pipeline would give it to the analyzer: roles by the content rules (core/analysis/speaker_roles.py), sentiment
by the sentiment stage (SENTIMENT_MODEL, the learned head), times from the word count at
150 words a minute. Then, per provider, every field is scored against the gold labels:

- reason: a match when every key group of the gold reason (alternatives) occurs in it;
  precision over the calls with a reason, recall over all calls;
- action items: a predicted item matches an unmatched gold item when every key group of the
  gold item occurs in it; precision over predicted items, recall over gold items;
- resolution and conflict: accuracy;
- summary: key-fact recall (each gold fact a group of alternatives, found as a substring)
  and hallucinations: numbers and capitalised words in the summary that the transcript
  does not contain (numbers also as words: "40" is said as "forty");
- sentiment: accuracy and macro-F1 over every utterance;
- roles: accuracy over every speaker (a supervisor after a transfer is an agent);
- QA: accuracy over every checklist item of the default scorecard;
- seconds per call (the model's requests, all tasks and the QA judge).

The model is asked every field (``LLM_FIELDS=all``), so that each is scored whether or not
it is the default; the defaults follow from this table (services/llm/openai_analyzer.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.analysis.qa import DEFAULT_SCORECARD, QAScorer
from core.analysis.speaker_roles import assign_roles
from core.domain import Conversation, Role, SentimentLabel, Speaker, Utterance
from services.llm.parsing import ModelReply
from services.llm.qa import document_of
from services.llm.rules_analyzer import analyze_conversation

EVAL_DIR = Path(__file__).resolve().parent / "llm_eval"
WORDS_PER_S = 2.5
LABELS = [s.value for s in SentimentLabel]
_NUMBER_WORDS = {
    0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
    8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen",
    14: "fourteen", 15: "fifteen", 16: "sixteen", 17: "seventeen", 18: "eighteen",
    19: "nineteen", 20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty",
    70: "seventy", 80: "eighty", 90: "ninety",
}  # fmt: skip


def load_calls(folder: Path = EVAL_DIR) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        calls.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return calls


def conversation(call: dict[str, Any]) -> Conversation:
    """The call as the pipeline hands it to the analyzer (roles by content, no channels)."""
    utterances, clock = [], 0.0
    for i, turn in enumerate(call["utterances"]):
        seconds = max(1.0, len(turn["text"].split()) / WORDS_PER_S)
        utterances.append(Utterance(i, turn["speaker"], clock, clock + seconds, turn["text"], []))
        clock += seconds + 0.5
    ids = list(dict.fromkeys(u.speaker for u in utterances))
    roles = assign_roles(utterances, ids, channel_of={}, agent_channel=None)
    for u in utterances:
        u.role = roles.get(u.speaker, Role.UNKNOWN)
    speakers = [Speaker(s, roles.get(s, Role.UNKNOWN)) for s in ids]
    return Conversation(utterances, speakers, "en", clock)


# ------------------------------------------------------------------------------ scoring
def matches(text: str, groups: list[list[str]]) -> bool:
    lower = text.lower()
    return all(any(alt.lower() in lower for alt in group) for group in groups)


def match_items(predicted: list[str], gold: list[dict[str, Any]]) -> int:
    """Greedy one-to-one matches of predicted items to gold items."""
    free = list(range(len(gold)))
    hits = 0
    for item in predicted:
        for g in free:
            if matches(item, gold[g]["keys"]):
                free.remove(g)
                hits += 1
                break
    return hits


def number_words(n: int) -> str:
    if n in _NUMBER_WORDS:
        return _NUMBER_WORDS[n]
    if n < 100:
        return f"{_NUMBER_WORDS[n - n % 10]} {_NUMBER_WORDS[n % 10]}"
    if n < 1000:
        rest = n % 100
        return f"{_NUMBER_WORDS[n // 100]} hundred" + (f" {number_words(rest)}" if rest else "")
    return str(n)


def hallucinations(summary: str, transcript: str) -> list[str]:
    """Numbers and capitalised words of ``summary`` that ``transcript`` does not contain."""
    said = transcript.lower().replace("-", " ")
    summary = _REFERENCES.sub("", summary)  # "(utterances 7, 9)": a reference, not a fact
    found = []
    for raw in re.findall(r"\d[\d,]*(?:\.\d+)?", summary):
        digits = raw.replace(",", "")
        number = float(digits)
        words = number_words(int(number)) if number == int(number) else ""
        if digits not in said and not (words and words in said):
            found.append(raw)
    sentences = re.split(r"(?<=[.!?])\s+", summary)
    for sentence in sentences:
        for word in re.findall(r"[A-Za-z][\w']*", sentence)[1:]:
            if word[0].isupper() and word.lower() not in said and word not in ("I", "AM", "PM"):
                found.append(word)
    return found


_REFERENCES = re.compile(r"\(utterances? [\d, …]+\)")


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    scores = []
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return statistics.fmean(scores)


def score_call(call: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    gold = call["gold"]
    transcript = " ".join(u["text"] for u in call["utterances"])
    reason = answer["reason"] or ""
    summary = answer["summary"] or ""
    facts = [matches(summary, [group]) for group in gold["summary_facts"]]
    sentiment = answer["sentiment"]
    roles = answer["roles"]
    qa = answer.get("qa")
    return {
        "id": call["id"],
        "reason_answered": bool(reason.strip()),
        "reason_match": bool(reason.strip()) and matches(reason, gold["reason_keys"]),
        "items_predicted": len(answer["action_items"]),
        "items_gold": len(gold["action_items"]),
        "items_matched": match_items(answer["action_items"], gold["action_items"]),
        "resolution_ok": answer["resolution"] == gold["resolution"],
        "conflict_ok": answer["conflict"] == gold["conflict"],
        "facts_found": sum(facts),
        "facts": len(facts),
        "hallucinations": hallucinations(summary, transcript),
        "sentiment_gold": gold["sentiment"],
        "sentiment_predicted": sentiment,
        "roles_ok": sum(roles.get(s) == r for s, r in call["speakers"].items()),
        "roles": len(call["speakers"]),
        "qa_ok": None if qa is None else sum(qa[k] == v for k, v in gold["qa"].items()),
        "qa_items": len(gold["qa"]),
        "seconds": answer["seconds"],
        "answer": answer,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def ratio(num: float, den: float) -> float | None:
        return round(num / den, 3) if den else None

    gold_s = [g for r in rows for g in r["sentiment_gold"]]
    pred_s = [p for r in rows for p in r["sentiment_predicted"]]
    qa_rows = [r for r in rows if r["qa_ok"] is not None]
    return {
        "calls": len(rows),
        "reason_precision": ratio(
            sum(r["reason_match"] for r in rows), sum(r["reason_answered"] for r in rows)
        ),
        "reason_recall": ratio(sum(r["reason_match"] for r in rows), len(rows)),
        "action_precision": ratio(
            sum(r["items_matched"] for r in rows), sum(r["items_predicted"] for r in rows)
        ),
        "action_recall": ratio(
            sum(r["items_matched"] for r in rows), sum(r["items_gold"] for r in rows)
        ),
        "resolution_accuracy": ratio(sum(r["resolution_ok"] for r in rows), len(rows)),
        "conflict_accuracy": ratio(sum(r["conflict_ok"] for r in rows), len(rows)),
        "summary_fact_recall": ratio(
            sum(r["facts_found"] for r in rows), sum(r["facts"] for r in rows)
        ),
        "summary_hallucinations": sum(len(r["hallucinations"]) for r in rows),
        "sentiment_accuracy": ratio(
            sum(g == p for g, p in zip(gold_s, pred_s, strict=True)), len(gold_s)
        ),
        "sentiment_macro_f1": round(macro_f1(gold_s, pred_s), 3),
        "roles_accuracy": ratio(sum(r["roles_ok"] for r in rows), sum(r["roles"] for r in rows)),
        "qa_accuracy": ratio(sum(r["qa_ok"] for r in qa_rows), sum(r["qa_items"] for r in qa_rows)),
        "seconds_per_call": round(statistics.fmean(r["seconds"] for r in rows), 1),
        "seconds_max": round(max(r["seconds"] for r in rows), 1),
    }


# ------------------------------------------------------------------------------ answering
def stage_sentiment(conversations: list[Conversation]) -> None:
    """The sentiment stage's labels on every utterance (as the pipeline sets them)."""
    from bootstrap.settings import Settings
    from services.embedding.local import SentenceTransformerEmbedder
    from services.sentiment.local import build_sentiment_analyzer

    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.embedding_model)
    analyzer = build_sentiment_analyzer(settings.sentiment_model, embedder, settings.models_dir)

    async def run() -> None:
        await analyzer.load()
        for conv in conversations:
            labels = await analyzer.analyze([u.text for u in conv.utterances])
            for u, s in zip(conv.utterances, labels, strict=True):
                u.sentiment = s

    asyncio.run(run())


def rules_answer(conv: Conversation) -> dict[str, Any]:
    t0 = time.perf_counter()
    a = analyze_conversation(conv)
    qa = QAScorer(DEFAULT_SCORECARD).score_by_rules(document_of(conv, a.conflict_detected))
    return {
        "summary": a.summary,
        "reason": a.reason,
        "resolution": a.resolution.value,
        "conflict": a.conflict_detected,
        "action_items": a.action_items,
        "sentiment": [
            u.sentiment.label.value if u.sentiment else "neutral" for u in conv.utterances
        ],
        "roles": {s.id: s.role.value for s in conv.speakers},
        "qa": {i["id"]: bool(i["passed"]) for i in qa["items"]},
        "seconds": time.perf_counter() - t0,
    }


def model_answer(reply: ModelReply, conv: Conversation) -> dict[str, Any]:
    """The model's own answer per field; a field it did not answer counts as empty."""
    sentiment = reply.sentiment or {}
    return {
        "summary": reply.summary or "",
        "reason": reply.reason or "",
        "resolution": reply.resolution.value if reply.resolution else "unknown",
        "conflict": bool(reply.conflict and reply.conflict[0]),
        "action_items": reply.action_items or [],
        "sentiment": [
            sentiment.get(u.index, SentimentLabel.NEUTRAL).value for u in conv.utterances
        ],
        "roles": {s: r.value for s, r in (reply.roles or {}).items()},
        "problems": reply.problems,
    }


async def run_model(
    calls: list[dict[str, Any]],
    conversations: list[Conversation],
    model: str,
    runtime: str,
    journal: Path,
) -> list[dict[str, Any]]:
    """The model's answers, one call at a time, each appended to ``journal`` as it comes:
    a run that is stopped resumes where it stopped (an hour of CPU on 2 cores)."""
    from bootstrap.settings import Settings
    from services.llm.llama import LlamaCallAnalyzer, shared_runtime
    from services.llm.qa import LlamaQAJudge

    done: dict[str, dict[str, Any]] = {}
    if journal.exists():
        for line in journal.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("model") == model:
                done[entry["id"]] = entry["answer"]
    todo = [(c, v) for c, v in zip(calls, conversations, strict=True) if c["id"] not in done]
    if todo:
        settings = Settings()
        llama = shared_runtime(model, settings.models_dir, runtime=runtime)
        analyzer = LlamaCallAnalyzer(llama, fields="all")
        judge = LlamaQAJudge(llama)
        journal.parent.mkdir(parents=True, exist_ok=True)
        try:
            for call, conv in todo:
                t0 = time.perf_counter()
                reply = await analyzer.read(conv, conv.utterances)
                answer = model_answer(reply, conv)
                document = document_of(conv, answer["conflict"])
                try:
                    evidence = await judge.judge(DEFAULT_SCORECARD, document)
                    answer["qa"] = {k: v is not None for k, v in evidence.items()}
                except Exception as exc:  # scored as missing, and said
                    answer["problems"]["qa"] = str(exc)
                    answer["qa"] = None
                answer["seconds"] = time.perf_counter() - t0
                done[call["id"]] = answer
                with journal.open("a") as out:
                    out.write(
                        json.dumps({"id": call["id"], "model": model, "answer": answer}) + "\n"
                    )
                print(f"{call['id']}: {answer['seconds']:.1f} s", flush=True)
        finally:
            await analyzer.aclose()
            if judge._client is not None:
                await llama.release()
    return [done[c["id"]] for c in calls]


def long_call(calls: list[dict[str, Any]], minutes: float) -> dict[str, Any]:
    """A call of about ``minutes`` at 150 words a minute: eval calls back to back, their
    speakers kept apart (the model reads it as one long call with several parties)."""
    words_needed = minutes * 60 * WORDS_PER_S
    utterances: list[dict[str, str]] = []
    speakers: dict[str, str] = {}
    words = 0
    for n, call in enumerate(calls):
        for u in call["utterances"]:
            role = call["speakers"][u["speaker"]]
            speaker = "S1" if role == "agent" else f"C{n}"
            speakers[speaker] = role
            utterances.append({"speaker": speaker, "text": u["text"]})
            words += len(u["text"].split())
            if words >= words_needed:
                return {"id": f"long-{minutes:g}", "speakers": speakers, "utterances": utterances}
    raise ValueError(f"the evaluation set is shorter than {minutes} minutes")


async def time_model(model: str, runtime: str, minutes: list[float]) -> list[dict[str, Any]]:
    """Seconds the model adds to calls of these lengths: every default field and QA."""
    from bootstrap.settings import Settings
    from services.llm.llama import LlamaCallAnalyzer, shared_runtime
    from services.llm.qa import LlamaQAJudge

    settings = Settings()
    llama = shared_runtime(model, settings.models_dir, runtime=runtime)
    analyzer = LlamaCallAnalyzer(llama)
    judge = LlamaQAJudge(llama)
    rows = []
    try:
        for length in minutes:
            conv = conversation(long_call(load_calls(), length))
            t0 = time.perf_counter()
            await analyzer.analyze(conv)
            analysed = time.perf_counter() - t0
            await judge.judge(DEFAULT_SCORECARD, document_of(conv))
            rows.append(
                {
                    "minutes": length,
                    "utterances": len(conv.utterances),
                    "words": sum(len(u.text.split()) for u in conv.utterances),
                    "analysis_s": round(analysed, 1),
                    "with_qa_s": round(time.perf_counter() - t0, 1),
                }
            )
            print(rows[-1], flush=True)
    finally:
        await analyzer.aclose()
        await llama.release()
    return rows


# field -> (how it is compared, the summary key(s)); higher wins, ties go to the rules.
DECIDED_BY: dict[str, tuple[str, list[str]]] = {
    "reason": ("recall (matched / calls)", ["reason_recall"]),
    "action_items": ("F1 of precision and recall", ["action_precision", "action_recall"]),
    "resolution": ("accuracy", ["resolution_accuracy"]),
    "conflict": ("accuracy", ["conflict_accuracy"]),
    "summary": (
        "key-fact recall, if hallucinations <= the rules' + 1 per 10 calls",
        ["summary_fact_recall"],
    ),
    "sentiment": ("macro-F1", ["sentiment_macro_f1"]),
    "roles": ("accuracy", ["roles_accuracy"]),
    "qa": ("item accuracy", ["qa_accuracy"]),
}


def _score(field: str, summary: dict[str, Any]) -> float:
    keys = DECIDED_BY[field][1]
    if field == "action_items":
        p, r = (summary[k] or 0.0 for k in keys)
        return 2 * p * r / (p + r) if p + r else 0.0
    return float(summary[keys[0]] or 0.0)


def decide(rules: dict[str, Any], model: dict[str, Any]) -> dict[str, str]:
    """Per field, ``model`` where it beat the rules, else ``rules``."""
    chosen = {}
    for field in DECIDED_BY:
        better = _score(field, model) > _score(field, rules)
        if field == "summary":
            allowed = rules["summary_hallucinations"] + rules["calls"] / 10
            better = better and model["summary_hallucinations"] <= allowed
        chosen[field] = "model" if better else "rules"
    chosen["topics"] = "rules"  # no gold labels for topics: not measured, so not the model
    return chosen


def decision_table(rules: dict[str, Any], model: dict[str, Any], name: str) -> str:
    chosen = decide(rules, model)
    lines = [f"| field | compared by | rules | {name} | default |", "|---|---|---|---|---|"]
    for field, (how, _) in DECIDED_BY.items():
        lines.append(
            f"| {field} | {how} | {_score(field, rules):.3f} | {_score(field, model):.3f} "
            f"| {chosen[field]} |"
        )
    lines.append("| topics | not measured (no gold labels) | | | rules |")
    return "\n".join(lines)


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    keys = list(next(iter(results.values())))
    lines = ["| field | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key in keys:
        lines.append(f"| {key} | " + " | ".join(str(results[n][key]) for n in names) + " |")
    return "\n".join(lines)


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench llm", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--providers", default="rules,llama")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct-q4_k_m")
    parser.add_argument("--runtime", default="inprocess", choices=("server", "inprocess"))
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/out/llm.json"))
    parser.add_argument(
        "--journal",
        type=Path,
        default=Path("bench/out/llm-answers.jsonl"),
        help="the model's answers so far (a stopped run resumes from it)",
    )
    parser.add_argument(
        "--speed",
        default="",
        help="instead: time the model on calls of these minutes (e.g. 1,5,15)",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    if args.speed:
        lengths = [float(m) for m in args.speed.split(",")]
        rows = asyncio.run(time_model(args.model, args.runtime, lengths))
        print("| call | utterances | words | analysis s | with QA s |\n|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['minutes']:g} min | {r['utterances']} | {r['words']} | "
                f"{r['analysis_s']} | {r['with_qa_s']} |"
            )
        return

    calls = load_calls()
    if args.limit:
        calls = calls[: args.limit]
    conversations = [conversation(c) for c in calls]
    stage_sentiment(conversations)
    results: dict[str, dict[str, Any]] = {}
    rows_by: dict[str, list[dict[str, Any]]] = {}
    for provider in args.providers.split(","):
        if provider == "rules":
            answers = [rules_answer(c) for c in conversations]
            name = "rules"
        elif provider == "llama":
            answers = asyncio.run(
                run_model(calls, conversations, args.model, args.runtime, args.journal)
            )
            name = f"llama:{args.model}"
        else:
            raise SystemExit(f"unknown provider {provider!r}")
        rows = [score_call(c, a) for c, a in zip(calls, answers, strict=True)]
        rows_by[name] = rows
        results[name] = summarise(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": results, "calls": rows_by}, indent=1, default=str))
    print(table(results))
    if "rules" in results and len(results) > 1:
        name = next(n for n in results if n != "rules")
        print()
        print(decision_table(results["rules"], results[name], name))
        chosen = decide(results["rules"], results[name])
        print("\nLLM_FIELDS default:", ",".join(f for f, s in chosen.items() if s == "model"))


if __name__ == "__main__":
    main()
