//! One cell's call: the request body (`envelope`), each HTTP attempt and
//! what it says about money (`attempt`), which attempts to make and when to
//! stop (`retry`), and what they cost (`price`).

pub mod attempt;
pub mod envelope;
pub mod price;
pub mod retry;
