//! Re-embeds the SQL migrations when they change; marks the tests whose third-party server is
//! absent (see build/peers.rs).

#[path = "../../build/peers.rs"]
mod peers;

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    peers::emit();
}
