//! set commands (in progress).

use super::Handler;

pub static COMMANDS: &[(&str, Handler)] = &[];
