//! `rvs-vswitchd`: see the `vswitchd` library documentation.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(vswitchd::main());
}
