#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (JOBS at a time, default 2), starting
# from the committed corpus and the regression inputs. Exits non-zero if any target crashes
# (the input is kept in fuzz/artifacts/<target>/). Prints executions and coverage per target.
#
#   fuzz/run-all.sh SECONDS [TARGET...]
#
# Stable Rust only: the build uses the same flags as `cargo fuzz build -s none
# --debug-assertions` (see README.md), so cargo-fuzz itself is not needed.
set -euo pipefail
cd "$(dirname "$0")"

if (($# < 1)) || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 SECONDS [TARGET...]" >&2
  exit 2
fi
seconds=$1
shift
ALL_TARGETS=(stun_parse stun_auth client_hello ticket_decrypt cookie_migrate twilio_signature
  ratelimit_keyer ratelimit_config)
targets=("${@:-${ALL_TARGETS[@]}}")
jobs=${JOBS:-2}
triple=$(rustc -vV | sed -n 's/^host: //p')

# The instrumentation cargo-fuzz 0.13 applies with `-s none`: stable `-C` flags only.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Cllvm-args=-sanitizer-coverage-stack-depth \
-Cdebug-assertions -Ccodegen-units=1"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
build_start=$SECONDS
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --manifest-path Cargo.toml --target "$triple" --release \
  --config 'profile.release.debug="line-tables-only"' "${bins[@]}"
echo "== fuzz targets built in $((SECONDS - build_start))s"

out=$CARGO_TARGET_DIR/fuzz-runs
mkdir -p "$out"
run_one() {
  local t=$1 work=$out/corpus/$1 log=$out/$1.log
  mkdir -p "$work" "artifacts/$t" "regressions/$t" "corpus/$t"
  # The first directory receives new inputs; the committed ones are only read.
  if "$CARGO_TARGET_DIR/$triple/release/$t" "$work" "corpus/$t" "regressions/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1; then
    echo "ok" >"$out/$t.status"
  else
    echo "FAILED (exit $?)" >"$out/$t.status"
  fi
}

run_start=$SECONDS
running=0
for t in "${targets[@]}"; do
  rm -f "$out/$t.status"
  run_one "$t" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

# The summary only reads logs: no errexit here, a missing field prints as "?".
set +eo pipefail
failed=0
printf '%-18s %-8s %14s %8s %8s %s\n' target status executions exec/s cov features
for t in "${targets[@]}"; do
  log=$out/$t.log
  status=$(cat "$out/$t.status" 2>/dev/null || echo "FAILED (no status)")
  execs=$(awk '/^stat::number_of_executed_units:/ {v=$2} END {print v}' "$log")
  rate=$(awk '/^stat::average_exec_per_sec:/ {v=$2} END {print v}' "$log")
  cov=$(awk '{for (i = 1; i < NF; i++) if ($i == "cov:") v=$(i+1)} END {print v}' "$log")
  ft=$(awk '{for (i = 1; i < NF; i++) if ($i == "ft:") v=$(i+1)} END {print v}' "$log")
  printf '%-18s %-8s %14s %8s %8s %s\n' "$t" "${status%% *}" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}"
  if [[ $status != ok ]]; then
    failed=1
    echo "---- $t: $status; last lines of $log:"
    grep -E 'panicked|ERROR|SUMMARY|Test unit written|deadly signal' "$log" | head -20 || true
    tail -5 "$log"
  fi
done
echo "== fuzzing ran in $((SECONDS - run_start))s (${seconds}s per target, $jobs at a time)"
exit "$failed"
