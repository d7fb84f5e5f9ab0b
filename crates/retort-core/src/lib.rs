//! Retort's engine. No UI dependency: the CLI, the desktop app and `retort serve` are thin
//! faces over these modules.

pub mod authoring;
pub mod backup;
pub mod connections;
pub mod credentials;
pub mod database;
pub mod execution;
pub mod graph;
pub mod guard;
pub mod home;
pub mod journal;
pub mod preflight;
pub mod private;
pub mod project;
pub mod store;
pub mod tunnel;
pub mod workspace;

#[cfg(test)]
mod layering;
