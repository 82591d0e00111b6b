"""Notes for RESULTS.md: for every goal missed, by how much and why, worked out from the figures."""

from __future__ import annotations

import statistics

from benchmarks.report import LABELS, PEER_GOALS, _reference

# Peer time / hand-written loop time on the reference machine (its table).
REFERENCE_OVER_HAND = {
    ("W1", "sklearn"): 65 / 36,
    ("W1", "torch"): 127 / 36,
    ("W2", "sklearn"): 91 / 37,
    ("W2", "torch"): 160 / 37,
    ("W3", "sklearn"): 1.31 / 0.75,
    ("W3", "torch"): 1.32 / 0.75,
    ("W4", "sklearn"): 3.87 / 2.28,
    ("W4", "torch"): 3.97 / 2.28,
}


def _overhead_peers(variant: dict, name: str) -> list[str]:
    runs = variant["workloads"].get(name, {}).get("runs", {})
    if "numpy" not in runs:
        return []
    nn, hand = runs["nnfunc"]["median_s"], runs["numpy"]["median_s"]
    out = []
    if hand < nn:
        out.append(
            f"{name}: nnfunc takes {nn / hand:.2f}x the hand-written loop's time; see the W1 "
            "profile below for where the per-step time goes."
        )
    for peer, target in PEER_GOALS[name].items():
        if peer == "numpy" or peer not in runs:
            continue
        ratio = runs[peer]["median_s"] / _reference(peer, runs)["median_s"]
        if ratio >= target:
            continue
        here = runs[peer]["median_s"] / hand
        there = REFERENCE_OVER_HAND[name, peer]
        out.append(
            f"{name}: {LABELS[peer]} takes {ratio:.2f}x nnfunc's time (goal {target:g}x). nnfunc "
            f"is {hand / nn:.2f}x faster than the hand-written loop, but here {LABELS[peer]} takes "
            f"only {here:.2f}x that loop's time (on the issue's reference machine "
            f"{there:.2f}x), so the goal would need nnfunc {target / here:.2f}x faster than "
            "the hand-written loop."
        )
    return out


def _gemm_bound(variant: dict) -> list[str]:
    entry = variant["workloads"].get("W4")
    if not entry or "gemm" not in entry:
        return []
    runs, gemm = entry["runs"], entry["gemm"]["seconds"]
    nn = runs["nnfunc"]["median_s"]
    out = [
        f"W4: nnfunc's epoch is {nn / gemm:.2f}x the time of its eight GEMMs alone; the other "
        f"{1 - gemm / nn:.0%} is element-wise work (Adam's passes over the 1.9 million "
        "parameters, bias, ReLU and softmax passes, gathering each batch's rows): see the W4 "
        "profile."
    ]
    for peer in ("sklearn", "torch"):
        if peer not in runs or runs[peer]["median_s"] / nn >= 1.7:
            continue
        peer_s = runs[peer]["median_s"]
        need = peer_s / 1.7
        if need < gemm:
            line = (
                f"W4: 1.7x faster than {LABELS[peer]} would need an epoch of {need:.2f} s, "
                f"{1 - need / gemm:.0%} below the time of the GEMMs alone ({gemm:.2f} s with this "
                f"OpenBLAS), which no code doing this arithmetic with it can reach; "
                f"{LABELS[peer]} itself takes {peer_s / gemm:.2f}x that GEMM-only time"
            )
            if peer == "torch":
                line += " (it multiplies with its own MKL; its per-step overhead is small here)"
            out.append(line + ".")
    return out


def _profile_shares(results: dict) -> list[str]:
    out = []
    for name, p in results.get("profile", {}).items():
        total = p["seconds"] or 1.0
        top = ", ".join(
            f"{row['function'].split('/')[-1]} {row['tottime_s'] / total:.0%}"
            for row in p["top"][:4]
        )
        out.append(f"Profile of {name} (own time as a share of the run): {top}.")
    return out


def _spread(variant: dict) -> list[str]:
    """Workloads whose runs varied a lot from round to round (load the machine does not show)."""
    out = []
    for name, entry in variant["workloads"].items():
        spans = {
            impl: max(run["times_s"]) / min(run["times_s"]) for impl, run in entry["runs"].items()
        }
        peers = {impl: span for impl, span in spans.items() if impl != "nnfunc"}
        if max(spans.values()) > 1.2 and peers:
            widest = max(peers, key=peers.__getitem__)
            out.append(
                f"{name}: runs varied from round to round: nnfunc's fastest and slowest differ "
                f"by {spans['nnfunc']:.2f}x, {LABELS[widest]}'s by {spans[widest]:.2f}x; ratios "
                "of medians move with that."
            )
    return out


def _fresh(results: dict) -> list[str]:
    fl = results["fresh_vs_long_lived"]
    fresh, long_lived = statistics.median(fl["fresh_s"]), statistics.median(fl["long_lived_s"])
    if fresh <= 1.1 * long_lived:
        return []
    pairs = fl.get("quiet_pairs") or []
    line = (
        f"Fresh process: the medians give {fresh / long_lived:.2f}x, but the fresh runs took "
        f"{min(fl['fresh_s']):.2f} s to {max(fl['fresh_s']):.2f} s and the long-lived ones "
        f"{min(fl['long_lived_s']):.2f} s to {max(fl['long_lived_s']):.2f} s; the fastest runs "
        f"give {min(fl['fresh_s']) / min(fl['long_lived_s']):.2f}x"
    )
    if pairs:
        quiet = statistics.median(p[0] for p in pairs) / statistics.median(p[1] for p in pairs)
        line += f" and the {len(pairs)} quiet pair(s) {quiet:.2f}x"
    faults = statistics.median(fl["fresh_faults"]), statistics.median(fl["long_lived_faults"])
    return [
        line + f". A fresh run takes {faults[0]:,.0f} minor page faults against "
        f"{faults[1]:,.0f}: the process itself is not the cost."
    ]


def notes(results: dict) -> list[str]:
    """Markdown lines: a bullet per missed goal with its cause, then the profile's largest items."""
    lines = []
    for variant in results["variants"]:
        found = []
        for name in ("W1", "W2", "W3", "W4"):
            found += _overhead_peers(variant, name)
        found += _gemm_bound(variant)
        found += _spread(variant)
        lines += [f"- {variant['name']}: {item}" for item in found]
    lines += [f"- {item}" for item in _fresh(results) + _profile_shares(results)]
    return lines
