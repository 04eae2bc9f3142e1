"""docs/output.md and the outputs hold the same keys, both ways.

The doc's tables are parsed (one table per object; a type naming another object in backticks is
checked recursively); small runs of every command produce the instances.  Every key of an
instance must be documented, every key documented as *always* must be in every instance, and
every documented key must occur in some instance of the runs below."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from nlpt.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "output.md"


def parse_doc() -> dict:
    """``{object: {"keys": {key: (type, when)}, "order": [...], "includes": [...]}}``."""
    objects, current = {}, None
    for line in DOC.read_text().splitlines():
        m = re.match(r"^## `([a-z_]+)`\s*$", line)
        if m:
            current = objects.setdefault(m.group(1), {"keys": {}, "order": [], "includes": []})
            continue
        if current is None:
            continue
        current["includes"] += re.findall(r"Also every key of `([a-z_]+)`", line)
        m = re.match(r"^\| `([A-Za-z0-9_]+)` \| ([^|]*) \| ([^|]*) \| .* \|$", line)
        if m:
            current["keys"][m.group(1)] = (m.group(2).strip(), m.group(3).strip())
            current["order"].append(m.group(1))
    for obj in objects.values():
        for inc in obj["includes"]:
            obj["keys"] = {**objects[inc]["keys"], **obj["keys"]}
    return objects


SCHEMA = parse_doc()


def _refs(type_text: str) -> list:
    return [r for r in re.findall(r"`([a-z_]+)`", type_text) if r in SCHEMA]


class Walker:
    """Checks instances against the schema and records which documented keys were seen."""

    def __init__(self):
        self.seen = {name: set() for name in SCHEMA}

    def fits(self, name, obj) -> bool:
        keys = SCHEMA[name]["keys"]
        required = {k for k, (_, when) in keys.items() if when == "always"}
        return isinstance(obj, dict) and set(obj) <= set(keys) and required <= set(obj)

    def check(self, name, obj, where=""):
        keys = SCHEMA[name]["keys"]
        assert isinstance(obj, dict), f"{where}: expected a `{name}` object, got {type(obj).__name__}"
        extra = set(obj) - set(keys)
        assert not extra, f"{where} (`{name}`): keys missing from docs/output.md: {sorted(extra)}"
        required = {k for k, (_, when) in keys.items() if when == "always"}
        missing = required - set(obj)
        assert not missing, f"{where} (`{name}`): documented as always, but absent: {sorted(missing)}"
        self.seen[name] |= set(obj)
        for k, v in obj.items():
            refs = _refs(keys[k][0])
            if not refs or v is None:
                continue
            items = v if keys[k][0].startswith("list of") else [v]
            for i, item in enumerate(items):
                fitting = [r for r in refs if self.fits(r, item)] or refs[:1]
                self.check(fitting[0], item, f"{where}.{k}" + (f"[{i}]" if items is not [v] else ""))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Small runs of every command; ``{object name: [instances]}`` and the CSV headers."""
    tmp = tmp_path_factory.mktemp("schema")
    got = {"spectrum": [], "threshold": [], "case": [], "results": [], "manifest": [], "row": [], "summary": [],
           "lambda_row": []}
    X = np.random.default_rng(1).standard_normal((40, 2))
    np.savez(tmp / "d.npz", X=X, y=np.tanh(X[:, 0]))

    def json_of(argv):
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(argv) == 0
        return json.loads(buf.getvalue())

    got["spectrum"] += [json_of(["spectrum", "--m", "3", "--json"]),
                        json_of(["spectrum", "--m", "3", "--data", str(tmp / "d.npz"), "--a", "random", "--json"])]
    got["threshold"] += [json_of(["threshold", "--m", "3", "--n", "60", "--d", "2", "--alpha", "1e-4", "--json"]),
                         json_of(["threshold", "--m", "3", "--alpha", "1e-5", "--a", "random", "--json"]),
                         json_of(["threshold", "--m", "20", "--alpha", "1e-3", "--json"])]
    (tmp / "fam.py").write_text(
        "import numpy as np\n"
        "import nlpt\n\n"
        "def quartic():\n"
        "    # L = (1 - lam) x^2 / 2 + lam (x^4 / 4 - x^2 / 2) / 2 + 0.1 x^2 / 2: a pitchfork at lam = 1 / 1.5\n"
        "    a = lambda lam: 1.1 - 1.5 * lam\n"
        "    return nlpt.Problem(np.zeros(1), loss=lambda x, l: float(a(l) * x[0] ** 2 / 2 + l * x[0] ** 4 / 8),\n"
        "                        grad=lambda x, l: a(l) * x + l * x ** 3 / 2,\n"
        "                        hvp=lambda x, l, v: (a(l) + 1.5 * l * x ** 2) * v,\n"
        "                        grad_lam=lambda x, l: -1.5 * x + x ** 3 / 2, name='quartic')\n")
    got["threshold"].append(json_of(["threshold", "--family", f"{tmp / 'fam.py'}:quartic", "--json"]))
    statuses = {t["status"] for t in got["threshold"]}
    assert {"crossing", "fold"} <= statuses, statuses

    import nlpt.sweep as sw

    real = sw.run_case

    def flaky(task, data):
        if task["m"] == 4:
            raise FloatingPointError("a failing case")
        return real(task, data)

    sw.run_case = flaky
    try:
        out = tmp / "o"
        code = main(["reproduce", "--m", "3", "4", "--alphas", "1e-4", "--seeds", "0", "1", "--n", "60", "--d", "2",
                     "--no-plots", "--quiet", "--out", str(out), "--betas", "1e-6", "1e-4", "1e-1"])
    finally:
        sw.run_case = real
    assert code == 1  # one case failed
    got["results"].append(json.loads((out / "results.json").read_text()))
    got["case"] += [json.loads(x) for x in (out / "cases.jsonl").read_text().splitlines()]
    got["manifest"].append(json.loads((out / "manifest.json").read_text()))
    got["lambda_file"] = [json.loads((out / "lambda.json").read_text())]
    headers = {}
    for name, obj in (("results.csv", "row"), ("summary.csv", "summary"), ("lambda.csv", "lambda_row")):
        with (out / name).open() as f:
            reader = csv.DictReader(f)
            headers[obj] = reader.fieldnames
            got[obj] += [dict(r) for r in reader]
    return got, headers


