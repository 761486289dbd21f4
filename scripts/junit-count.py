"""Print "PASSED FAILED SKIPPED" for a JUnit XML report (pytest or ctest)."""

import sys
import xml.etree.ElementTree as ET


def count(path):
    passed = failed = skipped = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        tags = {child.tag for child in case}
        status = case.get("status", "")
        if tags & {"failure", "error"} or status == "fail":
            failed += 1
        elif "skipped" in tags or status in ("notrun", "disabled"):
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


if __name__ == "__main__":
    print("%d %d %d" % count(sys.argv[1]))
