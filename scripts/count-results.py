#!/usr/bin/env python3
"""Reads meson's testlog.json files and prints 'N passed, N failed, N skipped'.
A Catch2 test run with `-r junit -o FILE` counts each of its test cases from FILE; any other test
counts once. A test binary that crashed or timed out counts as a failure even if its report looks
clean. A test that exited 77 (meson: SKIP) counts as one skip, whatever report an earlier run left.
With CI=true in the environment a skip is a failure (named, with the test's reason): CI has every
tool, so a test that could not run there hides a broken setup; the skipped count stays 0.
Exits 1 if anything failed or nothing ran."""
import json, os, sys
import xml.etree.ElementTree as ET

CI = os.environ.get("CI") == "true"


def skip_reason(t):
    """The test's own 'SKIP: ...' line, when it printed one."""
    for line in (t.get("stdout") or "").splitlines() + (t.get("stderr") or "").splitlines():
        if "SKIP" in line:
            return line.strip()
    return "exit status 77"


passed = failed = skipped = 0


def skip(d, t, what):
    global failed, skipped
    if CI:
        failed += 1
        print(f"FAILED (skipped under CI=true): {d}: {what}: {skip_reason(t)}")
    else:
        skipped += 1


for d in sys.argv[1:]:
    path = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        print(f"{d}: no test log (build failed?)")
        failed += 1
        continue
    for line in open(path):
        t = json.loads(line)
        name = t.get("name")
        result = t.get("result")
        cmd = t.get("command") or []
        junit = cmd[cmd.index("-o") + 1] if "-o" in cmd and "junit" in cmd else None
        if result == "SKIP":
            skip(d, t, name)
        elif junit and os.path.exists(junit):
            try:
                cases = ET.parse(junit).getroot().iter("testcase")
            except ET.ParseError:
                cases = []
            ok = bad = 0
            for c in cases:
                if c.find("failure") is not None or c.find("error") is not None:
                    bad += 1
                    print(f"FAILED: {d}: {name}: {c.get('name')}")
                elif c.find("skipped") is not None:
                    skip(d, t, f"{name}: {c.get('name')}")
                else:
                    ok += 1
            if result not in ("OK", "EXPECTEDFAIL") and bad == 0:
                bad = 1
                print(f"FAILED: {d}: {name} ({result})")
            passed += ok
            failed += bad
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
            print(f"FAILED: {d}: {name} ({result})")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
