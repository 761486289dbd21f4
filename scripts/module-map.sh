#!/bin/bash
# Prints the module map of src/ as a markdown table: per module (directory)
# its files' lines and the layers it includes (docs/architecture.md).
set -euo pipefail
cd "$(dirname "$0")/../src"
echo "| module | files | lines | includes |"
echo "|---|---|---|---|"
for d in base ttrpc core agent cgroup net oci task sandbox sandbox/linux sandbox/vm infra api shim; do
	files=$(find "$d" -maxdepth 1 -name '*.[ch]' | sort)
	n=$(echo "$files" | wc -l)
	lines=$(cat $files | wc -l)
	deps=$({ grep -hoE '#include "[a-z_0-9]+/' $files || true; } | sed 's/#include "//; s#/##' | sort -u |
		{ grep -v -x "${d%%/*}" || true; } | tr '\n' ' ' | sed 's/ $//')
	echo "| \`$d/\` | $n | $lines | $deps |"
done
