//! The pure heart of flowtally: source rows in, snapshot rows out. Nothing here does I/O.

pub mod andon;
pub mod clock;
pub mod completions;
pub mod cycles;
pub mod decimal;
pub mod dims;
pub mod floor;
pub mod row;
pub mod stored;
pub mod tenant;
pub mod token_days;
pub mod views;
pub mod wip;

pub use row::{Change, Key, Row, Table, Value};
pub use tenant::{Snapshot, TenantState};
pub use views::View;
#[cfg(test)]
mod tests;
