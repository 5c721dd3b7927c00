// napi-build only matters for the Node binding (feature `node`); without it the crate
// is a plain Rust library and `cargo test` needs no Node headers or link flags.
fn main() {
    println!("cargo:rerun-if-env-changed=CARGO_FEATURE_NODE");
    if std::env::var_os("CARGO_FEATURE_NODE").is_some() {
        napi_build::setup();
    }
}
