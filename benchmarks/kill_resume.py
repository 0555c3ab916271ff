"""Kill a table-backed search at random moments, resume each time, compare with an uninterrupted run.

For each trial the search runs as a separate process; this script polls the run's SQLite store
and sends SIGKILL once a randomly chosen number of evaluations is committed (1 to 3 kills per
trial), then resumes with ``--resume`` until the search finishes. The final ``evaluations.csv``
and ``front.csv`` must equal the uninterrupted run's (``duration_s`` aside); "lost" counts
evaluations of the uninterrupted run missing from the final store, "repeated" counts
architectures stored more than once or evaluated again after a resume.

With ``--workers N`` the killed and resumed searches evaluate in N worker processes (the
reference stays serial), so the comparison also checks that parallel runs equal serial ones.

Usage:
    python benchmarks/kill_resume.py [--trials 10] [--evaluations 1000] [--seed 0] [--workers 1]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TABLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nb201" / "nb201_cifar10_hw.csv"


def search_cmd(out: Path, evaluations: int, seed: int, resume: bool, workers: int = 1) -> list[str]:
    cmd = [sys.executable, "-m", "hwnas.cli", "search", "--space", "nb201", "--table", str(TABLE),
           "--arch-column", "arch_str", "--accuracy-column", "val_acc_cifar10valid_nb201",
           "--cost", "latency_ms=edgegpu_latency", "--evaluations", str(evaluations), "--seed", str(seed),
           "--out", str(out), "--no-progress", "--workers", str(workers)]
    return cmd + (["--resume"] if resume else [])


def stored(out: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{out / 'store.sqlite'}?mode=ro", uri=True, timeout=0.1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def rows(path: Path) -> list[dict]:
    with open(path) as fh:
        return [{k: v for k, v in r.items() if k != "duration_s"} for r in csv.DictReader(fh)]


def run_killed(out: Path, evaluations: int, seed: int, at: int, workers: int) -> tuple[int, bool]:
    """Start (or resume) the search and SIGKILL it once ``at`` evaluations are stored."""
    proc = subprocess.Popen(search_cmd(out, evaluations, seed, (out / "store.sqlite").exists(), workers),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None:
        if stored(out) >= at:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return stored(out), True
        time.sleep(0.002)
    return stored(out), False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10, help="killed-and-resumed searches (default 10)")
    ap.add_argument("--evaluations", type=int, default=1000, help="evaluations per search, >= 2 (default 1000)")
    ap.add_argument("--seed", type=int, default=0, help="search seed (default 0)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes of the killed/resumed searches")
    args = ap.parse_args()
    if args.evaluations < 2 or args.trials < 1 or args.workers < 1:
        ap.error("--evaluations must be >= 2 (a kill needs an evaluation after it), --trials and --workers >= 1")
    if not TABLE.is_file():
        print(f"needs {TABLE} (the shared NB201 table)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hwnas-kill-") as tmp:
        return trials(Path(tmp), args)


def trials(tmp: Path, args: argparse.Namespace) -> int:
    ref = tmp / "reference"
    proc = subprocess.run(search_cmd(ref, args.evaluations, args.seed, False), check=False, capture_output=True,
                          text=True)
    if proc.returncode:
        print(f"the uninterrupted search failed: {proc.stderr.strip()}", file=sys.stderr)
        return 2
    ref_rows, ref_front = rows(ref / "evaluations.csv"), rows(ref / "front.csv")
    rng = random.Random(12345)
    identical = kills = lost = repeated = 0
    print(f"reference: {len(ref_rows)} evaluations, {len(ref_front)} front points")
    for trial in range(args.trials):
        out = tmp / f"trial{trial}"
        targets = sorted(rng.sample(range(1, len(ref_rows)), min(rng.randint(1, 3), len(ref_rows) - 1)))
        trail = []
        for at in targets:
            after, killed = run_killed(out, args.evaluations, args.seed, at, args.workers)
            kills += killed
            trail.append(f"kill@{after}" if killed else f"finished@{after}")
            if not killed:
                break
        res = subprocess.run(search_cmd(out, args.evaluations, args.seed, True, args.workers),
                             capture_output=True, text=True)
        m = re.search(r"\((\d+) new this session", res.stdout)
        new_last = int(m.group(1)) if m else -1
        final_rows = rows(out / "evaluations.csv")
        db = sqlite3.connect(out / "store.sqlite")
        n, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT arch) FROM evaluations").fetchone()
        db.close()
        trial_lost = len({r["arch"] for r in ref_rows} - {r["arch"] for r in final_rows})
        # every evaluation the last resume made must be one that was not stored when it started
        trial_repeated = (n - distinct) + max(0, new_last - (len(ref_rows) - after)) if new_last >= 0 else n - distinct
        same = final_rows == ref_rows and rows(out / "front.csv") == ref_front
        identical += same
        lost += trial_lost
        repeated += trial_repeated
        print(f"trial {trial}: {' '.join(trail)} -> resumed ({new_last} new) "
              f"{'identical' if same else 'DIFFERENT'}, lost {trial_lost}, repeated {trial_repeated}")
    print(f"\n{identical}/{args.trials} identical to the uninterrupted run; {kills} kills; "
          f"{lost} evaluations lost; {repeated} repeated")
    return 0 if identical == args.trials and lost == repeated == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
