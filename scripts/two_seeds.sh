#!/usr/bin/env bash
# The enough-runs rule's check: runs `uswim reproduce` with --seed 1 and --seed 2 (other chips, other
# programming noise; every other argument as given) and lists the headline cells (model, setting,
# method -> headline fraction) that differ between the two seeds.
#
#   scripts/two_seeds.sh                                   # the default main job, twice
#   scripts/two_seeds.sh --physical none --second none --methods uswim,swim,random   # a smaller grid
#
# Exit status 0 when no cell flips, 1 when some do. Outputs in out/two_seeds/seed-1 and seed-2.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
uswim=target/release/uswim
root=out/two_seeds
for seed in 1 2; do
    /usr/bin/env time -f "seed $seed: %e s wall, %U s user" \
        "$uswim" reproduce --quiet --seed "$seed" --out "$root/seed-$seed" "$@" > /dev/null
done
# The headline table's rows: | model | setting | method | fraction | runs | ... -> "model setting method fraction".
cells() {
    awk -F' *[|] *' '/^## Headline/ { on = 1; next } /^## / { on = 0 }
                     on && NF > 5 && $2 != "model" && $2 !~ /^-/ { print $2, $3, $4, $5 }' "$1" | sort
}
cells "$root/seed-1/headline.md" > "$root/cells-1.txt"
cells "$root/seed-2/headline.md" > "$root/cells-2.txt"
total=$(wc -l < "$root/cells-1.txt")
if diff "$root/cells-1.txt" "$root/cells-2.txt" > "$root/flips.txt"; then
    echo "no headline cell flips between seeds 1 and 2 ($total cells)"
else
    echo "headline cells that differ between seeds 1 (<) and 2 (>), of $total:"
    cat "$root/flips.txt"
    exit 1
fi
