//! The pipeline files a scheduler watches: each file given, and every
//! `*.toml` of each directory given, read again when its modification
//! time changes, forgotten when it is gone.

use super::{PipelineView, ServeEvent, ServeEventFn};
use crate::pipeline::Pipeline;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// One pipeline file in use.
struct Entry {
    pipeline: Arc<Pipeline>,
    modified: Option<SystemTime>,
    /// When it runs next; none: not on a schedule (or never again).
    next: Option<DateTime<Utc>>,
    running: bool,
}

/// The watched files and what the scheduler knows of each.
pub(super) struct Watched {
    paths: Vec<PathBuf>,
    entries: BTreeMap<PathBuf, Entry>,
    /// Files that did not parse, with the modification time reported.
    invalid: BTreeMap<PathBuf, Option<SystemTime>>,
}

impl Watched {
    /// Nothing read yet of `paths`.
    pub(super) fn new(paths: Vec<PathBuf>) -> Self {
        Watched {
            paths,
            entries: BTreeMap::new(),
            invalid: BTreeMap::new(),
        }
    }

    /// Look at the files again: read new and changed ones (planning their
    /// next run with `plan`), forget removed ones.
    pub(super) fn rescan(
        &mut self,
        plan: impl Fn(&Pipeline) -> Option<DateTime<Utc>>,
        on_event: &ServeEventFn,
    ) {
        let files = self.files();
        let gone: Vec<PathBuf> = self
            .entries
            .keys()
            .filter(|f| !files.contains_key(*f))
            .cloned()
            .collect();
        for file in gone {
            self.entries.remove(&file);
            on_event(&ServeEvent::Removed { file: &file });
        }
        self.invalid.retain(|f, _| files.contains_key(f));
        for (file, modified) in files {
            let known = self.entries.get(&file).map(|e| e.modified);
            if known == Some(modified) || self.invalid.get(&file) == Some(&modified) {
                continue;
            }
            match self.load(&file) {
                Ok(pipeline) => {
                    self.invalid.remove(&file);
                    let next = plan(&pipeline);
                    on_event(&ServeEvent::Loaded {
                        file: &file,
                        pipeline: &pipeline,
                        next,
                    });
                    let running = self.entries.get(&file).is_some_and(|e| e.running);
                    let entry = Entry {
                        pipeline: Arc::new(pipeline),
                        modified,
                        next,
                        running,
                    };
                    self.entries.insert(file, entry);
                }
                Err(error) => {
                    self.entries.remove(&file);
                    on_event(&ServeEvent::Invalid { file: &file, error });
                    self.invalid.insert(file, modified);
                }
            }
        }
    }

    /// Read `file`; refused when another file already names the same
    /// pipeline in the same store.
    fn load(&self, file: &Path) -> Result<Pipeline, String> {
        let pipeline = Pipeline::from_file(file).map_err(|e| e.to_string())?;
        let twin = self.entries.iter().find(|(f, e)| {
            f.as_path() != file
                && e.pipeline.name == pipeline.name
                && e.pipeline.state_path() == pipeline.state_path()
        });
        if let Some((other, _)) = twin {
            return Err(format!(
                "{}: pipeline `{}` is also defined by {} with the same state store; give one a different `name`",
                file.display(),
                pipeline.name,
                other.display()
            ));
        }
        Ok(pipeline)
    }

    /// Every file to watch, with its modification time.
    fn files(&self) -> BTreeMap<PathBuf, Option<SystemTime>> {
        let mut out = BTreeMap::new();
        for path in &self.paths {
            if path.is_dir() {
                let Ok(dir) = std::fs::read_dir(path) else {
                    continue;
                };
                for entry in dir.flatten() {
                    let file = entry.path();
                    if file.extension().is_some_and(|e| e == "toml") && file.is_file() {
                        out.insert(file, modified(&entry.path()));
                    }
                }
            } else if path.is_file() {
                out.insert(path.clone(), modified(path));
            }
        }
        out
    }

    /// The pipelines due at `now` that are not running, earliest first.
    pub(super) fn due(&self, now: DateTime<Utc>) -> Vec<(PathBuf, Arc<Pipeline>)> {
        let mut due: Vec<(DateTime<Utc>, PathBuf, Arc<Pipeline>)> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.running)
            .filter_map(|(f, e)| {
                Some((
                    e.next.filter(|at| *at <= now)?,
                    f.clone(),
                    e.pipeline.clone(),
                ))
            })
            .collect();
        due.sort_by_key(|(at, _, _)| *at);
        due.into_iter().map(|(_, f, p)| (f, p)).collect()
    }

    /// The earliest next run of a pipeline that is not running.
    pub(super) fn earliest(&self) -> Option<DateTime<Utc>> {
        self.entries
            .values()
            .filter(|e| !e.running)
            .filter_map(|e| e.next)
            .min()
    }

    /// Every pipeline in use, as the service shows it.
    pub(super) fn views(&self) -> Vec<PipelineView> {
        self.entries
            .iter()
            .map(|(file, e)| PipelineView {
                file: file.clone(),
                pipeline: e.pipeline.clone(),
                next: e.next,
                running: e.running,
            })
            .collect()
    }

    /// Run the pipeline called `name` as soon as it is not running.
    pub(super) fn ask(&mut self, name: &str, now: DateTime<Utc>) {
        for e in self.entries.values_mut() {
            if e.pipeline.name == name {
                e.next = Some(now);
            }
        }
    }

    /// How many pipelines are in use.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Mark `file`'s pipeline running or not.
    pub(super) fn set_running(&mut self, file: &Path, running: bool) {
        if let Some(e) = self.entries.get_mut(file) {
            e.running = running;
        }
    }

    /// Set when `file`'s pipeline runs next.
    pub(super) fn set_next(&mut self, file: &Path, next: Option<DateTime<Utc>>) {
        if let Some(e) = self.entries.get_mut(file) {
            e.next = next;
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
