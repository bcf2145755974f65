//! The full-screen terminal of the live views (mtr, ping --graph): raw
//! mode and the alternate screen on entry, always left again: on drop
//! (quit, Ctrl-C, SIGTERM, error: every way out of the view's loop drops
//! it) and in the panic hook, before the panic message is printed. Drawn
//! through `output::stdout()`, like every other output.

use std::io::{self, Write};
use std::sync::Once;
use std::time::Duration;

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::output::{Guarded, stdout};

/// Shortest time between two redraws: at most 10 a second.
pub const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// The terminal while a live view shows; restored when dropped.
pub struct LiveTerminal {
    terminal: Terminal<CrosstermBackend<Guarded<io::Stdout>>>,
}

static PANIC_HOOK: Once = Once::new();

/// Leaves raw mode and the alternate screen, shows the cursor. Harmless
/// when they were not entered.
fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, Show);
    let _ = stdout().flush();
}

impl LiveTerminal {
    /// Enters raw mode and the alternate screen.
    pub fn enter() -> io::Result<LiveTerminal> {
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        enable_raw_mode()?;
        let entered = execute!(stdout(), EnterAlternateScreen, Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(stdout())));
        match entered {
            Ok(terminal) => Ok(LiveTerminal { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// Draws a frame.
    pub fn draw(&mut self, render: impl FnOnce(&mut ratatui::Frame)) -> io::Result<()> {
        self.terminal.draw(render).map(|_| ())
    }
}

impl Drop for LiveTerminal {
    fn drop(&mut self) {
        restore();
    }
}
