//! (verify: in progress)
