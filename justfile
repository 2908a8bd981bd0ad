# Short aliases for the xtask commands.

# Set up, build the connectors and run a demo sync.
demo:
    cargo xtask demo

# fmt --check, clippy -D warnings and every test.
test:
    cargo xtask test

# Install the wasm target and build the connectors.
setup:
    cargo xtask setup
