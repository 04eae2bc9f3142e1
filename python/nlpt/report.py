"""Tables, CSV and JSON for sweeps (the outputs of ``nlpt reproduce``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

__all__ = ["jsonable", "format_table", "write_csv", "write_json", "COLUMNS"]

#: (key, header, format) of the width table.
COLUMNS = [
    ("m", "m", "{:d}"),
    ("alpha", "alpha", "{:.0e}"),
    ("softening_rate", "lambda1'(0)", "{:.4e}"),
    ("m_softening_rate", "m*lambda1'(0)", "{:.4f}"),
    ("lam_star_pred", "lam*_pred", "{:.4g}"),
    ("lam_star_measured", "lam*_meas", "{:.4g}"),
    ("ratio", "meas/pred", "{:.3f}"),
    ("multiplicity", "mult", "{:d}"),
    ("morse", "Morse", "{}"),
    ("rho", "rho", "{:.2e}"),
    ("eta", "eta", "{:.1e}"),
    ("status", "status", "{}"),
]


def jsonable(obj):
    """Plain JSON types: arrays to lists, numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        return x if np.isfinite(x) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _cell(row: dict, key: str, fmt: str) -> str:
    if key == "morse":
        b, a = row.get("morse_before"), row.get("morse_after")
        return "-" if b is None or a is None else f"{b}->{a}"
    v = row.get(key)
    if v is None:
        return "-"
    try:
        return fmt.format(v)
    except (ValueError, TypeError):
        return str(v)


def format_table(rows: list, markdown: bool = False) -> str:
    """The width table as aligned text (or a Markdown table)."""
    headers = [h for _, h, _ in COLUMNS]
    body = [[_cell(r, k, f) for k, _, f in COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(headers)]
    fmt_line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt_line(headers), fmt_line(["-" * w for w in widths])] + [fmt_line(b) for b in body])


def write_csv(rows: list, path) -> Path:
    path = Path(path)
    keys = list(rows[0].keys()) if rows else []
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r[k] is None else r[k]) for k in keys})
    return path


def write_json(obj, path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")
    return path
