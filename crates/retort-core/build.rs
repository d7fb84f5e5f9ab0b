// sqlx::migrate! embeds the top-level migrations/ folder at compile time; without this a new
// migration file would not trigger a rebuild.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
