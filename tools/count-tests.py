#!/usr/bin/env python3
"""Counts individual test cases (TAP lines) in meson's testlog.json files.

Prints one line per log and returns the totals; with --ci, a skip whose reason says the test
needs root or FUSE counts as a failure, so such tests never silently skip in CI.
"""
import json
import re
import sys


def count(path, ci):
    passed = failed = skipped = 0
    failures = []
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except OSError as e:
        # a suite that never wrote its log ran nothing that can be counted: that is a failure
        return 0, 1, 0, [f"{path}: no test log ({e.strerror})"]
    with f:
        for line in f:
            entry = json.loads(line)
            out = entry.get("stdout") or ""
            name = entry.get("name", "?")
            tap = [l for l in out.splitlines() if re.match(r"^(not )?ok \d+", l)]
            if not tap:
                # a test that is not TAP (or crashed before printing): count the process
                if entry.get("result") in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif entry.get("result") == "SKIP":
                    skipped += 1
                else:
                    failed += 1
                    failures.append(f"{name}: {entry.get('result')}")
                continue
            for l in tap:
                skip = re.search(r"#\s*SKIP\b(.*)", l, re.I)
                if l.startswith("not ok") and not re.search(r"#\s*TODO", l, re.I):
                    failed += 1
                    failures.append(f"{name}: {l}")
                elif skip:
                    reason = skip.group(1).lower()
                    if ci and ("root" in reason or "fuse" in reason):
                        failed += 1
                        failures.append(f"{name}: skipped in CI: {l}")
                    else:
                        skipped += 1
                else:
                    passed += 1
            if entry.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL"):
                # the process failed although its TAP lines did not say so (crash, sanitizer)
                if not any(f.startswith(name + ":") for f in failures):
                    failed += 1
                    failures.append(f"{name}: process {entry.get('result')}")
    return passed, failed, skipped, failures


def main():
    ci = "--ci" in sys.argv
    logs = [a for a in sys.argv[1:] if not a.startswith("--")]
    tp = tf = ts = 0
    for log in logs:
        p, f, s, failures = count(log, ci)
        print(f"{log}: {p} passed, {f} failed, {s} skipped")
        for x in failures:
            print(f"  FAILED {x}")
        tp, tf, ts = tp + p, tf + f, ts + s
    line = f"{tp} passed, {tf} failed"
    if ts:
        line += f", {ts} skipped"
    print(line)
    return 1 if tf or tp == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
