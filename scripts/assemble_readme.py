#!/usr/bin/env python3
"""Assemble README.md from docs/readme/*.md (the overview first, then each area)."""
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
parts = ["00-overview", "ingest", "capture", "http", "tui", "insight", "filter", "export", "diff", "analysis"]
docs = {p: (root / "docs" / "readme" / f"{p}.md").read_text() for p in parts}
perf = (root / "docs" / "readme" / "perf-table.md").read_text().strip()
toc = []
for p in parts[1:]:
    m = re.search(r"^## (.+)$", docs[p], re.M)
    if m:
        title = m.group(1).strip()
        anchor = re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")
        toc.append(f"- [{title}](#{anchor})")
head = docs["00-overview"].replace("PERF_TABLE", perf).replace("TOC", "\n".join(toc))
body = "\n\n".join(docs[p].strip() for p in parts[1:])
out = "# apiscope\n\n" + head.strip() + "\n\n" + body + "\n\n## Licence\n\nMIT, see LICENSE. Third-party samples in fixtures/samples keep their own licences (fixtures/SOURCES.md).\n"
(root / "README.md").write_text(out)
print(f"README.md: {len(out.splitlines())} lines")
