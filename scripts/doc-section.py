#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Puts a "## TITLE" section into a Markdown file: replaces the section of that title (up to the
# next "## " heading) or appends it. The benchmark scripts write docs/benchmarks.md with it.
# Usage: SECTION=<markdown, starting with "## TITLE"> TITLE=<title> doc-section.py FILE
import os, re, sys

path = sys.argv[1]
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
new = os.environ["SECTION"].rstrip() + "\n"
m = re.search(r"^## " + re.escape(os.environ["TITLE"]) + r"\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
if m:
    text = text[:m.start()] + new + ("\n" if text[m.end():] else "") + text[m.end():]
else:
    text = text.rstrip() + "\n\n" + new
open(path, "w").write(text)
