//! The routerd daemon.

fn main() {
    eprintln!("routerd: not implemented yet (issue 3)");
    std::process::exit(1);
}
