#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Replaces the "## TITLE" section of a Markdown file (up to the next "## " heading) with the text
# on stdin, or appends it when there is none. The benchmark scripts write docs/benchmarks.md
# with it, each keeping the sections it does not generate.
# Usage: doc-section.py FILE TITLE < section.md
import re
import sys

path, title = sys.argv[1], sys.argv[2]
new = sys.stdin.read().rstrip() + "\n"
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmarks\n"
m = re.search(r"^## " + re.escape(title) + r"\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
if m:
    text = text[:m.start()] + new + ("\n" if text[m.end():] else "") + text[m.end():]
else:
    text = text.rstrip() + "\n\n" + new
open(path, "w").write(text)
