"""Measurements of a trained tokenizer on held-out sequences.

* :func:`reconstruction_errors` — per hand, encode then decode every sequence and compare
  with the input: finger-joint MAE / RMSE [rad] (the quantity of Table B1), wrist position
  error [mm], wrist rotation error [deg] and fingertip position error [mm] (forward
  kinematics, world frame).
* :func:`translation_errors` — Eq. 6 for every ordered pair (i, j): encode hand i's
  trajectory, decode with hand j, and measure the fingertip distance [mm] to the dataset's
  own trajectory of hand j (the dex-retargeting result of the same human motion). The
  diagonal is the reconstruction fingertip error.
* :func:`token_usage` — code usage and perplexity of the tokens of every hand.
"""

from __future__ import annotations

import numpy as np

from unihm_core.tokenizer.codebook import usage_stats


def _rot_err_deg(q_a: np.ndarray, q_b: np.ndarray) -> np.ndarray:
    from unihm_core.hands import euler_xyz_to_matrix

    Ra, Rb = euler_xyz_to_matrix(q_a[:, 3:6]), euler_xyz_to_matrix(q_b[:, 3:6])
    c = (np.einsum("tij,tij->t", Ra, Rb) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def _tips(hand: str, q: np.ndarray) -> np.ndarray:
    from unihm_core.hands import load_hand

    m = load_hand(hand)
    return m.fingertip_positions(m.clamp(q))


def reconstruction_errors(tok, seqs, hands: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Per-hand errors of ``decode(encode(q))`` over every sequence of ``seqs`` (module docstring).

    Returns hand -> {mae_rad, rmse_rad, wrist_mm, wrist_deg, tip_mm, frames}; key ``overall``
    pools the finger-joint errors of every hand.
    """
    hands = hands or tuple(h for h in tok.hands if h in seqs.hands)
    out: dict[str, dict] = {}
    pooled = []
    for h in hands:
        errs, wpos, wrot, tips = [], [], [], []
        for q, poses in zip(seqs.q[h], seqs.object_poses):
            q_hat = tok.reconstruct(h, q, poses)
            errs.append((q_hat[:, 6:] - q[:, 6:]).ravel())
            wpos.append(np.linalg.norm(q_hat[:, :3] - q[:, :3], axis=1))
            wrot.append(_rot_err_deg(q_hat, q))
            tips.append(np.linalg.norm(_tips(h, q_hat) - _tips(h, q), axis=-1).ravel())
        e = np.concatenate(errs)
        pooled.append(e)
        out[h] = {"mae_rad": float(np.mean(np.abs(e))), "rmse_rad": float(np.sqrt(np.mean(e ** 2))),
                  "wrist_mm": float(1e3 * np.mean(np.concatenate(wpos))),
                  "wrist_deg": float(np.mean(np.concatenate(wrot))),
                  "tip_mm": float(1e3 * np.mean(np.concatenate(tips))),
                  "frames": int(sum(len(q) for q in seqs.q[h]))}
    e = np.concatenate(pooled)
    out["overall"] = {"mae_rad": float(np.mean(np.abs(e))), "rmse_rad": float(np.sqrt(np.mean(e ** 2))),
                      "wrist_mm": float(np.mean([out[h]["wrist_mm"] for h in hands])),
                      "tip_mm": float(np.mean([out[h]["tip_mm"] for h in hands]))}
    return out


def translation_errors(tok, seqs, hands: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
    """Mean fingertip error [mm] of Eq. 6 translation i -> j vs the dataset's hand-j trajectory.

    Returns ``table[i][j]``.
    """
    hands = hands or tuple(h for h in tok.hands if h in seqs.hands)
    table: dict[str, dict[str, float]] = {}
    for i in hands:
        toks = [tok.encode(i, q, p) for q, p in zip(seqs.q[i], seqs.object_poses)]
        table[i] = {}
        for j in hands:
            d = []
            for t, q_j, poses in zip(toks, seqs.q[j], seqs.object_poses):
                q_hat = tok.decode(j, t, poses)
                d.append(np.linalg.norm(_tips(j, q_hat) - _tips(j, q_j), axis=-1).ravel())
            table[i][j] = float(1e3 * np.mean(np.concatenate(d)))
    return table


def token_usage(tok, seqs, hands: tuple[str, ...] | None = None) -> dict:
    """Codebook usage over the tokens of every hand's sequences: per hand and pooled."""
    hands = hands or tuple(h for h in tok.hands if h in seqs.hands)
    per, pooled = {}, []
    for h in hands:
        idx = np.concatenate([tok.encode(h, q, p) for q, p in zip(seqs.q[h], seqs.object_poses)])
        pooled.append(idx)
        per[h] = usage_stats(idx, tok.codebook_size).as_dict()
    return {"per_hand": per, "all": usage_stats(np.concatenate(pooled), tok.codebook_size).as_dict()}
