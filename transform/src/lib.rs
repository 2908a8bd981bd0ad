//! Per-stream transforms of sluice pipelines.
