#!/usr/bin/env bash
# swift-format's lint rules (.swift-format at the repository root) over Sources and Tests; fails
# on any finding. The pretty printer's findings (line breaks, indentation, spacing, line length,
# trailing commas) are left out: the code's hand-made layout (aligned continuation lines, one-line
# guards) predates the formatter, and reformatting every file is not worth the churn. The rules
# .swift-format turns off are the ones the existing code breaks on purpose (`;` between short
# statements, several `let`s or cases on a line, snake_case fixture fields mirroring JSON keys).
set -euo pipefail
cd "$(dirname "$0")/.."
layout='\[(LineLength|Indentation|AddLines|RemoveLine|Spacing|TrailingComma|EndOfLineComment)\]'
findings=$(swift format lint --strict -r Sources Tests 2>&1 | grep -Ev "$layout" || true)
if [ -n "$findings" ]; then
  echo "$findings"
  echo "lint: $(echo "$findings" | wc -l) finding(s) (scripts/lint.sh; rules in .swift-format)"
  exit 1
fi
echo "lint: swift format rules pass on Sources and Tests"
