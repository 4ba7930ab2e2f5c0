//! Output files: CmdStan's sampler CSV, written while a run goes ([`CsvWriter`], an
//! [`Observer`](crate::sampler::Observer)) and read back ([`read_cmdstan_csv`]), so that draws
//! move between snell and the Stan ecosystem (CmdStan's files read here; cmdstanpy and ArviZ read
//! snell's).

mod csv_reader;
mod csv_writer;

pub use csv_reader::read_cmdstan_csv;
pub use csv_writer::CsvWriter;
