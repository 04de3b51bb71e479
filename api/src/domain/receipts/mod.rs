//! Receipts: the written acknowledgment a donor uses for taxes. Numbered without gaps
//! per tax year (`numbering`), frozen at issue (`issue`: text, HTML and PDF are stored
//! and re-sent as they are); a correction voids and re-issues with a new number
//! pointing back (`corrections`); a year-end statement per donor and year
//! (`statements`); finding them (`lookup`) and their signed download links (`links`).

mod corrections;
mod issue;
mod links;
mod lookup;
mod numbering;
mod statements;

pub use self::corrections::*;
pub use self::issue::*;
pub use self::links::*;
pub use self::lookup::*;
pub use self::numbering::*;
pub use self::statements::*;
