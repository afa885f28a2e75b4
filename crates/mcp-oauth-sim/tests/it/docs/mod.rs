//! The documentation cannot drift: its tables are checked against the declarations they list,
//! its examples build and run, its links resolve, and every test SECURITY.md cites exists.

mod citations;
mod examples;
mod links;
mod tables;
