//! The warm-start store (design §4): fingerprints of fits (`key`), what is stored for
//! them (`payload`), the files on disk (`store`), and one fit's use of it (`session`).

mod entry_file;
pub mod key;
pub mod payload;
pub mod session;
pub mod store;
