//! (snapshot loader: in progress)
