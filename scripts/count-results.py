#!/usr/bin/env python3
"""Reads meson's testlog.json files and prints 'N passed, N failed, N skipped'.
A Catch2 test run with `-r junit -o FILE` counts each of its test cases from FILE; any other test
counts once. A test binary that crashed or timed out counts as a failure even if its report looks
clean. Exits 1 if anything failed or nothing ran."""
import json, os, sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for d in sys.argv[1:]:
    path = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        print(f"{d}: no test log (build failed?)")
        failed += 1
        continue
    for line in open(path):
        t = json.loads(line)
        result = t.get("result")
        cmd = t.get("command") or []
        junit = cmd[cmd.index("-o") + 1] if "-o" in cmd and "junit" in cmd else None
        if junit and os.path.exists(junit):
            try:
                cases = ET.parse(junit).getroot().iter("testcase")
            except ET.ParseError:
                cases = []
            ok = bad = 0
            for c in cases:
                if c.find("failure") is not None or c.find("error") is not None:
                    bad += 1
                    print(f"FAILED: {d}: {t.get('name')}: {c.get('name')}")
                elif c.find("skipped") is not None:
                    skipped += 1
                else:
                    ok += 1
            if result not in ("OK", "EXPECTEDFAIL") and bad == 0:
                bad = 1
                print(f"FAILED: {d}: {t.get('name')} ({result})")
            passed += ok
            failed += bad
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
            print(f"FAILED: {d}: {t.get('name')} ({result})")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
