"""The FAQ/knowledge base: the entry model (`model`), its JSON/CSV import and export (`formats`),
the safe Markdown subset answers are written in (`markdown`) and the shipped entries (`defaults`).

Pure code: no I/O besides reading the packaged default files, no framework imports.
"""
