"""A readable terminal report of one analysed call (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

ROLE_STYLE = {"agent": "cyan", "customer": "magenta", "unknown": "white"}
SENTIMENT_STYLE = {"positive": "green", "neutral": "dim", "negative": "red"}


def clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m):02d}:{s:04.1f}"


def _fmt(value: Any, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}{suffix}"
    return f"{value}{suffix}"


def speakers_table(doc: dict[str, Any]) -> Table:
    table = Table(title="Speakers", title_justify="left", expand=False)
    for col in (
        "speaker",
        "role",
        "channel",
        "talk time",
        "share",
        "words/min",
        "interruptions",
        "sentiment",
        "loudness",
    ):
        table.add_column(col, justify="left" if col in ("speaker", "role") else "right")
    for s in doc["speakers"]:
        table.add_row(
            s["id"],
            Text(s["role"], style=ROLE_STYLE.get(s["role"], "")),
            _fmt(s["channel"]),
            clock(s["talk_time_s"]),
            f"{100 * s['talk_ratio']:.0f}%",
            _fmt(s["words_per_minute"]),
            str(s["interruptions"]),
            _fmt(s["sentiment_mean"]),
            _fmt(s["loudness_dbfs"], " dB"),
        )
    return table


def transcript_table(doc: dict[str, Any]) -> Table:
    table = Table(title="Transcript", title_justify="left", expand=True, show_lines=False)
    table.add_column("time", no_wrap=True)
    table.add_column("who", no_wrap=True)
    table.add_column("text", ratio=1)
    table.add_column("sentiment", no_wrap=True, justify="right")
    for u in doc["utterances"]:
        sentiment = u.get("sentiment")
        label = (
            Text(
                f"{sentiment['label']} {sentiment['score']:+.2f}",
                style=SENTIMENT_STYLE.get(sentiment["label"], ""),
            )
            if sentiment
            else Text("-")
        )
        table.add_row(
            f"{clock(u['start'])}-{clock(u['end'])}",
            Text(f"{u['speaker']} {u['role']}", style=ROLE_STYLE.get(u["role"], "")),
            u["text"],
            label,
        )
    return table


def metrics_table(doc: dict[str, Any]) -> Table:
    m = doc["metrics"]
    table = Table(title="Conversation", title_justify="left", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("talk time", clock(m["talk_time_s"])),
        ("non-talk time", clock(m["non_talk_time_s"])),
        ("silence ratio", f"{100 * m['silence_ratio']:.0f}%"),
        ("longest silence", _fmt(m["longest_silence_s"], " s")),
        ("overlap", _fmt(m["overlap_s"], " s")),
        ("interruptions", str(m["interruptions"])),
        (
            "agent talk ratio",
            "-" if m["agent_talk_ratio"] is None else f"{100 * m['agent_talk_ratio']:.0f}%",
        ),
        ("mean response latency", _fmt(m["mean_response_latency_s"], " s")),
        ("customer sentiment trend", _fmt(m["customer_sentiment_trend"])),
    ]
    for role, quarters in m["sentiment_by_quarter"].items():
        rows.append((f"{role} sentiment by quarter", "  ".join(_fmt(q) for q in quarters)))
    for name, value in rows:
        table.add_row(name, value)
    return table


def analysis_panel(doc: dict[str, Any]) -> Panel:
    a = doc.get("analysis")
    if not a:
        return Panel("No analysis (no speech, or the analysis stage failed).", title="Analysis")
    lines = [
        Text.assemble(("Summary: ", "bold"), a["summary"]),
        Text.assemble(("Reason: ", "bold"), a["reason"] or "-"),
        Text.assemble(("Topics: ", "bold"), ", ".join(a["topics"]) or "-"),
        Text.assemble(("Outcome: ", "bold"), a["resolution"]),
        Text.assemble(
            ("Conflict: ", "bold"),
            ("yes" if a["conflict"]["detected"] else "no"),
            (
                f" (utterances {', '.join(map(str, a['conflict']['evidence']))})"
                if a["conflict"]["evidence"]
                else ""
            ),
        ),
        Text.assemble(
            ("Profanity: ", "bold"),
            "; ".join(f"#{p['utterance']}: {', '.join(p['words'])}" for p in a["profanity"])
            or "none",
        ),
        Text.assemble(("Action items: ", "bold"), "; ".join(a["action_items"]) or "none"),
        Text(f"provider: {a['provider']}{_by_model(a)}", style="dim"),
    ]
    return Panel(Group(*lines), title="Analysis", title_align="left")


def _by_model(analysis: dict[str, Any]) -> str:
    """Which fields the model answered, from ``sources``: " (the model: summary; ...)"."""
    fields = [f for f, s in (analysis.get("sources") or {}).items() if s == "model"]
    if analysis.get("provider") == "rules" or not analysis.get("sources"):
        return ""
    if not fields:
        return " (every field by rules)"
    return f" (the model: {', '.join(f.replace('_', ' ') for f in fields)}; the rest: rules)"


def render(doc: dict[str, Any], console: Console) -> None:
    audio = doc["audio"]
    header = (
        f"[bold]{doc['filename']}[/]  {clock(audio['duration_s'])}  {audio['channels']} ch "
        f"{audio['sample_rate']} Hz {audio['codec']}  language {doc['language'] or '-'}\n"
        f"call id {doc['id']}"
    )
    console.print(Panel(header, title="Callytics", title_align="left"))
    console.print(speakers_table(doc))
    console.print(transcript_table(doc))
    console.print(metrics_table(doc))
    console.print(analysis_panel(doc))
    stages = ", ".join(
        f"{name} {info.get('engine', '')} {info.get('model', '')} {info['seconds']:.1f}s".replace(
            "  ", " "
        )
        for name, info in doc["stages"].items()
    )
    console.print(Text(f"stages: {stages}", style="dim"))
    for w in doc["warnings"]:
        console.print(Text(f"warning: {w}", style="yellow"))
