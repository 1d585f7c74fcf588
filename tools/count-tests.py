#!/usr/bin/env python3
"""Counts individual test cases (TAP lines) in meson's testlog.json files.

Usage: count-tests.py [--ci] [LABEL=]LOG...

Prints one line per log with what kind of checks it holds (behaviour tests, fuzz corpus
replays, which only catch crashes, package checks...), a breakdown by kind, and last the
total "N passed, N failed[, N skipped]". A LABEL names a log's run ("sanitizers",
"trixie"...): the same tests run again under another build are reported apart from the
first run, never as new tests.

With --ci every skip is a failure unless its reason matches ALLOWED_SKIPS below: a test that
cannot run in CI is a test that did not prove anything there.
"""
import json
import re
import sys

# Skips that CI accepts, each with why it cannot run on CI's machine. Keep it short: every
# entry is a behaviour CI does not check.
ALLOWED_SKIPS = [
    # (regular expression on the skip's reason, why CI cannot run it). Empty: CI's machine
    # runs every test (it is root, has FUSE, two CPUs and every package tools/packages.txt
    # names). An entry is a behaviour CI no longer checks: add one only with its reason.
]


def kind_of(name):
    bare = name.split(" / ")[-1]
    if bare.startswith("fuzz-"):
        return "fuzz corpus replays (crash checks)"
    if bare.startswith("check-package") or "package" in name.split(" / ")[0]:
        return "package checks"
    return "behaviour tests"


def count(path, ci):
    """Returns {kind: [passed, failed, skipped]} and the failures' descriptions."""
    kinds = {}
    failures = []

    def add(kind, i):
        kinds.setdefault(kind, [0, 0, 0])[i] += 1

    try:
        f = open(path, encoding="utf-8", errors="replace")
    except OSError as e:
        # a suite that never wrote its log ran nothing that can be counted: that is a failure
        add("behaviour tests", 1)
        return kinds, [f"{path}: no test log ({e.strerror})"]
    with f:
        for line in f:
            entry = json.loads(line)
            out = entry.get("stdout") or ""
            name = entry.get("name", "?")
            kind = kind_of(name)
            tap = [l for l in out.splitlines() if re.match(r"^(not )?ok \d+", l)]
            if not tap:
                # a test that is not TAP (or crashed before printing): count the process
                if entry.get("result") in ("OK", "EXPECTEDFAIL"):
                    add(kind, 0)
                elif entry.get("result") == "SKIP":
                    if ci:
                        add(kind, 1)
                        failures.append(f"{name}: skipped in CI (the whole program)")
                    else:
                        add(kind, 2)
                else:
                    add(kind, 1)
                    failures.append(f"{name}: {entry.get('result')}")
                continue
            before = len(failures)
            for l in tap:
                skip = re.search(r"#\s*SKIP\b(.*)", l, re.I)
                if l.startswith("not ok") and not re.search(r"#\s*TODO", l, re.I):
                    add(kind, 1)
                    failures.append(f"{name}: {l}")
                elif skip:
                    reason = skip.group(1).strip()
                    if ci and not any(re.search(p, reason, re.I) for p, _ in ALLOWED_SKIPS):
                        add(kind, 1)
                        failures.append(f"{name}: skipped in CI, and the reason is not on "
                                        f"count-tests.py's allow-list: {l}")
                    else:
                        add(kind, 2)
                else:
                    add(kind, 0)
            if entry.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL"):
                # the process failed although its TAP lines did not say so (crash, sanitizer)
                if len(failures) == before:
                    add(kind, 1)
                    failures.append(f"{name}: process {entry.get('result')}")
    return kinds, failures


def fmt(p, f, s):
    line = f"{p} passed, {f} failed"
    if s:
        line += f", {s} skipped"
    return line


def main():
    ci = "--ci" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    total = [0, 0, 0]
    breakdown = {}
    for arg in args:
        label, _, log = arg.rpartition("=") if "=" in arg else ("", "", arg)
        kinds, failures = count(log, ci)
        for kind, c in kinds.items():
            key = f"{kind}, {label}" if label else kind
            b = breakdown.setdefault(key, [0, 0, 0])
            for i in range(3):
                b[i] += c[i]
                total[i] += c[i]
        sums = [sum(c[i] for c in kinds.values()) for i in range(3)]
        print(f"{label + ': ' if label else ''}{log}: {fmt(*sums)}")
        for x in failures:
            print(f"  FAILED {x}")
    print("by kind:")
    for key, c in breakdown.items():
        print(f"  {key}: {fmt(*c)}")
    print(fmt(*total))
    return 1 if total[1] or total[0] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
