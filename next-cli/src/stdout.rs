//! Standard output that a closed pipe ends quietly.
//!
//! `println!` panics when the reader of a pipe has gone (`next trace ... | head`); Unix
//! tools end instead, with success, since nobody is left to read. Every line `next`
//! prints goes through [`outln!`](crate::outln) for that.

use std::fmt;
use std::io::{ErrorKind, Write as _};

/// Writes `args` to standard output, ending the process quietly (status 0) when the
/// pipe it writes to was closed, and with status 1 and a message on any other error.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_fmt(args).and_then(|()| out.flush()) {
        if err.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output: {err}");
        std::process::exit(1);
    }
}

/// `println!` through [`write_fmt`]: a closed pipe ends the process quietly.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::stdout::write_fmt(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` through [`write_fmt`]: a closed pipe ends the process quietly.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::write_fmt(format_args!($($arg)*))
    };
}
