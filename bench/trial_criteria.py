"""Precision and recall of the HER2 criterion reader on the cited corpus (issue 14).

Usage: python bench/trial_criteria.py   (from the checkout; prints a Markdown table)

Corpus: tests/fixtures/trials/eligibility_corpus.json (real sentences, each cited).
Counting, per sentence with an expected status criterion (positive, low, ultralow,
0, null, negative, and their "or" forms):

- a true positive is the expected kind with the expected negation;
- a false positive is any other status kind the reader claims (a wrong class, a
  claim on a sentence that states none, or a claim where "not understood" is
  expected: a guess);
- a false negative is an expected status criterion the reader did not produce.

"Not understood" and "mutation" answers are not claims of a HER2 status, so they
count only as misses.  The guesses line is the number of "not understood"
sentences on which the reader claimed a status: it must be 0.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run from any directory: this checkout's service package, not an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.trials.criteria import read_sentence, read_study
from service.trials.model import CriterionKind, Section

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "trials"
NOT_STATUS = {CriterionKind.NOT_UNDERSTOOD.value, CriterionKind.HER2_MUTATION.value}


def score(items: list[dict[str, object]]) -> dict[str, int]:
    """The counts of one split."""
    tp = fp = fn = guesses = 0
    unclear = mutation_ok = mutation_total = 0
    for item in items:
        found = read_sentence(str(item["sentence"]), Section(str(item["section"])))
        got = None if found is None else (found.kind.value, found.negated)
        expected = item["expected"]
        assert expected is None or isinstance(expected, dict)
        want = None if expected is None else (expected["kind"], expected["negated"])
        claims = got is not None and got[0] not in NOT_STATUS
        expects = want is not None and want[0] not in NOT_STATUS
        if want is not None and want[0] == CriterionKind.NOT_UNDERSTOOD.value:
            unclear += 1
            guesses += claims
        if want is not None and want[0] == CriterionKind.HER2_MUTATION.value:
            mutation_total += 1
            mutation_ok += got == want
        if claims and got == want:
            tp += 1
        elif claims:
            fp += 1
        if expects and got != want:
            fn += 1
    return {
        "n": len(items),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "unclear": unclear,
        "guesses": guesses,
        "mutation_ok": mutation_ok,
        "mutation_total": mutation_total,
    }


def main() -> None:
    """Print the table."""
    document = json.loads((CORPUS / "eligibility_corpus.json").read_text(encoding="utf-8"))
    print(
        "| split | sentences | status criteria | precision | recall | not understood: guesses |"
        " mutations kept apart |"
    )
    print("|---|---|---|---|---|---|---|")
    for split in ("development", "held_out"):
        c = score([i for i in document["sentences"] if i["split"] == split])
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        print(
            f"| {split} | {c['n']} | {c['tp'] + c['fn']} | {precision:.3f} "
            f"({c['tp']}/{c['tp'] + c['fp']}) | {recall:.3f} ({c['tp']}/{c['tp'] + c['fn']}) | "
            f"{c['unclear']}: {c['guesses']} | {c['mutation_ok']}/{c['mutation_total']} |"
        )


def throughput(sentences: list[str], repeat: int = 200) -> None:
    """Print the reading cost of one eligibility text of ``repeat`` copies of the corpus."""
    text = "Inclusion Criteria:\n" + "\n".join(f"* {s}" for s in sentences * repeat)
    start = time.perf_counter()
    read_study(text)
    elapsed = time.perf_counter() - start
    count = len(sentences) * repeat
    print(
        f"\nReading {count} sentences ({len(text) // 1024} KiB) in one text: {elapsed:.2f} s, "
        f"{1000 * elapsed / count:.3f} ms per sentence"
    )


# Texts built to make a backtracking pattern retry (reviews found two quadratic ones:
# trailing emphasis runs and spaces after a bare heading word).  Each is read at two
# sizes: a linear reader takes about twice as long for twice the text.
PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "emphasis run": lambda n: "Inclusion Criteria:\n* HER2-positive " + "* " * (n // 2) + "x\n",
    "NBSP/underscore run": lambda n: (
        "Inclusion Criteria:\n* HER2-positive " + "\u00a0_" * (n // 2) + "x\n"
    ),
    "spaces after a heading word": lambda n: "Exclusion" + " " * n + "x\n",
    "spaces in a heading qualifier": lambda n: "Exclusion (" + " " * n + "x\n",
    "dash runs": lambda n: "Inclusion Criteria:\n* HER2-positive " + " -" * (n // 2) + "x\n",
    "shortened alternatives": lambda n: (
        "Inclusion Criteria:\n* " + "HER2 positive or negative, " * (n // 27) + "\n"
    ),
    "negation gap words": lambda n: (
        "Inclusion Criteria:\n* " + "not be been being is are was " * (n // 29) + "HER2-positive\n"
    ),
    "denied site words": lambda n: "Inclusion Criteria:\n* HER2-positive " + "no " * (n // 3),
}


def pathological(size: int = 200_000) -> None:
    """Print the reading time of each pathological text at ``size`` and twice it."""
    print("\n| text | 200 KB | 400 KB | ratio |\n|---|---|---|---|")
    for name, build in PATHOLOGICAL.items():
        times = []
        for n in (size, 2 * size):
            text = build(n)
            start = time.perf_counter()
            read_study(text, ("Solid Tumor",))
            times.append(time.perf_counter() - start)
        print(f"| {name} | {times[0]:.2f} s | {times[1]:.2f} s | {times[1] / times[0]:.1f} |")


if __name__ == "__main__":
    main()
    corpus = json.loads((CORPUS / "eligibility_corpus.json").read_text(encoding="utf-8"))
    throughput([str(i["sentence"]) for i in corpus["sentences"]])
    pathological()
