//! `retort check-connection` (being written).

use crate::Cli;
use std::process::ExitCode;

pub fn main(_cli: &Cli) -> ExitCode {
    eprintln!("FAILED: check-connection is not available yet");
    ExitCode::from(crate::FAILURE)
}
