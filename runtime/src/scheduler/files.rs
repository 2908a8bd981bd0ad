//! The pipeline files a scheduler watches: each file given, and every
//! `*.toml` of each directory given, read again when its modification
//! time changes, forgotten when it is gone.

use super::{PipelineView, ServeEvent, ServeEventFn};
use crate::pipeline::Pipeline;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// One pipeline file in use.
struct Entry {
    pipeline: Arc<Pipeline>,
    modified: Option<SystemTime>,
    /// When it runs next; none: not on a schedule (or never again).
    next: Option<DateTime<Utc>>,
}

/// What a run is of: a pipeline in its store. A file removed and added
/// again (or renamed) while its run goes on is still that pipeline.
type RunKey = (String, PathBuf);

fn key(pipeline: &Pipeline) -> RunKey {
    (pipeline.name.clone(), pipeline.state_path())
}

/// The watched files and what the scheduler knows of each.
pub(super) struct Watched {
    paths: Vec<PathBuf>,
    entries: BTreeMap<PathBuf, Entry>,
    /// Files that did not parse, with the modification time reported.
    invalid: BTreeMap<PathBuf, Option<SystemTime>>,
    /// The pipelines with a run going on.
    running: BTreeSet<RunKey>,
}

impl Watched {
    /// Nothing read yet of `paths`.
    pub(super) fn new(paths: Vec<PathBuf>) -> Self {
        Watched {
            paths,
            entries: BTreeMap::new(),
            invalid: BTreeMap::new(),
            running: BTreeSet::new(),
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
                    let entry = Entry {
                        pipeline: Arc::new(pipeline),
                        modified,
                        next,
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
            .filter(|(_, e)| !self.is_running(e))
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
            .filter(|e| !self.is_running(e))
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
                running: self.is_running(e),
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

    /// Mark `pipeline` running or not, whichever file names it now.
    pub(super) fn set_running(&mut self, pipeline: &Pipeline, running: bool) {
        if running {
            self.running.insert(key(pipeline));
        } else {
            self.running.remove(&key(pipeline));
        }
    }

    fn is_running(&self, entry: &Entry) -> bool {
        self.running.contains(&key(&entry.pipeline))
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

#[cfg(test)]
mod tests {
    use super::*;

    const PIPELINE: &str = "name = \"p\"\n[source]\ncomponent = \"a.wasm\"\n[destination]\ncomponent = \"b.wasm\"\n[schedule]\nevery = \"1s\"\n";

    #[test]
    fn a_pipeline_whose_file_comes_back_under_a_new_name_mid_run_does_not_run_twice() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.toml"), PIPELINE).unwrap();
        let quiet: ServeEventFn = Arc::new(|_| {});
        let now = Utc::now();
        let mut watched = Watched::new(vec![dir.path().to_path_buf()]);
        watched.rescan(|_| Some(now), &quiet);
        let due = watched.due(now);
        assert_eq!(due.len(), 1);
        let pipeline = due[0].1.clone();
        watched.set_running(&pipeline, true);
        assert!(watched.due(now).is_empty());

        std::fs::rename(dir.path().join("p.toml"), dir.path().join("q.toml")).unwrap();
        watched.rescan(|_| Some(now), &quiet);
        assert_eq!(watched.len(), 1);
        assert!(watched.due(now).is_empty(), "its run is still going on");
        assert!(watched.views()[0].running);

        watched.set_running(&pipeline, false);
        assert_eq!(watched.due(now).len(), 1);
    }
}