def test_doc_parses_into_objects():
    assert {"spectrum", "threshold", "analysis", "case", "results", "row", "summary", "manifest", "config",
            "provenance"} <= set(SCHEMA)
    for name, obj in SCHEMA.items():
        assert obj["keys"], f"`{name}` has no keys in docs/output.md"
        for key, (type_text, _) in obj["keys"].items():
            for ref in re.findall(r"`([a-z_]+)`", type_text):
                assert ref in SCHEMA, f"`{name}.{key}` refers to `{ref}`, which the doc does not define"


def test_outputs_hold_exactly_the_documented_keys(outputs):
    got, headers = outputs
    w = Walker()
    for name, instances in got.items():
        assert instances, name
        for i, obj in enumerate(instances):
            if name in ("row", "summary"):  # CSV rows: every column is a documented key
                assert set(obj) == set(SCHEMA[name]["keys"]), name
                w.seen[name] |= set(obj)
                continue
            w.check(name, obj, f"{name}[{i}]")
    for name, obj in SCHEMA.items():
        unseen = set(obj["keys"]) - w.seen[name]
        assert not unseen, f"`{name}`: documented keys that no output of the test runs holds: {sorted(unseen)}"


def test_csv_columns_are_in_documented_order(outputs):
    _, headers = outputs
    for obj in ("row", "summary", "lambda_row"):
        assert headers[obj] == SCHEMA[obj]["order"]


def test_one_name_per_quantity(outputs):
    """A row's quantities carry the names of the analysis they come from."""
    got, _ = outputs
    res = got["results"][0]
    for row, case in zip(res["rows"], res["cases"]):
        r = case["result"]
        for key in ("softening_rate", "m_times_rate", "lam_star_pred", "lam_star_measured", "ratio", "eta", "status"):
            if key in r:
                assert row[key] == r[key], key
        if r.get("normal_form"):
            assert row["rho"] == r["normal_form"]["rho"]
            assert row["classification"] == r["normal_form"]["classification"]
