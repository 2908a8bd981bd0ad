# Short aliases for the xtask commands.

# Install the wasm target and build the connectors.
setup:
    cargo xtask setup

# Build the connectors into target/components/ (no target check).
build-connectors:
    cargo xtask build-connectors

# Set up, build the connectors and run a demo sync.
demo:
    cargo xtask demo

# fmt --check, clippy -D warnings and every test.
test:
    cargo xtask test

# Every benchmark (release build); writes BENCHMARKS.md.
bench:
    cargo xtask bench

# The benchmarks at small sizes, a few minutes.
bench-quick:
    cargo xtask bench --quick

# Every benchmark scenario at the smallest sizes on the debug build (CI).
bench-smoke:
    cargo xtask bench --smoke

# The SIGKILL crash test with `kills` kills; figures in target/crash-report.json.
crash kills="30":
    cargo xtask crash --kills {{kills}}

# Time-boxed fuzzing, `seconds` per target (all targets, or those named).
fuzz seconds="60" *targets:
    cargo xtask fuzz --seconds {{seconds}} {{targets}}

# A PostgreSQL server in target/postgres/: start (prints its URL), stop or status.
postgres cmd="status":
    cargo xtask postgres {{cmd}}
