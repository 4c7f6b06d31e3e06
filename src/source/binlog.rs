//! (binlog source: in progress)
