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
