#![allow(dead_code)] // each test binary uses its own part of the harness

pub mod app;
pub mod db;
pub mod engine;
pub mod fixtures;
pub mod http;
pub mod storm;
pub mod supabase;
