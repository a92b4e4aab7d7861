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

/// Prints a command's result as one line of JSON on stdout, with --json (and not --quiet).
pub fn print_json(value: &serde_json::Value) {
    let ui = ui();
    if ui.json && !ui.quiet {
        println!("{value}");
    }
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

/// `text` as one printable line: control characters (newlines, ESC, NUL, …) become visible
/// escapes such as `\n` or `\u{1b}`, so that text from a file or a path can neither break
/// the one-line error nor drive the terminal.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            one_line("a\nb\u{1b}[31mc\0d\u{9b}"),
            "a\\nb\\u{1b}[31mc\\u{0}d\\u{9b}"
        );
        assert_eq!(one_line("plain text ✓"), "plain text ✓");
    }
}
