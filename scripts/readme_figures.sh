#!/usr/bin/env bash
# Regenerates every committed trace, table and plot that README.md quotes, from the committed code.
#
#   scripts/readme_figures.sh           # everything (the reproduce run takes minutes)
#   scripts/readme_figures.sh quick     # everything but the reproduce run
#
# Then paste the regenerated blocks into README.md where it marks them with
# `<!-- figures: FILE -->` (the test `readme::` checks that every line of such a block is a line of FILE,
# and that FILE agrees with the summary.json beside it), and update the wall times quoted in prose.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
uswim=target/release/uswim

# The example programming run (README "Programming a network") and its timeline.
example=traces/lenet_rram_random10
# The folder also holds the timeline, the Gantt chart and the console output, which `program` does not
# count as its outputs: start from an empty folder.
rm -rf "$example"
mkdir -p "$(dirname "$example")"
timeline=$(mktemp -d)/timeline.json
$uswim program --model models/lenet_mnist.safetensors --hw rram_1t1r_256 --mask random:0.1 --seed 1 \
    --trace-arrays 0-1 --trace-sample 0.25 --timeline "$timeline" --quiet \
    --out "$example" > "$timeline.txt"
mv "$timeline" "$example/timeline.json"
mv "$timeline.txt" "$example/program.txt"
$uswim plot --gantt "$example/arrays.csv" -o "$example/gantt.png"

# The array-size sweep and its plot (README "What-if sweeps").
$uswim sweep --spec hw_configs/sweeps/array_size.toml --out traces/array_size --quiet
$uswim plot traces/array_size/results.csv --x array.rows --y total_time_ns --log-x \
    -o traces/array_size/latency_vs_array_size.png

# The ADC-sharing trade-off (README "What-if sweeps"): latency, peripheral area and energy per ADC count,
# as a table of the 256-driver points.
$uswim sweep --spec hw_configs/sweeps/adc_sharing.toml --out traces/adc_sharing --quiet
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i
                   print "| ADCs per array | programming time | peripheral area | ADC energy | leakage energy | total energy |"
                   print "|---:|---:|---:|---:|---:|---:|"; next }
         $c["program.write_drivers_per_array"] == 256 {
             printf "| %d | %.3f ms | %.3f mm^2 | %.2f uJ | %.2f uJ | %.2f uJ |\n", $c["adc.adcs_per_array"],
                 $c["total_time_ns"] / 1e6, $c["periph_area_um2"] / 1e6, $c["energy_adc_pj"] / 1e6,
                 $c["energy_leakage_pj"] / 1e6, $c["total_energy_pj"] / 1e6 }' \
    traces/adc_sharing/results.csv > traces/adc_sharing/table.md

# The calibration example (README "Devices: reports and calibration").
$uswim device fit --format ramps --set-ramps tests/data/device-pulse-response/crosssim-set.csv \
    --reset-ramps tests/data/device-pulse-response/crosssim-reset.csv --read-voltage 0.1 --set-v 1.0 --reset-v 1.0 \
    -o traces/calibration/crosssim_fitted.toml --plot traces/calibration/crosssim_fitted.png \
    > traces/calibration/fit.txt

# The main experiment (README "The U-SWIM experiment"): results.csv, headline.md and the plots.
if [ "${1:-}" != quick ]; then
    $uswim reproduce --out traces/reproduce --quiet
fi
echo "regenerated; now update the README blocks marked <!-- figures: FILE --> and run cargo test --release --test it readme::"
