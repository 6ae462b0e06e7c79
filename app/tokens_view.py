"""The Tokens view: the hand-token sequence the VLM wrote, slot by slot (which frames each token
decodes to, its codebook index, how likely the model found it, the alternatives it weighed).
Presentation only: the values are ``GenerationResult.token_slots()``."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

TOKEN_HEADERS = ["slot", "frames", "code", "p(code) [%]", "rank (1 = most likely)", "entropy [nats]",
                 "most likely codes (p %)"]


def token_rows(result) -> list[list]:
    """One row per hand token (see :data:`TOKEN_HEADERS`)."""
    rows = []
    for s in result.token_slots():
        first, last = s["frames"]
        if "p" in s:
            alts = ", ".join(f"{c} ({100 * p:.1f})" for c, p in s["top"])
            rank = s["rank"] + 1 if s["rank"] < len(s["top"]) else f"> {len(s['top'])}"
            rows.append([s["slot"], f"{first}–{last}", s["code"], round(100 * s["p"], 1), rank, s["entropy"], alts])
        else:
            rows.append([s["slot"], f"{first}–{last}", s["code"], "—", "—", "—", "—"])
    return rows


def tokens_summary(result) -> str:
    """A short paragraph: how many tokens, what one token is, how sure the model was."""
    slots = result.token_slots()
    n, L = len(slots), int(result.chunk_len)
    text = (f"The VLM wrote **{n} hand tokens** for {result.hand}; each is an index into the shared codebook of "
            f"all hands and decodes to {L} frames of joint angles ({L / 30:.2f} s at 30 fps).")
    if slots and "p" in slots[0]:
        p = np.array([s["p"] for s in slots])
        top = sum(s["rank"] == 0 for s in slots)
        low = [s["slot"] for s in slots if s["p"] < 0.1]
        text += (f" Sampling (temperature {result.options.temperature:g}, top-p {result.options.top_p:g}) took the "
                 f"model's most likely code in {top} of {n} slots; the sampled codes had {100 * p.mean():.0f} % "
                 "probability on average.")
        if low:
            which = f"Slot {low[0]}" if len(low) == 1 else f"Slots {', '.join(map(str, low))}"
            text += (f" {which} took a code the model gave under 10 %: another seed, or a lower temperature "
                     "(Advanced), gives a more typical motion there.")
    return text


def tokens_figure(result) -> go.Figure:
    """Per slot, the model's most likely codes as stacked bars (hover: code, probability) and the
    sampled code's probability as a black marker."""
    slots = result.token_slots()
    fig = go.Figure()
    if not slots or "p" not in slots[0]:
        fig.add_annotation(text="no per-slot probabilities in this result", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
        return fig
    x = [s["slot"] for s in slots]
    k = len(slots[0]["top"])
    shades = ["#08306b", "#2171b5", "#6baed6", "#9ecae1", "#c6dbef", "#deebf7"]
    for j in range(k):
        codes = [s["top"][j][0] for s in slots]
        probs = [100 * s["top"][j][1] for s in slots]
        fig.add_trace(go.Bar(x=x, y=probs, name=f"{j + 1}. most likely", marker_color=shades[min(j, len(shades) - 1)],
                             customdata=codes, hovertemplate="slot %{x}: code %{customdata}, %{y:.1f} %<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=[100 * s["p"] for s in slots], mode="markers", name="sampled code",
                             marker=dict(color="black", symbol="diamond", size=9),
                             customdata=[s["code"] for s in slots],
                             hovertemplate="slot %{x}: sampled code %{customdata}, %{y:.1f} %<extra></extra>"))
    fig.update_layout(barmode="stack", height=360, xaxis_title=f"token slot ({int(result.chunk_len)} frames each)",
                      yaxis_title="model probability [%]", yaxis_range=[0, 100],
                      legend=dict(orientation="h", x=0.0, y=-0.25, yanchor="top"),
                      margin=dict(l=50, r=10, t=30, b=40), title="What the VLM predicted at each hand-token slot")
    return fig
