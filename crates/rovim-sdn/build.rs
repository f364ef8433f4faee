//! Marks the tests whose third-party server is absent (see build/peers.rs).

#[path = "../../build/peers.rs"]
mod peers;

fn main() {
    peers::emit();
}
