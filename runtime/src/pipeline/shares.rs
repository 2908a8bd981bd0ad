//! Dealing the streams of an attempt out to several readers of one
//! source, so that independent streams, and the partitions of one stream,
//! are read at once (`options.parallelism`; by default one reader per core
//! but one).
//!
//! Each stream, or each partition of a stream, is read by exactly one
//! reader, so its batches, checkpoints and statuses arrive in the order the
//! source sent them. Readers left over once every stream has one go to the
//! streams the source can read in partitions (`partitioned` in its
//! catalog). A partitioned stream's state is kept per partition, as
//! `{"_sluice_partitions": [state of 0, state of 1, ...]}` (`null` for a
//! partition that has not checkpointed yet), under the same commit rule;
//! an incremental stream keeps the partition count its state was saved
//! with until that state is reset, whatever the parallelism.

use serde_json::{Value, json};
use sluice_protocol::{ConfiguredCatalog, Partition, StreamState};
use std::collections::{BTreeMap, BTreeSet};

/// The key of a partitioned stream's saved state.
pub const PARTITIONS_KEY: &str = "_sluice_partitions";

/// How the readers of an attempt may share its streams.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parallel {
    /// How many readers to run (at least one; fewer when there are fewer
    /// streams and partitions).
    pub readers: usize,
    /// The streams the host may split into partitions.
    pub partitioned: BTreeSet<String>,
}

impl Parallel {
    /// One reader, no partitions.
    pub fn one() -> Self {
        Parallel {
            readers: 1,
            partitioned: BTreeSet::new(),
        }
    }
}

/// One reader's part of an attempt: its streams and their saved state.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// The streams this reader reads, in catalog order; a stream read in
    /// partitions carries its partition.
    pub catalog: ConfiguredCatalog,
    /// The saved state of those streams (of its partition, for a stream
    /// read in partitions).
    pub state: Vec<StreamState>,
}

/// An attempt's shares, and the streams split into partitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// One per reader (never an empty one, unless the catalog is empty).
    pub shares: Vec<Share>,
    /// The streams read in partitions, with each partition's saved state.
    pub split: BTreeMap<String, Vec<Option<Value>>>,
}

impl Plan {
    /// The partition of `stream` that share `reader` reads, if the stream
    /// is split.
    pub fn partition(&self, reader: usize, stream: &str) -> Option<u32> {
        if !self.split.contains_key(stream) {
            return None;
        }
        let share = self.shares.get(reader)?;
        Some(share.catalog.stream(stream)?.partition?.index)
    }
}

/// The state of a stream read in `parts` partitions, to persist.
pub fn partitioned_state(parts: &[Option<Value>]) -> Value {
    json!({ PARTITIONS_KEY: parts })
}

/// The partitions' states, if `state` is that of a stream read in
/// partitions.
pub fn partition_states(state: &Value) -> Option<Vec<Option<Value>>> {
    let parts = state.as_object()?.get(PARTITIONS_KEY)?.as_array()?;
    Some(
        parts
            .iter()
            .map(|p| (!p.is_null()).then(|| p.clone()))
            .collect(),
    )
}

/// `catalog`'s streams dealt out to readers: each stream gets one unit, or
/// as many as its saved partition count; readers left over split the
/// splittable streams without saved state further, in turn. The units
/// are dealt in turn to `max(readers, largest partition count)` shares at
/// most. Fails when a stream's saved state is partitioned but the stream
/// may no longer be split.
pub fn plan(
    catalog: &ConfiguredCatalog,
    state: &[StreamState],
    parallel: &Parallel,
) -> Result<Plan, String> {
    let saved: BTreeMap<&str, &Value> = state
        .iter()
        .map(|s| (s.stream.as_str(), &s.state))
        .collect();
    let mut counts: Vec<u32> = Vec::with_capacity(catalog.streams.len());
    let mut open: Vec<usize> = Vec::new();
    for (i, stream) in catalog.streams.iter().enumerate() {
        let splittable = parallel.partitioned.contains(&stream.name) && stream.partition.is_none();
        let parts = saved
            .get(stream.name.as_str())
            .and_then(|s| partition_states(s));
        match parts {
            Some(_) if !splittable => {
                return Err(format!(
                    "the saved state of stream `{}` is kept per partition, but the source cannot read it in partitions now; reset the stream's state to read it whole",
                    stream.name
                ));
            }
            Some(parts) => counts.push(parts.len().max(1) as u32),
            None => {
                counts.push(1);
                if splittable && !saved.contains_key(stream.name.as_str()) {
                    open.push(i);
                }
            }
        }
    }
    let mut spare = parallel
        .readers
        .saturating_sub(counts.iter().sum::<u32>() as usize);
    while spare > 0 && !open.is_empty() {
        for &i in open.iter().take(spare) {
            counts[i] += 1;
        }
        spare = spare.saturating_sub(open.len());
    }
    Ok(deal(catalog, &saved, &counts, parallel.readers))
}

/// Deal the units (`counts[i]` partitions of stream `i`) in turn over the
/// shares, so that no share reads two partitions of one stream.
fn deal(
    catalog: &ConfiguredCatalog,
    saved: &BTreeMap<&str, &Value>,
    counts: &[u32],
    readers: usize,
) -> Plan {
    let units: usize = counts.iter().map(|&c| c as usize).sum();
    let widest = counts.iter().copied().max().unwrap_or(1) as usize;
    let n = readers.min(units).max(widest).max(1);
    let mut shares: Vec<Share> = (0..n)
        .map(|_| Share {
            catalog: ConfiguredCatalog::default(),
            state: Vec::new(),
        })
        .collect();
    let mut split = BTreeMap::new();
    let mut next = 0;
    for (stream, &count) in catalog.streams.iter().zip(counts) {
        let state = saved.get(stream.name.as_str()).copied();
        let parts = match count {
            1 => None,
            _ => Some(
                state
                    .and_then(partition_states)
                    .unwrap_or_else(|| vec![None; count as usize]),
            ),
        };
        for index in 0..count {
            let share = &mut shares[next % n];
            next += 1;
            let mut stream = stream.clone();
            let own = match &parts {
                None => state.cloned(),
                Some(parts) => {
                    stream.partition = Some(Partition { index, count });
                    parts.get(index as usize).cloned().flatten()
                }
            };
            if let Some(state) = own {
                share.state.push(StreamState {
                    stream: stream.name.clone(),
                    state,
                });
            }
            share.catalog.streams.push(stream);
        }
        if let Some(parts) = parts {
            split.insert(stream.name.clone(), parts);
        }
    }
    Plan { shares, split }
}

#[cfg(test)]
mod tests;
