//! `tcplab sim SCENARIO.toml [-o DIR] [--seed N | --seeds A..B]`: run a scenario on
//! simulated stacks; the work is in [`crate::sim`].

use crate::cli::SimArgs;
use crate::error::AppError;

/// Run `tcplab sim`.
pub fn run(args: SimArgs) -> Result<i32, AppError> {
    crate::sim::run(&args)
}
