//! The terminal UI: app state, actions, the event loop, the keymap table and the views.
//! The only module that uses ratatui and crossterm.
