//! The console's and the widget's front-end libraries come pinned from npm
//! (web/package.json and web/package-lock.json) and are compiled into the binary
//! by src/http/assets.rs. Stop early with the command that fetches them rather
//! than fail later on a missing `include_bytes!`.

fn main() {
    println!("cargo:rerun-if-changed=web/package-lock.json");
    println!("cargo:rerun-if-changed=web/node_modules/.package-lock.json");
    if !std::path::Path::new("web/node_modules/.package-lock.json").exists() {
        eprintln!(
            "web/node_modules is missing: run `npm ci --prefix web` first \
             (it installs the pinned front-end libraries that the binary embeds)"
        );
        std::process::exit(1);
    }
}
