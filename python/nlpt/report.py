"""Tables, CSV and JSON for sweeps (the outputs of ``nlpt reproduce``).

Files are written whole or not at all (a temporary file renamed over the target).  The keys of
every object and column are listed in ``docs/output.md``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ._jsonio import atomic_write_text, dumps, jsonable

__all__ = ["jsonable", "alpha_label", "format_table", "format_summary", "csv_text", "write_csv",
           "write_json", "COLUMNS", "GRID_COLUMNS", "SUMMARY_COLUMNS"]


def alpha_label(alpha: float) -> str:
    """alpha in scientific notation with the fewest digits that give back the same float:
    ``1e-05``, ``1.5e-05``, ``2.25e-04``; the same label in the table and in plot file names,
    so distinct alphas always get distinct labels."""
    import numpy as np

    return np.format_float_scientific(float(alpha), unique=True, trim="-", exp_digits=2)


#: (key, header, format) of the grid coordinates, shown when they vary between rows.
GRID_COLUMNS = [
    ("activation", "activation", "{}"),
    ("a_kind", "a", "{}"),
    ("seed", "seed", "{:d}"),
]

#: (key, header, format) of the width table.
COLUMNS = [
    ("m", "m", "{:d}"),
    ("alpha", "alpha", alpha_label),
    ("softening_rate", "lambda1'(0)", "{:.4e}"),
    ("m_times_rate", "m*lambda1'(0)", "{:.4f}"),
    ("lam_star_pred", "lam*_pred", "{:.4g}"),
    ("lam_star_measured", "lam*_meas", "{:.4g}"),
    ("ratio", "meas/pred", "{:.3f}"),
    ("multiplicity", "mult", "{:d}"),
    ("morse", "Morse", "{}"),
    ("rho", "rho", "{:.2e}"),
    ("eta", "eta", "{:.1e}"),
    ("status", "status", "{}"),
]

#: (key, header, format) of the summary across seeds.
SUMMARY_COLUMNS = [
    ("activation", "activation", "{}"),
    ("a_kind", "a", "{}"),
    ("m", "m", "{:d}"),
    ("alpha", "alpha", alpha_label),
    ("n_seeds", "seeds", "{:d}"),
    ("m_times_rate_mean", "m*lambda1'(0) mean", "{:.4f}"),
    ("m_times_rate_std", "std", "{:.4f}"),
    ("n_ratio", "crossings", "{:d}"),
    ("ratio_mean", "meas/pred mean", "{:.3f}"),
    ("ratio_std", "std", "{:.3f}"),
    ("ratio_min", "min", "{:.3f}"),
    ("ratio_max", "max", "{:.3f}"),
]


def _cell(row: dict, key: str, fmt) -> str:
    if key == "morse":
        b, a = row.get("morse_before"), row.get("morse_after")
        return "-" if b is None or a is None else f"{b}->{a}"
    v = row.get(key)
    if v is None:
        return "-"
    try:
        return fmt(v) if callable(fmt) else fmt.format(v)
    except (ValueError, TypeError):
        return str(v)


def _render(columns, rows, markdown: bool) -> str:
    headers = [h for _, h, _ in columns]
    body = [[_cell(r, k, f) for k, _, f in columns] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(headers)]
    fmt_line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt_line(headers), fmt_line(["-" * w for w in widths])] + [fmt_line(b) for b in body])


def format_table(rows: list, markdown: bool = False) -> str:
    """The width table as aligned text (or a Markdown table); activation, a and seed columns
    appear when they vary between rows."""
    grid = [c for c in GRID_COLUMNS if len({r.get(c[0]) for r in rows}) > 1]
    return _render(grid + COLUMNS, rows, markdown)


def format_summary(summary: list, markdown: bool = False) -> str:
    """The summary across seeds as aligned text (or Markdown)."""
    return _render(SUMMARY_COLUMNS, summary, markdown)


def csv_text(rows: list, keys=None) -> str:
    """CSV with one column per key (the keys of the first row unless given); None is empty."""
    keys = list(keys if keys is not None else (rows[0].keys() if rows else []))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else jsonable(r.get(k))) for k in keys})
    return buf.getvalue()


def write_csv(rows: list, path, keys=None) -> Path:
    return atomic_write_text(path, csv_text(rows, keys))


def write_json(obj, path) -> Path:
    return atomic_write_text(path, dumps(obj) + "\n")
