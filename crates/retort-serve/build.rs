//! The UI is embedded at compile time: ui/dist must have been built.
use std::path::Path;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!(
        "cargo:rerun-if-changed={}",
        dist.join("index.html").display()
    );
    if !dist.join("index.html").is_file() {
        panic!(
            "\n\nui/dist/index.html is missing: retort serve embeds the built UI.\n\
             Build it first:  npm --prefix ui ci && npm --prefix ui run build\n\
             (scripts/demo.sh and scripts/test.sh do this for you)\n"
        );
    }
}
