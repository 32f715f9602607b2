#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Replaces the "## TITLE" section of a markdown file (up to the next "## " heading) with the
# text on stdin, or appends it when there is none; other sections are kept.
# Usage: doc-section.py FILE TITLE < section.md
import re
import sys

path, title = sys.argv[1], sys.argv[2]
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmarks\n\n"
new = sys.stdin.read().rstrip() + "\n"
m = re.search(r"^## " + re.escape(title) + r"\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
if m:
    text = text[:m.start()] + new + ("\n" if text[m.end():] else "") + text[m.end():]
else:
    text = text.rstrip() + "\n\n" + new
open(path, "w").write(text)
