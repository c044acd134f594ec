//! Outputs that appear whole or not at all: a run writes into a hidden directory beside its
//! destination, and the files move into place only when it succeeds. A run that fails leaves
//! the destination as it was (earlier results stay, no empty or partial files appear).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A hidden directory in the destination for one run's outputs; see the module docs.
#[derive(Debug)]
pub struct Staging {
    out: PathBuf,
    dir: PathBuf,
    committed: bool,
}

impl Staging {
    /// Creates the destination (as `--out` documents) and the run's hidden directory in it.
    pub fn new(out: &Path) -> Result<Self> {
        let werr = |p: &Path| {
            let path = p.display().to_string();
            move |source| Error::Write { path, source }
        };
        std::fs::create_dir_all(out).map_err(werr(out))?;
        let dir = out.join(format!(".logsieve-partial-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(werr(&dir))?;
        }
        std::fs::create_dir(&dir).map_err(werr(&dir))?;
        Ok(Staging { out: out.to_path_buf(), dir, committed: false })
    }

    /// Where the run writes.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Moves every file written into the destination (replacing files of the same name) and
    /// removes the hidden directory.
    pub fn commit(mut self) -> Result<()> {
        let werr = |p: &Path| {
            let path = p.display().to_string();
            move |source| Error::Write { path, source }
        };
        let mut names: Vec<PathBuf> =
            std::fs::read_dir(&self.dir).map_err(werr(&self.dir))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for from in names {
            let Some(name) = from.file_name() else { continue };
            let to = self.out.join(name);
            std::fs::rename(&from, &to).map_err(werr(&to))?;
        }
        std::fs::remove_dir(&self.dir).map_err(werr(&self.dir))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            // Nothing of a failed run is kept; a leftover would only hide files.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_appear_on_commit_and_a_failed_run_leaves_the_destination_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let s = Staging::new(&out).unwrap();
        std::fs::write(s.dir().join("scores.jsonl"), "new\n").unwrap();
        assert!(!out.join("scores.jsonl").exists());
        s.commit().unwrap();
        assert_eq!(std::fs::read_to_string(out.join("scores.jsonl")).unwrap(), "new\n");
        let failed = Staging::new(&out).unwrap();
        std::fs::write(failed.dir().join("scores.jsonl"), "partial\n").unwrap();
        drop(failed);
        assert_eq!(std::fs::read_to_string(out.join("scores.jsonl")).unwrap(), "new\n");
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["scores.jsonl"]);
    }
}
