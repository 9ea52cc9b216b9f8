#!/usr/bin/env python3
"""The layout rules of docs/architecture.md, checked on the tree (CTest `layout`).

  1. Every library's sources live in src/<area>/ and its public headers in
     include/gpt2/<area>/; nothing sits directly in include/gpt2/.
  2. Every public header is named for the source that implements it:
     include/gpt2/<area>/<name>.hpp has src/<area>/<name>.cpp (header-only files listed below).
  3. The arrows only point down: a file of <area> includes gpt2/<other>/... or
     <other>/... (a private header) only when <other> is <area> or one of its
     dependencies, direct or transitive, as CMakeLists.txt declares them
     (gpt2_library(... DEPS ...), written to <build>/layout.txt).
  4. No folder holds more than MAX_SHARE of the code (lines of src/ and include/).

Usage: check_layout.py <source root> <build>/layout.txt
Prints one line per violation and exits 1 when there is any.
"""
import os
import re
import sys

HEADER_ONLY = {"base/errors.hpp", "checkpoint/checkpoint_format.hpp"}
MAX_SHARE = 0.20
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def main(root, layout_file):
    deps = {}
    with open(layout_file) as f:
        for line in f:
            if ":" in line:
                area, rest = line.split(":", 1)
                deps[area.strip()] = rest.split()
    areas = set(deps)

    def closure(a, seen=None):
        seen = set() if seen is None else seen
        for d in deps.get(a, []):
            if d not in seen:
                seen.add(d)
                closure(d, seen)
        return seen

    allowed = {a: closure(a) | {a} for a in areas}
    problems = []
    inc_root = os.path.join(root, "include", "gpt2")
    for name in sorted(os.listdir(inc_root)):
        path = os.path.join(inc_root, name)
        if os.path.isfile(path):
            problems.append(f"include/gpt2/{name}: a header outside every area folder")
        elif name not in areas:
            problems.append(f"include/gpt2/{name}/: no library named gpt2_{name} in CMakeLists.txt")
    for area in sorted(areas):
        hdir = os.path.join(inc_root, area)
        for h in sorted(os.listdir(hdir)) if os.path.isdir(hdir) else []:
            rel = f"{area}/{h}"
            if h.endswith(".hpp") and rel not in HEADER_ONLY and \
                    not os.path.exists(os.path.join(root, "src", area, h[:-4] + ".cpp")):
                problems.append(f"include/gpt2/{rel}: no src/{area}/{h[:-4]}.cpp implements it "
                                "(name the header for its source)")

    lines = {}
    for area in sorted(areas):
        for top in (os.path.join(root, "src", area), os.path.join(inc_root, area)):
            if not os.path.isdir(top):
                continue
            for dirpath, _, files in os.walk(top):
                for fn in sorted(files):
                    if not fn.endswith((".cpp", ".hpp", ".h")):
                        continue
                    path = os.path.join(dirpath, fn)
                    rel = os.path.relpath(path, root)
                    with open(path, encoding="utf-8") as f:
                        text = f.read()
                    lines[area] = lines.get(area, 0) + text.count("\n")
                    for inc in INCLUDE.findall(text):
                        parts = inc.split("/")
                        if parts[0] == "gpt2" and len(parts) >= 3:
                            other = parts[1]
                        elif len(parts) >= 2 and parts[0] in areas:
                            other = parts[0]
                            if other != area:
                                problems.append(f"{rel}: includes {inc}, a private header of {other} "
                                                "(use its public headers under gpt2/" + other + "/)")
                                continue
                        else:
                            continue
                        if other not in areas:
                            problems.append(f"{rel}: includes {inc}: no area named {other}")
                        elif other not in allowed[area]:
                            problems.append(f"{rel}: includes {inc}, but {area} may use only "
                                            f"{', '.join(sorted(allowed[area] - {area})) or 'nothing else'} "
                                            "(an arrow that points up or sideways)")
    total = sum(lines.values())
    for area, n in sorted(lines.items()):
        if total and n / total > MAX_SHARE:
            problems.append(f"{area}: {n} of {total} lines ({100 * n / total:.0f}%), over {100 * MAX_SHARE:.0f}%: split it")
    for p in problems:
        print(p)
    share = ", ".join(f"{a} {100 * n / total:.0f}%" for a, n in sorted(lines.items(), key=lambda x: -x[1]))
    print(f"layout: {len(areas)} libraries, {total} lines ({share}); {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
