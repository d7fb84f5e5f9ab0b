//! tauri-build: reads tauri.conf.json (next to the root Cargo.toml) and the capabilities.
fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    println!("cargo:rerun-if-changed=ui/dist");
    if !std::path::Path::new("ui/dist/index.html").is_file() {
        panic!(
            "\n\nui/dist/index.html is missing: the app embeds the built UI.\n\
             Build it first:  npm --prefix ui ci && npm --prefix ui run build\n"
        );
    }
    tauri_build::try_build(
        tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*"),
    )
    .expect("tauri-build failed");
}
