//! How results are shown: the global --json and --quiet flags, set once at start.

/// The output flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ui {
    /// Results as JSON on stdout instead of the human summary.
    pub json: bool,
    /// Nothing on stdout (and no warnings) on success.
    pub quiet: bool,
}

pub static UI: std::sync::OnceLock<Ui> = std::sync::OnceLock::new();

/// The flags of this run (defaults before they are set).
pub fn ui() -> Ui {
    UI.get().copied().unwrap_or_default()
}

/// Prints a line of human output, unless --quiet or --json.
macro_rules! say {
    ($($arg:tt)*) => {
        if !$crate::ui::ui().quiet && !$crate::ui::ui().json {
            println!($($arg)*);
        }
    };
}

/// A spinner on stderr naming the step in progress, for steps that can take more than a
/// second. Hidden when stdout is not a terminal (piped output, scripts, CI) and with --quiet
/// or --json; cleared when dropped.
pub struct Step(Option<indicatif::ProgressBar>);

impl Step {
    pub fn start(message: impl Into<String>) -> Self {
        use std::io::IsTerminal;
        let ui = ui();
        if ui.quiet || ui.json || !std::io::stdout().is_terminal() {
            return Step(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(message.into());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Step(Some(bar))
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
