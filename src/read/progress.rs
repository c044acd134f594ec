//! A progress line on stderr for long runs, shown only when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Lines between updates: keeps the bar off the hot path.
const EVERY: u64 = 16 * 1024;

/// Counts lines read; draws nothing when stderr is not a terminal or when asked to be quiet.
pub struct Progress {
    bar: Option<ProgressBar>,
    lines: u64,
}

impl Progress {
    /// A progress line if stderr is a terminal and `quiet` is false.
    pub fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}: {human_pos} lines read in {elapsed}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress { bar, lines: 0 }
    }

    /// Names the input being read.
    pub fn start(&self, name: &str) {
        if let Some(b) = &self.bar {
            b.set_message(name.to_owned());
        }
    }

    /// Counts one line.
    #[inline]
    pub fn tick(&mut self) {
        self.lines += 1;
        if self.lines % EVERY == 0 {
            if let Some(b) = &self.bar {
                b.set_position(self.lines);
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
